"""Run bookkeeping: the ``entra_sync_runs`` row and its per-Microsoft-tenant rows.

Every function here is idempotent, because Temporal may run an activity more than once: rows are inserted with
"on conflict do nothing", and the run's status, progress and counters are always recomputed from the tenant rows
instead of being incremented.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .models import ManagedTenantRow, SyncRun, SyncRunTenant, TenantMapping, utcnow

#: A tenant row in one of these states will not change again within its run (``released`` follows ``held``).
FINISHED_TENANT_STATES = ("completed", "held", "released", "failed")
FINISHED_RUN_STATES = ("completed", "partial", "failed")


@dataclass(frozen=True)
class RunIdentity:
    """Everything needed to create a run row, so whichever step runs first (the starter or the workflow) can."""

    tenant: str
    run_id: str
    workflow_id: str
    kind: str
    client_id: str | None = None
    dry_run: bool = False
    requested_by: str | None = None


def insert_ignoring_duplicates(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows whose primary or unique key may already exist (a retry or a concurrent starter); keep the old."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(postgresql.insert(table).on_conflict_do_nothing(), list(rows))
    elif dialect == "sqlite":
        session.execute(sqlite.insert(table).on_conflict_do_nothing(), list(rows))
    else:  # other databases: insert only what is missing (callers serialise per run, so this is not racy there)
        missing = [row for row in rows if session.get(table, [row[c.name] for c in table.primary_key]) is None]
        if missing:
            session.execute(table.insert(), missing)


def sync_targets(session: Session, tenant: str, client_id: str | None = None) -> list[tuple[str, str]]:
    """(entra_tenant_id, client_id) of every actively mapped Microsoft tenant that discovery still sees."""
    stmt = (
        select(TenantMapping.entra_tenant_id, TenantMapping.client_id)
        .join(
            ManagedTenantRow,
            (ManagedTenantRow.tenant == TenantMapping.tenant)
            & (ManagedTenantRow.entra_tenant_id == TenantMapping.entra_tenant_id),
        )
        .where(
            TenantMapping.tenant == tenant,
            TenantMapping.active.is_(True),
            TenantMapping.state == "mapped",
            TenantMapping.client_id.is_not(None),
            ManagedTenantRow.missing_since.is_(None),
        )
        .order_by(TenantMapping.entra_tenant_id)
    )
    if client_id is not None:
        stmt = stmt.where(TenantMapping.client_id == client_id)
    return [(entra_tenant_id, mapped_client) for entra_tenant_id, mapped_client in session.execute(stmt).all()]


def ensure_run(session: Session, run: RunIdentity) -> None:
    """Create the run row (status queued) unless it exists. Does not commit."""
    row = {
        "tenant": run.tenant,
        "id": run.run_id,
        "kind": run.kind,
        "client_id": run.client_id,
        "dry_run": run.dry_run,
        "workflow_id": run.workflow_id,
        "status": "queued",
        "requested_by": run.requested_by,
        "counters": {},
        "tenants_total": 0,
        "tenants_done": 0,
        "created_at": utcnow(),
    }
    insert_ignoring_duplicates(session, SyncRun.__table__, [row])  # type: ignore[arg-type]


def run_has_finished(session: Session, tenant: str, run_id: str) -> bool:
    status = session.execute(select(SyncRun.status).filter_by(tenant=tenant, id=run_id)).scalar_one_or_none()
    return status in FINISHED_RUN_STATES


def open_run(session: Session, run: RunIdentity) -> list[tuple[str, str]]:
    """Mark the run running and fix its targets; a retry keeps the targets chosen the first time. Commits."""
    ensure_run(session, run)
    existing = session.execute(
        select(SyncRunTenant.entra_tenant_id, SyncRunTenant.client_id)
        .filter_by(tenant=run.tenant, run_id=run.run_id)
        .order_by(SyncRunTenant.entra_tenant_id)
    ).all()
    targets = [(row[0], row[1] or "") for row in existing] or sync_targets(session, run.tenant, run.client_id)
    insert_ignoring_duplicates(
        session,
        SyncRunTenant.__table__,  # type: ignore[arg-type]
        [
            {
                "tenant": run.tenant,
                "run_id": run.run_id,
                "entra_tenant_id": entra_tenant_id,
                "client_id": client_id,
                "status": "pending",
                "counters": {},
                "held_inactivations": [],
            }
            for entra_tenant_id, client_id in targets
        ],
    )
    now = utcnow()
    session.execute(
        update(SyncRun)
        .where(SyncRun.tenant == run.tenant, SyncRun.id == run.run_id, SyncRun.status == "queued")
        .values(status="running", started_at=now, tenants_total=len(targets))
    )
    session.commit()
    return targets


def tenant_row(session: Session, tenant: str, run_id: str, entra_tenant_id: str) -> SyncRunTenant | None:
    return session.get(SyncRunTenant, (tenant, run_id, entra_tenant_id))


def tenant_rows(session: Session, tenant: str, run_id: str) -> list[SyncRunTenant]:
    stmt = select(SyncRunTenant).filter_by(tenant=tenant, run_id=run_id).order_by(SyncRunTenant.entra_tenant_id)
    return list(session.execute(stmt).scalars())


def mark_tenant_running(session: Session, tenant: str, run_id: str, entra_tenant_id: str) -> bool:
    """Record that work on the tenant began; False when it already finished (a retry after a commit). Commits."""
    result = session.execute(
        update(SyncRunTenant)
        .where(
            SyncRunTenant.tenant == tenant,
            SyncRunTenant.run_id == run_id,
            SyncRunTenant.entra_tenant_id == entra_tenant_id,
            SyncRunTenant.status.in_(("pending", "running")),
        )
        .values(status="running", started_at=func.coalesce(SyncRunTenant.started_at, utcnow()), error=None)
    )
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def record_tenant_failure(session: Session, tenant: str, run_id: str, entra_tenant_id: str, error: str) -> None:
    """The tenant's work failed for good; a tenant that finished in the meantime keeps its result. Commits."""
    session.execute(
        update(SyncRunTenant)
        .where(
            SyncRunTenant.tenant == tenant,
            SyncRunTenant.run_id == run_id,
            SyncRunTenant.entra_tenant_id == entra_tenant_id,
            SyncRunTenant.status.in_(("pending", "running")),
        )
        .values(status="failed", error=error[:2000], finished_at=utcnow())
    )
    refresh_progress(session, tenant, run_id)
    session.commit()


def refresh_progress(session: Session, tenant: str, run_id: str) -> None:
    """Recount finished tenants into the run row (live progress for the pages). Does not commit."""
    done = (
        select(func.count())
        .select_from(SyncRunTenant)
        .where(
            SyncRunTenant.tenant == tenant,
            SyncRunTenant.run_id == run_id,
            SyncRunTenant.status.in_(FINISHED_TENANT_STATES),
        )
        .scalar_subquery()
    )
    session.execute(update(SyncRun).where(SyncRun.tenant == tenant, SyncRun.id == run_id).values(tenants_done=done))


def add_counters(totals: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Sum per-tenant counters: numbers add up, ``skipped_by_reason`` merges."""
    sums: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for counters in totals:
        for name, value in counters.items():
            if name == "skipped_by_reason":
                reasons.update(value)
            elif isinstance(value, int) and not isinstance(value, bool):
                sums[name] += value
    out: dict[str, Any] = dict(sorted(sums.items()))
    out["skipped_by_reason"] = dict(sorted(reasons.items()))
    return out


def run_status(tenant_rows: Sequence[SyncRunTenant], error: str | None) -> str:
    """failed: the run could not start or every tenant failed; partial: some failed or read incompletely."""
    failed = sum(1 for row in tenant_rows if row.status == "failed")
    if error or (tenant_rows and failed == len(tenant_rows)):
        return "failed"
    if failed or any(row.error for row in tenant_rows):
        return "partial"
    return "completed"


def finish_run(session: Session, run: RunIdentity, error: str | None = None) -> SyncRun:
    """Close the run: tenants never reached are failed, status and counters derive from the tenant rows. Commits."""
    ensure_run(session, run)
    session.execute(
        update(SyncRunTenant)
        .where(
            SyncRunTenant.tenant == run.tenant,
            SyncRunTenant.run_id == run.run_id,
            SyncRunTenant.status.in_(("pending", "running")),
        )
        .values(status="failed", error=error or "The run ended before this tenant was synced.", finished_at=utcnow())
    )
    row = session.get(SyncRun, (run.tenant, run.run_id), populate_existing=True)
    assert row is not None  # ensure_run just made sure
    recompute_run(session, row, error=error, finished_at=utcnow())
    session.commit()
    return row


def recompute_run(
    session: Session, row: SyncRun, *, error: str | None = None, finished_at: datetime | None = None
) -> None:
    """Counters, progress and (when finishing) status of a run from its tenant rows. Does not commit."""
    tenants = tenant_rows(session, row.tenant, row.id)
    counters = add_counters(t.counters or {} for t in tenants)
    if row.counters != counters:
        row.counters = counters
    if row.tenants_total != len(tenants):
        row.tenants_total = len(tenants)
    done = sum(1 for t in tenants if t.status in FINISHED_TENANT_STATES)
    if row.tenants_done != done:
        row.tenants_done = done
    if finished_at is not None:
        row.status = run_status(tenants, error)
        row.error = error
        row.started_at = row.started_at or finished_at
        row.finished_at = finished_at
