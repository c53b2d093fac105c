"""The control API under ``/_sim/`` that tests and benchmarks call over HTTP (no authentication: a local test tool).

POST   /_sim/reset                                   dataset, faults and request log back to the start
GET    /_sim/faults | PUT (replace) | PATCH (merge)  fault knobs (names: faults.Faults)
GET    /_sim/requests | DELETE                       request log: method, path, query (secrets redacted), status
GET    /_sim/dataset                                 the current dataset document
POST   /_sim/tokens/expire-access                    every issued access token expires now
POST   /_sim/tokens/revoke-refresh                   every refresh token answers AADSTS700082 from now on
POST   /_sim/delta/invalidate                        existing delta tokens answer 410 resyncRequired
PATCH  /_sim/tenants/<tid>                           displayName, appConsent, cippExcluded, legacyContract, gdapStatus
POST   /_sim/tenants/<tid>/users                     add a user (Graph property names)
PATCH  /_sim/tenants/<tid>/users/<uid>               change fields (e.g. accountEnabled, mail)
POST   /_sim/tenants/<tid>/users/<uid>/soft-delete   move to deleted items
POST   /_sim/tenants/<tid>/users/<uid>/restore       back from deleted items
DELETE /_sim/tenants/<tid>/users/<uid>               hard delete (delta reports reason "deleted")
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from flask_entra.simulator.dataset import DatasetError
from flask_entra.simulator.faults import Faults
from flask_entra.simulator.state import state

control = Blueprint("sim_control", __name__, url_prefix="/_sim")


@control.errorhandler(DatasetError)
@control.errorhandler(ValueError)
@control.errorhandler(TypeError)
def _bad_request(error: Exception) -> Response:
    response = jsonify({"error": "bad_request", "message": str(error)})
    response.status_code = 400
    return response


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ValueError("the request body must be a JSON object")
    return body


def _tenant(tenant_id: str) -> dict[str, Any]:
    tenant = state().dataset.tenant(tenant_id)
    if tenant is None:
        raise DatasetError(f"no tenant {tenant_id}")
    return tenant


@control.post("/reset")
def reset() -> Response:
    state().reset()
    return jsonify({"ok": True})


@control.route("/faults", methods=["GET", "PUT", "PATCH"])
def faults() -> Response:
    engine = state().faults
    if request.method == "PUT":
        engine.configure(Faults.from_dict(_body()))
    elif request.method == "PATCH":
        engine.configure(engine.faults.merged(_body()))
    return jsonify(engine.faults.to_dict())


@control.route("/requests", methods=["GET", "DELETE"])
def requests_log() -> Response:
    if request.method == "DELETE":
        state().clear_log()
    return jsonify(state().request_log())


@control.get("/dataset")
def dataset() -> Response:
    return jsonify(state().dataset.to_document())


@control.post("/tokens/expire-access")
def expire_access_tokens() -> Response:
    return jsonify({"expired": state().tokens.expire_access_tokens()})


@control.post("/tokens/revoke-refresh")
def revoke_refresh_tokens() -> Response:
    return jsonify({"revoked": state().tokens.revoke_refresh_tokens()})


@control.post("/delta/invalidate")
def invalidate_delta_tokens() -> Response:
    state().delta_epoch += 1
    return jsonify({"ok": True})


@control.patch("/tenants/<tenant_id>")
def update_tenant(tenant_id: str) -> Response:
    return jsonify(state().dataset.update_tenant(_tenant(tenant_id), _body()))


@control.post("/tenants/<tenant_id>/users")
def add_user(tenant_id: str) -> Response:
    response = jsonify(state().dataset.add_user(_tenant(tenant_id), _body()))
    response.status_code = 201
    return response


@control.route("/tenants/<tenant_id>/users/<user_id>", methods=["PATCH", "DELETE"])
def change_user(tenant_id: str, user_id: str) -> Response:
    tenant = _tenant(tenant_id)
    if request.method == "DELETE":
        state().dataset.hard_delete_user(tenant, user_id)
        return Response(status=204)
    return jsonify(state().dataset.update_user(tenant, user_id, _body()))


@control.post("/tenants/<tenant_id>/users/<user_id>/soft-delete")
def soft_delete_user(tenant_id: str, user_id: str) -> Response:
    return jsonify(state().dataset.soft_delete_user(_tenant(tenant_id), user_id))


@control.post("/tenants/<tenant_id>/users/<user_id>/restore")
def restore_user(tenant_id: str, user_id: str) -> Response:
    return jsonify(state().dataset.restore_user(_tenant(tenant_id), user_id))
