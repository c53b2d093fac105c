"""The integration JSON API: parse, call an action, answer. Nothing else lives here."""

from __future__ import annotations

from flask import current_app, jsonify, request
from flask.typing import ResponseReturnValue

from .. import actions, flags
from ..host import READ, UPDATE, Principal
from ..security import guarded
from .common import api_blueprint, json_body
from .oauth import redirect_uri
from .openapi import build_document

bp = api_blueprint("entra_api", __name__)


@bp.get("")
@guarded(permission=READ)
def status(principal: Principal) -> ResponseReturnValue:
    return jsonify(actions.get_status(principal))


@bp.get("/openapi.json")
@guarded(permission=READ)
def openapi_document(principal: Principal) -> ResponseReturnValue:
    return jsonify(build_document(current_app))


@bp.post("/connect/direct")
@guarded(permission=UPDATE)
def connect_direct(principal: Principal) -> ResponseReturnValue:
    return jsonify(actions.connect_direct(principal, redirect_uri()))


@bp.post("/connect/cipp")
@guarded(permission=UPDATE, flags=(flags.UI, flags.CIPP))
def connect_cipp(principal: Principal) -> ResponseReturnValue:
    return jsonify(actions.connect_cipp(principal, json_body()))


@bp.post("/validate")
@guarded(permission=UPDATE)
def validate(principal: Principal) -> ResponseReturnValue:
    return jsonify(actions.validate_connection(principal))


@bp.post("/disconnect")
@guarded(permission=UPDATE)
def disconnect(principal: Principal) -> ResponseReturnValue:
    return jsonify(actions.disconnect(principal))


@bp.post("/discovery")
@guarded(permission=UPDATE)
def discovery_start(principal: Principal) -> ResponseReturnValue:
    return jsonify(actions.start_discovery(principal)), 202


@bp.get("/discovery")
@guarded(permission=READ)
def discovery_status(principal: Principal) -> ResponseReturnValue:
    return jsonify(actions.get_discovery(principal))


@bp.get("/tenants")
@guarded(permission=READ)
def tenants(principal: Principal) -> ResponseReturnValue:
    return jsonify({"tenants": actions.list_tenants(principal)})


@bp.get("/clients")
@guarded(permission=READ)
def clients(principal: Principal) -> ResponseReturnValue:
    return jsonify({"clients": actions.search_clients(principal, request.args.get("q", ""))})


@bp.get("/mappings/preview")
@guarded(permission=READ)
def mappings_preview(principal: Principal) -> ResponseReturnValue:
    return jsonify(actions.preview_mappings(principal))


@bp.post("/mappings/confirm")
@guarded(permission=UPDATE)
def mappings_confirm(principal: Principal) -> ResponseReturnValue:
    return jsonify(actions.confirm_mappings(principal, json_body()))


@bp.post("/mappings/<entra_tenant_id>/unmap")
@guarded(permission=UPDATE)
def mappings_unmap(principal: Principal, entra_tenant_id: str) -> ResponseReturnValue:
    return jsonify(actions.unmap(principal, entra_tenant_id))


@bp.get("/mappings/<entra_tenant_id>/history")
@guarded(permission=READ)
def mappings_history(principal: Principal, entra_tenant_id: str) -> ResponseReturnValue:
    return jsonify({"history": actions.history(principal, entra_tenant_id)})


@bp.post("/sync")
@guarded(permission=UPDATE)
def sync_start(principal: Principal) -> ResponseReturnValue:
    return jsonify(actions.start_sync(principal, json_body())), 202


@bp.post("/sync/runs/<run_id>/tenants/<entra_tenant_id>/release")
@guarded(permission=UPDATE)
def sync_release(principal: Principal, run_id: str, entra_tenant_id: str) -> ResponseReturnValue:
    return jsonify(actions.release_held(principal, run_id, entra_tenant_id))


@bp.get("/sync/runs")
@guarded(permission=READ)
def runs(principal: Principal) -> ResponseReturnValue:
    return jsonify({"runs": actions.list_runs(principal)})


@bp.get("/sync/runs/<run_id>")
@guarded(permission=READ)
def run_detail(principal: Principal, run_id: str) -> ResponseReturnValue:
    return jsonify(actions.get_run(principal, run_id))


@bp.get("/settings")
@guarded(permission=READ)
def settings(principal: Principal) -> ResponseReturnValue:
    return jsonify(actions.get_settings(principal))


@bp.put("/settings")
@guarded(permission=UPDATE)
def settings_update(principal: Principal) -> ResponseReturnValue:
    return jsonify(actions.update_settings(principal, json_body()))


@bp.get("/reconciliation")
@guarded(permission=READ, flags=(flags.UI, flags.QUEUE))
def reconciliation(principal: Principal) -> ResponseReturnValue:
    return jsonify({"items": actions.list_review_items(principal)})


@bp.post("/reconciliation/<item_id>/resolve")
@guarded(permission=UPDATE, flags=(flags.UI, flags.QUEUE))
def reconciliation_resolve(principal: Principal, item_id: str) -> ResponseReturnValue:
    return jsonify(actions.resolve_item(principal, item_id, json_body()))
