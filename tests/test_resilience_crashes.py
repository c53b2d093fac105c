"""R2 and R10 of RELIABILITY.md: the worker process killed mid-run, and PostgreSQL restarted mid-run.

Both start a run slowed down by simulator latency, disrupt it while tenants are being listed, and then require the run
to complete with exactly the end state the directory dictates (tests/plugins/resilience_world.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.plugins.reliability import PostgresCluster, Scale, shared_postgres
from tests.plugins.resilience_world import (
    WorkerProcess,
    activity_retries,
    assert_synced_exactly,
    counters_of,
    customers,
    enroll,
    resilience_world,
    start_run,
    summed,
    user_listing_requests,
    wait_for_run,
    wait_until,
)
from tests.plugins.sync_world import SyncWorld
from tests.plugins.temporal import TemporalServer

#: Long enough for tenants to finish their listing while the database is away, short of the activities' retry budget.
POSTGRES_DOWNTIME_SECONDS = 3.0


def listing_advances(world: SyncWorld, timeout: float) -> None:
    """Wait until a page of users more has been served: some tenant's activity is mid-listing."""
    served = user_listing_requests(world)
    wait_until(lambda: user_listing_requests(world) > served, timeout, "a tenant's listing to progress")


def assert_completed_exactly(world: SyncWorld, run_id: str, scale: Scale) -> int:
    """The run completed with the exact counters and end state; returns how many activity attempts were retries."""
    run = wait_for_run(world, run_id, scale.run_timeout)
    assert run.status == "completed", world.run_tenants(run_id)
    assert counters_of(run) == summed([one.first_sync_counters() for one in customers(scale)])
    assert_synced_exactly(world, customers(scale))
    return activity_retries(world, run.workflow_id, run_id)


def test_r2_a_worker_killed_mid_run_and_restarted_loses_and_duplicates_nothing(
    resilience_base: SyncWorld, scale: Scale, tmp_path: Path
) -> None:
    world = enroll(resilience_base, scale, concurrency=2)
    world.sim.set_faults(latency_ms=scale.latency_ms)
    world.worker.stop()  # only the separate worker process may take this run's tasks
    worker = WorkerProcess(world, tmp_path / "worker.log")
    try:
        worker.start()
        run_id = start_run(world)
        for _ in range(scale.kills):
            listing_advances(world, scale.run_timeout)
            worker.kill()
            worker.start()
        retries = assert_completed_exactly(world, run_id, scale)
    finally:
        worker.stop()
        world.worker.start()
    assert retries >= 1  # a killed worker's activities were abandoned and ran again on its successor
    print(
        f"R2[{scale.name}] kills={worker.kills} worker_starts={worker.starts} activity_retries={retries} "
        f"contacts={world.count_contacts()} duplicates=0 lost=0"
    )


@pytest.fixture(scope="module")
def restartable_postgres(scale: Scale, request: pytest.FixtureRequest) -> PostgresCluster:
    """The long variant restarts the shared server as the scenario says; the fast one a private cluster of its own."""
    if scale.restart_shared_postgres:
        return shared_postgres()
    cluster: PostgresCluster = request.getfixturevalue("private_postgres")
    return cluster


@pytest.fixture(scope="module")
def restartable_world(
    restartable_postgres: PostgresCluster,
    scale: Scale,
    temporal_server: TemporalServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SyncWorld]:
    name = f"entra_r10_{uuid.uuid4().hex[:10]}"
    url = restartable_postgres.create_database(name)
    try:
        with resilience_world(url, temporal_server, tmp_path_factory.mktemp("secrets") / "store", scale) as world:
            yield world
    finally:
        restartable_postgres.drop_database(name)


def test_r10_postgres_restarted_mid_run_the_activities_retry_and_nothing_is_lost(
    restartable_world: SyncWorld, restartable_postgres: PostgresCluster, scale: Scale
) -> None:
    world = enroll(restartable_world, scale, concurrency=2)
    world.sim.set_faults(latency_ms=scale.latency_ms)
    run_id = start_run(world)
    listing_advances(world, scale.run_timeout)

    unavailable = restartable_postgres.restart(downtime=POSTGRES_DOWNTIME_SECONDS)

    retries = assert_completed_exactly(world, run_id, scale)
    assert retries >= 1  # activities met the restart and were retried
    print(
        f"R10[{scale.name}] unavailable={unavailable:.1f}s activity_retries={retries} contacts={world.count_contacts()} "
        "lost=0"
    )
