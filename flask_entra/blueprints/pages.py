"""Server-rendered wizard and settings pages. Each view calls actions and renders; no logic of its own."""

from __future__ import annotations

from flask import current_app, render_template
from flask.typing import ResponseReturnValue

from .. import actions, flags
from ..host import READ, UPDATE, Principal
from ..security import flag_on, guarded
from .common import page_blueprint

bp = page_blueprint("entra_pages", __name__)


@bp.context_processor
def wizard_context() -> dict[str, object]:
    """Which wizard steps exist in this app (the step bar links only to those)."""
    return {"wizard_endpoints": {e for e in current_app.view_functions if e.startswith("entra_pages.")}}


@bp.get("")
@guarded(permission=READ, page=True)
def overview(principal: Principal) -> ResponseReturnValue:
    return render_template("entra/overview.html", principal=principal, status=actions.get_status(principal))


@bp.get("/connect")
@guarded(permission=READ, page=True)
def connect(principal: Principal) -> ResponseReturnValue:
    return render_template(
        "entra/connect.html",
        principal=principal,
        status=actions.get_status(principal),
        cipp_enabled=flag_on(principal, flags.CIPP),
    )


@bp.get("/map")
@guarded(permission=READ, page=True)
def map(principal: Principal) -> ResponseReturnValue:
    return render_template(
        "entra/map.html",
        principal=principal,
        preview=actions.preview_mappings(principal),
        can_update=principal.can(UPDATE),
    )


@bp.get("/discover")
@guarded(permission=READ, page=True)
def discover(principal: Principal) -> ResponseReturnValue:
    return render_template(
        "entra/discover.html",
        principal=principal,
        status=actions.get_status(principal),
        tenants=actions.list_tenants(principal),
        can_update=principal.can(UPDATE),
    )


def tenant_labels(principal: Principal) -> dict[str, str]:
    """Microsoft tenant id -> "name → client" for the run views: a bare tenant id means nothing to an admin."""
    labels = {}
    for tenant in actions.list_tenants(principal):
        client = (tenant.get("mapping") or {}).get("client_name")
        labels[tenant["entra_tenant_id"]] = f"{tenant['display_name']} → {client}" if client else tenant["display_name"]
    return labels


@bp.get("/sync")
@guarded(permission=READ, page=True)
def sync(principal: Principal) -> ResponseReturnValue:
    return render_template(
        "entra/sync.html",
        principal=principal,
        status=actions.get_status(principal),
        can_update=principal.can(UPDATE),
        tenant_labels=tenant_labels(principal),
    )


@bp.get("/runs")
@guarded(permission=READ, page=True)
def runs(principal: Principal) -> ResponseReturnValue:
    return render_template("entra/runs.html", principal=principal, runs=actions.list_runs(principal))


@bp.get("/runs/<run_id>")
@guarded(permission=READ, page=True)
def run_detail(principal: Principal, run_id: str) -> ResponseReturnValue:
    return render_template(
        "entra/run_detail.html",
        principal=principal,
        run=actions.get_run(principal, run_id),
        can_update=principal.can(UPDATE),
        tenant_labels=tenant_labels(principal),
    )


@bp.get("/review")
@guarded(permission=READ, flags=(flags.UI, flags.QUEUE), page=True)
def review(principal: Principal) -> ResponseReturnValue:
    return render_template(
        "entra/review.html",
        principal=principal,
        items=actions.list_review_items(principal),
        can_update=principal.can(UPDATE),
    )


@bp.get("/settings")
@guarded(permission=READ, page=True)
def settings(principal: Principal) -> ResponseReturnValue:
    return render_template(
        "entra/settings.html",
        principal=principal,
        settings=actions.get_settings(principal),
        can_update=principal.can(UPDATE),
    )
