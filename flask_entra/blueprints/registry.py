"""Registration of the enterprise surfaces and the template globals hosts embed."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, render_template
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from .. import flags
from ..host import READ, UPDATE
from ..security import can_view
from ..state import get_state

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def settings_card() -> Markup:
    """The integrations-settings card; empty unless edition, flag and permission allow."""
    principal = get_state().load_principal()
    if not can_view(principal, permission=READ):
        return Markup("")
    return Markup(render_template("entra/macros/settings_card.html"))


def client_sync_button(client_id: object) -> Markup:
    """The client page's "Sync Entra Now" button; empty unless allowed and the client has a mapped tenant."""
    from ..actions.client_sync import client_has_mapping

    state = get_state()
    principal = state.load_principal()
    if not can_view(principal, permission=UPDATE, flags=(flags.UI, flags.CLIENT_SYNC)):
        return Markup("")
    assert principal is not None
    if not client_has_mapping(principal.tenant, str(client_id)):
        return Markup("")
    return Markup(render_template("entra/macros/client_sync_button.html", client_id=str(client_id)))


def register_enterprise(app: Flask) -> None:
    from . import api, client_sync, flags_api, oauth, pages

    config = app.config
    # Our templates sit behind the host's own: a host overrides any of them by providing the same path.
    app.register_blueprint(Blueprint("entra_templates", __name__, template_folder=str(TEMPLATES)))
    app.register_blueprint(api.bp, url_prefix=config["ENTRA_API_PREFIX"])
    app.register_blueprint(pages.bp, url_prefix=config["ENTRA_PAGES_PREFIX"])
    app.register_blueprint(flags_api.bp, url_prefix=config["ENTRA_FLAGS_API_PREFIX"])
    app.register_blueprint(client_sync.bp)
    app.register_blueprint(oauth.bp)
    app.add_template_global(settings_card, "entra_settings_card")
    app.add_template_global(client_sync_button, "entra_client_sync_button")
    app.add_template_global(generate_csrf, "entra_csrf_token")
