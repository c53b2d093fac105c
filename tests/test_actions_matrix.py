"""The actions layer refuses exactly like the routes, before anything is read or written, whoever calls it."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event

from flask_entra import actions
from flask_entra.errors import ClientPortalDenied, NotFound, PermissionDenied
from flask_entra.host import Principal
from flask_entra.models import ManagedTenantRow, ReconciliationItem, SyncRun, TenantMapping
from tests.plugins.host import set_all_flags

ALL = frozenset({"system_settings:read", "system_settings:update"})
PORTAL = Principal("9", "acme", is_client_portal=True, permissions=ALL)
NO_PERMISSION = Principal("8", "acme", permissions=frozenset())
OTHER_TENANT = Principal("7", "globex", permissions=ALL)
ETID = "22222222-bbbb-4bbb-8bbb-000000000001"


@pytest.fixture(scope="module")
def ids(ee_app: Flask) -> dict[str, str]:
    with ee_app.app_context():
        state = ee_app.extensions["entra"]
        client = state.adapter.list_clients("acme")[0]
        s = state.session
        s.add(ManagedTenantRow(tenant="acme", entra_tenant_id=ETID, display_name="Northwind"))
        s.add(TenantMapping(tenant="acme", entra_tenant_id=ETID, state="mapped", client_id=client.id, reason="manual"))
        run, item = (
            SyncRun(tenant="acme", kind="all"),
            ReconciliationItem(
                tenant="acme",
                entra_tenant_id=ETID,
                entra_object_id="u",
                client_id=client.id,
                reason="multiple_candidates",
            ),
        )
        s.add_all([run, item])
        s.commit()
        return {"run_id": run.id, "item_id": item.id, "client_id": client.id, "entra_tenant_id": ETID}


def calls(ids: dict[str, str]) -> dict[str, tuple[Callable[..., Any], dict[str, Any], bool]]:
    """Every public action: (function, arguments, whether it takes an id of one tenant's object)."""
    return {
        "get_status": (actions.get_status, {}, False),
        "list_tenants": (actions.list_tenants, {}, False),
        "preview_mappings": (actions.preview_mappings, {}, False),
        "search_clients": (actions.search_clients, {"query": "con"}, False),
        "confirm_mappings": (
            actions.confirm_mappings,
            {"payload": {"decisions": [{"entra_tenant_id": ids["entra_tenant_id"], "action": "skip"}]}},
            True,
        ),
        "unmap": (actions.unmap, {"entra_tenant_id": ids["entra_tenant_id"]}, True),
        "history": (actions.history, {"entra_tenant_id": ids["entra_tenant_id"]}, True),
        "list_runs": (actions.list_runs, {}, False),
        "get_run": (actions.get_run, {"run_id": ids["run_id"]}, True),
        "get_settings": (actions.get_settings, {}, False),
        "update_settings": (actions.update_settings, {"payload": {"interval_minutes": 60}}, False),
        "list_review_items": (actions.list_review_items, {}, False),
        "resolve_item": (actions.resolve_item, {"item_id": ids["item_id"], "payload": {"action": "dismiss"}}, True),
        "connect_direct": (actions.connect_direct, {"redirect_uri": "http://localhost/cb"}, False),
        "complete_direct": (actions.complete_direct, {"params": {}, "redirect_uri": "http://localhost/cb"}, False),
        "connect_cipp": (actions.connect_cipp, {"payload": {}}, False),
        "validate_connection": (actions.validate_connection, {}, False),
        "disconnect": (actions.disconnect, {}, False),
        "start_discovery": (actions.start_discovery, {}, False),
        "get_discovery": (actions.get_discovery, {}, False),
        "start_sync": (actions.start_sync, {"payload": {"scope": "all"}}, False),
        "start_client_sync": (actions.start_client_sync, {"client_id": ids["client_id"]}, True),
        "release_held": (
            actions.release_held,
            {"run_id": ids["run_id"], "entra_tenant_id": ids["entra_tenant_id"]},
            True,
        ),
        "list_flags": (actions.list_flags, {}, False),
        "create_flag": (actions.create_flag, {"payload": {"key": "x-test"}}, False),
        "set_flag_enabled": (
            actions.set_flag_enabled,
            {"key": "entra-integration-ui", "payload": {"enabled": False}},
            False,
        ),
        "set_flag_tenants": (
            actions.set_flag_tenants,
            {"key": "entra-integration-ui", "payload": {"tenant_ids": []}},
            False,
        ),
    }


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = app.extensions["sqlalchemy"].engine

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_every_public_action_is_in_the_matrix(ids: dict[str, str]) -> None:
    public = {n for n in actions.__all__ if inspect.isfunction(getattr(actions, n))}
    assert public == set(calls(ids)), public ^ set(calls(ids))


@pytest.mark.parametrize("name", sorted(calls({"run_id": "", "item_id": "", "client_id": "", "entra_tenant_id": ""})))
def test_refused_before_anything_is_read_or_written(ee_app: Flask, ids: dict[str, str], name: str) -> None:
    set_all_flags(ee_app, True)
    function, kwargs, id_bearing = calls(ids)[name]
    with ee_app.test_request_context():
        for principal, error in ((PORTAL, ClientPortalDenied), (NO_PERMISSION, PermissionDenied)):
            with statements(ee_app) as seen, pytest.raises(error):
                function(principal, **kwargs)
            touched = [s for s in seen if "entra_feature_flags" not in s]
            assert not touched, f"{name} touched data before refusing: {touched}"
        if id_bearing:
            with statements(ee_app) as seen, pytest.raises(NotFound):
                function(OTHER_TENANT, **kwargs)
            writes = [s for s in seen if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]
            assert not writes, f"{name} wrote for another tenant: {writes}"
