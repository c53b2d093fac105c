"""Single-client sync: the client page's "Sync Entra Now"."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, select

from .. import flags
from ..errors import Conflict, NotFound
from ..host import UPDATE, Principal
from ..models import TenantMapping
from ._common import enter, session


def client_has_mapping(tenant: str, client_id: str) -> bool:
    stmt = select(
        exists().where(
            TenantMapping.tenant == tenant,
            TenantMapping.client_id == client_id,
            TenantMapping.active.is_(True),
            TenantMapping.state == "mapped",
        )
    )
    return bool(session().scalar(stmt))


def start_client_sync(principal: Principal | None, client_id: str) -> dict[str, Any]:
    principal, state = enter(principal, UPDATE, (flags.CLIENT_SYNC,))
    if not state.adapter.get_clients(principal.tenant, [client_id]):
        raise NotFound("Not found.")
    if not client_has_mapping(principal.tenant, client_id):
        raise Conflict("This client has no mapped Microsoft tenant; map one in the Entra wizard first.")
    from .sync import start_sync

    return start_sync(principal, {"scope": "client", "client_id": client_id})
