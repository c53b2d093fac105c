"""The host contract: what flask-entra needs from the PSA that embeds it.

The host supplies a :class:`HostAdapter` (or configures the bundled :class:`~flask_entra.sqlalchemy_adapter.SQLAlchemyHostAdapter`)
and, optionally, a principal loader. The extension never alters host tables: every change to a contact goes through the
adapter, inside the host's ``db.session`` transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

#: Contact fields the sync may write. Field toggles name a subset of these (``is_inactive`` is never toggled).
ContactField = Literal["full_name", "email", "phone", "mobile", "job_title"]
CONTACT_FIELDS: tuple[ContactField, ...] = ("full_name", "email", "phone", "mobile", "job_title")

READ = "system_settings:read"
UPDATE = "system_settings:update"


@dataclass(frozen=True)
class Principal:
    """Who is acting: an internal user of one MSP tenant, or a client-portal user (refused everywhere)."""

    user_id: str
    tenant: str
    is_client_portal: bool = False
    permissions: frozenset[str] = frozenset()

    def can(self, permission: str) -> bool:
        return permission in self.permissions


@dataclass(frozen=True)
class ClientRecord:
    """A PSA client as the mapping engine sees it.

    ``domains`` come from the client's own website/domain fields (may auto-match); ``contact_domains`` are the email
    domains of its contacts (candidates only, never automatic).
    """

    id: str
    name: str
    domains: tuple[str, ...] = ()
    contact_domains: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContactRecord:
    id: str
    client_id: str
    full_name: str = ""
    email: str | None = None
    phone: str | None = None
    mobile: str | None = None
    job_title: str | None = None
    is_inactive: bool = False


@dataclass(frozen=True)
class NewContact:
    client_id: str
    full_name: str
    email: str | None = None
    phone: str | None = None
    mobile: str | None = None
    job_title: str | None = None


@dataclass(frozen=True)
class ContactUpdate:
    """Changes to one existing contact: contact fields and/or ``is_inactive``."""

    contact_id: str
    changes: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class HostAdapter(Protocol):
    """Everything flask-entra reads from or writes to the host's clients and contacts.

    Every method is scoped by ``tenant``; an id of another tenant behaves as if it did not exist. Bulk methods are
    required because sync speed depends on them: each should be one query or one statement.
    """

    def list_clients(self, tenant: str) -> Sequence[ClientRecord]:
        """All clients of the tenant with their domains (one query per kind of data, not per client)."""
        ...

    def get_clients(self, tenant: str, client_ids: Collection[str]) -> Sequence[ClientRecord]:
        """The named clients of this tenant; ids of other tenants or unknown ids are left out."""
        ...

    def search_clients(self, tenant: str, query: str, *, limit: int = 20) -> Sequence[ClientRecord]:
        """Clients whose name contains ``query`` (case-insensitive), for the picker."""
        ...

    def load_contacts(self, tenant: str, client_ids: Collection[str]) -> Sequence[ContactRecord]:
        """All contacts of the named clients, in one query."""
        ...

    def find_contacts_by_email(self, tenant: str, emails: Collection[str]) -> Sequence[ContactRecord]:
        """Contacts of any client of the tenant whose email (case-insensitive) is one of ``emails``."""
        ...

    def get_contacts(self, tenant: str, contact_ids: Collection[str]) -> Sequence[ContactRecord]:
        """The named contacts of this tenant; others are left out."""
        ...

    def create_contacts(self, tenant: str, contacts: Sequence[NewContact]) -> list[str]:
        """Insert contacts in bulk inside the current transaction; returns their ids in order. Does not commit."""
        ...

    def update_contacts(self, tenant: str, updates: Sequence[ContactUpdate]) -> None:
        """Apply changes in bulk inside the current transaction. Does not commit."""
        ...
