"""Per-tenant sync schedules on the real Temporal dev server, driven by the settings action as an admin would."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from temporalio.client import Client, ScheduleActionStartWorkflow, ScheduleOverlapPolicy
from temporalio.service import RPCError, RPCStatusCode

from flask_entra.actions.runs import list_runs
from flask_entra.actions.settings import update_settings
from flask_entra.discovery import upsert_managed_tenants
from flask_entra.host import READ, UPDATE, Principal
from flask_entra.models import Connection
from flask_entra.providers.base import ManagedTenant
from flask_entra.state import get_state
from flask_entra.temporal.ids import schedule_id
from flask_entra.temporal.schedules import sync_all_schedules
from tests.plugins.host import build_app, dispose, prepare_database, set_all_flags
from tests.plugins.postgres import create_database, drop_database
from tests.plugins.sync_world import SyncWorld, customer, directory, sync_world, user
from tests.plugins.temporal import TemporalServer

DELTA = "55555555-5555-4555-8555-555555555555"


@pytest.fixture(scope="module")
def world(temporal_server: TemporalServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncWorld]:
    url = create_database("entra_sched")
    document = directory([customer(DELTA, "Delta Dental", "delta.test", [user("d-1", "una@delta.test", "Una")])])
    try:
        with sync_world(
            url.replace("postgresql://", "postgresql+psycopg://", 1),
            temporal_server,
            tmp_path_factory.mktemp("secrets") / "store",
            document,
        ) as built:
            built.add_clients({"Delta": []})
            built.connect_direct()
            with built.app.app_context():
                upsert_managed_tenants(get_state().session, built.tenant, [ManagedTenant(DELTA, "Delta Dental")])
            built.map_tenant(DELTA, "Delta")
            yield built
    finally:
        drop_database(url)


def save_settings(world: SyncWorld, **payload: object) -> None:
    with world.app.app_context():
        update_settings(world.principal, payload)


def describe(world: SyncWorld) -> object | None:
    async def look(client: Client) -> object | None:
        try:
            return await client.get_schedule_handle(schedule_id(world.tenant)).describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return None
            raise

    return world.temporal.call(look)


def our_schedules(world: SyncWorld) -> list[str]:
    """Our tenant's schedules as Temporal lists them (the listing lags behind a creation for a moment)."""

    async def listed(client: Client) -> list[str]:
        return [s.id async for s in await client.list_schedules() if s.id == schedule_id(world.tenant)]

    for _ in range(50):
        found = world.temporal.call(listed)
        if found:
            return found
        time.sleep(0.1)
    return []


def test_enabling_twice_leaves_one_schedule_and_changing_the_interval_updates_it(world: SyncWorld) -> None:
    save_settings(world, enabled=True, interval_minutes=60)
    save_settings(world, enabled=True, interval_minutes=60)
    description = describe(world)
    assert description is not None
    schedule = description.schedule  # type: ignore[attr-defined]
    assert [i.every for i in schedule.spec.intervals] == [timedelta(minutes=60)]
    assert schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    assert isinstance(schedule.action, ScheduleActionStartWorkflow)
    assert schedule.action.id == f"entra-sync:{world.tenant}:scheduled"
    assert sync_all_schedules(world.app)[world.tenant] == "unchanged"
    assert our_schedules(world) == [schedule_id(world.tenant)]

    save_settings(world, interval_minutes=240)
    assert [i.every for i in describe(world).schedule.spec.intervals] == [timedelta(hours=4)]  # type: ignore[union-attr]


def test_a_triggered_schedule_run_completes_and_is_listed_as_scheduled(world: SyncWorld) -> None:
    save_settings(world, enabled=True, interval_minutes=60)

    async def trigger(client: Client) -> None:
        await client.get_schedule_handle(schedule_id(world.tenant)).trigger()

    world.temporal.call(trigger)
    run_id = None
    for _ in range(100):
        with world.app.app_context():
            scheduled = [r for r in list_runs(world.principal) if r["kind"] == "scheduled"]
        if scheduled and scheduled[0]["status"] in ("completed", "partial", "failed"):
            run_id = scheduled[0]["run_id"]
            assert scheduled[0]["status"] == "completed" and scheduled[0]["requested_by"] == "schedule"
            assert scheduled[0]["workflow_id"].startswith(f"entra-sync:{world.tenant}:scheduled")
            break
        time.sleep(0.2)
    assert run_id is not None, "the scheduled run did not finish"
    assert "una@delta.test" in world.contacts("Delta")


def test_disabling_or_disconnecting_removes_the_schedule(world: SyncWorld) -> None:
    save_settings(world, enabled=True, interval_minutes=60)
    assert describe(world) is not None
    save_settings(world, enabled=False)
    assert describe(world) is None

    save_settings(world, enabled=True)
    assert describe(world) is not None
    with world.app.app_context():  # a disconnect done behind our back: `schedules sync` repairs it
        session = get_state().session
        session.query(Connection).filter_by(tenant=world.tenant).update({"status": "disconnected"})
        session.commit()
    assert sync_all_schedules(world.app)[world.tenant] == "removed"
    assert describe(world) is None
    with world.app.app_context():
        session = get_state().session
        session.query(Connection).filter_by(tenant=world.tenant).update({"status": "active"})
        session.commit()


def test_settings_save_survives_an_unreachable_temporal(host_db: str, caplog: pytest.LogCaptureFixture) -> None:
    app = build_app(host_db, "enterprise", ENTRA_TEMPORAL_ADDRESS="127.0.0.1:9")
    prepare_database(app)
    set_all_flags(app, True)
    admin = Principal(user_id="1", tenant="acme", permissions=frozenset({READ, UPDATE}))
    try:
        with caplog.at_level(logging.WARNING), app.app_context():
            saved = update_settings(admin, {"enabled": True, "interval_minutes": 30})
        assert saved["enabled"] is True and saved["interval_minutes"] == 30
        assert "schedules sync" in caplog.text
    finally:
        dispose(app)
