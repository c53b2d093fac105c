"""Single-client sync: the client page's "Sync Entra Now"."""

from __future__ import annotations

from typing import Any

from .. import flags
from ..errors import Conflict, NotFound
from ..host import UPDATE, Principal
from ..sync_runs import sync_targets
from ._common import enter, session
from .sync import start_sync


def client_has_mapping(tenant: str, client_id: str) -> bool:
    """Whether a single-client sync would have a Microsoft tenant to sync (the button shows only then)."""
    return bool(sync_targets(session(), tenant, client_id))


def start_client_sync(principal: Principal | None, client_id: str) -> dict[str, Any]:
    principal, state = enter(principal, UPDATE, (flags.CLIENT_SYNC,))
    if not state.adapter.get_clients(principal.tenant, [client_id]):
        raise NotFound("Not found.")
    if not client_has_mapping(principal.tenant, client_id):
        raise Conflict("This client has no mapped Microsoft tenant; map one in the Entra wizard first.")
    return start_sync(principal, {"scope": "client", "client_id": client_id})
