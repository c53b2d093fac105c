"""The Direct sign-in's OAuth callback: its CSRF protection is the single-use state bound to tenant and user."""

from __future__ import annotations

from flask import current_app, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from ..actions.connection import complete_direct
from ..errors import EntraError
from ..host import UPDATE, Principal
from ..security import guarded
from .common import api_blueprint

bp = api_blueprint("entra_oauth", __name__)
CALLBACK_PATH = "/api/auth/microsoft/entra/callback"


def redirect_uri() -> str:
    """The exact redirect URI registered on the app (config, else derived from this request's host)."""
    return current_app.config["ENTRA_REDIRECT_URI"] or url_for("entra_oauth.callback", _external=True)


@bp.get(CALLBACK_PATH)
@guarded(permission=UPDATE)
def callback(principal: Principal) -> ResponseReturnValue:
    params = {k: request.args.get(k, "") for k in ("state", "code", "error", "error_description")}
    try:
        complete_direct(principal, params, redirect_uri())
    except EntraError as exc:  # a browser arrives here: the connect page shows the advice, never a JSON error
        flash(str(exc), "entra-error")
        return redirect(url_for("entra_pages.connect"))
    flash("Connected to Microsoft. Next: discover your customer tenants.", "entra-ok")
    return redirect(url_for("entra_pages.discover"))
