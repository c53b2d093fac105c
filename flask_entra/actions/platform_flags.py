"""Platform feature flags: internal users with system_settings:update only; not gated by the Entra flags themselves."""

from __future__ import annotations

import re
from typing import Any

from ..errors import ValidationFailed
from ..flags import FlagService
from ..host import UPDATE, Principal
from ..security import authorize
from ..state import get_state
from ._common import field, json_object

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")


def _service(principal: Principal | None) -> FlagService:
    authorize(principal, permission=UPDATE, flags=())
    return get_state().flags


def list_flags(principal: Principal | None) -> list[dict[str, Any]]:
    return [f.to_json() for f in _service(principal).list_flags()]


def create_flag(principal: Principal | None, payload: Any) -> list[dict[str, Any]] | dict[str, Any]:
    service = _service(principal)
    body = json_object(payload)
    if body.get("__action") is not None:
        if body["__action"] != "ensure_entra_flags":
            raise ValidationFailed("The only '__action' is 'ensure_entra_flags'.")
        return [f.to_json() for f in service.ensure_entra_flags()]
    key = field(body, "key", str)
    if not KEY_PATTERN.match(key):
        raise ValidationFailed("'key' must be lowercase letters, digits, '.', '_' or '-' (at most 100).")
    description = field(body, "description", str, required=False, default="")
    enabled = field(body, "enabled", bool, required=False, default=False)
    return service.create_flag(key, description, enabled).to_json()


def set_flag_enabled(principal: Principal | None, key: str, payload: Any) -> dict[str, Any]:
    service = _service(principal)
    return service.set_enabled(key, field(json_object(payload), "enabled", bool)).to_json()


def set_flag_tenants(principal: Principal | None, key: str, payload: Any) -> dict[str, Any]:
    service = _service(principal)
    tenant_ids = field(json_object(payload), "tenant_ids", list)
    if not all(isinstance(t, str) and t for t in tenant_ids):
        raise ValidationFailed("'tenant_ids' must be a list of tenant ids.")
    return service.set_tenants(key, tenant_ids).to_json()
