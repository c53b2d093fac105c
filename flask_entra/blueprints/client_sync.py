"""``POST /api/clients/{client_id}/entra/sync`` (flag entra-integration-client-sync-action)."""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue

from .. import flags
from ..actions.client_sync import start_client_sync
from ..host import UPDATE, Principal
from ..security import guarded
from .common import api_blueprint

bp = api_blueprint("entra_client_sync", __name__)


@bp.post("/api/clients/<client_id>/entra/sync")
@guarded(permission=UPDATE, flags=(flags.UI, flags.CLIENT_SYNC))
def client_sync(principal: Principal, client_id: str) -> ResponseReturnValue:
    return jsonify(start_client_sync(principal, client_id)), 202
