"""The integration's overview: connection, counts, settings, last run, which surfaces are on."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from .. import flags
from ..host import READ, Principal
from ..models import Connection, ManagedTenantRow, ReconciliationItem, SyncRun, TenantMapping
from . import serialize
from ._common import enter, session
from .settings import settings_dict


def active_connection(tenant: str) -> Connection | None:
    stmt = select(Connection).filter_by(tenant=tenant, status="active")
    return session().execute(stmt).scalars().first()


def latest_connection(tenant: str) -> Connection | None:
    stmt = select(Connection).filter_by(tenant=tenant).order_by(Connection.created_at.desc()).limit(1)
    return session().execute(stmt).scalars().first()


def get_status(principal: Principal | None) -> dict[str, Any]:
    principal, state = enter(principal, READ)
    tenant = principal.tenant
    s = session()
    discovered = s.scalar(select(func.count()).select_from(ManagedTenantRow).filter_by(tenant=tenant)) or 0
    by_state = dict(
        s.execute(
            select(TenantMapping.state, func.count())
            .filter_by(tenant=tenant, active=True)
            .group_by(TenantMapping.state)
        ).all()
    )
    mapped, skipped = by_state.get("mapped", 0), by_state.get("skipped", 0)
    open_items = (
        s.scalar(select(func.count()).select_from(ReconciliationItem).filter_by(tenant=tenant, status="open")) or 0
    )
    last = (
        s.execute(select(SyncRun).filter_by(tenant=tenant).order_by(SyncRun.created_at.desc()).limit(1))
        .scalars()
        .first()
    )
    service = state.flags
    surfaces = {name: service.is_enabled(name, tenant=tenant, user_id=principal.user_id) for name in flags.ENTRA_FLAGS}
    return {
        "connection": serialize.connection(active_connection(tenant) or latest_connection(tenant)),
        "counts": {
            "discovered": discovered,
            "mapped": mapped,
            "skipped": skipped,
            "needs_review": max(discovered - mapped - skipped, 0),
            "open_review_items": open_items,
        },
        "settings": settings_dict(tenant, include_toggles=surfaces[flags.FIELD_SYNC]),
        "last_run": serialize.run(last) if last else None,
        "surfaces": surfaces,
    }
