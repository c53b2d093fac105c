"""Activities: plain sync functions the worker runs in a thread pool, each inside the host app's app context.

They fetch, plan and apply inside the worker and hand the workflow small summaries only. Errors cross into Temporal as
``ApplicationError`` carrying the operator's message (never a token: provider errors are scrubbed at their boundary, and
unexpected errors are reduced to their type, details going to the worker log). Authentication and configuration
problems are non-retryable: retrying cannot fix them, the operator must act.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from .. import sync, sync_runs
from ..discovery import upsert_managed_tenants
from ..errors import EntraError, ProviderError, SecretStoreError
from ..models import Connection
from ..providers.base import Provider
from ..state import EntraState, get_state
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
    Target,
    TenantFailure,
    TenantJob,
    TenantOutcome,
)

log = logging.getLogger(__name__)

#: Seconds between the heartbeats of a running fetch; well under the workflows' heartbeat timeout.
HEARTBEAT_INTERVAL_SECONDS = 5.0

#: Builds the active connection's provider for an MSP tenant.
ProviderFactory = Callable[[str], Provider]


def default_provider_factory(tenant: str) -> Provider:
    from ..actions.connection import provider_for  # the connection's owner knows how to build it

    return provider_for(tenant)


def _retryable(exc: EntraError) -> bool:
    if isinstance(exc, ProviderError):
        return exc.retryable
    return isinstance(exc, SecretStoreError)


@contextmanager
def temporal_errors(doing: str) -> Iterator[None]:
    """Convert what escapes an activity into an ``ApplicationError`` safe to keep in workflow history."""
    try:
        yield
    except ApplicationError:
        raise
    except EntraError as exc:
        raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=not _retryable(exc)) from None
    except SQLAlchemyError as exc:
        log.exception("database error while %s", doing)
        raise ApplicationError(
            f"Database error ({type(exc).__name__}) while {doing}; it will be retried. The worker log has details.",
            type="DatabaseError",
        ) from None
    except Exception as exc:
        log.exception("unexpected error while %s", doing)
        raise ApplicationError(
            f"Unexpected {type(exc).__name__} while {doing}. The worker log has details.", type=type(exc).__name__
        ) from None


@contextmanager
def heartbeating(every: float = HEARTBEAT_INTERVAL_SECONDS) -> Iterator[None]:
    """Heartbeat from a side thread while the body runs.

    A page waiting out a long Retry-After, or the apply step of a big tenant, sends no heartbeat of its own; beating
    on the side lets the heartbeat timeout stay short, so the tenants of a worker that died are retried within it.
    """
    stop = threading.Event()
    context = contextvars.copy_context()  # the activity's context, which activity.heartbeat needs

    def beat() -> None:
        while not stop.wait(every):
            try:
                context.run(activity.heartbeat)
            except Exception:  # the worker is shutting down: its activities end with it
                log.debug("heartbeat not sent", exc_info=True)
                return

    beater = threading.Thread(target=beat, name="entra-heartbeat", daemon=True)
    beater.start()
    try:
        yield
    finally:
        stop.set()
        beater.join()


def _run_identity(ref: RunRef) -> sync_runs.RunIdentity:
    request = ref.request
    return sync_runs.RunIdentity(
        tenant=request.tenant,
        run_id=ref.run_id,
        workflow_id=ref.workflow_id,
        kind=request.kind,
        client_id=request.client_id,
        dry_run=request.dry_run,
        requested_by=request.requested_by,
    )


def _close(provider: Provider) -> None:
    closer = getattr(provider, "close", None)
    if callable(closer):
        closer()


class ProviderCache:
    """One provider per MSP tenant and connection, shared by the worker's activities (providers are thread-safe).

    Building one costs a TLS context and token requests; a run of hundreds of Microsoft tenants reuses it, and its
    token cache, instead. A new connection (reconnect, switch to CIPP) has a new id, so it gets a new provider.
    """

    def __init__(self, build: ProviderFactory) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._providers: dict[str, tuple[str, Provider]] = {}

    def get(self, session: Session, tenant: str) -> Provider:
        connection_id = session.scalar(select(Connection.id).filter_by(tenant=tenant, status="active").limit(1))
        if connection_id is None:
            return self._build(tenant)  # raises the operator's "no active connection"
        with self._lock:
            cached = self._providers.get(tenant)
            if cached is not None and cached[0] == connection_id:
                return cached[1]
        provider = self._build(tenant)
        with self._lock:
            replaced = self._providers.get(tenant)
            self._providers[tenant] = (connection_id, provider)
        if replaced is not None:
            _close(replaced[1])
        return provider

    def close(self) -> None:
        with self._lock:
            providers, self._providers = list(self._providers.values()), {}
        for _, provider in providers:
            _close(provider)


class EntraActivities:
    """The activities of one host app; ``provider_for`` is replaceable so hosts and tests can supply providers."""

    def __init__(self, app: Flask, provider_for: ProviderFactory | None = None) -> None:
        self.app = app
        self.providers = ProviderCache(provider_for or default_provider_factory)

    def all(self) -> list[Callable[..., Any]]:
        return [self.open_run, self.sync_tenant, self.record_failure, self.finish_run, self.discover]

    @contextmanager
    def _context(self, doing: str) -> Iterator[EntraState]:
        with temporal_errors(doing), self.app.app_context():
            yield get_state(self.app)

    @activity.defn(name=OPEN_RUN)
    def open_run(self, ref: RunRef) -> OpenedRun:
        with self._context("opening the sync run") as state:
            targets = sync_runs.open_run(state.session, _run_identity(ref))
            limit = int(state.config["ENTRA_SYNC_MAX_CONCURRENT_TENANTS"])
            return OpenedRun(targets=[Target(e, c) for e, c in targets], max_concurrency=max(1, limit))

    @activity.defn(name=SYNC_TENANT)
    def sync_tenant(self, job: TenantJob) -> TenantOutcome:
        request, target = job.run.request, job.target
        with self._context(f"syncing Microsoft tenant {target.entra_tenant_id}") as state, heartbeating():
            session = state.session
            tenant_job = sync.TenantJob(
                request.tenant, job.run.run_id, target.entra_tenant_id, target.client_id, request.dry_run
            )
            if not sync_runs.mark_tenant_running(session, request.tenant, job.run.run_id, target.entra_tenant_id):
                row = sync_runs.tenant_row(session, request.tenant, job.run.run_id, target.entra_tenant_id)
                finished = sync.stored_result(row) if row is not None else None
                if finished is None:
                    raise ApplicationError("This tenant's sync already ended as failed.", non_retryable=True)
                return _outcome(target.entra_tenant_id, finished)
            provider = self.providers.get(session, request.tenant)
            session.commit()  # hold no transaction open while Microsoft answers
            listing = provider.list_users(target.entra_tenant_id, on_page=lambda page: activity.heartbeat(page))
            activity.heartbeat("applying")
            result = sync.sync_tenant(session, state.adapter, tenant_job, listing)
            return _outcome(target.entra_tenant_id, result)

    @activity.defn(name=FAIL_TENANT)
    def record_failure(self, failure: TenantFailure) -> None:
        with self._context("recording a tenant's failure") as state:
            sync_runs.record_tenant_failure(
                state.session,
                failure.run.request.tenant,
                failure.run.run_id,
                failure.target.entra_tenant_id,
                failure.error,
            )

    @activity.defn(name=FINISH_RUN)
    def finish_run(self, request: FinishRequest) -> RunSummary:
        with self._context("finishing the sync run") as state:
            row = sync_runs.finish_run(state.session, _run_identity(request.run), request.error)
            failed = sum(1 for t in sync_runs.tenant_rows(state.session, row.tenant, row.id) if t.status == "failed")
            return RunSummary(
                run_id=row.id,
                status=row.status,
                counters=dict(row.counters or {}),
                tenants_total=row.tenants_total,
                tenants_failed=failed,
            )

    @activity.defn(name=DISCOVER)
    def discover(self, tenant: str) -> DiscoverySummary:
        with self._context("discovering managed tenants") as state, heartbeating():
            provider = self.providers.get(state.session, tenant)
            state.session.commit()
            found = provider.list_managed_tenants()
            activity.heartbeat("saving")
            counts = upsert_managed_tenants(state.session, tenant, found)
            return DiscoverySummary(
                discovered=counts.discovered,
                added=counts.added,
                updated=counts.updated,
                missing=counts.missing,
                returned=counts.returned,
            )


def _outcome(entra_tenant_id: str, result: sync.TenantResult) -> TenantOutcome:
    return TenantOutcome(
        entra_tenant_id=entra_tenant_id,
        status=result.status,
        counters=result.counters,
        incomplete=result.error is not None,
        error=result.error,
    )
