"""The discovery workflow and the sync workflow.

A sync run fans out one activity per mapped Microsoft tenant (bounded by ``ENTRA_SYNC_MAX_CONCURRENT_TENANTS``):
activities rather than child workflows, because each tenant is one fetch-plan-apply step and a child per tenant only
adds history and latency. One tenant's failure is recorded on its row and the others carry on; the run ends completed,
partial or failed from the tenant rows. Only summaries travel through history, never user lists.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError

with workflow.unsafe.imports_passed_through():
    from .ids import run_id_of
    from .messages import (
        DISCOVER,
        FAIL_TENANT,
        FINISH_RUN,
        OPEN_RUN,
        SYNC_TENANT,
        DiscoverySummary,
        FinishRequest,
        OpenedRun,
        RunRef,
        RunSummary,
        SyncRequest,
        Target,
        TenantFailure,
        TenantJob,
        TenantOutcome,
    )

#: Fetching from Microsoft: back off up to a minute between attempts (the HTTP layer already honours Retry-After).
REMOTE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=4,
)
#: Our own bookkeeping: only the database can fail it, so keep trying a while longer.
BOOKKEEPING_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30), maximum_attempts=10
)
BOOKKEEPING_TIMEOUT = timedelta(minutes=2)
TENANT_TIMEOUT = timedelta(minutes=30)
#: Activities heartbeat every few seconds (activities.heartbeating): a dead worker's tenants are retried after this.
HEARTBEAT_TIMEOUT = timedelta(seconds=20)


def failure_reason(error: ActivityError) -> str:
    """The operator's message carried by a failed activity (written by the activity, so free of secrets)."""
    cause = error.cause
    if isinstance(cause, ApplicationError):
        return cause.message
    if isinstance(cause, TimeoutError):
        return f"Timed out ({cause.type.name.lower() if cause.type else 'timeout'}): is the worker overloaded or gone?"
    return str(cause or error)


@workflow.defn(name="EntraDiscoveryWorkflow")
class DiscoveryWorkflow:
    @workflow.run
    async def run(self, tenant: str) -> DiscoverySummary:
        return await workflow.execute_activity(
            DISCOVER,
            tenant,
            result_type=DiscoverySummary,
            start_to_close_timeout=TENANT_TIMEOUT,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=REMOTE_RETRY,
        )


@workflow.defn(name="EntraSyncWorkflow")
class SyncWorkflow:
    @workflow.run
    async def run(self, request: SyncRequest) -> RunSummary:
        info = workflow.info()
        ref = RunRef(run_id=run_id_of(info.run_id), workflow_id=info.workflow_id, request=request)
        try:
            opened = await workflow.execute_activity(
                OPEN_RUN,
                ref,
                result_type=OpenedRun,
                start_to_close_timeout=BOOKKEEPING_TIMEOUT,
                retry_policy=BOOKKEEPING_RETRY,
            )
        except ActivityError as error:
            return await self._finish(ref, failure_reason(error))
        slots = asyncio.Semaphore(opened.max_concurrency)
        await asyncio.gather(*(self._sync_one(ref, target, slots) for target in opened.targets))
        return await self._finish(ref, None)

    async def _sync_one(self, ref: RunRef, target: Target, slots: asyncio.Semaphore) -> None:
        async with slots:
            try:
                await workflow.execute_activity(
                    SYNC_TENANT,
                    TenantJob(ref, target),
                    result_type=TenantOutcome,
                    start_to_close_timeout=TENANT_TIMEOUT,
                    heartbeat_timeout=HEARTBEAT_TIMEOUT,
                    retry_policy=REMOTE_RETRY,
                )
            except ActivityError as error:
                await self._record_failure(TenantFailure(ref, target, failure_reason(error)))

    async def _record_failure(self, failure: TenantFailure) -> None:
        """Show the failure at once; should even that fail, finishing the run marks the tenant failed anyway."""
        try:
            await workflow.execute_activity(
                FAIL_TENANT, failure, start_to_close_timeout=BOOKKEEPING_TIMEOUT, retry_policy=BOOKKEEPING_RETRY
            )
        except ActivityError:
            workflow.logger.warning("could not record the failure of %s", failure.target.entra_tenant_id)

    async def _finish(self, ref: RunRef, error: str | None) -> RunSummary:
        return await workflow.execute_activity(
            FINISH_RUN,
            FinishRequest(ref, error),
            result_type=RunSummary,
            start_to_close_timeout=BOOKKEEPING_TIMEOUT,
            retry_policy=BOOKKEEPING_RETRY,
        )
