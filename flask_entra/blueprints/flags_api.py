"""``/api/v1/platform-feature-flags``: internal users with system_settings:update; not behind the Entra flags."""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue

from .. import actions
from ..host import UPDATE, Principal
from ..security import guarded
from .common import api_blueprint, json_body

bp = api_blueprint("entra_flags_api", __name__)


@bp.get("")
@guarded(permission=UPDATE, flags=())
def list_flags(principal: Principal) -> ResponseReturnValue:
    return jsonify({"flags": actions.list_flags(principal)})


@bp.post("")
@guarded(permission=UPDATE, flags=())
def create_flag(principal: Principal) -> ResponseReturnValue:
    created = actions.create_flag(principal, json_body())
    return jsonify({"flags": created} if isinstance(created, list) else created), 201


@bp.patch("/<key>")
@guarded(permission=UPDATE, flags=())
def set_enabled(principal: Principal, key: str) -> ResponseReturnValue:
    return jsonify(actions.set_flag_enabled(principal, key, json_body()))


@bp.put("/<key>/tenants")
@guarded(permission=UPDATE, flags=())
def set_tenants(principal: Principal, key: str) -> ResponseReturnValue:
    return jsonify(actions.set_flag_tenants(principal, key, json_body()))
