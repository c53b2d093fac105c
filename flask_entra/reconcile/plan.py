"""The plan: every change one sync would make to one Microsoft tenant's contacts, links and review queue.

A plan has no delete of any kind: the sync never deletes a contact. Every tuple is sorted, so equal inputs give equal
plans, and a dry run shows exactly what the real run will do.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from flask_entra.host import ContactUpdate, NewContact
from flask_entra.providers.base import EntraUser

InactivationReason = Literal["disabled", "deleted", "absent"]
ReviewReason = Literal[
    "multiple_candidates", "candidate_linked_elsewhere", "email_owned_by_other_client", "competing_identities"
]
#: Why a user was left alone. ``malformed`` and ``duplicate`` come from the data; the rest from rules and filters.
SkipReason = Literal[
    "malformed",
    "duplicate",
    "disabled",
    "dismissed",
    "review_open",
    "guest",
    "unlicensed",
    "no_email",
    "service_account",
    "pattern",
    "linked_contact_missing",
]


@dataclass(frozen=True)
class Identity:
    """What a link row records about the Entra identity (written on link, create and refresh)."""

    object_id: str
    upn: str
    mail: str | None
    account_enabled: bool


@dataclass(frozen=True)
class PlannedLink:
    """Bind an identity to an existing contact of the mapped client (upsert on the identity key)."""

    identity: Identity
    contact_id: str
    reason: Literal["email_match"] = "email_match"


@dataclass(frozen=True)
class PlannedCreate:
    """Create a contact with every field the user has, then link it."""

    identity: Identity
    contact: NewContact
    reason: Literal["created"] = "created"


@dataclass(frozen=True)
class Inactivation:
    """Mark the contact inactive (never delete it) and mark the link ``inactivated_by_sync`` with the reason."""

    contact_id: str
    object_id: str
    reason: InactivationReason


@dataclass(frozen=True)
class Reactivation:
    """Mark a contact the sync itself inactivated active again, and clear the link's inactivation marker."""

    contact_id: str
    object_id: str


@dataclass(frozen=True)
class LinkRefresh:
    """Write the identity's current UPN, mail and account state to its link; ``clear_inactivation`` drops a stale
    ``inactivated_by_sync`` marker (the contact was made active by hand and the user is enabled again)."""

    identity: Identity
    clear_inactivation: bool = False


@dataclass(frozen=True)
class ReviewItem:
    """An ambiguous user to queue for review; nothing is written for it otherwise.

    ``candidate_contact_ids`` are contacts of the mapped client (what a reviewer may link to);
    ``other_client_contacts`` are ``(contact_id, client_id)`` pairs of other clients that hold the user's address.
    """

    object_id: str
    user: EntraUser
    reason: ReviewReason
    candidate_contact_ids: tuple[str, ...] = ()
    other_client_contacts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Skip:
    """A user left alone, with a reason code and, for provider-rejected records, the provider's text."""

    object_id: str | None
    reason: SkipReason
    detail: str = ""


@dataclass(frozen=True)
class Plan:
    entra_tenant_id: str
    client_id: str
    links: tuple[PlannedLink, ...] = ()
    creates: tuple[PlannedCreate, ...] = ()
    updates: tuple[ContactUpdate, ...] = ()
    inactivations: tuple[Inactivation, ...] = ()
    reactivations: tuple[Reactivation, ...] = ()
    reviews: tuple[ReviewItem, ...] = ()
    link_refreshes: tuple[LinkRefresh, ...] = ()
    skips: tuple[Skip, ...] = ()
    #: Inactivations the mass-inactivation guard withheld; applied only after an admin releases them.
    held_inactivations: tuple[Inactivation, ...] = ()
    listing_complete: bool = True

    @property
    def held(self) -> bool:
        return bool(self.held_inactivations)

    @property
    def is_empty(self) -> bool:
        """True when applying the plan writes nothing (skips and held inactivations are reported, not written)."""
        return not (
            self.links
            or self.creates
            or self.updates
            or self.inactivations
            or self.reactivations
            or self.reviews
            or self.link_refreshes
        )

    def counters(self) -> dict[str, Any]:
        """The run counters, derived from the plan itself so they can never disagree with it."""
        return {
            "created": len(self.creates),
            "linked": len(self.links),
            "updated": len(self.updates),
            "inactivated": len(self.inactivations),
            "reactivated": len(self.reactivations),
            "ambiguous": len(self.reviews),
            "skipped": len(self.skips),
            "skipped_by_reason": dict(sorted(Counter(skip.reason for skip in self.skips).items())),
            "held": len(self.held_inactivations),
        }
