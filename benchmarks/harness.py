"""What the benchmarks share: timing, a fresh host database, a simulator in its own process, statement counting.

``ENTRA_BENCH_SCALE`` (default 1) multiplies every workload size and ``ENTRA_BENCH_RUNS`` (default 5) sets the rounds,
so the benchmarks can be debugged quickly at e.g. 0.02 and 1 round; only the defaults may rewrite RESULTS.md.
"""

from __future__ import annotations

import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from flask_entra.simulator import SimulatorClient
from tests.plugins.host import build_app, dispose, prepare_database
from tests.plugins.postgres import create_database, drop_database

RUNS = int(os.environ.get("ENTRA_BENCH_RUNS", "5"))
SCALE = float(os.environ.get("ENTRA_BENCH_SCALE", "1"))
#: Only a run at full size with at least 5 rounds per figure may rewrite RESULTS.md.
RECORDABLE = SCALE == 1 and RUNS >= 5
ROOT = Path(__file__).resolve().parent.parent
WRITE = re.compile(r"^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)", re.IGNORECASE)
#: The run bookkeeping rows every sync writes whatever the directory did (status, counters, progress).
RUN_TABLES = frozenset({"entra_sync_runs", "entra_sync_run_tenants"})


def scaled(count: int, minimum: int = 1) -> int:
    return max(minimum, round(count * SCALE))


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def interleaved_medians(works: Sequence[Callable[[], object]], runs: int = RUNS) -> list[float]:
    """Median seconds of each work, timed in turn within every round so other load weighs on all of them alike."""
    samples: list[list[float]] = [[] for _ in works]
    for _ in range(runs):
        for work, found in zip(works, samples, strict=True):
            found.append(timed(work))
    return [statistics.median(found) for found in samples]


@contextmanager
def host_database(prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL database (SQLAlchemy psycopg URL), dropped afterwards."""
    url = create_database(prefix)
    try:
        yield url.replace("postgresql://", "postgresql+psycopg://", 1)
    finally:
        drop_database(url)


@contextmanager
def host_app(db_url: str, **config: Any) -> Iterator[Flask]:
    """The example host (enterprise edition) with its and our migrations applied and the demo seed."""
    app = build_app(db_url, "enterprise", **config)
    prepare_database(app)
    try:
        yield app
    finally:
        dispose(app)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def simulator_process(document: dict[str, Any], faults: dict[str, Any] | None = None) -> Iterator[SimulatorClient]:
    """The simulator in a process of its own, as Microsoft is: its CPU time does not compete with ours for the GIL."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="entra-bench-") as folder:
        dataset = Path(folder) / "dataset.json"
        dataset.write_text(json.dumps(document), encoding="utf-8")
        command = [
            sys.executable,
            "-m",
            "flask_entra.simulator",
            "--port",
            str(port),
            "--dataset",
            str(dataset),
            "--faults",
            json.dumps(faults or {}),
        ]
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
        client = SimulatorClient(f"http://127.0.0.1:{port}", timeout=120)
        try:
            _wait_until_up(client, process)
            yield client
        finally:
            client.close()
            process.terminate()
            process.wait(timeout=30)


def _wait_until_up(client: SimulatorClient, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the simulator exited with {process.returncode}")
        try:
            client.faults()
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("the simulator did not answer in time")


class WriteCounter:
    """Counts data-changing statements sent to the database and the rows it reports they changed, per table.

    A ``COPY`` (how link rows are inserted) bypasses SQLAlchemy's events; B2b and B2c insert nothing, which their
    plans' counters confirm."""

    def __init__(self) -> None:
        self.statements: Counter[str] = Counter()
        self.rows: Counter[str] = Counter()

    def _hook(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        match = WRITE.match(statement)
        if match is None or match.group(2) in RUN_TABLES:
            return
        table = match.group(2)
        self.statements[table] += 1
        self.rows[table] += max(cursor.rowcount, 0)  # rows the database reports changed

    @contextmanager
    def watching(self, engine: Engine) -> Iterator[WriteCounter]:
        event.listen(engine, "after_cursor_execute", self._hook)
        try:
            yield self
        finally:
            event.remove(engine, "after_cursor_execute", self._hook)

    @property
    def total_statements(self) -> int:
        return sum(self.statements.values())


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"
