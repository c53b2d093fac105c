"""The simulated identity platform at HTTP level: authorize -> code -> token with PKCE, refresh at customer authorities,
client credentials, and the AADSTS error bodies adapters turn into operator advice."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from flask_entra.simulator import DEFAULT_REDIRECT_URIS, GRAPH_RESOURCE, PARTNER_SCOPES, SimulatorClient

REDIRECT = "http://localhost:5000/api/auth/microsoft/entra/callback"  # any loopback port, as Entra allows


def _authorize(sim: SimulatorClient, **overrides: str) -> tuple[str, dict[str, str]]:
    """Accept the consent page the way a browser would; return (verifier, the redirect's query)."""
    verifier = "v" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    params = {
        "client_id": sim.credentials.client_id,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": " ".join(PARTNER_SCOPES),
        "state": "st4te",
        "nonce": "n0nce",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **overrides,
    }
    page = sim.http.get(f"/login/{sim.partner_tenant_id}/oauth2/v2.0/authorize", params=params)
    assert page.status_code == 200 and 'id="accept"' in page.text
    answer = sim.http.post(
        f"/login/{sim.partner_tenant_id}/oauth2/v2.0/authorize", params=params, data={"consent": "accept"}
    )
    assert answer.status_code == 302
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    return verifier, {k: v[0] for k, v in parse_qs(location.query).items()}


def _redeem(sim: SimulatorClient, code: str, verifier: str, redirect_uri: str = REDIRECT) -> Any:
    return sim.http.post(
        sim.token_url(sim.partner_tenant_id),
        data={
            "client_id": sim.credentials.client_id,
            "client_secret": sim.credentials.client_secret,
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        },
    )


def _aadsts(response: Any) -> int:
    body = response.json()
    assert body["error_description"].startswith(f"AADSTS{body['error_codes'][0]}:")
    assert {"trace_id", "correlation_id", "timestamp"} <= body.keys()
    return int(body["error_codes"][0])


def test_authorization_code_with_pkce_gives_tokens_and_an_id_token_that_verifies(
    fresh_simulator: SimulatorClient,
) -> None:
    sim = fresh_simulator
    verifier, answer = _authorize(sim)
    assert answer["state"] == "st4te"
    tokens = _redeem(sim, answer["code"], verifier).json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3599
    assert {"access_token", "refresh_token", "id_token"} <= tokens.keys()

    discovery = sim.http.get(f"/login/{sim.partner_tenant_id}/v2.0/.well-known/openid-configuration").json()
    assert discovery["issuer"] == f"{sim.login_base_url}/{sim.partner_tenant_id}/v2.0"
    assert discovery["token_endpoint"] == sim.token_url(sim.partner_tenant_id)
    keys = KeySet.import_key_set(sim.http.get(discovery["jwks_uri"]).json())
    claims = jwt.decode(tokens["id_token"], keys, algorithms=["RS256"]).claims
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": discovery["issuer"]},
        aud={"essential": True, "value": sim.credentials.client_id},
        nonce={"essential": True, "value": "n0nce"},
        exp={"essential": True},
    ).validate(claims)
    partner_admin = sim.dataset()["partner"]["users"][0]
    assert claims["tid"] == sim.partner_tenant_id and claims["oid"] == partner_admin["id"]
    assert claims["preferred_username"] == partner_admin["userPrincipalName"]
    assert claims["name"] == partner_admin["displayName"] and claims["iat"] <= time.time() < claims["exp"]


def test_wrong_verifier_reused_code_and_other_redirect_are_refused(fresh_simulator: SimulatorClient) -> None:
    sim = fresh_simulator
    _, answer = _authorize(sim)
    wrong = _redeem(sim, answer["code"], "not-the-verifier-" * 3)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant" and _aadsts(wrong) == 501481
    again = _redeem(sim, answer["code"], "v" * 50)  # the code was consumed by the failed attempt
    assert again.status_code == 400 and _aadsts(again) == 54005
    verifier, answer = _authorize(sim)
    moved = _redeem(sim, answer["code"], verifier, redirect_uri="http://localhost:5000/elsewhere")
    assert moved.status_code == 400 and _aadsts(moved) == 500112


def test_authorize_checks_the_app_and_redirect_uri_and_reports_errors_by_redirect(
    fresh_simulator: SimulatorClient,
) -> None:
    sim = fresh_simulator
    authorize = f"/login/{sim.partner_tenant_id}/oauth2/v2.0/authorize"
    base = {
        "client_id": sim.credentials.client_id,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": "openid offline_access",
        "state": "s",
    }
    unknown_app = sim.http.get(authorize, params={**base, "client_id": "00000000-0000-0000-0000-000000000000"})
    assert unknown_app.status_code == 400 and "AADSTS700016" in unknown_app.text
    foreign = sim.http.get(authorize, params={**base, "redirect_uri": "https://attacker.example/callback"})
    assert foreign.status_code == 400 and "AADSTS50011" in foreign.text
    declined = sim.http.post(authorize, params=base, data={"consent": "cancel"})
    assert parse_qs(urlsplit(declined.headers["location"]).query)["error"] == ["access_denied"]
    sim.set_faults(authorize_error="consent_required")
    knob = sim.http.get(authorize, params=base)
    assert knob.status_code == 302
    query = parse_qs(urlsplit(knob.headers["location"]).query)
    assert query["error"] == ["consent_required"] and query["state"] == ["s"]


def test_refresh_at_customer_authorities_rotates_and_enforces_gdap_and_consent(
    fresh_simulator: SimulatorClient,
) -> None:
    sim = fresh_simulator
    customers = sim.dataset()["customers"]
    first, second, third = (c["tenantId"] for c in customers[:3])
    refresh = sim.sign_in()["refresh_token"]
    granted = sim.customer_token(refresh, first)
    assert granted.status_code == 200 and granted.json()["refresh_token"] != refresh
    assert sim.customer_token(refresh, first).status_code == 200  # the old refresh token still works for a while
    assert sim.customer_token(granted.json()["refresh_token"], first).status_code == 200

    sim.revoke_consent(second)
    no_consent = sim.customer_token(refresh, second)
    assert no_consent.status_code == 400 and _aadsts(no_consent) == 65001
    assert no_consent.json()["suberror"] == "consent_required" and no_consent.json()["error"] == "invalid_grant"
    sim.end_gdap(third)
    no_gdap = sim.customer_token(refresh, third)
    assert no_gdap.status_code == 400 and _aadsts(no_gdap) == 50020
    sim.set_faults(no_consent=[first])
    assert _aadsts(sim.customer_token(refresh, first)) == 65001
    unknown = sim.customer_token(refresh, "11111111-1111-1111-1111-111111111111")
    assert unknown.status_code == 400 and _aadsts(unknown) == 90002
    sim.revoke_refresh_tokens()
    assert _aadsts(sim.customer_token(refresh, sim.partner_tenant_id)) == 700082


def test_client_authentication_errors(fresh_simulator: SimulatorClient) -> None:
    sim = fresh_simulator
    form = {"grant_type": "refresh_token", "refresh_token": "x", "client_id": sim.credentials.client_id}
    bad_secret = sim.http.post(sim.token_url("organizations"), data={**form, "client_secret": "wrong"})
    assert bad_secret.status_code == 401 and bad_secret.json()["error"] == "invalid_client"
    assert _aadsts(bad_secret) == 7000215
    unknown = sim.http.post(sim.token_url("organizations"), data={**form, "client_id": "nope", "client_secret": "x"})
    assert unknown.status_code == 400 and _aadsts(unknown) == 700016
    basic = sim.http.post(
        sim.token_url("organizations"),
        data={"grant_type": "refresh_token", "refresh_token": "x"},
        auth=(sim.credentials.client_id, sim.credentials.client_secret),
    )
    assert _aadsts(basic) == 9002313  # authenticated by HTTP Basic; only the refresh token is wrong
    two_resources = sim.http.post(
        sim.token_url("organizations"),
        data={
            **form,
            "client_secret": sim.credentials.client_secret,
            "refresh_token": sim.sign_in()["refresh_token"],
            "scope": f"{GRAPH_RESOURCE}/User.Read.All api://{sim.credentials.cipp_client_id}/.default",
        },
    )
    assert _aadsts(two_resources) == 70011


def test_client_credentials_for_the_cipp_api_client(fresh_simulator: SimulatorClient) -> None:
    sim = fresh_simulator
    token = sim.cipp_token()
    assert sim.http.get(f"{sim.cipp_base_url}/api/GetVersion", headers={"Authorization": f"Bearer {token}"}).is_success
    graph_answer = sim.http.get(f"{sim.graph_base_url}/v1.0/users", headers={"Authorization": f"Bearer {token}"})
    assert graph_answer.status_code == 401  # a CIPP token is not a Graph token
    not_default = sim.http.post(
        sim.token_url(sim.partner_tenant_id),
        data={
            "client_id": sim.credentials.cipp_client_id,
            "client_secret": sim.credentials.cipp_client_secret,
            "grant_type": "client_credentials",
            "scope": f"api://{sim.credentials.cipp_client_id}/user_impersonation",
        },
    )
    assert not_default.status_code == 400 and not_default.json()["error"] == "invalid_scope"


@pytest.mark.parametrize("redirect_uri", [DEFAULT_REDIRECT_URIS[1].replace("127.0.0.1", "127.0.0.1:61234")])
def test_scripted_sign_in_helper_works_on_any_loopback_port(
    fresh_simulator: SimulatorClient, redirect_uri: str
) -> None:
    tokens = fresh_simulator.sign_in(redirect_uri=redirect_uri)
    me = fresh_simulator.http.get(
        f"{fresh_simulator.graph_base_url}/v1.0/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.json()["userPrincipalName"] == fresh_simulator.dataset()["partner"]["users"][0]["userPrincipalName"]
