"""Reads what the planner needs about one Microsoft tenant: our link rows, the mapped client's contacts, other clients'
addresses, the review queue and the tenant's settings (whose stored filter format is defined here). Bulk queries only
(a handful per Microsoft tenant)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from .errors import ValidationFailed
from .host import HostAdapter
from .models import ContactLink, ReconciliationItem, SyncSettings
from .providers.base import UserListing
from .reconcile import DEFAULT_SERVICE_PATTERNS, LinkState, LocalState, OtherClientContact, PlanSettings
from .reconcile.user_fields import match_addresses
from .sqlalchemy_adapter.bulk import bulk_for

#: What the planner reads of a link row, selected as plain columns: ORM objects cost more than the query at 50,000 rows.
_LINK_COLUMNS = (
    ContactLink.entra_object_id,
    ContactLink.contact_id,
    ContactLink.client_id,
    ContactLink.active,
    ContactLink.account_enabled,
    ContactLink.upn,
    ContactLink.mail,
    ContactLink.inactivated_by_sync,
    ContactLink.inactivation_reason,
    ContactLink.id,
)


@dataclass(frozen=True)
class LoadedState:
    """The planner's input plus the link row id of each identity (for updates in place)."""

    local: LocalState
    link_ids: dict[str, str]


def lock_microsoft_tenant(session: Session, tenant: str, entra_tenant_id: str) -> None:
    """Serialise concurrent syncs of one Microsoft tenant (a scheduled and a manual run) until the transaction ends.

    Each then plans from what the other committed, so neither creates a duplicate. SQLite serialises writers anyway.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"flask-entra:{tenant}:{entra_tenant_id}"},
        )


#: The user filters, named as the settings API, the settings page and the ``entra_sync_settings.filters`` column name
#: them (the one stored format), with the planner's defaults. ``skip_service_accounts`` on means the default
#: service/shared-mailbox patterns apply; users without a usable email are always skipped.
FILTER_DEFAULTS: dict[str, Any] = {
    "skip_guests": PlanSettings.skip_guests,
    "skip_unlicensed": PlanSettings.skip_unlicensed,
    "skip_service_accounts": True,
    "custom_patterns": (),
}


def settings_for_planner(
    filters: Mapping[str, Any],
    field_toggles: Mapping[str, Any],
    *,
    mass_inactivation_min: int,
    mass_inactivation_percent: float,
    released: bool = False,
) -> PlanSettings:
    """Stored settings as the planner's; also how the settings action validates a save (one set of rules).

    Raises ValidationFailed for an unknown filter or toggle, a bad pattern or an out-of-range threshold.
    """
    unknown = sorted(set(filters) - set(FILTER_DEFAULTS))
    if unknown:
        raise ValidationFailed(
            f"Unknown user filter(s): {', '.join(unknown)}.", advice=f"Use some of: {', '.join(FILTER_DEFAULTS)}."
        )
    chosen = {**FILTER_DEFAULTS, **filters}
    return PlanSettings(
        field_toggles=frozenset(name for name, enabled in field_toggles.items() if enabled),
        skip_guests=bool(chosen["skip_guests"]),
        skip_unlicensed=bool(chosen["skip_unlicensed"]),
        service_patterns=DEFAULT_SERVICE_PATTERNS if chosen["skip_service_accounts"] else (),
        custom_patterns=tuple(chosen["custom_patterns"]),
        mass_inactivation_min=mass_inactivation_min,
        mass_inactivation_percent=mass_inactivation_percent,
        released=released,
    )


def plan_settings(session: Session, tenant: str, *, released: bool = False) -> PlanSettings:
    """The tenant's stored settings as the planner's settings (defaults when never saved)."""
    row = session.get(SyncSettings, tenant)
    if row is None:
        return PlanSettings(released=released)
    return settings_for_planner(
        row.filters or {},
        row.field_toggles or {},
        mass_inactivation_min=row.mass_inactivation_min,
        mass_inactivation_percent=row.mass_inactivation_percent,
        released=released,
    )


def load_links(session: Session, tenant: str, entra_tenant_id: str) -> list[ContactLink]:
    stmt = select(ContactLink).filter_by(tenant=tenant, entra_tenant_id=entra_tenant_id)
    return list(session.execute(stmt).scalars())


def _contacts_with_active_link(session: Session, tenant: str, contact_ids: Collection[str]) -> frozenset[str]:
    """One ``= ANY(array)`` statement on PostgreSQL (chunked ``IN`` lists elsewhere); plain ``active`` so the partial
    index on active links serves it."""
    found: set[str] = set()
    for condition in bulk_for(session).matching(ContactLink.contact_id, sorted(contact_ids)):
        stmt = select(ContactLink.contact_id).where(ContactLink.tenant == tenant, ContactLink.active, condition)
        found.update(session.execute(stmt).scalars())
    return frozenset(found)


def _review_identities(session: Session, tenant: str, entra_tenant_id: str) -> dict[str, set[str]]:
    stmt = select(ReconciliationItem.status, ReconciliationItem.entra_object_id).where(
        ReconciliationItem.tenant == tenant,
        ReconciliationItem.entra_tenant_id == entra_tenant_id,
        ReconciliationItem.status.in_(("open", "dismissed")),
    )
    by_status: dict[str, set[str]] = {"open": set(), "dismissed": set()}
    for status, object_id in session.execute(stmt).all():
        by_status[status].add(object_id)
    return by_status


def _other_client_contacts(
    adapter: HostAdapter, tenant: str, client_id: str, addresses: Collection[str]
) -> dict[str, tuple[OtherClientContact, ...]]:
    owners: dict[str, list[OtherClientContact]] = {}
    if not addresses:
        return {}
    for contact in adapter.find_contacts_by_email(tenant, sorted(addresses)):
        if contact.client_id != client_id and contact.email:
            owners.setdefault(contact.email.strip().lower(), []).append(
                OtherClientContact(contact.id, contact.client_id)
            )
    return {address: tuple(found) for address, found in owners.items()}


def load_state(
    session: Session, adapter: HostAdapter, tenant: str, entra_tenant_id: str, client_id: str, listing: UserListing
) -> LoadedState:
    """Everything we hold that bears on this Microsoft tenant, read inside the applying transaction."""
    rows = session.execute(
        select(*_LINK_COLUMNS).where(ContactLink.tenant == tenant, ContactLink.entra_tenant_id == entra_tenant_id)
    ).all()
    # unpacked in _LINK_COLUMNS order: named access on a Row costs more than the query at 50,000 rows
    links = tuple(
        LinkState(
            object_id=object_id,
            contact_id=contact_id,
            client_id=link_client_id,
            active=active,
            account_enabled=account_enabled,
            upn=upn,
            mail=mail,
            inactivated_by_sync=inactivated_by_sync,
            inactivation_reason=inactivation_reason,
        )
        for (
            object_id,
            contact_id,
            link_client_id,
            active,
            account_enabled,
            upn,
            mail,
            inactivated_by_sync,
            inactivation_reason,
            _,
        ) in rows
    )
    linked_ids = {link.object_id for link in links if link.active}
    contacts = tuple(adapter.load_contacts(tenant, [client_id]))
    addresses = {
        address for user in listing.users if user.object_id not in linked_ids for address in match_addresses(user)
    }
    reviews = _review_identities(session, tenant, entra_tenant_id)
    local = LocalState(
        contacts=contacts,
        links=links,
        linked_contact_ids=_contacts_with_active_link(session, tenant, {c.id for c in contacts}),
        other_client_contacts=_other_client_contacts(adapter, tenant, client_id, addresses),
        dismissed_object_ids=frozenset(reviews["dismissed"]),
        open_review_object_ids=frozenset(reviews["open"]),
    )
    return LoadedState(local=local, link_ids={row[0]: row[-1] for row in rows})
