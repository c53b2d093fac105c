"""The bridge from Flask's synchronous world to Temporal's async client.

One per app and process: a background event loop thread and one client, connected lazily on first use (never at
import or ``init_app``), and again after a failed attempt. Starts use ``USE_EXISTING``: a second click while a run is
going joins it and gets its run id; once it ended, a new start begins a new run.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from flask import Flask
from temporalio.client import Client, WorkflowContinuedAsNewError, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import TemporalError
from temporalio.service import RPCError, RPCStatusCode

from ..errors import WorkflowError
from ..state import get_state
from .ids import discovery_workflow_id, run_id_of, sync_workflow_id
from .messages import SyncRequest
from .workflows import DiscoveryWorkflow, SyncWorkflow

T = TypeVar("T")
CONNECT_TIMEOUT_SECONDS = 10.0
CALL_TIMEOUT_SECONDS = 30.0
#: How long a start waits for an execution that has done its work to close (normally milliseconds).
CLOSE_WAIT_SECONDS = 10.0
ADVICE = (
    "Check that the Temporal server is running and that ENTRA_TEMPORAL_ADDRESS / ENTRA_TEMPORAL_NAMESPACE point at it; "
    "workflows also need a running worker (flask entra worker)."
)


@dataclass(frozen=True)
class StartedWorkflow:
    workflow_id: str
    temporal_run_id: str

    @property
    def run_id(self) -> str:
        """Our ``entra_sync_runs.id`` for this execution."""
        return run_id_of(self.temporal_run_id)


class TemporalBridge:
    """Runs coroutines on the client's own loop thread and waits for them from any (request) thread."""

    def __init__(self, address: str, namespace: str, task_queue: str) -> None:
        self.address, self.namespace, self.task_queue = address, namespace, task_queue
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: Client | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TemporalBridge:
        return cls(
            config["ENTRA_TEMPORAL_ADDRESS"], config["ENTRA_TEMPORAL_NAMESPACE"], config["ENTRA_TEMPORAL_TASK_QUEUE"]
        )

    def _start_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, name="flask-entra-temporal", daemon=True)
            self._thread.start()
        return self._loop

    def _wait(self, coroutine: Awaitable[T], timeout: float) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._start_loop())  # type: ignore[arg-type]
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise WorkflowError(
                f"Temporal at {self.address} did not answer within {timeout:.0f} s.", advice=ADVICE
            ) from None

    def client(self) -> Client:
        with self._lock:
            if self._client is None:
                try:
                    self._client = self._wait(
                        Client.connect(self.address, namespace=self.namespace), CONNECT_TIMEOUT_SECONDS
                    )
                except WorkflowError:
                    raise
                except Exception as exc:  # the SDK reports an unreachable server as a bare RuntimeError
                    raise WorkflowError(
                        f"Temporal is not reachable at {self.address} ({type(exc).__name__}).", advice=ADVICE
                    ) from None
            return self._client

    def call(self, action: Callable[[Client], Awaitable[T]], *, timeout: float = CALL_TIMEOUT_SECONDS) -> T:
        """Run ``action(client)`` on the loop thread; Temporal's refusals become :class:`WorkflowError`."""
        client = self.client()
        try:
            return self._wait(action(client), timeout)
        except RPCError as exc:
            raise WorkflowError(
                f"Temporal refused the request ({exc.status.name}): {exc.message}", advice=ADVICE
            ) from None
        except TemporalError as exc:
            raise WorkflowError(f"Temporal refused the request: {exc}", advice=ADVICE) from None

    def close(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = self._client = None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)
            loop.close()


def bridge(app: Flask | None = None) -> TemporalBridge:
    """This app's bridge (built once per process, closed with the extension's other services)."""
    state = get_state(app)
    return state.once("temporal", lambda: TemporalBridge.from_config(state.config))  # type: ignore[no-any-return]


def _start(app: Flask | None, run: Callable[[Any, Any], Awaitable[Any]], arg: Any, workflow_id: str) -> StartedWorkflow:
    """Start ``run(arg)`` as ``workflow_id``, or join the execution of that id that is still running."""
    temporal = bridge(app)

    async def start(client: Client) -> StartedWorkflow:
        handle = await client.start_workflow(
            run,
            arg,
            id=workflow_id,
            task_queue=temporal.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        return StartedWorkflow(handle.id, handle.result_run_id or "")

    return temporal.call(start)


def start_sync_workflow(app: Flask | None, request: SyncRequest) -> StartedWorkflow:
    """Start (or join the running) sync of this kind and scope."""
    workflow_id = sync_workflow_id(request.tenant, request.kind, client_id=request.client_id, dry_run=request.dry_run)
    return _start(app, SyncWorkflow.run, request, workflow_id)


def wait_for_close(app: Flask | None, started: StartedWorkflow, *, timeout: float = CLOSE_WAIT_SECONDS) -> bool:
    """Wait until that execution has closed, however it ended; False if it is still open after ``timeout`` seconds."""
    temporal = bridge(app)

    async def closed(client: Client) -> bool:
        handle = client.get_workflow_handle(started.workflow_id, run_id=started.temporal_run_id)
        try:
            await asyncio.wait_for(handle.result(follow_runs=False), timeout)
        except TimeoutError:
            return False
        except (WorkflowFailureError, WorkflowContinuedAsNewError):
            pass  # closed all the same
        return True

    return temporal.call(closed, timeout=timeout + CONNECT_TIMEOUT_SECONDS)


def start_discovery_workflow(app: Flask | None, tenant: str) -> StartedWorkflow:
    return _start(app, DiscoveryWorkflow.run, tenant, discovery_workflow_id(tenant))


def discovery_state(app: Flask | None, tenant: str) -> dict[str, Any]:
    """The latest discovery of the tenant: ``{"status": none|running|completed|failed, "result"?, "error"?}``."""
    temporal = bridge(app)

    async def describe(client: Client) -> dict[str, Any]:
        handle = client.get_workflow_handle_for(DiscoveryWorkflow.run, discovery_workflow_id(tenant))
        try:
            description = await handle.describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return {"status": "none"}
            raise
        status = description.status
        if status == WorkflowExecutionStatus.RUNNING:
            return {"status": "running"}
        if status == WorkflowExecutionStatus.COMPLETED:
            summary = await handle.result()
            return {"status": "completed", "result": asdict(summary)}
        try:
            await handle.result()
        except Exception as exc:  # the failure chain ends in the activity's operator message
            cause: BaseException = exc
            while cause.__cause__ is not None:
                cause = cause.__cause__
            return {"status": "failed", "error": getattr(cause, "message", None) or str(cause)}
        return {"status": "failed", "error": status.name.lower() if status else "unknown"}

    return temporal.call(describe)
