"""DESIGN.md's access rules over every URL rule the app has, for every persona, edition and flag state.

Routes are enumerated from the app's URL map, so a route added later is covered without editing this test; a route of
ours without guard metadata fails it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from flask_entra.models import ManagedTenantRow, ReconciliationItem, SyncRun, SyncRunTenant, TenantMapping
from flask_entra.security import Guard
from tests.plugins.host import PERSONAS, set_all_flags, sign_in

PERMS = {
    "staff": set(),
    "tech": {"system_settings:read"},
    "admin": {"system_settings:read", "system_settings:update"},
    "other_admin": {"system_settings:read", "system_settings:update"},
}
ORDER = ["anonymous", "portal", "staff", "tech", "other_admin", "admin"]  # admin last: its writes change state
GUARD_CODES = {"unauthenticated", "client_portal_forbidden", "permission_denied", "not_found"}


@pytest.fixture(scope="module")
def acme_ids(ee_app: Flask) -> dict[str, str]:
    """Real ids of acme's objects: what an id-bearing route is called with."""
    with ee_app.app_context():
        state = ee_app.extensions["entra"]
        s = state.session
        client = next(c for c in state.adapter.list_clients("acme") if c.name.startswith("Contoso"))
        s.add(
            ManagedTenantRow(
                tenant="acme",
                entra_tenant_id="11111111-aaaa-4aaa-8aaa-000000000001",
                display_name="Contoso Ltd",
                default_domain="contoso.com",
                verified_domains=["contoso.com"],
            )
        )
        s.add(
            TenantMapping(
                tenant="acme",
                entra_tenant_id="11111111-aaaa-4aaa-8aaa-000000000001",
                state="mapped",
                client_id=client.id,
                reason="exact_domain",
                active=True,
                decided_by="seed",
            )
        )
        run = SyncRun(tenant="acme", kind="all", status="completed")
        s.add(run)
        s.flush()
        s.add(
            SyncRunTenant(
                tenant="acme",
                run_id=run.id,
                entra_tenant_id="11111111-aaaa-4aaa-8aaa-000000000001",
                client_id=client.id,
                status="held",
                held_inactivations=[],
            )
        )
        item = ReconciliationItem(
            tenant="acme",
            entra_tenant_id="11111111-aaaa-4aaa-8aaa-000000000001",
            entra_object_id="u-1",
            client_id=client.id,
            reason="multiple_candidates",
        )
        s.add(item)
        s.commit()
        return {
            "entra_tenant_id": "11111111-aaaa-4aaa-8aaa-000000000001",
            "run_id": run.id,
            "item_id": item.id,
            "client_id": client.id,
            "key": "entra-integration-ui",
            "rest": "anything",
        }


def url_for_rule(rule: Any, ids: dict[str, str]) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: ids[m.group(1)], rule.rule)


def our_rules(app: Flask) -> Iterator[Any]:
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("entra"):
            yield rule


def expected(guard: Guard, persona: str, flags_on: bool, id_bearing: bool) -> int | str:
    if persona == "anonymous":
        return 302 if guard.page else 401
    if persona == "portal":
        return 403
    if guard.flags and not flags_on:
        return 404
    if guard.permission not in PERMS[persona]:
        return 403
    if persona == "other_admin" and id_bearing:
        return 404
    return "allowed"


def check(app: Flask, ids: dict[str, str], flags_on: bool) -> list[str]:
    sessions = {p: sign_in(app, PERSONAS[p]) for p in ORDER}
    problems, seen = [], 0
    for rule in sorted(our_rules(app), key=lambda r: r.rule):
        view = app.view_functions[rule.endpoint]
        guard = getattr(view, "entra_guard", None)
        if guard is None:
            problems.append(f"{rule.rule}: no guard metadata")
            continue
        id_bearing = bool(rule.arguments & {"entra_tenant_id", "run_id", "item_id", "client_id"})
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for persona in ORDER:
                seen += 1
                response = sessions[persona].open(method, url_for_rule(rule, ids), json={})
                want = expected(guard, persona, flags_on, id_bearing)
                got, body = response.status_code, response.get_json(silent=True) or {}
                if want == "allowed":
                    ok = got not in (401, 403, 404) and (got < 500 or body.get("error") == "workflow_error")
                else:
                    ok = got == want
                    if want == 302:
                        ok = ok and "/login" in response.headers["Location"]
                if persona == "portal" and 200 <= got < 300:
                    ok = False
                if not ok:
                    problems.append(f"{method} {rule.rule} as {persona}: expected {want}, got {got} {body}")
    assert seen > 100, "the matrix enumerated suspiciously few cells"
    return problems


@pytest.mark.parametrize("flags_on", [True, False], ids=["flags-on", "flags-off"])
def test_enterprise_matrix(ee_app: Flask, acme_ids: dict[str, str], flags_on: bool) -> None:
    set_all_flags(ee_app, flags_on)
    problems = check(ee_app, acme_ids, flags_on)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("flags_on", [True, False], ids=["flags-on", "flags-off"])
def test_community_matrix_answers_501_to_everyone(
    ce_app: Flask, ee_app: Flask, acme_ids: dict[str, str], flags_on: bool
) -> None:
    set_all_flags(ee_app, flags_on)
    ee_paths = {url_for_rule(r, acme_ids) for r in our_rules(ee_app) if r.rule.startswith("/api/")}
    sessions = {p: sign_in(ce_app, PERSONAS[p]) for p in ORDER}
    problems = []
    for path in sorted(ee_paths):
        for persona in ORDER:
            got = sessions[persona].open("GET", path).status_code
            if got != 501:
                problems.append(f"GET {path} as {persona}: expected 501, got {got}")
    ce_pages = [r.rule for r in our_rules(ce_app) if r.rule.startswith(ce_app.config["ENTRA_PAGES_PREFIX"])]
    assert not ce_pages, f"community edition has Entra pages: {ce_pages}"
    assert not problems, "\n".join(problems)


def test_every_entra_surface_is_enumerated(ee_app: Flask) -> None:
    """The matrix covers the whole HTTP surface of HTTP_API.md (a smoke check that registration did not shrink)."""
    rules = {r.rule for r in our_rules(ee_app)}
    for path in (
        "/api/integrations/entra",
        "/api/integrations/entra/mappings/confirm",
        "/api/v1/platform-feature-flags",
        "/settings/integrations/entra",
        "/api/auth/microsoft/entra/callback",
    ):
        assert path in rules


def test_refused_callers_change_nothing(ee_app: Flask, acme_ids: dict[str, str]) -> None:
    """Every refused caller's unmap leaves the mapping in place; then the admin's unmap ends it."""
    set_all_flags(ee_app, True)
    entra_tenant_id = "11111111-aaaa-4aaa-8aaa-000000000002"
    with ee_app.app_context():
        s = ee_app.extensions["entra"].session
        s.add(ManagedTenantRow(tenant="acme", entra_tenant_id=entra_tenant_id, display_name="Fabrikam"))
        s.add(
            TenantMapping(
                tenant="acme",
                entra_tenant_id=entra_tenant_id,
                state="mapped",
                client_id=acme_ids["client_id"],
                reason="manual",
                active=True,
                decided_by="seed",
            )
        )
        s.commit()

    def active() -> int:
        with ee_app.app_context():
            return len(
                ee_app.extensions["entra"]
                .session.execute(
                    select(TenantMapping).filter_by(tenant="acme", entra_tenant_id=entra_tenant_id, active=True)
                )
                .scalars()
                .all()
            )

    path = f"/api/integrations/entra/mappings/{entra_tenant_id}/unmap"
    for persona in ("anonymous", "portal", "staff", "tech", "other_admin"):
        assert sign_in(ee_app, PERSONAS[persona]).open("POST", path, json={}).status_code in (401, 403, 404)
        assert active() == 1, persona
    assert sign_in(ee_app, PERSONAS["admin"]).open("POST", path, json={}).status_code == 200
    assert active() == 0


def test_every_write_route_refuses_a_missing_or_forged_csrf_token(ee_app: Flask, acme_ids: dict[str, str]) -> None:
    set_all_flags(ee_app, True)
    admin = sign_in(ee_app, PERSONAS["admin"])
    writes = [(m, r) for r in our_rules(ee_app) for m in r.methods if m in ("POST", "PUT", "PATCH", "DELETE")]
    assert len(writes) >= 10
    for method, rule in writes:
        path = url_for_rule(rule, acme_ids)
        for headers in ({}, {"X-CSRFToken": "forged"}):
            response = admin.client.open(path, method=method, json={}, headers=headers)
            assert response.status_code == 400, (method, rule.rule, headers, response.status_code)
            assert response.get_json()["error"] == "csrf_failed"
