"""What every enterprise blueprint shares: CSRF on writes, JSON bodies, and errors rendered per surface kind."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError

from ..errors import EntraError, NotAuthenticated, ValidationFailed
from ..security import check_csrf
from ..state import get_state


def json_body() -> Any:
    """The request's JSON, or None when it is missing or malformed (actions then answer a clear 400)."""
    return request.get_json(silent=True)


def refuse_nul() -> None:
    """U+0000 is never meaningful here and PostgreSQL refuses it in text: a clear 400 instead of a database error."""
    if "\x00" in request.path or b"%00" in request.query_string or b"\\u0000" in request.get_data(cache=True):
        raise ValidationFailed("The request contains a NUL character.")


def api_blueprint(name: str, import_name: str) -> Blueprint:
    bp = Blueprint(name, import_name)
    bp.before_request(refuse_nul)
    bp.before_request(check_csrf)

    @bp.errorhandler(EntraError)
    def entra_error(exc: EntraError) -> ResponseReturnValue:
        return jsonify({"error": exc.code, "message": str(exc)}), exc.status

    @bp.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> ResponseReturnValue:
        return jsonify({"error": "csrf_failed", "message": "Missing or invalid CSRF token."}), 400

    return bp


def page_blueprint(name: str, import_name: str) -> Blueprint:
    bp = Blueprint(name, import_name)
    bp.before_request(refuse_nul)
    bp.before_request(check_csrf)

    @bp.errorhandler(EntraError)
    def entra_error(exc: EntraError) -> ResponseReturnValue:
        if isinstance(exc, NotAuthenticated):
            return redirect(_login_url())
        # A refused user sees a bare status page with no Entra content.
        return render_template("entra/error.html", status=exc.status, message=_public_message(exc)), exc.status

    @bp.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> ResponseReturnValue:
        return render_template("entra/error.html", status=400, message="The form expired; go back and retry."), 400

    return bp


def _public_message(exc: EntraError) -> str:
    return {403: "You do not have access to this page.", 404: "Page not found."}.get(exc.status, str(exc))


def _login_url() -> str:
    view = get_state().config["ENTRA_LOGIN_VIEW"]
    base = view if view.startswith(("/", "http://", "https://")) else url_for(view)
    return f"{base}?{urlencode({'next': request.full_path.rstrip('?')})}"
