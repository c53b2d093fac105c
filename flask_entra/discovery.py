"""Persisting what discovery found: managed tenants upserted in place, never deleted.

A tenant discovery no longer returns keeps its row and its mapping and gets ``missing_since``; one that comes back has it
cleared. Running discovery twice over the same answer changes nothing but ``last_seen_at``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import ManagedTenantRow, utcnow
from .providers.base import ManagedTenant


@dataclass(frozen=True)
class DiscoveryCounts:
    discovered: int
    added: int
    updated: int
    missing: int
    returned: int


def _described(tenant: ManagedTenant) -> dict[str, Any]:
    return {
        "display_name": tenant.display_name,
        "default_domain": tenant.default_domain,
        "verified_domains": list(tenant.verified_domains),
        "user_count": tenant.user_count,
        "gdap_relationship_end": tenant.gdap_relationship_end,
    }


def _as_utc(value: Any) -> Any:
    """SQLite hands back naive UTC datetimes; compare instants, not representations."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _same(current: Any, wanted: Any) -> bool:
    return bool(_as_utc(current) == _as_utc(wanted))


def upsert_managed_tenants(session: Session, tenant: str, discovered: Sequence[ManagedTenant]) -> DiscoveryCounts:
    """Bring ``entra_managed_tenants`` in line with one complete discovery answer. Commits."""
    now = utcnow()
    rows = {
        row.entra_tenant_id: row for row in session.execute(select(ManagedTenantRow).filter_by(tenant=tenant)).scalars()
    }
    seen: set[str] = set()
    added = updated = returned = 0
    for found in discovered:
        if found.entra_tenant_id in seen:
            continue  # a provider listing a tenant twice must not create it twice
        seen.add(found.entra_tenant_id)
        wanted = _described(found)
        row = rows.get(found.entra_tenant_id)
        if row is None:
            session.add(
                ManagedTenantRow(
                    tenant=tenant, entra_tenant_id=found.entra_tenant_id, first_seen_at=now, last_seen_at=now, **wanted
                )
            )
            added += 1
            continue
        changed = {name: value for name, value in wanted.items() if not _same(getattr(row, name), value)}
        for name, value in changed.items():
            setattr(row, name, value)
        updated += bool(changed)
        if row.missing_since is not None:
            row.missing_since = None
            returned += 1
        row.last_seen_at = now
    missing = 0
    for entra_tenant_id, row in rows.items():
        if entra_tenant_id not in seen and row.missing_since is None:
            row.missing_since = now
            missing += 1
    session.commit()
    return DiscoveryCounts(len(seen), added, updated, missing, returned)
