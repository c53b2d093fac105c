"""R7-R9 of issue 9: the OAuth sign-in and the redirects refuse forgery, other tenants' ids reveal and change nothing,
and no secret ever reaches a response or a log line.

CSRF on every write route is proven in tests/test_access_matrix.py; here are the sign-in's own protections (state
single use and bound to tenant and user, PKCE) and the open-redirect checks. Everything runs through the HTTP routes
of a real world (PostgreSQL, the simulator, Temporal with a worker), with every logger recorded at DEBUG.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, quote, urljoin, urlsplit

import pytest
from flask import Flask
from sqlalchemy import func, select, text
from temporalio.client import Client

from example_host.models import Contact, User, db
from flask_entra import secrets as names
from flask_entra.models import Connection, EntraBase, ReconciliationItem, SyncRun, SyncRunTenant, TenantMapping
from flask_entra.simulator import DEFAULT_CIPP_CLIENT_SECRET, DEFAULT_CLIENT_SECRET
from flask_entra.state import get_state
from tests.plugins.api_world import API, ApiWorld
from tests.plugins.host import PASSWORD, Session, csrf_from, set_all_flags, sign_in

API_WORLD_LOG_LEVEL = logging.DEBUG
CONNECT_PAGE = "/settings/integrations/entra/connect"
SECOND_ADMIN = "second.admin@acme.test"
ID_ARGUMENTS = {"entra_tenant_id", "run_id", "item_id", "client_id"}


def connections(app: Flask, tenant: str = "acme") -> list[tuple[str, str, str]]:
    with app.app_context():
        rows = get_state().session.execute(select(Connection).filter_by(tenant=tenant).order_by(Connection.id))
        return [(row.id, row.connection_type, row.status) for row in rows.scalars()]


def refresh_token(app: Flask) -> str | None:
    with app.app_context():
        return get_state().secrets.get("acme", names.DIRECT_REFRESH_TOKEN)


def refused(response: Any) -> bool:
    """The callback refused: back to the connect step, where the advice is shown."""
    return response.status_code == 302 and urlsplit(response.headers["Location"]).path == CONNECT_PAGE


@pytest.fixture(scope="module")
def second_admin(api_world: ApiWorld) -> Session:
    """Another acme user holding system_settings:update."""
    with api_world.app.app_context():
        user = User(tenant="acme", email=SECOND_ADMIN, full_name="Second Admin", role="admin")
        user.set_password(PASSWORD)
        db.session.add(user)
        db.session.commit()
    return sign_in(api_world.app, SECOND_ADMIN)


# -- R7: the OAuth sign-in --------------------------------------------------------------------------------------------


def test_tampered_state_is_refused_then_the_genuine_one_connects(api_world: ApiWorld) -> None:
    callback = api_world.authorize(api_world.api("POST", "/connect/direct")["authorize_url"])
    state = parse_qs(urlsplit(callback).query)["state"][0]
    before, token = connections(api_world.app), refresh_token(api_world.app)
    for forged in (state[:-1] + ("A" if state[-1] != "A" else "B"), state + "x", "", state.upper()):
        assert refused(api_world.call("GET", callback.replace(f"state={state}", f"state={quote(forged)}")))
    assert connections(api_world.app) == before and refresh_token(api_world.app) == token
    assert api_world.call("GET", callback).headers["Location"].endswith("/discover")
    assert len(connections(api_world.app)) == len(before) + 1


def test_replayed_state_is_refused_even_with_a_fresh_code(api_world: ApiWorld) -> None:
    authorize_url = api_world.api("POST", "/connect/direct")["authorize_url"]
    first = api_world.authorize(authorize_url)
    assert not refused(api_world.call("GET", first))
    after = connections(api_world.app)
    assert refused(api_world.call("GET", first))  # the same callback again
    assert refused(api_world.call("GET", api_world.authorize(authorize_url)))  # same state, new code
    assert connections(api_world.app) == after


def test_state_of_another_user_or_tenant_is_refused(api_world: ApiWorld, second_admin: Session) -> None:
    callback = api_world.authorize(api_world.api("POST", "/connect/direct")["authorize_url"])
    before, token = connections(api_world.app), refresh_token(api_world.app)
    assert refused(second_admin.open("GET", callback))
    assert refused(api_world.call("GET", callback, persona="other_admin"))
    assert connections(api_world.app) == before and refresh_token(api_world.app) == token
    assert connections(api_world.app, "globex") == []
    assert not refused(api_world.call("GET", callback))  # still good for the user who started it


def test_injected_code_fails_pkce_at_the_identity_platform_and_nothing_is_saved(api_world: ApiWorld) -> None:
    """An attacker's own authorization code (its own PKCE challenge) pasted into the victim's callback."""
    victim = api_world.authorize(api_world.api("POST", "/connect/direct")["authorize_url"])
    attacker_url = api_world.api("POST", "/connect/direct", persona="other_admin")["authorize_url"]
    attacker_code = parse_qs(urlsplit(api_world.authorize(attacker_url)).query)["code"][0]
    victim_state = parse_qs(urlsplit(victim).query)["state"][0]
    before, token = connections(api_world.app), refresh_token(api_world.app)
    api_world.world.sim.clear_request_log()
    injected = f"{urlsplit(victim).path}?state={quote(victim_state)}&code={quote(attacker_code)}"
    assert refused(api_world.call("GET", injected))
    token_calls = [e for e in api_world.world.sim.request_log() if e["path"].endswith("/oauth2/v2.0/token")]
    assert [e["status"] for e in token_calls] == [400]  # the verifier did not match the attacker's challenge
    assert connections(api_world.app) == before and refresh_token(api_world.app) == token
    page = api_world.call("GET", CONNECT_PAGE).get_data(as_text=True)
    assert "Connecting failed" in page


OFF_SITE = (
    "https://evil.example/",
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "https:evil.example",
    "/\t/evil.example/",
    "/%09/evil.example/",
    "/\n/evil.example",
    " //evil.example/",
    "javascript:alert(1)",
    "/%2F%2Fevil.example/",
    "http://localhost@evil.example/",
)


def lands_on_site(location: str) -> bool:
    """Where a browser goes: it drops tabs and newlines and treats backslashes as slashes."""
    cleaned = re.sub(r"[\t\n\r]", "", location).strip().replace("\\", "/")
    target = urlsplit(urljoin("http://localhost/", cleaned))
    return target.scheme == "http" and target.netloc == "localhost"


@pytest.mark.parametrize("target", OFF_SITE)
def test_login_never_redirects_off_site(api_world: ApiWorld, target: str) -> None:
    client = api_world.app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        f"/login?next={quote(target, safe='')}",
        data={"email": "admin@acme.test", "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code in (302, 303)
    assert lands_on_site(response.headers["Location"]), response.headers["Location"]


def test_our_redirects_stay_on_site(api_world: ApiWorld) -> None:
    """Pages send a signed-out user to the login with a local ``next``, even when the query carries an evil one."""
    client = api_world.app.test_client()
    page = client.get("/settings/integrations/entra?next=https://evil.example/&x=//evil.example")
    assert page.status_code == 302 and lands_on_site(page.headers["Location"])
    login = page.headers["Location"]
    token = csrf_from(client.get(login).get_data(as_text=True))
    signed_in = client.post(login, data={"email": "admin@acme.test", "password": PASSWORD, "csrf_token": token})
    assert lands_on_site(signed_in.headers["Location"]), signed_in.headers["Location"]
    forged = api_world.call("GET", "/api/auth/microsoft/entra/callback?state=x&code=y&next=https://evil.example/")
    assert refused(forged) and lands_on_site(forged.headers["Location"])


# -- R8: another tenant's ids -----------------------------------------------------------------------------------------


def checksum(app: Flask) -> tuple[str, int]:
    """A digest of every entra_* row and every host contact, and how many rows it covers."""
    rows: list[str] = []
    with app.app_context():
        session = get_state().session
        for table in [table.name for table in EntraBase.metadata.sorted_tables] + [Contact.__tablename__]:
            rows += (json.dumps([table, *map(str, row)]) for row in session.execute(text(f"SELECT * FROM {table}")))
        session.rollback()
    return hashlib.sha256("\n".join(sorted(rows)).encode()).hexdigest(), len(rows)


@pytest.fixture(scope="module")
def acme_ids(api_world: ApiWorld) -> dict[str, str]:
    """acme's real ids, with an open review item and a held run tenant so every id-bearing route has its target."""
    with api_world.app.app_context():
        session = get_state().session
        mapped = session.execute(select(TenantMapping).filter_by(tenant="acme", active=True, state="mapped")).scalars()
        mapping = next(iter(mapped))
        run = session.execute(select(SyncRun).filter_by(tenant="acme")).scalars().first()
        assert run is not None and mapping.client_id
        session.execute(
            SyncRunTenant.__table__.update()
            .where(
                SyncRunTenant.tenant == "acme",
                SyncRunTenant.run_id == run.id,
                SyncRunTenant.entra_tenant_id == mapping.entra_tenant_id,
            )
            .values(status="held")
        )
        contact = session.scalar(select(func.min(Contact.id)).where(Contact.tenant == "acme"))
        item = ReconciliationItem(
            tenant="acme",
            entra_tenant_id=mapping.entra_tenant_id,
            entra_object_id="r8-user",
            client_id=mapping.client_id,
            reason="multiple_candidates",
            candidate_contact_ids=[str(contact)],
            user={"display_name": "R8 User"},
        )
        session.add(item)
        session.commit()
        return {
            "entra_tenant_id": mapping.entra_tenant_id,
            "client_id": mapping.client_id,
            "run_id": run.id,
            "item_id": item.id,
            "contact_id": str(contact),
        }


def test_other_tenants_admin_gets_404_for_every_acme_id_and_changes_nothing(
    api_world: ApiWorld, acme_ids: dict[str, str]
) -> None:
    set_all_flags(api_world.app, True)
    before = checksum(api_world.app)
    probes = []
    for rule in api_world.app.url_map.iter_rules():
        if rule.endpoint.startswith("entra") and rule.arguments & ID_ARGUMENTS:
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: acme_ids[m.group(1)], rule.rule)
            probes += [(method, path, {}) for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})]
    assert len(probes) >= 7
    probes += [  # ids inside bodies
        (
            "POST",
            f"{API}/mappings/confirm",
            {
                "decisions": [
                    {
                        "entra_tenant_id": acme_ids["entra_tenant_id"],
                        "action": "map",
                        "client_id": acme_ids["client_id"],
                    }
                ]
            },
        ),
        ("POST", f"{API}/sync", {"scope": "client", "client_id": acme_ids["client_id"]}),
        (
            "POST",
            f"{API}/reconciliation/{acme_ids['item_id']}/resolve",
            {"action": "link_existing", "contact_id": acme_ids["contact_id"]},
        ),
    ]
    problems = []
    for method, path, body in probes:
        response = api_world.call(method, path, body, persona="other_admin")
        if response.status_code != 404 or "R8 User" in response.get_data(as_text=True):
            problems.append(f"{method} {path}: {response.status_code}")
    assert not problems, problems
    assert checksum(api_world.app) == before
    assert before[1] > 50  # the digest really covers acme's data
    # the same calls by acme's own admin do reach the objects (the 404s above were not for missing ids)
    assert api_world.call("GET", f"{API}/sync/runs/{acme_ids['run_id']}").status_code == 200
    print(f"R8: {len(probes)} requests by globex's admin with acme's ids, all 404; {before[1]} rows unchanged")


# -- R9: secrets never leave the secret store --------------------------------------------------------------------------


def visit_everything(world: ApiWorld) -> int:
    """Every GET route of ours (pages and API), with acme's real ids; returns how many were fetched."""
    ids = {
        "run_id": [r["run_id"] for r in world.api("GET", "/sync/runs")["runs"]],
        "entra_tenant_id": [t["entra_tenant_id"] for t in world.api("GET", "/tenants")["tenants"]],
    }
    fetched = 0
    for rule in world.app.url_map.iter_rules():
        if not rule.endpoint.startswith("entra") or "GET" not in (rule.methods or set()):
            continue
        arguments = sorted(rule.arguments)
        values = ids[arguments[0]] if arguments else [None]
        for value in values:
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", str(value), rule.rule)
            if "callback" not in path:
                world.call("GET", path)
                fetched += 1
    return fetched


def stored_failures(app: Flask) -> list[str]:
    with app.app_context():
        session = get_state().session
        texts = [
            *session.scalars(select(SyncRun.error)),
            *session.scalars(select(SyncRunTenant.error)),
            *session.scalars(select(Connection.last_error)),
        ]
    return [t for t in texts if t]


def workflow_histories(world: ApiWorld) -> Iterator[str]:
    async def histories(client: Client) -> list[str]:
        found = []
        async for execution in client.list_workflows("WorkflowId STARTS_WITH 'entra-'"):
            history = await client.get_workflow_handle(execution.id, run_id=execution.run_id).fetch_history()
            found.append(history.to_json())
        return found

    yield from world.world.temporal.call(histories)


def test_no_secret_in_any_response_page_log_line_or_workflow_failure(api_world: ApiWorld) -> None:
    world, sim = api_world, api_world.world.sim
    set_all_flags(world.app, True)
    pages = visit_everything(world)
    failing = next(
        t["entra_tenant_id"]
        for t in world.api("GET", "/tenants")["tenants"]
        if t["mapping"] and t["mapping"]["state"] == "mapped"
    )
    sim.set_faults(no_consent=[failing])  # that tenant's token requests fail (AADSTS65001, not retried)
    sim.expire_access_tokens()
    partial = world.sync()
    assert partial["status"] == "partial"
    assert any(t["error"] and t["entra_tenant_id"] == failing for t in partial["tenants"])
    pages += visit_everything(world)
    assert world.connect_cipp(DEFAULT_CIPP_CLIENT_SECRET)["type"] == "cipp"
    assert world.api("POST", "/validate")["ok"]
    assert world.discover()["status"] == "completed"
    world.sync()
    pages += visit_everything(world)
    sim.set_faults(no_consent=[])

    secrets = {"microsoft client secret": DEFAULT_CLIENT_SECRET, "cipp client secret": DEFAULT_CIPP_CLIENT_SECRET}
    issued = list(world.world.server.state.tokens._refresh)  # every refresh token the simulator ever issued
    assert issued, "the Direct sign-in issued no refresh token"
    secrets.update({f"refresh token {n}": token for n, token in enumerate(issued)})
    haystacks = {
        "response bodies": world.bodies,
        "log lines": world.logs.lines,
        "stored failures": stored_failures(world.app),
        "workflow histories": list(workflow_histories(world)),
    }
    assert haystacks["stored failures"] and len(haystacks["workflow histories"]) >= 3
    recorded = {line.split()[2] for line in world.logs.lines}  # the logger names: the worker and HTTP clients too
    assert {"httpx", "temporalio.activity"} <= recorded and any(n.startswith("flask_entra") for n in recorded)
    found = [
        f"{name} in {where}"
        for name, value in secrets.items()
        for where, texts in haystacks.items()
        if any(form in t for t in texts for form in {value, quote(value, safe=""), json.dumps(value)[1:-1]})
    ]
    assert not found, found
    print(
        f"R9: {len(secrets)} secrets searched in {len(world.bodies)} response bodies ({pages} page/API reads), "
        f"{len(world.logs.lines)} log lines, {len(haystacks['stored failures'])} stored failures, "
        f"{len(haystacks['workflow histories'])} workflow histories: found 0"
    )
