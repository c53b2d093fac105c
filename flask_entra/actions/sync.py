"""Starting sync runs (initial, all tenants, one client; real or dry) and releasing a held mass inactivation."""

from __future__ import annotations

from typing import Any

from .. import sync as applier
from ..errors import Conflict, NotFound, ValidationFailed
from ..host import UPDATE, Principal
from ..state import get_state
from ..sync_runs import RunIdentity, ensure_run, run_has_finished, sync_targets
from ..temporal.client import start_sync_workflow, wait_for_close
from ..temporal.ids import MANUAL_SCOPES
from ..temporal.messages import SyncRequest
from ._common import enter, field, json_object, session
from .status import active_connection


def start_sync(principal: Principal | None, payload: Any) -> dict[str, Any]:
    """``{"scope": "initial"|"all"|"client", "client_id"?, "dry_run"?}`` -> ``{"run_id", "workflow_id"}``.

    A start while the same kind of run (same client, same dry-run-ness) is going joins it and returns its ids.
    """
    principal, _ = enter(principal, UPDATE)
    body = json_object(payload)
    scope = field(body, "scope", str)
    raw_client_id = field(body, "client_id", (str, int), required=scope == "client")
    if raw_client_id is not None and scope != "client":
        raise ValidationFailed("'client_id' goes only with scope 'client'.")
    client_id = None if raw_client_id is None else str(raw_client_id)
    dry_run = field(body, "dry_run", bool, required=False, default=False)
    return launch_sync(principal.tenant, scope, client_id=client_id, dry_run=dry_run, requested_by=principal.user_id)


def launch_sync(
    tenant: str, scope: str, *, client_id: str | None = None, dry_run: bool = False, requested_by: str | None = None
) -> dict[str, Any]:
    """Start (or join) a run without a principal: for the guarded action above and the operators' CLI."""
    if scope not in MANUAL_SCOPES:
        raise ValidationFailed(f"'scope' must be one of {', '.join(MANUAL_SCOPES)}.")
    state = get_state()
    if client_id is not None and not state.adapter.get_clients(tenant, [client_id]):
        raise NotFound("Not found.")
    if active_connection(tenant) is None:
        raise Conflict("There is no active Microsoft connection; connect Direct or CIPP first.")
    if not sync_targets(session(), tenant, client_id):
        what = "this client has no mapped Microsoft tenant" if client_id else "no Microsoft tenant is mapped"
        raise Conflict(f"Nothing to sync: {what}. Map tenants in the Entra wizard first.")
    request = SyncRequest(tenant=tenant, kind=scope, client_id=client_id, dry_run=dry_run, requested_by=requested_by)
    started = start_sync_workflow(state.app, request)
    if run_has_finished(session(), tenant, started.run_id):
        # Joined a run in the moment between recording its end and closing: a start after a run's end must be a new
        # run, not that one again, so wait for it to close and start anew.
        if not wait_for_close(state.app, started):
            raise Conflict("The previous run has finished but Temporal has not closed it yet; start again shortly.")
        started = start_sync_workflow(state.app, request)
    # the row exists from now on (the workflow creates it too, whichever comes first), so the run page never 404s
    ensure_run(
        session(),
        RunIdentity(
            tenant=tenant,
            run_id=started.run_id,
            workflow_id=started.workflow_id,
            kind=scope,
            client_id=client_id,
            dry_run=dry_run,
            requested_by=requested_by,
        ),
    )
    session().commit()
    return {"run_id": started.run_id, "workflow_id": started.workflow_id}


def release_held(principal: Principal | None, run_id: str, entra_tenant_id: str) -> dict[str, Any]:
    """Apply the inactivations the mass-inactivation guard held for one Microsoft tenant of a run.

    ``{"entra_tenant_id", "released", "skipped"}``: ``skipped`` counts those that no longer apply (the link changed,
    the contact was made inactive meanwhile, or the user was enabled again).
    """
    principal, state = enter(principal, UPDATE)
    return applier.release_held(session(), state.adapter, principal.tenant, run_id, entra_tenant_id, principal.user_id)
