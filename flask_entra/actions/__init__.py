"""Every operation as a function of (principal, arguments), enforcing the same guards as the routes.

A host may call these from its own views, jobs or CLI and gets the same protection: client-portal denial, the surface's
flag, RBAC and tenant scoping, all before anything is read or written.
"""

from __future__ import annotations

from .client_sync import start_client_sync
from .connection import complete_direct, connect_cipp, connect_direct, disconnect, validate_connection
from .discovery import get_discovery, start_discovery
from .mappings import confirm_mappings, history, list_tenants, preview_mappings, search_clients, unmap
from .platform_flags import create_flag, list_flags, set_flag_enabled, set_flag_tenants
from .review import list_review_items, resolve_item
from .runs import get_run, list_runs
from .settings import get_settings, update_settings
from .status import get_status
from .sync import release_held, start_sync

__all__ = [
    "start_sync",
    "release_held",
    "start_discovery",
    "get_discovery",
    "start_client_sync",
    "complete_direct",
    "connect_cipp",
    "connect_direct",
    "disconnect",
    "validate_connection",
    "confirm_mappings",
    "create_flag",
    "get_run",
    "get_settings",
    "get_status",
    "history",
    "list_flags",
    "list_runs",
    "list_tenants",
    "list_review_items",
    "preview_mappings",
    "resolve_item",
    "search_clients",
    "set_flag_enabled",
    "set_flag_tenants",
    "unmap",
    "update_settings",
]
