"""The worker the host launches: ``flask --app HOST entra worker`` or ``python -m flask_entra.temporal.worker --app HOST``.

It polls the configured task queue, runs the workflows in Temporal's sandbox and the activities in a thread pool
(each in the host app's context), and reconciles every tenant's schedule when it starts.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from flask import Flask
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from ..errors import WorkflowError
from .activities import EntraActivities, ProviderFactory
from .client import ADVICE
from .schedules import sync_schedules_with
from .workflows import DiscoveryWorkflow, SyncWorkflow

log = logging.getLogger(__name__)


async def connect(app: Flask) -> Client:
    address = app.config["ENTRA_TEMPORAL_ADDRESS"]
    try:
        return await Client.connect(address, namespace=app.config["ENTRA_TEMPORAL_NAMESPACE"])
    except Exception as exc:  # the SDK reports an unreachable server as a bare RuntimeError
        raise WorkflowError(f"Temporal is not reachable at {address} ({type(exc).__name__}).", advice=ADVICE) from None


def build_worker(app: Flask, client: Client, executor: ThreadPoolExecutor, activities: EntraActivities) -> Worker:
    """A worker for the app's task queue; ``executor`` (of :func:`activity_threads` threads) runs the activities."""
    return Worker(
        client,
        task_queue=app.config["ENTRA_TEMPORAL_TASK_QUEUE"],
        workflows=[SyncWorkflow, DiscoveryWorkflow],
        activities=activities.all(),
        activity_executor=executor,
        max_concurrent_activities=activity_threads(app),
        # our message types are plain dataclasses: share them with the sandbox instead of re-importing the package
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules("flask_entra")
        ),
    )


def activity_threads(app: Flask) -> int:
    """Enough threads for every tenant slot of a run plus the bookkeeping activities beside them."""
    return int(app.config["ENTRA_SYNC_MAX_CONCURRENT_TENANTS"]) + 4


async def serve(
    app: Flask,
    *,
    client: Client | None = None,
    provider_for: ProviderFactory | None = None,
    stop: asyncio.Event | None = None,
    reconcile_schedules: bool = True,
) -> None:
    """Run the worker until ``stop`` is set (or the task is cancelled)."""
    client = client or await connect(app)
    if reconcile_schedules:
        try:
            outcomes = await sync_schedules_with(client, app, app.config["ENTRA_TEMPORAL_TASK_QUEUE"])
            log.info("schedules reconciled: %s", outcomes)
        except Exception:  # a schedule problem must not keep the worker from syncing
            log.warning("could not reconcile the sync schedules; run `flask entra schedules sync`", exc_info=True)
    stop = stop or asyncio.Event()
    activities = EntraActivities(app, provider_for)
    try:
        with ThreadPoolExecutor(max_workers=activity_threads(app), thread_name_prefix="entra-activity") as executor:
            async with build_worker(app, client, executor, activities):
                log.info("flask-entra worker polling task queue %s", app.config["ENTRA_TEMPORAL_TASK_QUEUE"])
                await stop.wait()
    finally:
        activities.providers.close()


#: Collections of the middle generation between two full ones (Python's default is 10).
FULL_COLLECTION_SPACING = 30


def settle_heap() -> None:
    """Exempt everything loaded so far from garbage collection; the worker process calls it once it is up.

    The host app, SQLAlchemy, the Temporal SDK and their modules live as long as the process, yet every full collection
    walked them again: beside a listing of 100,000 users that meant pauses of about half a second, each holding up the
    next page's request. Frozen, a full collection walks only what came later.
    """
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_SPACING)


def run_worker(app: Flask, *, provider_for: ProviderFactory | None = None) -> None:
    """Blocking: run the worker until SIGINT or SIGTERM, then finish the running activities and return."""

    async def main() -> None:
        settle_heap()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await serve(app, provider_for=provider_for, stop=stop)

    asyncio.run(main())


def main(argv: Sequence[str] | None = None) -> None:
    from flask.cli import ScriptInfo

    parser = argparse.ArgumentParser(prog="python -m flask_entra.temporal.worker", description=__doc__)
    parser.add_argument("--app", required=True, help="the host application, as for `flask --app`")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_worker(ScriptInfo(app_import_path=args.app).load_app())


if __name__ == "__main__":
    main()
