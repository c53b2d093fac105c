"""The provider protocol and the normalised types every provider produces.

A provider (Direct Graph with GDAP, or CIPP-API) lists the partner's managed customer tenants and the users of one
customer tenant. It only reads: no write call to Microsoft or CIPP exists in flask-entra.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class ManagedTenant:
    """A customer tenant the partner manages."""

    entra_tenant_id: str
    display_name: str
    default_domain: str | None = None
    verified_domains: tuple[str, ...] = ()
    gdap_relationship_end: datetime | None = None
    user_count: int | None = None


@dataclass(frozen=True, slots=True)
class EntraUser:
    """One user of a customer tenant, normalised from Graph or CIPP."""

    object_id: str
    user_principal_name: str
    display_name: str = ""
    mail: str | None = None
    other_mails: tuple[str, ...] = ()
    given_name: str | None = None
    surname: str | None = None
    account_enabled: bool = True
    job_title: str | None = None
    mobile_phone: str | None = None
    business_phones: tuple[str, ...] = ()
    user_type: str = "Member"
    licensed: bool = True
    deleted: bool = False


@dataclass(frozen=True)
class SkippedRecord:
    """A record the provider could not normalise, with the reason (never the raw payload, which may hold PII)."""

    reason: str
    object_id: str | None = None


@dataclass
class UserListing:
    """The users of one customer tenant.

    ``complete`` is true only when every page (live users and soft-deleted users) was read: an incomplete listing must
    never cause an inactivation.
    """

    users: list[EntraUser] = field(default_factory=list)
    deleted: list[EntraUser] = field(default_factory=list)
    skipped: list[SkippedRecord] = field(default_factory=list)
    complete: bool = True
    error: str | None = None


@dataclass(frozen=True)
class ValidationResult:
    ok: bool
    partner_tenant_id: str | None = None
    message: str = ""


#: Called after each page so long listings can heartbeat to Temporal.
PageCallback = Callable[[int], None]


class Provider(Protocol):
    """What discovery and sync need from a connection."""

    def validate(self) -> ValidationResult:
        """Probe the connection (a cheap authenticated read) without changing anything."""
        ...

    def list_managed_tenants(self) -> list[ManagedTenant]:
        """Every customer tenant the partner currently manages."""
        ...

    def list_users(self, entra_tenant_id: str, *, on_page: PageCallback | None = None) -> UserListing:
        """All users of one customer tenant, including soft-deleted ones where the provider can see them.

        A failure after some pages returns ``complete=False`` with ``error`` set instead of raising, so the caller can
        still apply what is safe (links and creates) and inactivate nothing.
        """
        ...
