"""One Temporal schedule per MSP tenant (``entra-sync-schedule:{tenant}``) that starts ``kind=scheduled`` sync runs.

The schedule exists exactly while the tenant's sync is enabled and a connection is active; its interval follows the
settings and an overdue run is skipped while the previous one still runs (overlap SKIP). Everything here converges:
applying the same wish twice changes nothing, so ``flask entra schedules sync`` is safe at every worker start.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from ..models import Connection, SyncSettings
from ..state import get_state
from .client import bridge
from .ids import schedule_id, sync_workflow_id, tenant_of_schedule
from .messages import SyncRequest
from .workflows import SyncWorkflow

Outcome = Literal["created", "updated", "unchanged", "removed", "absent"]


def wanted_interval(session: Session, tenant: str) -> int | None:
    """Minutes between scheduled runs, or None when the tenant should have no schedule."""
    settings = session.get(SyncSettings, tenant)
    if settings is None or not settings.enabled:
        return None
    connected = session.execute(select(Connection.id).filter_by(tenant=tenant, status="active").limit(1)).first()
    return settings.interval_minutes if connected else None


def build_schedule(tenant: str, interval_minutes: int, task_queue: str) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            SyncWorkflow.run,
            SyncRequest(tenant=tenant, kind="scheduled", requested_by="schedule"),
            id=sync_workflow_id(tenant, "scheduled"),
            task_queue=task_queue,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(minutes=interval_minutes))]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


def _matches(current: Schedule, wanted: Schedule) -> bool:
    action, target = current.action, wanted.action
    return (
        isinstance(action, ScheduleActionStartWorkflow)
        and isinstance(target, ScheduleActionStartWorkflow)
        and action.workflow == target.workflow
        and action.id == target.id
        and action.task_queue == target.task_queue
        and [i.every for i in current.spec.intervals] == [i.every for i in wanted.spec.intervals]
        and current.policy.overlap == wanted.policy.overlap
    )


async def apply_schedule(client: Client, tenant: str, interval_minutes: int | None, task_queue: str) -> Outcome:
    """Create, update or delete the tenant's schedule so that it matches ``interval_minutes`` (None: no schedule)."""
    handle = client.get_schedule_handle(schedule_id(tenant))
    if interval_minutes is None:
        try:
            await handle.delete()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return "absent"
            raise
        return "removed"
    wanted = build_schedule(tenant, interval_minutes, task_queue)
    try:
        await client.create_schedule(schedule_id(tenant), wanted)
        return "created"
    except ScheduleAlreadyRunningError:
        pass
    description = await handle.describe()
    if _matches(description.schedule, wanted):
        return "unchanged"

    def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=wanted)

    await handle.update(replace)
    return "updated"


async def scheduled_tenants(client: Client) -> set[str]:
    """Tenants that currently have a schedule in Temporal (listing is eventually consistent)."""
    found = set()
    async for listed in await client.list_schedules():
        tenant = tenant_of_schedule(listed.id)
        if tenant is not None:
            found.add(tenant)
    return found


def known_tenants(session: Session) -> set[str]:
    """Tenants we hold settings or a connection for: the ones whose schedule may need to exist."""
    tenants = set(session.execute(select(SyncSettings.tenant)).scalars())
    tenants.update(session.execute(select(Connection.tenant).distinct()).scalars())
    return tenants


def reconcile_tenant_schedule(app: Flask | None, tenant: str) -> Outcome:
    """Bring one tenant's schedule in line with its settings and connection (needs an app context)."""
    state = get_state(app)
    interval = wanted_interval(state.session, tenant)
    temporal = bridge(app)
    return temporal.call(lambda client: apply_schedule(client, tenant, interval, temporal.task_queue))


def schedule_wishes(app: Flask, also: set[str]) -> dict[str, int | None]:
    """Wanted interval (or None) of every tenant we know, plus ``also`` (tenants that have a schedule now)."""
    with app.app_context():
        session = get_state(app).session
        try:
            return {tenant: wanted_interval(session, tenant) for tenant in sorted(known_tenants(session) | also)}
        finally:
            session.rollback()


async def sync_schedules_with(client: Client, app: Flask, task_queue: str) -> dict[str, Outcome]:
    """Reconcile every tenant's schedule, including stray ones of tenants we no longer know; tenant -> outcome."""
    wishes = schedule_wishes(app, await scheduled_tenants(client))
    return {tenant: await apply_schedule(client, tenant, interval, task_queue) for tenant, interval in wishes.items()}


def sync_all_schedules(app: Flask) -> dict[str, Outcome]:
    """:func:`sync_schedules_with` through the app's bridge (for the CLI and hosts)."""
    temporal = bridge(app)
    return temporal.call(lambda client: sync_schedules_with(client, app, temporal.task_queue), timeout=300.0)
