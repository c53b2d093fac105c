"""The integration JSON API: parse, call an action, answer. Nothing else lives here."""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue

from .. import actions
from ..host import READ, UPDATE, Principal
from ..security import guarded
from .common import api_blueprint, json_body

bp = api_blueprint("entra_api", __name__)


@bp.get("")
@guarded(permission=READ)
def status(principal: Principal) -> ResponseReturnValue:
    return jsonify(actions.get_status(principal))


@bp.get("/tenants")
@guarded(permission=READ)
def tenants(principal: Principal) -> ResponseReturnValue:
    return jsonify({"tenants": actions.list_tenants(principal)})


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
