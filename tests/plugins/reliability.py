"""The fault scenarios of issue 9 (RELIABILITY.md) in two sizes: the same test code, run fast or long.

Every scenario test takes the ``scale`` fixture. Its ``fast`` value runs in ``make test``; its ``long`` value is marked
``reliability`` and only runs with ``--run-reliability`` (``make reliability`` = ``pytest -m reliability
--run-reliability``). The long PostgreSQL restart (R10) restarts the shared server, so it must never run by default.

Also here: a private PostgreSQL cluster (``initdb`` + ``pg_ctl`` on a port of its own) that a test may restart without
disturbing anybody else's databases.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from glob import glob
from pathlib import Path

import psycopg
import pytest

from tests.plugins.postgres import ADMIN_URL

OPTION = "--run-reliability"
MARKER = "reliability: the long variant of a fault scenario (make reliability; deselected without --run-reliability)"


@dataclass(frozen=True)
class Scale:
    """How big a scenario runs; the fast one keeps ``make test`` short, the long one is what RELIABILITY.md reports."""

    name: str
    #: Customer tenants in the simulated directory and users in each (see tests/plugins/resilience_world.py).
    tenants: int
    users: int
    #: Graph page size ($top): small pages make many requests, so faults land mid-listing.
    page_size: int
    #: Worker SIGKILLs during one run (R2) and the simulator latency that keeps that run going long enough.
    kills: int
    latency_ms: int
    #: Hypothesis examples of fuzzed listings (R5): planned in memory, and planned and applied on PostgreSQL.
    fuzz_examples: int
    fuzz_applied_examples: int
    #: R10 restarts the shared PostgreSQL (long) or a private cluster of this session (fast).
    restart_shared_postgres: bool
    #: Seconds a run may take before the test gives up.
    run_timeout: float


FAST = Scale(
    "fast",
    tenants=3,
    users=24,
    page_size=8,
    kills=1,
    latency_ms=400,
    fuzz_examples=500,
    fuzz_applied_examples=150,
    restart_shared_postgres=False,
    run_timeout=120,
)
LONG = Scale(
    "long",
    tenants=8,
    users=150,
    page_size=25,
    kills=3,
    latency_ms=300,
    fuzz_examples=5000,
    fuzz_applied_examples=2000,
    restart_shared_postgres=True,
    run_timeout=600,
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        OPTION,
        action="store_true",
        default=False,
        help="also run the long fault scenarios (marked 'reliability'); R10 restarts the shared PostgreSQL",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without the option the long variants are deselected (not skipped: nothing is missing, they are just long)."""
    if config.getoption(OPTION):
        return
    long_variants = [item for item in items if item.get_closest_marker("reliability")]
    if long_variants:
        config.hook.pytest_deselected(items=long_variants)
        items[:] = [item for item in items if not item.get_closest_marker("reliability")]


@pytest.fixture(
    scope="session", params=[FAST, pytest.param(LONG, marks=pytest.mark.reliability)], ids=lambda scale: scale.name
)
def scale(request: pytest.FixtureRequest) -> Scale:
    result: Scale = request.param
    return result


# -- a PostgreSQL cluster a test may restart ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _postgres_bin(tool: str) -> str:
    found = sorted(glob(f"/usr/lib/postgresql/*/bin/{tool}")) or ([shutil.which(tool)] if shutil.which(tool) else [])
    if not found:
        raise RuntimeError(f"{tool} is missing: install the PostgreSQL server package (it provides initdb and pg_ctl).")
    return str(found[-1])


@dataclass
class PostgresCluster:
    """A PostgreSQL server that can be restarted; ``admin_url`` reaches its ``postgres`` database."""

    admin_url: str
    #: The server's control command without its action ("stop" or "start" is appended).
    control: list[str]
    run_as: list[str]

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"{self.admin_url.rsplit('/', 1)[0]}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def run_control(self, action: str) -> None:
        subprocess.run([*self.run_as, *self.control, action], check=True, capture_output=True, timeout=120)

    def restart(self, downtime: float) -> float:
        """Stop the server (open connections are cut), keep it down ``downtime`` seconds, start it and wait until it
        accepts connections; the seconds it was unavailable."""
        began = time.monotonic()
        self.run_control("stop")
        time.sleep(downtime)
        self.run_control("start")
        deadline = time.monotonic() + 60
        while True:
            try:
                psycopg.connect(self.admin_url, connect_timeout=2).close()
                return time.monotonic() - began
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def _as_postgres_user() -> list[str]:
    """initdb refuses to run as root: run the cluster's tools as the postgres system user then."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PostgresCluster]:
    """A cluster of this session only, on a free port, trusting local connections; removed at the end."""
    run_as = _as_postgres_user()
    root = Path(tempfile.mkdtemp(prefix="entra-pg-"))
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    if run_as:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = _free_port()
    pg_ctl = _postgres_bin("pg_ctl")
    subprocess.run(
        [
            *run_as,
            _postgres_bin("initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    control = [pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w", "-t", "60", "-m", "fast"]
    cluster = PostgresCluster(f"postgresql://postgres@127.0.0.1:{port}/postgres", control, run_as)
    cluster.run_control("start")
    try:
        yield cluster
    finally:
        subprocess.run([*run_as, *control, "stop"], capture_output=True, timeout=120)
        shutil.rmtree(root, ignore_errors=True)


def shared_postgres() -> PostgresCluster:
    """The machine's PostgreSQL that every engineer's tests use: only the long (``reliability``) R10 restarts it."""
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    return PostgresCluster(ADMIN_URL, ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main"], [])
