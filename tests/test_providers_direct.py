"""The Direct provider (Graph + GDAP) and its sign-in helpers, against the Microsoft simulator."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import RSAKey

from flask_entra.errors import ProviderAuthError
from flask_entra.providers.direct import DirectProvider
from flask_entra.providers.direct_oauth import redeem_code, start_authorization, verify_id_token
from flask_entra.providers.http import HttpClient
from flask_entra.simulator import DEFAULT_REDIRECT_URIS, SimulatorClient
from tests.plugins.simulator import opened_http

REDIRECT_URI = DEFAULT_REDIRECT_URIS[0]
CONTOSO = "4fdb1c6e-0c4e-4f51-8a2b-6c1e2d3f4a01"
FABRIKAM = "4fdb1c6e-0c4e-4f51-8a2b-6c1e2d3f4a02"
TAILSPIN = "4fdb1c6e-0c4e-4f51-8a2b-6c1e2d3f4a04"
MakeProvider = Callable[..., DirectProvider]


def fast_http() -> HttpClient:
    return opened_http(timeout_seconds=10, max_retries=3, max_retry_after_seconds=5, backoff_base_seconds=0.01)


@pytest.fixture()
def make_provider() -> MakeProvider:
    def make(simulator: SimulatorClient, **options: Any) -> DirectProvider:
        settings: dict[str, Any] = {
            "client_id": simulator.credentials.client_id,
            "client_secret": simulator.credentials.client_secret,
            "partner_tenant_id": simulator.partner_tenant_id,
            "login_base_url": simulator.login_base_url,
            "graph_base_url": simulator.graph_base_url,
            "http": fast_http(),
        }
        if "refresh_token" not in options:
            settings["refresh_token"] = simulator.sign_in()["refresh_token"]
        return DirectProvider(**(settings | options))

    return make


def consent(authorize_url: str) -> dict[str, str]:
    """The partner admin accepts on the simulator's consent page; returns the callback's query."""
    response = httpx.post(authorize_url, data={"consent": "accept"}, follow_redirects=False)
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def test_sign_in_end_to_end_returns_partner_identity(fresh_demo_simulator: SimulatorClient) -> None:
    sim = fresh_demo_simulator
    request = start_authorization(
        client_id=sim.credentials.client_id, redirect_uri=REDIRECT_URI, login_base_url=sim.login_base_url
    )
    query = parse_qs(urlsplit(request.url).query)
    assert query["scope"] == [
        "openid profile offline_access https://graph.microsoft.com/DelegatedAdminRelationship"
        ".Read.All https://graph.microsoft.com/User.Read.All "
        "https://graph.microsoft.com/Directory.Read.All"
    ]
    assert query["prompt"] == ["select_account"] and query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"] == [create_s256_code_challenge(request.code_verifier)]
    assert query["state"] == [request.state] and query["nonce"] == [request.nonce]
    assert request.code_verifier not in request.url and request.code_verifier not in repr(request)

    callback = consent(request.url)
    assert callback["state"] == request.state
    with fast_http() as http:
        result = redeem_code(
            client_id=sim.credentials.client_id,
            client_secret=sim.credentials.client_secret,
            code=callback["code"],
            code_verifier=request.code_verifier,
            redirect_uri=REDIRECT_URI,
            nonce=request.nonce,
            login_base_url=sim.login_base_url,
            http=http,
        )
    partner = sim.dataset()["partner"]
    assert result.partner_tenant_id == partner["tenantId"]
    assert result.user_object_id in {u["id"] for u in partner["users"]}
    assert result.preferred_username and "@" in result.preferred_username
    assert result.refresh_token and result.refresh_token not in repr(result)
    provider = DirectProvider(
        client_id=sim.credentials.client_id,
        client_secret=sim.credentials.client_secret,
        refresh_token=result.refresh_token,
        partner_tenant_id=result.partner_tenant_id,
        login_base_url=sim.login_base_url,
        graph_base_url=sim.graph_base_url,
        http=fast_http(),
    )
    assert provider.validate().ok


def _authorized(sim: SimulatorClient) -> tuple[Any, dict[str, str]]:
    request = start_authorization(
        client_id=sim.credentials.client_id, redirect_uri=REDIRECT_URI, login_base_url=sim.login_base_url
    )
    return request, consent(request.url)


def test_a_wrong_nonce_is_refused(fresh_demo_simulator: SimulatorClient) -> None:
    sim = fresh_demo_simulator
    request, callback = _authorized(sim)
    with fast_http() as http, pytest.raises(ProviderAuthError, match="failed verification"):
        redeem_code(
            client_id=sim.credentials.client_id,
            client_secret=sim.credentials.client_secret,
            code=callback["code"],
            code_verifier=request.code_verifier,
            redirect_uri=REDIRECT_URI,
            nonce="another-sessions-nonce",
            login_base_url=sim.login_base_url,
            http=http,
        )


def test_a_wrong_code_verifier_or_a_reused_code_is_refused_with_advice(fresh_demo_simulator: SimulatorClient) -> None:
    sim = fresh_demo_simulator
    request, callback = _authorized(sim)
    common = {
        "client_id": sim.credentials.client_id,
        "client_secret": sim.credentials.client_secret,
        "code": callback["code"],
        "redirect_uri": REDIRECT_URI,
        "nonce": request.nonce,
        "login_base_url": sim.login_base_url,
    }
    with fast_http() as http:
        with pytest.raises(ProviderAuthError) as wrong_verifier:
            redeem_code(code_verifier="x" * 60, http=http, **common)
        with pytest.raises(ProviderAuthError) as reused:
            redeem_code(code_verifier=request.code_verifier, http=http, **common)
    assert wrong_verifier.value.aadsts == 501481
    assert reused.value.aadsts == 54005 and "again" in (reused.value.advice or "")
    assert callback["code"] not in str(reused.value) and sim.credentials.client_secret not in str(reused.value)


def test_an_id_token_signed_by_another_key_is_refused(fresh_demo_simulator: SimulatorClient) -> None:
    sim = fresh_demo_simulator
    forger = RSAKey.generate_key(2048, parameters={"kid": "forged"}, private=True)
    now = int(time.time())
    claims = {
        "iss": f"{sim.login_base_url}/{sim.partner_tenant_id}/v2.0",
        "aud": sim.credentials.client_id,
        "tid": sim.partner_tenant_id,
        "oid": "attacker",
        "nonce": "n",
        "iat": now,
        "exp": now + 600,
    }
    forged = jwt.encode({"alg": "RS256", "kid": "forged"}, claims, forger)
    with fast_http() as http, pytest.raises(ProviderAuthError, match="failed verification"):
        verify_id_token(
            forged, client_id=sim.credentials.client_id, nonce="n", http=http, login_base_url=sim.login_base_url
        )


def test_discovery_lists_active_gdap_customers_with_domains_and_expiry(
    fresh_demo_simulator: SimulatorClient, make_provider: MakeProvider
) -> None:
    tenants = {t.entra_tenant_id: t for t in make_provider(fresh_demo_simulator).list_managed_tenants()}
    assert len(tenants) == 5
    contoso = tenants[CONTOSO]
    assert contoso.display_name == "Contoso Ltd"
    assert contoso.default_domain == "contoso.com"
    assert set(contoso.verified_domains) >= {"contoso.com"}
    # The expired relationship and the Microsoft-led (MLT_) one do not decide the expiry.
    assert contoso.gdap_relationship_end == datetime(2031, 6, 30, tzinfo=UTC)
    assert tenants[FABRIKAM].gdap_relationship_end == datetime(2026, 12, 31, tzinfo=UTC)
    assert tenants[TAILSPIN].default_domain == "tailspin.onmicrosoft.com"


def test_terminated_gdap_leaves_discovery(fresh_demo_simulator: SimulatorClient, make_provider: MakeProvider) -> None:
    fresh_demo_simulator.end_gdap(FABRIKAM)
    ids = {t.entra_tenant_id for t in make_provider(fresh_demo_simulator).list_managed_tenants()}
    assert FABRIKAM not in ids and CONTOSO in ids


def test_domains_fall_back_to_tenant_information_without_customer_consent(
    fresh_demo_simulator: SimulatorClient, make_provider: MakeProvider
) -> None:
    fresh_demo_simulator.revoke_consent(CONTOSO)
    tenants = {t.entra_tenant_id: t for t in make_provider(fresh_demo_simulator).list_managed_tenants()}
    assert tenants[CONTOSO].default_domain == "contoso.com"
    assert tenants[CONTOSO].verified_domains == ("contoso.com",)
    paths = [entry["path"] for entry in fresh_demo_simulator.request_log()]
    assert any("findTenantInformationByTenantId" in p and CONTOSO in p for p in paths)


def test_a_rotated_refresh_token_is_handed_to_the_caller_and_works(
    fresh_demo_simulator: SimulatorClient, make_provider: MakeProvider
) -> None:
    rotated: list[str] = []
    provider = make_provider(fresh_demo_simulator, on_refresh_token=rotated.append)
    assert provider.validate().ok
    assert len(rotated) == 1
    successor = make_provider(fresh_demo_simulator, refresh_token=rotated[0])
    assert successor.validate().ok


def test_users_are_listed_across_pages_with_deleted_users(
    fresh_demo_simulator: SimulatorClient, make_provider: MakeProvider
) -> None:
    sim = fresh_demo_simulator
    provider = make_provider(sim, page_size=2)
    progress: list[int] = []
    listing = provider.list_users(CONTOSO, on_page=progress.append)
    contoso = next(c for c in sim.dataset()["customers"] if c["tenantId"] == CONTOSO)
    live = {u["id"] for u in contoso["users"] if not u.get("deletedDateTime")}
    deleted = {u["id"] for u in contoso["users"] if u.get("deletedDateTime")}
    assert listing.complete and listing.error is None and listing.skipped == []
    assert {u.object_id for u in listing.users} == live
    assert {u.object_id for u in listing.deleted} == deleted and all(u.deleted for u in listing.deleted)
    assert progress == sorted(progress) and progress[-1] == len(live) + len(deleted) and len(progress) >= 4
    user_requests = [e for e in sim.request_log() if e["path"] == "/graph/v1.0/users"]
    assert user_requests[0]["query"]["$select"].split(",")[:3] == ["id", "userPrincipalName", "mail"]
    assert user_requests[0]["query"]["$top"] == "2"


def test_a_listing_that_fails_mid_way_is_incomplete_with_what_was_read(
    fresh_simulator: SimulatorClient, make_provider: MakeProvider
) -> None:
    sim = fresh_simulator
    tenant_id = sim.dataset()["customers"][0]["tenantId"]
    sim.set_faults(fail_after_pages={tenant_id: 1})
    listing = make_provider(sim, page_size=50).list_users(tenant_id)
    assert not listing.complete
    assert len(listing.users) == 50
    assert "stopped after 1 page" in (listing.error or "")


def test_a_refused_customer_token_raises_with_aadsts_advice(
    fresh_demo_simulator: SimulatorClient, make_provider: MakeProvider
) -> None:
    fresh_demo_simulator.revoke_consent(CONTOSO)
    refresh_token = fresh_demo_simulator.sign_in()["refresh_token"]
    provider = make_provider(fresh_demo_simulator, refresh_token=refresh_token)
    with pytest.raises(ProviderAuthError) as caught:
        provider.list_users(CONTOSO)
    assert caught.value.aadsts == 65001 and "consent" in (caught.value.advice or "")
    assert fresh_demo_simulator.credentials.client_secret not in str(caught.value)
    assert refresh_token not in str(caught.value) and refresh_token not in repr(provider)


def test_malformed_records_are_skipped_with_reasons(
    fresh_simulator: SimulatorClient, make_provider: MakeProvider
) -> None:
    sim = fresh_simulator
    customer = sim.dataset()["customers"][1]
    sim.set_faults(malformed_rate=0.3, seed=3)
    listing = make_provider(sim).list_users(customer["tenantId"])
    assert listing.complete and listing.skipped
    ids = [u.object_id for u in listing.users]
    assert len(ids) == len(set(ids))
    assert all(len(u.display_name) <= 256 and (u.mail is None or "@@" not in u.mail) for u in listing.users)
    assert {s.reason for s in listing.skipped} <= {
        "missing or invalid id",
        "missing or invalid userPrincipalName",
        "accountEnabled is not a boolean",
        "duplicate id",
    }


def test_throttled_listing_waits_for_retry_after_and_completes(
    fresh_demo_simulator: SimulatorClient, make_provider: MakeProvider
) -> None:
    sim = fresh_demo_simulator
    sim.set_faults(throttle=[{"path": "/graph/v1.0/users$", "retry_after": 1, "times": 1}])
    http = fast_http()
    provider = make_provider(sim, http=http)
    started = time.monotonic()
    listing = provider.list_users(FABRIKAM)
    assert listing.complete and len(listing.users) == 3
    assert time.monotonic() - started >= 1.0
    stats = http.stats
    assert stats.retries == 1 and stats.retry_after_seconds == 1.0


def test_expired_access_tokens_are_refreshed_once(
    fresh_demo_simulator: SimulatorClient, make_provider: MakeProvider
) -> None:
    http = fast_http()
    provider = make_provider(fresh_demo_simulator, http=http)
    assert provider.list_users(FABRIKAM).complete
    fresh_demo_simulator.expire_access_tokens()
    assert provider.list_users(FABRIKAM).complete
    assert http.stats.token_refreshes == 1


def test_customer_tokens_are_fetched_once_per_tenant_under_concurrency(
    fresh_simulator: SimulatorClient, make_provider: MakeProvider
) -> None:
    sim = fresh_simulator
    tenant_ids = [c["tenantId"] for c in sim.dataset()["customers"]]
    provider = make_provider(sim)
    sim.clear_request_log()
    with ThreadPoolExecutor(max_workers=8) as pool:
        listings = list(pool.map(provider.list_users, tenant_ids * 3))
    assert all(listing.complete for listing in listings)
    token_posts = Counter(
        e["path"].split("/")[2] for e in sim.request_log() if e["path"].endswith("/oauth2/v2.0/token")
    )
    assert token_posts == Counter({tenant_id: 1 for tenant_id in tenant_ids})


def test_validate_reports_an_expired_refresh_token_with_reconnect_advice(
    fresh_demo_simulator: SimulatorClient, make_provider: MakeProvider
) -> None:
    refresh_token = fresh_demo_simulator.sign_in()["refresh_token"]
    provider = make_provider(fresh_demo_simulator, refresh_token=refresh_token)
    fresh_demo_simulator.revoke_refresh_tokens()
    result = provider.validate()
    assert not result.ok
    assert "700082" in result.message and "reconnect" in result.message.lower()
    assert refresh_token not in result.message
