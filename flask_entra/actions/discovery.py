"""Discovery of the partner's managed tenants, run as a Temporal workflow."""

from __future__ import annotations

from typing import Any

from ..errors import Conflict
from ..host import READ, UPDATE, Principal
from ..temporal.client import discovery_state, start_discovery_workflow
from ._common import enter
from .status import active_connection


def start_discovery(principal: Principal | None) -> dict[str, Any]:
    """Start discovery (a second start while it runs joins it): ``{"workflow_id"}``."""
    principal, state = enter(principal, UPDATE)
    if active_connection(principal.tenant) is None:
        raise Conflict("There is no active Microsoft connection; connect Direct or CIPP first.")
    return {"workflow_id": start_discovery_workflow(state.app, principal.tenant).workflow_id}


def get_discovery(principal: Principal | None) -> dict[str, Any]:
    """The latest discovery: ``{"status": "none"|"running"|"completed"|"failed", "result"?, "error"?}``.

    ``result`` holds the counts ``discovered, added, updated, missing, returned``; ``error`` the operator's advice.
    """
    principal, state = enter(principal, READ)
    return discovery_state(state.app, principal.tenant)
