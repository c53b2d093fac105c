"""Issue 7 seen from the outside: the five flags managed through the platform-feature-flags API switch the example PSA's
Entra surfaces per tenant, on a real Unleash server and on the embedded store alike.

One app per store for the module ("this process", refresh interval far beyond the test, so every change it shows is
one it took at once); other processes are further apps on the same database and store.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, text

from flask_entra.flags import CIPP, CLIENT_SYNC, ENTRA_FLAGS, FIELD_SYNC, QUEUE, UI
from flask_entra.models import (
    Connection,
    ContactLink,
    ManagedTenantRow,
    ReconciliationItem,
    SyncRun,
    SyncRunTenant,
    SyncSettings,
    TenantMapping,
)
from flask_entra.security import Guard
from tests.plugins.host import PERSONAS, Session, build_app, dispose, prepare_database, sign_in
from tests.plugins.postgres import create_database, drop_database
from tests.plugins.unleash import UnleashServer
from tests.test_access_matrix import expected, our_rules, url_for_rule

pytestmark = pytest.mark.slow

FLAGS_API = "/api/v1/platform-feature-flags"
API = "/api/integrations/entra"
PAGES = "/settings/integrations/entra"
CARD = 'data-entra="settings-card"'
SYNC_BUTTON = 'data-entra="client-sync"'
NARROW = (CIPP, CLIENT_SYNC, FIELD_SYNC, QUEUE)
ALL_ON = dict.fromkeys(ENTRA_FLAGS, True)
THIS_PROCESS_REFRESH_SECONDS = 3600
OTHER_PROCESS_REFRESH_SECONDS = 1
# Unleash's client API serves a change before our API call returns; what remains is one SDK poll and one fetch.
FOLLOW_MARGIN_SECONDS = 2.0
ENTRA_TABLES = (
    Connection,
    ManagedTenantRow,
    TenantMapping,
    SyncRun,
    SyncRunTenant,
    ReconciliationItem,
    ContactLink,
    SyncSettings,
)


@dataclass
class World:
    """The example PSA on its own database, seeded, with one flag store (and ways to clear it or take it away)."""

    db_url: str
    store_config: dict[str, Any]
    app: Flask
    ids: dict[str, str]
    clear_flags: Callable[[], None]
    stop_store: Callable[[], None]
    start_store: Callable[[], None]
    secret: str | None
    store_down: bool = False

    def take_store_down(self) -> None:
        self.stop_store()
        self.store_down = True

    def bring_store_back(self) -> None:
        if self.store_down:
            self.start_store()
            self.store_down = False

    @contextmanager
    def another_process(self, refresh_interval: int) -> Iterator[Flask]:
        """The PSA as a second process would run it: same database and store, its own flag service."""
        app = build_app(self.db_url, "enterprise", ENTRA_UNLEASH_REFRESH_INTERVAL=refresh_interval, **self.store_config)
        try:
            yield app
        finally:
            dispose(app)


def seed_acme(app: Flask) -> dict[str, str]:
    """An acme connection, two mapped tenants, a run holding inactivations and an open review item.

    The access-matrix walk may unmap and release ``entra_tenant_id``; the "kept" tenant and client are never written to.
    """
    with app.app_context():
        state = app.extensions["entra"]
        s = state.session
        sacrificed, kept, unmapped = state.adapter.list_clients("acme")[:3]
        s.add(
            Connection(
                tenant="acme",
                connection_type="direct",
                status="active",
                partner_tenant_id="99999999-aaaa-4aaa-8aaa-000000000000",
                connected_by="seed",
            )
        )
        tenants = {"11111111-aaaa-4aaa-8aaa-000000000001": sacrificed, "11111111-aaaa-4aaa-8aaa-000000000002": kept}
        for entra_tenant_id, client in tenants.items():
            s.add(ManagedTenantRow(tenant="acme", entra_tenant_id=entra_tenant_id, display_name=client.name))
            s.add(
                TenantMapping(
                    tenant="acme",
                    entra_tenant_id=entra_tenant_id,
                    state="mapped",
                    client_id=client.id,
                    reason="manual",
                    active=True,
                    decided_by="seed",
                )
            )
        run = SyncRun(tenant="acme", kind="all", status="completed", tenants_total=2, tenants_done=2)
        s.add(run)
        s.flush()
        for entra_tenant_id, client in tenants.items():
            s.add(
                SyncRunTenant(
                    tenant="acme",
                    run_id=run.id,
                    entra_tenant_id=entra_tenant_id,
                    client_id=client.id,
                    status="held",
                    held_inactivations=[],
                )
            )
        item = ReconciliationItem(
            tenant="acme",
            entra_tenant_id="11111111-aaaa-4aaa-8aaa-000000000002",
            entra_object_id="u-1",
            client_id=kept.id,
            reason="multiple_candidates",
        )
        s.add(item)
        s.commit()
        return {
            "entra_tenant_id": "11111111-aaaa-4aaa-8aaa-000000000001",
            "run_id": run.id,
            "item_id": item.id,
            "client_id": sacrificed.id,
            "key": UI,
            "kept_client_id": kept.id,
            "unmapped_client_id": unmapped.id,
        }


def run_sql(app: Flask, statement: str) -> None:
    with app.app_context():
        with app.extensions["sqlalchemy"].engine.begin() as connection:
            connection.execute(text(statement))


@pytest.fixture(scope="module", params=["unleash", "embedded"])
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    url = create_database("entra_surfaces")
    db_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    store_config: dict[str, Any] = {}
    if request.param == "unleash":
        server: UnleashServer = request.getfixturevalue("unleash")
        if not server.running:
            server.start()
        store_config = {
            "ENTRA_UNLEASH_URL": server.url,
            "ENTRA_UNLEASH_API_TOKEN": server.client_token,
            "ENTRA_UNLEASH_ADMIN_TOKEN": server.admin_token,
        }
    app = build_app(db_url, "enterprise", ENTRA_UNLEASH_REFRESH_INTERVAL=THIS_PROCESS_REFRESH_SECONDS, **store_config)
    prepare_database(app)
    if request.param == "unleash":
        world = World(
            db_url,
            store_config,
            app,
            seed_acme(app),
            server.delete_all_flags,
            server.stop,
            server.start,
            server.admin_token,
        )
    else:
        # The embedded store's outage: its table cannot be read while the rest of the database works.
        world = World(
            db_url,
            store_config,
            app,
            seed_acme(app),
            lambda: run_sql(app, "DELETE FROM entra_feature_flags"),
            lambda: run_sql(app, "ALTER TABLE entra_feature_flags RENAME TO entra_feature_flags_away"),
            lambda: run_sql(app, "ALTER TABLE entra_feature_flags_away RENAME TO entra_feature_flags"),
            None,
        )
    yield world
    dispose(app)
    drop_database(url)


@pytest.fixture
def admin(world: World) -> Session:
    return sign_in(world.app, PERSONAS["admin"])


def api(session: Session, method: str, path: str, body: Any = None) -> Any:
    response = session.open(method, path, json=body)
    assert 200 <= response.status_code < 300, (method, path, response.status_code, response.get_json(silent=True))
    return response.get_json()


def set_flags(admin: Session, enabled: Mapping[str, bool], tenants: tuple[str, ...] = ("acme",)) -> None:
    """The five flags in these states for these tenants, through the API, writing only what differs."""
    current = {f["key"]: f for f in api(admin, "POST", FLAGS_API, {"__action": "ensure_entra_flags"})["flags"]}
    for key in ENTRA_FLAGS:
        if current[key]["enabled"] != enabled[key]:
            api(admin, "PATCH", f"{FLAGS_API}/{key}", {"enabled": enabled[key]})
        if tuple(current[key]["tenant_ids"]) != tenants:
            api(admin, "PUT", f"{FLAGS_API}/{key}/tenants", {"tenant_ids": list(tenants)})


def walk_routes(
    app: Flask,
    session: Session,
    persona: str,
    ids: dict[str, str],
    *,
    flags_on: bool,
    methods: frozenset[str] = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"}),
    tolerated_errors: frozenset[str] = frozenset({"workflow_error"}),
) -> list[str]:
    """Every URL rule of ours, with the access matrix's expectations; returns what did not meet them.

    "Allowed" means the guards let the caller through: no 401/403/404, and no 5xx other than a tolerated error code
    (Temporal is not running here).
    """
    problems = []
    for rule in sorted(our_rules(app), key=lambda r: r.rule):
        guard: Guard = app.view_functions[rule.endpoint].entra_guard
        id_bearing = bool(rule.arguments & {"entra_tenant_id", "run_id", "item_id", "client_id"})
        for method in sorted(rule.methods & methods):
            response = session.open(method, url_for_rule(rule, ids), json={})
            want = expected(guard, persona, flags_on, id_bearing)
            got, body = response.status_code, response.get_json(silent=True) or {}
            if want == "allowed":
                ok = got not in (401, 403, 404) and (got < 500 or body.get("error") in tolerated_errors)
            else:
                ok = got == want
            if not ok:
                problems.append(f"{method} {rule.rule} as {persona}: expected {want}, got {got} {body}")
    return problems


def shown(response: Any, status_when_shown: int) -> bool:
    assert response.status_code in (status_when_shown, 404), (response.status_code, response.get_json(silent=True))
    return bool(response.status_code == status_when_shown)


def narrow_surfaces(s: Session, ids: dict[str, str]) -> dict[str, bool]:
    """Which of the four narrower surfaces acme's admin sees; every piece of one surface must agree."""
    status = api(s, "GET", API)["surfaces"]
    settings_page = s.open("GET", f"{PAGES}/settings").get_data(as_text=True)
    pieces = {
        CIPP: [
            'id="cipp-form"' in s.open("GET", f"{PAGES}/connect").get_data(as_text=True),
            shown(s.open("POST", f"{API}/connect/cipp", json={}), 400),
        ],
        CLIENT_SYNC: [
            SYNC_BUTTON in s.open("GET", f"/clients/{ids['kept_client_id']}").get_data(as_text=True),
            shown(s.open("POST", f"/api/clients/{ids['unmapped_client_id']}/entra/sync", json={}), 409),
        ],
        FIELD_SYNC: [
            'id="field-toggles"' in settings_page,
            "field_toggles" in api(s, "GET", f"{API}/settings"),
            shown(s.open("PUT", f"{API}/settings", json={"field_toggles": {"no_such_field": True}}), 400),
        ],
        QUEUE: [shown(s.open("GET", f"{PAGES}/review"), 200), shown(s.open("GET", f"{API}/reconciliation"), 200)],
    }
    for flag, seen in pieces.items():
        assert seen == [status[flag]] * len(seen), (flag, seen, status[flag])
    return {flag: seen[0] for flag, seen in pieces.items()}


def count_rows(app: Flask) -> dict[str, int]:
    with app.app_context():
        s = app.extensions["entra"].session
        return {m.__tablename__: s.scalar(select(func.count()).select_from(m)) or 0 for m in ENTRA_TABLES}


def wait_until(condition: Callable[[], bool], seconds: float) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, f"not true within {seconds} s"
        time.sleep(0.1)
    return time.monotonic() - started


def test_ensure_creates_the_five_off_and_targeting_acme_opens_every_surface_to_acme_only(
    world: World, admin: Session
) -> None:
    world.clear_flags()
    ensured = admin.open("POST", FLAGS_API, json={"__action": "ensure_entra_flags"})
    assert ensured.status_code == 201
    assert sorted(ensured.get_json()["flags"], key=lambda f: f["key"]) == sorted(
        ({"key": k, "description": d, "enabled": False, "tenant_ids": []} for k, d in ENTRA_FLAGS.items()),
        key=lambda f: f["key"],
    )
    assert admin.open("GET", API).status_code == 404  # all five exist, all off

    set_flags(admin, ALL_ON, tenants=("acme",))

    listed = {f["key"]: f for f in api(admin, "GET", FLAGS_API)["flags"]}
    assert all(listed[key]["enabled"] and listed[key]["tenant_ids"] == ["acme"] for key in ENTRA_FLAGS)
    globex = sign_in(world.app, PERSONAS["other_admin"])
    problems = walk_routes(world.app, globex, "other_admin", world.ids, flags_on=False)
    problems += walk_routes(world.app, admin, "admin", world.ids, flags_on=True)
    assert not problems, "\n".join(problems)
    assert narrow_surfaces(admin, world.ids) == dict.fromkeys(NARROW, True)
    assert CARD not in globex.open("GET", "/settings/integrations").get_data(as_text=True)
    assert CARD in admin.open("GET", "/settings/integrations").get_data(as_text=True)


def test_turning_the_ui_off_hides_everything_at_once_and_on_again_shows_the_same_data(
    world: World, admin: Session
) -> None:
    set_flags(admin, ALL_ON)
    views = [
        API,
        f"{API}/tenants",
        f"{API}/mappings/preview",
        f"{API}/sync/runs",
        f"{API}/sync/runs/{world.ids['run_id']}",
        f"{API}/reconciliation",
    ]
    before = {path: api(admin, "GET", path) for path in views}
    assert before[API]["connection"]["partner_tenant_id"] == "99999999-aaaa-4aaa-8aaa-000000000000"
    assert "11111111-aaaa-4aaa-8aaa-000000000002" in {t["entra_tenant_id"] for t in before[f"{API}/tenants"]["tenants"]}
    rows_before = count_rows(world.app)

    api(admin, "PATCH", f"{FLAGS_API}/{UI}", {"enabled": False})

    for path in [*views, PAGES, f"{PAGES}/runs", f"{PAGES}/connect"]:
        assert admin.open("GET", path).status_code == 404, path  # the very next requests of this process, no wait
    assert CARD not in admin.open("GET", "/settings/integrations").get_data(as_text=True)
    assert SYNC_BUTTON not in admin.open("GET", f"/clients/{world.ids['kept_client_id']}").get_data(as_text=True)
    assert count_rows(world.app) == rows_before

    api(admin, "PATCH", f"{FLAGS_API}/{UI}", {"enabled": True})

    assert {path: api(admin, "GET", path) for path in views} == before
    assert CARD in admin.open("GET", "/settings/integrations").get_data(as_text=True)
    assert SYNC_BUTTON in admin.open("GET", f"/clients/{world.ids['kept_client_id']}").get_data(as_text=True)


@pytest.mark.parametrize("flag", NARROW)
def test_each_narrower_flag_hides_exactly_its_own_surface(world: World, admin: Session, flag: str) -> None:
    set_flags(admin, {**ALL_ON, flag: False})

    assert narrow_surfaces(admin, world.ids) == {f: f != flag for f in NARROW}
    hidden = {
        rule.rule
        for rule in our_rules(world.app)
        if "GET" in rule.methods and admin.open("GET", url_for_rule(rule, world.ids)).status_code == 404
    }
    assert hidden == {
        rule.rule
        for rule in our_rules(world.app)
        if "GET" in rule.methods and flag in world.app.view_functions[rule.endpoint].entra_guard.flags
    }


def test_store_outage_hides_surfaces_in_a_fresh_process_without_a_500(
    world: World, admin: Session, caplog: pytest.LogCaptureFixture
) -> None:
    set_flags(admin, ALL_ON)
    world.take_store_down()
    try:
        with (
            caplog.at_level(logging.WARNING, logger="flask_entra.flags"),
            world.another_process(OTHER_PROCESS_REFRESH_SECONDS) as cold,
        ):  # started during the outage: it has nothing cached
            cold_admin = sign_in(cold, PERSONAS["admin"])
            problems = walk_routes(
                cold, cold_admin, "admin", world.ids, flags_on=False, tolerated_errors=frozenset({"flag_store_error"})
            )
            assert not problems, "\n".join(problems)
            assert CARD not in cold_admin.open("GET", "/settings/integrations").get_data(as_text=True)
            client_page = cold_admin.open("GET", f"/clients/{world.ids['kept_client_id']}")
            assert client_page.status_code == 200 and SYNC_BUTTON not in client_page.get_data(as_text=True)
            assert any(r.name == "flask_entra.flags" and r.levelno == logging.WARNING for r in caplog.records)

            # This process read the flags before the outage and keeps them; a flag change is refused, not a 500.
            assert admin.open("GET", API).status_code == 200
            refused = admin.open("PATCH", f"{FLAGS_API}/{UI}", json={"enabled": False})
            assert refused.status_code == 503 and refused.get_json()["error"] == "flag_store_error"
            if world.secret:
                assert world.secret not in refused.get_data(as_text=True)

            world.bring_store_back()
            wait_until(
                lambda: cold_admin.open("GET", API).status_code == 200,
                OTHER_PROCESS_REFRESH_SECONDS + FOLLOW_MARGIN_SECONDS,
            )
    finally:
        world.bring_store_back()


def test_another_process_follows_within_its_refresh_interval(world: World, admin: Session) -> None:
    set_flags(admin, ALL_ON)
    with world.another_process(OTHER_PROCESS_REFRESH_SECONDS) as other:
        other_admin = sign_in(other, PERSONAS["admin"])
        assert other_admin.open("GET", API).status_code == 200
        limit = OTHER_PROCESS_REFRESH_SECONDS + FOLLOW_MARGIN_SECONDS

        api(admin, "PATCH", f"{FLAGS_API}/{UI}", {"enabled": False})
        wait_until(lambda: other_admin.open("GET", API).status_code == 404, limit)
        api(admin, "PATCH", f"{FLAGS_API}/{UI}", {"enabled": True})
        wait_until(lambda: other_admin.open("GET", API).status_code == 200, limit)
