"""Community edition: the Entra API answers 501 and no page exists; no EE module is imported."""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify
from flask.typing import ResponseReturnValue
from markupsafe import Markup

ENTERPRISE_REQUIRED = {
    "error": "enterprise_edition_required",
    "message": "The Microsoft Entra integration is part of the enterprise edition.",
}


def _not_in_this_edition(**_: object) -> ResponseReturnValue:
    return jsonify(ENTERPRISE_REQUIRED), 501


def _render_nothing(*_: object, **__: object) -> Markup:
    return Markup("")


def register_community(app: Flask) -> None:
    bp = Blueprint("entra_ce", __name__)
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    api = app.config["ENTRA_API_PREFIX"]
    for rule in (
        api,
        f"{api}/<path:rest>",
        "/api/clients/<client_id>/entra/sync",
        "/api/auth/microsoft/entra/callback",
        app.config["ENTRA_FLAGS_API_PREFIX"],
        app.config["ENTRA_FLAGS_API_PREFIX"] + "/<path:rest>",
    ):
        bp.add_url_rule(
            rule, endpoint=f"stub_{len(bp.deferred_functions)}", view_func=_not_in_this_edition, methods=methods
        )
    app.register_blueprint(bp)
    app.add_template_global(_render_nothing, "entra_settings_card")
    app.add_template_global(_render_nothing, "entra_client_sync_button")
