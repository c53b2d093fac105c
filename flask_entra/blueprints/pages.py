"""Server-rendered wizard and settings pages. Each view calls actions and renders; no logic of its own."""

from __future__ import annotations

from flask import current_app, render_template
from flask.typing import ResponseReturnValue

from .. import actions
from ..host import READ, Principal
from ..security import guarded
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
