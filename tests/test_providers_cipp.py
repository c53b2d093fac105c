"""The CIPP provider against the simulator's CIPP-API: client credentials, ListTenants quirks, ListUsers errors."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from flask_entra.errors import ProviderAuthError, ProviderError
from flask_entra.providers.cipp import CippProvider, result_rows, tenant_from_row
from flask_entra.simulator import SimulatorClient
from tests.plugins.simulator import opened_http

CONTOSO = "4fdb1c6e-0c4e-4f51-8a2b-6c1e2d3f4a01"
FABRIKAM = "4fdb1c6e-0c4e-4f51-8a2b-6c1e2d3f4a02"


def make_provider(sim: SimulatorClient, **options: Any) -> CippProvider:
    settings: dict[str, Any] = {
        "api_url": sim.cipp_base_url,
        "client_id": sim.credentials.cipp_client_id,
        "client_secret": sim.credentials.cipp_client_secret,
        "tenant_id": sim.partner_tenant_id,
        "login_base_url": sim.login_base_url,
        "http": opened_http(timeout_seconds=10, max_retries=2, backoff_base_seconds=0.01),
    }
    return CippProvider(**(settings | options))


def test_validate_uses_client_credentials_and_reports_the_role(fresh_demo_simulator: SimulatorClient) -> None:
    result = make_provider(fresh_demo_simulator).validate()
    assert result.ok and "readonly" in result.message
    token_call = next(e for e in fresh_demo_simulator.request_log() if e["path"].endswith("/oauth2/v2.0/token"))
    assert token_call["path"] == f"/login/{fresh_demo_simulator.partner_tenant_id}/oauth2/v2.0/token"


def test_a_wrong_client_secret_fails_validation_with_advice(fresh_demo_simulator: SimulatorClient) -> None:
    result = make_provider(fresh_demo_simulator, client_secret="wrong-secret-value").validate()
    assert not result.ok
    assert "7000215" in result.message and "client secret" in result.message.lower()
    assert "wrong-secret-value" not in result.message


def test_list_tenants_drops_pseudo_partner_and_excluded_rows(fresh_demo_simulator: SimulatorClient) -> None:
    fresh_demo_simulator.update_tenant(FABRIKAM, cippExcluded=True)
    tenants = {t.entra_tenant_id: t for t in make_provider(fresh_demo_simulator).list_managed_tenants()}
    assert FABRIKAM not in tenants and "alltenants" not in tenants
    assert fresh_demo_simulator.partner_tenant_id not in tenants
    assert len(tenants) == 4
    contoso = tenants[CONTOSO]
    assert contoso.display_name == "Contoso Ltd" and contoso.default_domain == "contoso.com"
    assert set(contoso.verified_domains) == {"contoso.com", "contoso.onmicrosoft.com"}
    assert contoso.gdap_relationship_end == datetime(2031, 6, 30, tzinfo=UTC)


def test_list_tenants_accepts_legacy_key_casing(fresh_demo_simulator: SimulatorClient) -> None:
    fresh_demo_simulator.set_faults(cipp_legacy_keys=True)
    tenants = {t.entra_tenant_id: t for t in make_provider(fresh_demo_simulator).list_managed_tenants()}
    assert len(tenants) == 5 and tenants[CONTOSO].display_name == "Contoso Ltd"


def test_list_tenants_failure_reported_as_http_200_is_an_error(fresh_demo_simulator: SimulatorClient) -> None:
    fresh_demo_simulator.set_faults(cipp_list_tenants_failure=True)
    with pytest.raises(ProviderError, match="Failed to retrieve tenants") as caught:
        make_provider(fresh_demo_simulator).list_managed_tenants()
    assert "reconnect" in (caught.value.advice or "").lower()  # the relayed AADSTS700082


def test_wrapped_results_are_accepted_and_a_failure_row_is_detected() -> None:
    rows = [{"customerId": CONTOSO, "displayName": "Contoso"}]
    assert result_rows({"Results": rows, "Metadata": {}}, "ListTenants") == rows
    assert result_rows(rows, "ListTenants") == rows
    with pytest.raises(ProviderError, match="Insufficient privileges") as caught:
        result_rows({"results": "Insufficient privileges to complete the operation."}, "ListUsers")
    assert "permission check" in (caught.value.advice or "")
    with pytest.raises(ProviderError, match="neither an array"):
        result_rows("<html>", "ListTenants")


def test_tenant_rows_match_keys_case_insensitively() -> None:
    row = {"CustomerId": CONTOSO.upper(), "DisplayName": "Contoso", "Domains": "a.com, b.com", "excluded": "False"}
    tenant = tenant_from_row(row)
    assert tenant is not None and tenant.entra_tenant_id == CONTOSO and tenant.verified_domains == ("a.com", "b.com")
    assert tenant_from_row({"customerId": CONTOSO, "displayName": "x", "Excluded": "true"}) is None


def test_list_users_always_filters_by_tenant(fresh_demo_simulator: SimulatorClient) -> None:
    sim = fresh_demo_simulator
    progress: list[int] = []
    listing = make_provider(sim).list_users(CONTOSO, on_page=progress.append)
    contoso = next(c for c in sim.dataset()["customers"] if c["tenantId"] == CONTOSO)
    assert listing.complete
    assert {u.object_id for u in listing.users} == {u["id"] for u in contoso["users"] if not u.get("deletedDateTime")}
    assert progress == [len(listing.users)]
    call = next(e for e in sim.request_log() if e["path"] == "/cipp/api/ListUsers")
    assert call["query"] == {"tenantFilter": CONTOSO}


def test_list_users_plain_text_500_becomes_an_auth_error_with_advice(fresh_demo_simulator: SimulatorClient) -> None:
    fresh_demo_simulator.revoke_consent(CONTOSO)
    with pytest.raises(ProviderAuthError) as caught:
        make_provider(fresh_demo_simulator).list_users(CONTOSO)
    assert caught.value.aadsts == 65001 and "consent" in (caught.value.advice or "")
    assert "HTTP 500" in caught.value.message


def test_malformed_cipp_users_are_skipped(fresh_simulator: SimulatorClient) -> None:
    tenant_id = fresh_simulator.dataset()["customers"][0]["tenantId"]
    fresh_simulator.set_faults(malformed_rate=0.2, seed=5)
    listing = make_provider(fresh_simulator).list_users(tenant_id)
    assert listing.skipped and listing.users
    assert len({u.object_id for u in listing.users}) == len(listing.users)


def test_the_token_is_renewed_when_cipp_refuses_it(fresh_demo_simulator: SimulatorClient) -> None:
    http = opened_http(timeout_seconds=10, max_retries=1)
    provider = make_provider(fresh_demo_simulator, http=http)
    assert provider.validate().ok
    fresh_demo_simulator.expire_access_tokens()
    assert len(provider.list_managed_tenants()) == 5
    assert http.stats.token_refreshes == 1


def test_short_lived_tokens_are_renewed_before_expiry(fresh_demo_simulator: SimulatorClient) -> None:
    fresh_demo_simulator.set_faults(access_token_lifetime=2)
    http = opened_http(timeout_seconds=10, max_retries=1)
    provider = make_provider(fresh_demo_simulator, http=http)
    assert provider.validate().ok
    assert provider.validate().ok  # within the lifetime: the cached token
    token_calls = [e for e in fresh_demo_simulator.request_log() if e["path"].endswith("/token")]
    assert len(token_calls) == 1
    time.sleep(2.1)
    assert provider.validate().ok
    token_calls = [e for e in fresh_demo_simulator.request_log() if e["path"].endswith("/token")]
    assert len(token_calls) == 2 and http.stats.token_refreshes == 0  # renewed ahead, never refused
