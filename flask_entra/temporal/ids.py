"""Workflow and schedule ids (DESIGN.md "Temporal"): one running workflow per id, so a second start joins the first.

Dry runs get their own ids so a preview never joins, or is joined by, a real run. Our run id is the Temporal run id
without dashes: the starter and the workflow derive it independently, and a joined start returns the running one's.
"""

from __future__ import annotations

import uuid

MANUAL_SCOPES: tuple[str, ...] = ("initial", "all", "client")
SCHEDULE_PREFIX = "entra-sync-schedule:"
DRY_RUN_SUFFIX = ":dry-run"


def discovery_workflow_id(tenant: str) -> str:
    return f"entra-discovery:{tenant}"


def sync_workflow_id(tenant: str, kind: str, *, client_id: str | None = None, dry_run: bool = False) -> str:
    """``entra-sync:{tenant}:all|initial|client:{id}|scheduled`` (+ ``:dry-run``); kinds as in ``entra_sync_runs``.

    Temporal appends the fire time to a scheduled workflow's id, so scheduled runs never collide with each other.
    """
    if kind == "client":
        if not client_id:
            raise ValueError("a client sync needs the client id")
        base = f"entra-sync:{tenant}:client:{client_id}"
    else:
        base = f"entra-sync:{tenant}:{kind}"
    return base + DRY_RUN_SUFFIX if dry_run else base


def schedule_id(tenant: str) -> str:
    return f"{SCHEDULE_PREFIX}{tenant}"


def tenant_of_schedule(schedule: str) -> str | None:
    return schedule[len(SCHEDULE_PREFIX) :] if schedule.startswith(SCHEDULE_PREFIX) else None


def run_id_of(temporal_run_id: str) -> str:
    """Our ``entra_sync_runs.id`` for a Temporal run id (32 hex digits, the column's width)."""
    return uuid.UUID(temporal_run_id).hex
