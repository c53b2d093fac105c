"""What the planner reads besides the listing: our own records of this Microsoft tenant, and the tenant's settings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from flask_entra.errors import ValidationFailed
from flask_entra.host import CONTACT_FIELDS, ContactRecord

#: Shared and service mailboxes nobody wants as a contact; matched (case-insensitively, with ``re.search``) against the
#: user's mail and UPN, so anchoring on ``^...@`` means "this exact local part".
DEFAULT_SERVICE_PATTERNS: tuple[str, ...] = (
    r"^(info|admin|administrator|noreply|no-reply|donotreply|do-not-reply|support|helpdesk|sales|billing|invoices"
    r"|accounts|scanner|scan|room|conference|reception|postmaster|mailer-daemon)@",
)

FILTER_KEYS = ("skip_guests", "skip_unlicensed", "skip_no_email", "service_patterns", "custom_patterns")


@dataclass(frozen=True)
class LinkState:
    """One row of ``entra_contact_links`` for this Microsoft tenant, as the planner needs it.

    ``active`` says the identity is bound to the contact; whether the contact itself is inactive is on the contact.
    ``inactivated_by_sync`` marks a contact the sync made inactive: only those are ever reactivated.
    """

    object_id: str
    contact_id: str
    client_id: str
    active: bool = True
    account_enabled: bool = True
    upn: str | None = None
    mail: str | None = None
    inactivated_by_sync: bool = False
    inactivation_reason: str | None = None


@dataclass(frozen=True)
class OtherClientContact:
    """A contact of another client of the same MSP tenant that owns one of the listed users' addresses."""

    contact_id: str
    client_id: str


@dataclass(frozen=True)
class LocalState:
    """Everything we already hold that bears on one Microsoft tenant's sync.

    - ``contacts``: the mapped client's contacts (all of them, one bulk load).
    - ``links``: our link rows of this Microsoft tenant (active or not).
    - ``linked_contact_ids``: contacts with an active link to any identity of any Microsoft tenant.
    - ``other_client_contacts``: lowercased address -> contacts of *other* clients holding it.
    - ``dismissed_object_ids`` / ``open_review_object_ids``: identities of this Microsoft tenant in the review queue.
    """

    contacts: tuple[ContactRecord, ...] = ()
    links: tuple[LinkState, ...] = ()
    linked_contact_ids: frozenset[str] = frozenset()
    other_client_contacts: Mapping[str, tuple[OtherClientContact, ...]] = field(default_factory=dict)
    dismissed_object_ids: frozenset[str] = frozenset()
    open_review_object_ids: frozenset[str] = frozenset()


@lru_cache(maxsize=64)
def compile_patterns(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    """Compile once per distinct setting, not per user; a bad pattern is the admin's to fix."""
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern, re.IGNORECASE))
        except re.error as exc:
            raise ValidationFailed(
                f"Invalid user filter pattern {pattern!r}: {exc}.",
                advice="Correct or remove it in the Entra sync settings.",
            ) from exc
    return tuple(compiled)


@dataclass(frozen=True)
class PlanSettings:
    """The tenant's sync settings that shape a plan.

    Filters apply to users we have not linked yet (they decide what is brought in); a linked identity is always kept in
    step. The guard holds a Microsoft tenant's inactivations when they are more than ``mass_inactivation_min`` AND more
    than ``mass_inactivation_percent`` % of its linked active contacts, unless ``released``.
    """

    field_toggles: frozenset[str] = frozenset()
    skip_guests: bool = True
    skip_unlicensed: bool = False
    skip_no_email: bool = True
    service_patterns: tuple[str, ...] = DEFAULT_SERVICE_PATTERNS
    custom_patterns: tuple[str, ...] = ()
    mass_inactivation_min: int = 5
    mass_inactivation_percent: float = 20.0
    released: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "field_toggles", frozenset(self.field_toggles))
        object.__setattr__(self, "service_patterns", tuple(self.service_patterns))
        object.__setattr__(self, "custom_patterns", tuple(self.custom_patterns))
        unknown = sorted(self.field_toggles - set(CONTACT_FIELDS))
        if unknown:
            raise ValidationFailed(
                f"Unknown field toggle(s): {', '.join(unknown)}.", advice=f"Use some of: {', '.join(CONTACT_FIELDS)}."
            )
        if self.mass_inactivation_min < 0 or not 0 <= self.mass_inactivation_percent <= 100:
            raise ValidationFailed(
                "The mass-inactivation threshold is out of range.",
                advice="Use a count of 0 or more and a percentage between 0 and 100.",
            )
        compile_patterns(self.service_patterns)
        compile_patterns(self.custom_patterns)

    @property
    def ordered_toggles(self) -> tuple[str, ...]:
        return tuple(name for name in CONTACT_FIELDS if name in self.field_toggles)

    @property
    def service_regexes(self) -> tuple[re.Pattern[str], ...]:
        return compile_patterns(self.service_patterns)

    @property
    def custom_regexes(self) -> tuple[re.Pattern[str], ...]:
        return compile_patterns(self.custom_patterns)

    @classmethod
    def from_stored(
        cls,
        field_toggles: Mapping[str, Any],
        filters: Mapping[str, Any],
        *,
        mass_inactivation_min: int = 5,
        mass_inactivation_percent: float = 20.0,
        released: bool = False,
    ) -> PlanSettings:
        """Build from the JSON columns of ``entra_sync_settings`` (``{field: bool}`` and the filter keys)."""
        unknown = sorted(set(filters) - set(FILTER_KEYS))
        if unknown:
            raise ValidationFailed(
                f"Unknown user filter(s): {', '.join(unknown)}.", advice=f"Use some of: {', '.join(FILTER_KEYS)}."
            )
        chosen = {key: filters[key] for key in FILTER_KEYS if key in filters}
        return cls(
            field_toggles=frozenset(name for name, enabled in field_toggles.items() if enabled),
            mass_inactivation_min=mass_inactivation_min,
            mass_inactivation_percent=mass_inactivation_percent,
            released=released,
            **chosen,
        )
