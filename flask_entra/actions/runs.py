"""Sync run history and detail."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..host import READ, Principal
from ..models import SyncRun, SyncRunTenant
from . import serialize
from ._common import enter, one_of_tenant, session


def list_runs(principal: Principal | None, *, limit: int = 50) -> list[dict[str, Any]]:
    principal, _ = enter(principal, READ)
    stmt = select(SyncRun).filter_by(tenant=principal.tenant).order_by(SyncRun.created_at.desc()).limit(limit)
    return [serialize.run(r) for r in session().execute(stmt).scalars()]


def run_tenants(tenant: str, run_id: str) -> list[SyncRunTenant]:
    stmt = select(SyncRunTenant).filter_by(tenant=tenant, run_id=run_id).order_by(SyncRunTenant.entra_tenant_id)
    return list(session().execute(stmt).scalars())


def get_run(principal: Principal | None, run_id: str) -> dict[str, Any]:
    principal, _ = enter(principal, READ)
    run = one_of_tenant(SyncRun, principal.tenant, id=run_id)
    return serialize.run(run, run_tenants(principal.tenant, run_id))
