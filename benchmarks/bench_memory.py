"""M1: peak memory of a worker process syncing one Microsoft tenant of 100,000 users.

The worker is a real separate process (``run_worker``, as ``flask entra worker`` runs it) on a real Temporal dev server;
this process starts the sync as the page does and, once the run finished, reads the worker's peak resident set size
(``VmHWM`` in ``/proc/<pid>/status``) before stopping it. Every round is an initial sync (the client's contacts and
links are removed between rounds), the heaviest case: 100,000 contacts created and linked.
Run: ``.venv/bin/python -m benchmarks.bench_memory``.
"""

from __future__ import annotations

import json
import signal
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import delete

from benchmarks.harness import ROOT, RUNS, host_database, scaled
from flask_entra.actions.sync import start_sync
from flask_entra.models import ContactLink, ManagedTenantRow
from flask_entra.state import get_state
from tests.plugins.host import build_app
from tests.plugins.sync_world import SyncWorld, customer, directory, sync_world, user
from tests.plugins.temporal import LoopThread, TemporalServer, temporal_cli

USERS = scaled(100_000, 1_000)
TARGET_MB = 400
ENTRA_TENANT = str(uuid.UUID(int=0x4D31 << 112))
CLIENT = "Big Client"
#: The app settings a worker process needs to reach the same database, secrets, simulator and task queue.
WORKER_KEYS = (
    "SQLALCHEMY_DATABASE_URI",
    "ENTRA_LOGIN_BASE_URL",
    "ENTRA_GRAPH_BASE_URL",
    "ENTRA_SECRET_PROVIDERS",
    "ENTRA_SECRETS_DIR",
    "ENTRA_HTTP_MAX_RETRIES",
    "ENTRA_TEMPORAL_ADDRESS",
    "ENTRA_TEMPORAL_NAMESPACE",
    "ENTRA_TEMPORAL_TASK_QUEUE",
)


@contextmanager
def temporal_dev_server() -> Iterator[TemporalServer]:
    """The real ``temporal`` dev server, as the tests' session fixture starts it."""
    from temporalio.testing import WorkflowEnvironment

    loop = LoopThread("temporal-dev-server")
    env = loop.run(WorkflowEnvironment.start_local(dev_server_existing_path=temporal_cli()), timeout=120)
    try:
        yield TemporalServer(env.client.service_client.config.target_host, env.client.namespace, env.client, loop)
    finally:
        loop.run(env.shutdown())
        loop.close()


def big_directory(count: int) -> dict[str, Any]:
    users = [
        user(
            f"m1-{n:07d}",
            f"user{n}@big.example",
            f"User {n}",
            jobTitle="Engineer",
            mobilePhone=f"+1 555 {n:07d}",
            businessPhones=[f"+1 444 {n:07d}"],
        )
        for n in range(count)
    ]
    return directory([customer(ENTRA_TENANT, "Big Tenant", "big.example", users)])


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM missing from /proc: is this Linux?")


def worker_round(world: SyncWorld, config: dict[str, Any]) -> float:
    """Start a worker process, sync the big tenant through it, and return the worker's peak RSS in MB (read once the
    workflow ended, so no activity of this run is left for the next round's worker)."""
    command = [sys.executable, "-m", "benchmarks.bench_memory", "--worker", json.dumps(config)]
    process = subprocess.Popen(command, cwd=ROOT)
    try:
        with world.app.app_context():
            started = start_sync(world.principal, {"scope": "all"})
        world.temporal.call(lambda client: client.get_workflow_handle(started["workflow_id"]).result(), timeout=1800)
        run = world.wait_for_run(started["run_id"])
        if run.status != "completed" or (run.counters or {}).get("created") != USERS:
            raise AssertionError(f"the sync ended {run.status} with {run.counters}")
        return peak_rss_mb(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def forget_contacts(world: SyncWorld) -> None:
    """Make the next round an initial sync again."""
    from example_host.models import Contact

    with world.app.app_context():
        session = get_state().session
        session.execute(delete(ContactLink).where(ContactLink.tenant == world.tenant))
        session.execute(delete(Contact).where(Contact.tenant == world.tenant))
        session.commit()


def run() -> dict[str, Any]:
    with (
        host_database("entra_bench_m1") as url,
        temporal_dev_server() as temporal,
        tempfile.TemporaryDirectory(prefix="entra-bench-m1-") as folder,
        sync_world(url, temporal, Path(folder) / "secrets", big_directory(USERS)) as world,
    ):
        world.worker.stop()  # the measured worker is the separate process
        world.add_clients({CLIENT: []})
        world.connect_direct()
        with world.app.app_context():
            session = get_state().session
            session.add(ManagedTenantRow(tenant=world.tenant, entra_tenant_id=ENTRA_TENANT, display_name="Big Tenant"))
            session.commit()
        world.map_tenant(ENTRA_TENANT, CLIENT)
        config = {key: world.app.config[key] for key in WORKER_KEYS}
        peaks = []
        for _ in range(RUNS):
            peaks.append(worker_round(world, config))
            forget_contacts(world)
    peak = statistics.median(peaks)
    return {
        "id": "M1",
        "what": f"peak RSS (VmHWM) of a worker process during an initial sync of one tenant of {USERS} users, "
        f"median of {RUNS}",
        "median_mb": round(peak, 1),
        "max_mb": round(max(peaks), 1),
        "target": f"<= {TARGET_MB} MB",
        "met": peak <= TARGET_MB and max(peaks) <= TARGET_MB,
    }


def serve_worker(config: dict[str, Any]) -> None:
    """The measured process: the host app and ``run_worker``, until SIGTERM."""
    from flask_entra.temporal.worker import run_worker

    database = config.pop("SQLALCHEMY_DATABASE_URI")
    run_worker(build_app(database, "enterprise", **config))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        serve_worker(json.loads(sys.argv[2]))
    else:
        print(json.dumps(run(), indent=2))
