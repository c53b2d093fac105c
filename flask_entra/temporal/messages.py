"""What workflows and activities pass each other: small summaries only, never user lists (payloads stay tiny).

Pure standard library, so the workflow sandbox imports it as-is; activities are called by these names, which keeps the
Flask and SQLAlchemy side out of workflow code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OPEN_RUN = "entra_open_sync_run"
SYNC_TENANT = "entra_sync_microsoft_tenant"
FAIL_TENANT = "entra_record_tenant_failure"
FINISH_RUN = "entra_finish_sync_run"
DISCOVER = "entra_discover_tenants"


@dataclass(frozen=True)
class SyncRequest:
    """What a sync workflow is asked to do; ``kind`` is initial | all | client | scheduled."""

    tenant: str
    kind: str
    client_id: str | None = None
    dry_run: bool = False
    requested_by: str | None = None


@dataclass(frozen=True)
class RunRef:
    """A run row's identity plus the request, so any activity can (re)create the row idempotently."""

    run_id: str
    workflow_id: str
    request: SyncRequest


@dataclass(frozen=True)
class Target:
    """One mapped Microsoft tenant of a run."""

    entra_tenant_id: str
    client_id: str


@dataclass(frozen=True)
class OpenedRun:
    targets: list[Target]
    max_concurrency: int


@dataclass(frozen=True)
class TenantJob:
    run: RunRef
    target: Target


@dataclass(frozen=True)
class TenantOutcome:
    """``status`` is completed | held | failed; ``incomplete`` marks a listing that failed part-way."""

    entra_tenant_id: str
    status: str
    counters: dict[str, Any] = field(default_factory=dict)
    incomplete: bool = False
    error: str | None = None


@dataclass(frozen=True)
class TenantFailure:
    run: RunRef
    target: Target
    error: str


@dataclass(frozen=True)
class FinishRequest:
    run: RunRef
    error: str | None = None


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    status: str
    counters: dict[str, Any] = field(default_factory=dict)
    tenants_total: int = 0
    tenants_failed: int = 0


@dataclass(frozen=True)
class DiscoverySummary:
    discovered: int = 0
    added: int = 0
    updated: int = 0
    missing: int = 0
    returned: int = 0
