"""Step 1 of the wizard through the example host's own routes: the Direct OAuth dance against the simulated identity
platform, CIPP connect, validate, disconnect, and the connect page. Every test also proves (in the fixture) that no
secret value reached a response body, a page or a log line."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import update

from flask_entra.models import OAuthState, utcnow
from flask_entra.secrets import names
from flask_entra.simulator import (
    DEFAULT_CIPP_CLIENT_ID,
    DEFAULT_CIPP_CLIENT_SECRET,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
)
from flask_entra.state import get_state
from tests.plugins.connect_flows import (
    API,
    CONNECT_PAGE,
    DISCOVER_PAGE,
    OTHER_TENANT_ADMIN,
    SECOND_ADMIN,
    ConnectWorld,
    cipp_details,
    connect_direct,
    flash_after,
    nothing_saved,
    partner_sign_in,
    with_params,
)
from tests.plugins.openbao import free_port

RELATIONSHIPS = "/graph/v1.0/tenantRelationships/delegatedAdminRelationships"


# --- Direct: the OAuth dance ---------------------------------------------------------------------------------------


def test_direct_sign_in_stores_the_refresh_token_only_in_the_secret_store_and_leads_to_discovery(
    fresh_connect_world: ConnectWorld,
) -> None:
    world = fresh_connect_world
    admin = world.admin()
    callback = partner_sign_in(admin)
    world.sim.clear_request_log()

    category, message = flash_after(admin, admin.client.get(callback), DISCOVER_PAGE)

    assert category == "ok" and "discover" in message
    connection = world.active()
    assert connection is not None and connection.connection_type == "direct"
    assert connection.partner_tenant_id == world.sim.partner_tenant_id
    assert connection.validated_at is not None and connection.last_error is None
    token = world.secret(names.DIRECT_REFRESH_TOKEN)
    assert token and token not in world.database_text()
    # Nothing was trusted on the redirect alone: Graph was read with the new sign-in before the save.
    assert any(r["path"] == RELATIONSHIPS and r["status"] == 200 for r in world.sim.request_log())
    # The stored token is a live one: a worker can reach a customer tenant with it (the GDAP step).
    customer = world.sim.dataset()["customers"][0]["tenantId"]
    assert world.sim.customer_token(token, customer).status_code == 200
    page = admin.client.get(CONNECT_PAGE).get_data(as_text=True)
    assert 'id="current-connection"' in page and "Direct partner sign-in" in page
    assert world.sim.partner_tenant_id in page


def test_a_reconnect_replaces_the_connection_and_its_refresh_token(fresh_connect_world: ConnectWorld) -> None:
    world = fresh_connect_world
    admin = world.admin()
    for _ in range(2):
        flash_after(admin, admin.client.get(partner_sign_in(admin)), DISCOVER_PAGE)
        world.extra_secrets.add(world.secret(names.DIRECT_REFRESH_TOKEN) or "")

    statuses = sorted(c.status for c in world.connections())
    assert statuses == ["active", "disconnected"]
    assert len(world.extra_secrets) == 2  # the second sign-in's token replaced the first one


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"state": "forged-by-someone-else"}, "could not be matched"),
        ({"state": None}, "could not be matched"),
        ({"code": None}, "no authorization code"),
    ],
    ids=["forged-state", "no-state", "no-code"],
)
def test_a_callback_without_its_own_state_or_code_saves_nothing(
    fresh_connect_world: ConnectWorld, changes: dict[str, str | None], expected: str
) -> None:
    world = fresh_connect_world
    admin = world.admin()
    callback = partner_sign_in(admin)

    category, message = flash_after(admin, admin.client.get(with_params(callback, **changes)), CONNECT_PAGE)

    assert category == "error" and expected in message and "Start again from the Connect step." in message
    nothing_saved(world)


def test_a_state_is_single_use_even_when_its_first_use_failed(fresh_connect_world: ConnectWorld) -> None:
    world = fresh_connect_world
    admin = world.admin()
    callback = partner_sign_in(admin)
    flash_after(admin, admin.client.get(with_params(callback, code=None)), CONNECT_PAGE)

    # Replayed with the genuine, still unredeemed code: the spent state refuses it.
    category, message = flash_after(admin, admin.client.get(callback), CONNECT_PAGE)

    assert category == "error" and "reused" in message
    nothing_saved(world)


def test_a_replayed_successful_callback_changes_nothing(fresh_connect_world: ConnectWorld) -> None:
    world = fresh_connect_world
    admin = world.admin()
    callback = partner_sign_in(admin)
    flash_after(admin, admin.client.get(callback), DISCOVER_PAGE)
    connected = world.connections()
    token = world.secret(names.DIRECT_REFRESH_TOKEN)

    category, message = flash_after(admin, admin.client.get(callback), CONNECT_PAGE)

    assert category == "error" and "reused" in message
    assert [(c.id, c.status) for c in world.connections()] == [(c.id, c.status) for c in connected]
    assert world.secret(names.DIRECT_REFRESH_TOKEN) == token


def test_the_state_is_bound_to_the_user_and_tenant_that_started_the_sign_in(fresh_connect_world: ConnectWorld) -> None:
    world = fresh_connect_world
    admin = world.admin()
    callback = partner_sign_in(admin)

    for intruder in (SECOND_ADMIN, OTHER_TENANT_ADMIN):
        session = world.admin(intruder)
        category, message = flash_after(session, session.client.get(callback), CONNECT_PAGE)
        assert category == "error" and "could not be matched" in message
    nothing_saved(world)
    assert world.connections("globex") == []

    # The intruders neither used nor burnt it: the admin who started the sign-in still completes it.
    flash_after(admin, admin.client.get(callback), DISCOVER_PAGE)
    assert world.active() is not None


def test_an_expired_state_is_refused(fresh_connect_world: ConnectWorld) -> None:
    world = fresh_connect_world
    admin = world.admin()
    callback = partner_sign_in(admin)
    with world.app.app_context():
        session = get_state().session
        session.execute(update(OAuthState).values(created_at=utcnow() - timedelta(minutes=16)))
        session.commit()

    category, message = flash_after(admin, admin.client.get(callback), CONNECT_PAGE)

    assert category == "error" and "expired" in message
    nothing_saved(world)


def test_a_declined_consent_comes_back_as_advice(fresh_connect_world: ConnectWorld) -> None:
    world = fresh_connect_world
    admin = world.admin()
    callback = partner_sign_in(admin, consent="cancel")  # the partner admin presses Cancel at Microsoft
    assert parse_qs(urlsplit(callback).query)["error"] == ["access_denied"]

    category, message = flash_after(admin, admin.client.get(callback), CONNECT_PAGE)

    assert category == "error"
    assert "Microsoft refused the sign-in (access_denied, AADSTS65004)." in message
    assert "accept them" in message and "Global Administrator" in message
    nothing_saved(world)


def test_missing_admin_consent_comes_back_as_advice(fresh_connect_world: ConnectWorld) -> None:
    world = fresh_connect_world
    world.sim.set_faults(authorize_error="consent_required")
    admin = world.admin()

    category, message = flash_after(admin, admin.client.get(partner_sign_in(admin)), CONNECT_PAGE)

    assert category == "error" and "(consent_required" in message
    assert "not consented in your partner tenant" in message and "admin consent" in message
    nothing_saved(world)


def test_missing_consent_as_microsoft_words_it_names_the_aadsts_code(fresh_connect_world: ConnectWorld) -> None:
    """The redirect Microsoft sends when the app lacks consent: error and AADSTS65001 in the description."""
    world = fresh_connect_world
    admin = world.admin()
    refused = with_params(
        partner_sign_in(admin),
        code=None,
        error="interaction_required",
        error_description="AADSTS65001: The user or administrator has not consented to use the application.",
    )

    category, message = flash_after(admin, admin.client.get(refused), CONNECT_PAGE)

    assert category == "error" and "AADSTS65001" in message and "admin consent" in message
    nothing_saved(world)


def test_a_failed_graph_probe_saves_nothing(fresh_connect_world: ConnectWorld) -> None:
    world = fresh_connect_world
    admin = world.admin()
    callback = partner_sign_in(admin)
    world.sim.set_faults(unavailable=[{"path": "delegatedAdminRelationships", "retry_after": 0}])

    category, message = flash_after(admin, admin.client.get(callback), CONNECT_PAGE)

    assert category == "error" and "Microsoft Graph could not be read" in message and "HTTP 503" in message
    assert "Nothing was saved" in message
    nothing_saved(world)


def test_a_refused_code_redemption_saves_nothing(fresh_connect_world: ConnectWorld) -> None:
    world = fresh_connect_world
    admin = world.admin()
    callback = partner_sign_in(admin)
    # The code redeemed once already (say, by an attacker who intercepted it): Microsoft answers AADSTS54005.
    code = parse_qs(urlsplit(callback).query)["code"][0]
    world.sim.http.post(
        world.sim.token_url("organizations"),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
        },
    )

    category, message = flash_after(admin, admin.client.get(callback), CONNECT_PAGE)

    assert category == "error" and "AADSTS54005" in message and "start the connection again" in message
    nothing_saved(world)


def test_a_secret_store_that_cannot_be_written_saves_nothing(fresh_connect_world: ConnectWorld) -> None:
    world = fresh_connect_world
    admin = world.admin()
    callback = partner_sign_in(admin)
    tenants_dir = Path(world.app.config["ENTRA_SECRETS_DIR"]) / "tenants"
    shutil.rmtree(tenants_dir, ignore_errors=True)
    tenants_dir.write_text("a file where the tenants' directory belongs")  # root ignores modes; this it cannot
    try:
        category, message = flash_after(admin, admin.client.get(callback), CONNECT_PAGE)
    finally:
        tenants_dir.unlink()

    assert category == "error" and "Cannot change the secret file" in message and "ENTRA_SECRETS_DIR" in message
    nothing_saved(world)


# --- validate and disconnect -----------------------------------------------------------------------------------------


def test_validate_records_success_and_persists_the_rotated_refresh_token(fresh_connect_world: ConnectWorld) -> None:
    world = fresh_connect_world
    connect_direct(world)
    before = world.active()
    token = world.secret(names.DIRECT_REFRESH_TOKEN)
    assert before is not None and token

    answer = world.admin().open("POST", f"{API}/validate", json={})

    assert answer.status_code == 200 and answer.get_json()["ok"] is True
    after = world.active()
    assert after is not None and after.last_error is None
    assert after.validated_at is not None and before.validated_at is not None
    assert after.validated_at > before.validated_at
    rotated = world.secret(names.DIRECT_REFRESH_TOKEN)
    assert rotated and rotated != token  # Microsoft rotated it during the probe; the store has the new one
    customer = world.sim.dataset()["customers"][0]["tenantId"]
    assert world.sim.customer_token(rotated, customer).status_code == 200


def test_validate_records_the_failure_and_the_page_shows_it(fresh_connect_world: ConnectWorld) -> None:
    world = fresh_connect_world
    connect_direct(world)
    validated_at = world.active().validated_at  # type: ignore[union-attr]
    world.sim.revoke_refresh_tokens()  # 90 days of inactivity, as Microsoft sees it
    admin = world.admin()

    answer = admin.open("POST", f"{API}/validate", json={})

    assert answer.status_code == 200 and answer.get_json()["ok"] is False
    connection = world.active()
    assert connection is not None and connection.validated_at == validated_at
    assert connection.last_error and "AADSTS700082" in connection.last_error
    assert "reconnect Microsoft" in connection.last_error
    page = admin.client.get(CONNECT_PAGE).get_data(as_text=True)
    assert "AADSTS700082" in page and "reconnect Microsoft" in page


def test_disconnect_removes_the_secrets_and_keeps_the_history(fresh_connect_world: ConnectWorld) -> None:
    world = fresh_connect_world
    connect_direct(world)
    admin = world.admin()

    answer = admin.open("POST", f"{API}/disconnect", json={})

    assert answer.status_code == 200
    assert world.stored_secrets() == {}
    assert [(c.status, c.disconnected_at is not None) for c in world.connections()] == [("disconnected", True)]
    again = admin.open("POST", f"{API}/disconnect", json={})
    assert again.status_code == 409
    assert admin.open("POST", f"{API}/validate", json={}).status_code == 409


# --- CIPP ------------------------------------------------------------------------------------------------------------


def test_cipp_connect_probes_then_stores_its_credentials_as_secrets_only(fresh_connect_world: ConnectWorld) -> None:
    world = fresh_connect_world
    world.sim.clear_request_log()

    answer = world.admin().open("POST", f"{API}/connect/cipp", json=cipp_details(world))

    assert answer.status_code == 200, answer.get_json()
    connection = world.active()
    assert connection is not None and connection.connection_type == "cipp"
    assert connection.cipp_base_url == world.sim.cipp_base_url
    assert world.stored_secrets() == {
        names.CIPP_CLIENT_ID: DEFAULT_CIPP_CLIENT_ID,
        names.CIPP_CLIENT_SECRET: DEFAULT_CIPP_CLIENT_SECRET,
        names.CIPP_TENANT_ID: world.sim.partner_tenant_id,
    }
    rows = world.database_text()
    assert DEFAULT_CIPP_CLIENT_SECRET not in rows and DEFAULT_CIPP_CLIENT_ID not in rows
    probed = [r["path"] for r in world.sim.request_log()]
    assert "/cipp/api/me" in probed and "/cipp/api/ListTenants" in probed


@pytest.mark.parametrize(
    ("fault", "changes", "expected"),
    [
        ({}, {"client_secret": "typed-wrong-secret-value"}, "The client secret is wrong or expired"),
        ({"cipp_list_tenants_failure": True}, {}, "cannot list tenants: CIPP ListTenants reported a failure"),
        ({}, {"base_url": "http://127.0.0.1:{port}/cipp"}, "reachable"),
    ],
    ids=["wrong-secret", "failure-as-http-200", "unreachable-url"],
)
def test_a_failed_cipp_probe_answers_advice_and_saves_nothing(
    fresh_connect_world: ConnectWorld, fault: dict[str, bool], changes: dict[str, str], expected: str
) -> None:
    world = fresh_connect_world
    world.extra_secrets.add("typed-wrong-secret-value")
    if fault:
        world.sim.set_faults(**fault)
    details = cipp_details(world, **{k: v.format(port=free_port()) for k, v in changes.items()})

    answer = world.admin().open("POST", f"{API}/connect/cipp", json=details)

    assert answer.status_code == 400
    body = answer.get_json()
    assert body["error"] == "connection_failed" and expected in body["message"]
    nothing_saved(world)


def test_switching_type_removes_the_other_types_secrets(fresh_connect_world: ConnectWorld) -> None:
    world = fresh_connect_world
    connect_direct(world)
    world.extra_secrets.add(world.secret(names.DIRECT_REFRESH_TOKEN) or "")
    admin = world.admin()

    assert admin.open("POST", f"{API}/connect/cipp", json=cipp_details(world)).status_code == 200
    assert set(world.stored_secrets()) == set(names.CIPP_SECRET_NAMES)

    connect_direct(world)
    assert set(world.stored_secrets()) == {names.DIRECT_REFRESH_TOKEN}
    assert [c.connection_type for c in world.connections() if c.status == "active"] == ["direct"]
    assert len(world.connections()) == 3


def test_the_connect_page_offers_cipp_only_with_its_flag(fresh_connect_world: ConnectWorld) -> None:
    world = fresh_connect_world
    admin = world.admin()
    page = admin.client.get(CONNECT_PAGE).get_data(as_text=True)
    assert 'id="cipp-form"' in page and 'id="connect-direct"' in page

    world.set_cipp_flag(False)
    page = admin.client.get(CONNECT_PAGE).get_data(as_text=True)
    assert 'id="cipp-form"' not in page and 'id="connect-direct"' in page
    assert admin.open("POST", f"{API}/connect/cipp", json=cipp_details(world)).status_code == 404
    nothing_saved(world)
