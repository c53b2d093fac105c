"""B3: end to end, 200 Microsoft tenants of 250 users each, through a real Temporal dev server.

The world is the Temporal tests' own (``tests.plugins.sync_world``): the example host on PostgreSQL, the simulator, a
Direct connection from a simulated partner sign-in and an in-process worker. A Temporal run is timed from the start
request (as the page sends it) to the workflow's end. The floor calls the very same activities directly, without
Temporal, with the same concurrency (``ENTRA_SYNC_MAX_CONCURRENT_TENANTS``). Each round times an initial sync and a
no-change re-sync both ways, the synced contacts removed before each initial one.
Run: ``.venv/bin/python -m benchmarks.bench_e2e``.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import delete
from temporalio.testing import ActivityEnvironment

from benchmarks.bench_memory import forget_contacts, temporal_dev_server
from benchmarks.harness import RUNS, host_database, scaled, timed
from flask_entra.actions.sync import start_sync
from flask_entra.models import ManagedTenantRow, ReconciliationItem
from flask_entra.state import get_state
from flask_entra.temporal.activities import EntraActivities
from flask_entra.temporal.messages import FinishRequest, RunRef, SyncRequest, TenantJob
from tests.plugins.sync_world import SyncWorld, customer, directory, sync_world, user

TENANTS = scaled(200, 4)
USERS_PER_TENANT = 250
INITIAL_TARGET_S = 60.0
RESYNC_TARGET_S = 30.0
OVERHEAD_TARGET = 1.5


def tenant_id(number: int) -> str:
    return str(uuid.UUID(int=0xB3 << 120 | number))


def world_directory() -> dict[str, Any]:
    return directory(
        [
            customer(
                tenant_id(t),
                f"Customer {t}",
                f"c{t}.example",
                [
                    user(
                        f"{t:04d}-{n:05d}",
                        f"user{n}@c{t}.example",
                        f"User {n}",
                        jobTitle="Engineer",
                        mobilePhone=f"+1 555 {n:07d}",
                        businessPhones=[f"+1 444 {n:07d}"],
                    )
                    for n in range(USERS_PER_TENANT)
                ],
            )
            for t in range(TENANTS)
        ]
    )


def prepare(world: SyncWorld) -> None:
    """One client per customer, mapped; the managed tenants recorded as discovery would have."""
    world.add_clients({f"Client {t}": [] for t in range(TENANTS)})
    world.connect_direct()
    with world.app.app_context():
        session = get_state().session
        session.add_all(
            ManagedTenantRow(tenant=world.tenant, entra_tenant_id=tenant_id(t), display_name=f"Customer {t}")
            for t in range(TENANTS)
        )
        session.commit()
    for t in range(TENANTS):
        world.map_tenant(tenant_id(t), f"Client {t}")


def through_temporal(world: SyncWorld) -> dict[str, Any]:
    with world.app.app_context():
        started = start_sync(world.principal, {"scope": "all"})
    world.temporal.call(lambda client: client.get_workflow_handle(started["workflow_id"]).result(), timeout=900)
    return dict(world.wait_for_run(started["run_id"]).counters or {})


def directly(world: SyncWorld, activities: EntraActivities) -> dict[str, Any]:
    """The same activities in the same order, called in this process: open, every tenant at once (bounded), finish."""
    ref = RunRef(run_id=uuid.uuid4().hex, workflow_id="bench-direct", request=SyncRequest(world.tenant, "all"))
    opened = ActivityEnvironment().run(activities.open_run, ref)

    def one(job: TenantJob) -> object:
        return ActivityEnvironment().run(activities.sync_tenant, job)

    with ThreadPoolExecutor(max_workers=opened.max_concurrency) as pool:
        list(pool.map(one, [TenantJob(ref, target) for target in opened.targets]))
    return dict(ActivityEnvironment().run(activities.finish_run, FinishRequest(ref)).counters)


def forget_everything(world: SyncWorld) -> None:
    forget_contacts(world)
    with world.app.app_context():
        session = get_state().session
        session.execute(delete(ReconciliationItem).where(ReconciliationItem.tenant == world.tenant))
        session.commit()


def checked(sync: Callable[[], dict[str, Any]], created: int, samples: list[float]) -> Callable[[], None]:
    def work() -> None:
        counters: dict[str, Any] = {}
        samples.append(timed(lambda: counters.update(sync())))
        if counters.get("created") != created:
            raise AssertionError(f"expected {created} contacts created, the run says {counters}")

    return work


def run() -> list[dict[str, Any]]:
    total = TENANTS * USERS_PER_TENANT
    samples: dict[str, list[float]] = {"t_initial": [], "t_resync": [], "d_initial": [], "d_resync": []}
    with (
        host_database("entra_bench_e2e") as url,
        temporal_dev_server() as temporal,
        tempfile.TemporaryDirectory(prefix="entra-bench-b3-") as folder,
        sync_world(url, temporal, Path(folder) / "secrets", world_directory()) as world,
    ):
        prepare(world)
        activities = EntraActivities(world.app)
        temporal_sync, direct_sync = (lambda: through_temporal(world)), (lambda: directly(world, activities))
        for number in range(RUNS + 1):  # round 0 warms up (connections, tokens, caches) and is not counted
            for sync, prefix in ((temporal_sync, "t"), (direct_sync, "d")):
                forget_everything(world)
                initial, resync = samples[f"{prefix}_initial"], samples[f"{prefix}_resync"]
                checked(sync, total, initial)()
                checked(sync, 0, resync)()
                if not number:
                    initial.clear()
                    resync.clear()
        activities.providers.close()
    medians = {name: statistics.median(found) for name, found in samples.items()}
    return [
        _row("B3-initial", "initial sync", total, medians["t_initial"], medians["d_initial"], INITIAL_TARGET_S),
        _row("B3-resync", "no-change re-sync", total, medians["t_resync"], medians["d_resync"], RESYNC_TARGET_S),
    ]


def _row(row_id: str, what: str, total: int, median: float, floor: float, target_s: float) -> dict[str, Any]:
    overhead = median / floor
    return {
        "id": row_id,
        "what": f"{what} of {TENANTS} tenants x {USERS_PER_TENANT} users ({total}) through Temporal, median of {RUNS}",
        "median_s": round(median, 2),
        "floor_s": round(floor, 2),
        "floor": "the same activities called directly, same concurrency",
        "ratio": round(overhead, 2),
        "target": f"<= {target_s:g} s, Temporal overhead <= {OVERHEAD_TARGET}x",
        "met": median <= target_s and overhead <= OVERHEAD_TARGET,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
