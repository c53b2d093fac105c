"""The simulated CIPP-API keeps CIPP's edges: pseudo rows, failure as HTTP 200, partner users without tenantFilter."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask_entra.simulator import SimulatorClient


def _cipp(sim: SimulatorClient, endpoint: str, token: str | None = None) -> Any:
    return sim.http.get(
        f"{sim.cipp_base_url}/api/{endpoint}", headers={"Authorization": f"Bearer {token or sim.cipp_token()}"}
    )


def test_list_tenants_has_rows_an_adapter_must_drop(fresh_simulator: SimulatorClient) -> None:
    sim = fresh_simulator
    rows = _cipp(sim, "ListTenants").json()
    assert isinstance(rows, list)
    assert rows[0]["customerId"] == "AllTenants"
    assert rows[1]["displayName"] == "* Partner Tenant" and rows[1]["customerId"] == sim.partner_tenant_id
    customers = sim.dataset()["customers"]
    assert {r["customerId"] for r in rows[2:]} == {c["tenantId"] for c in customers}
    assert [r["Excluded"] for r in rows[2:]].count(True) == 1
    contoso = next(r for r in rows if r["customerId"] == customers[0]["tenantId"])
    assert contoso["defaultDomainName"] == "contoso.com" and contoso["initialDomainName"] == "contoso.onmicrosoft.com"
    assert contoso["relationshipEnd"]


def test_list_tenants_failure_arrives_as_http_200_and_legacy_casing_is_available(
    fresh_simulator: SimulatorClient,
) -> None:
    sim = fresh_simulator
    sim.set_faults(cipp_list_tenants_failure=True)
    failed = _cipp(sim, "ListTenants")
    assert failed.status_code == 200
    assert failed.json()[0]["customerId"] == "" and failed.json()[0]["Results"].startswith("Failed to retrieve tenants")
    sim.replace_faults(cipp_legacy_keys=True)
    legacy = _cipp(sim, "ListTenants").json()
    assert {"CustomerID", "DefaultdomainName", "DisplayName"} <= legacy[2].keys() and "customerId" not in legacy[2]


def test_list_users_with_and_without_tenant_filter(fresh_simulator: SimulatorClient) -> None:
    sim = fresh_simulator
    dataset = sim.dataset()
    customer = dataset["customers"][0]
    token = sim.cipp_token()
    by_domain = _cipp(sim, f"ListUsers?tenantFilter={customer['domains'][0]['id']}", token).json()
    by_id = _cipp(sim, f"ListUsers?TenantFilter={customer['tenantId']}", token).json()  # names are case-insensitive
    live = {u["id"] for u in customer["users"] if not u.get("deletedDateTime")}
    assert {u["id"] for u in by_domain} == {u["id"] for u in by_id} == live
    sample = next(u for u in by_domain if u["assignedLicenses"])
    assert sample["LicJoined"].startswith("Microsoft 365") or sample["LicJoined"].startswith("Exchange")
    assert sample["primDomain"] == sample["userPrincipalName"].rpartition("@")[2]
    assert {"username", "Aliases", "accountEnabled", "userType", "otherMails"} <= sample.keys()
    unfiltered = _cipp(sim, "ListUsers", token).json()  # the trap: CIPP silently answers the partner's own users
    assert {u["id"] for u in unfiltered} == {u["id"] for u in dataset["partner"]["users"]}


def test_list_users_errors_are_plain_text_http_500(fresh_simulator: SimulatorClient) -> None:
    sim = fresh_simulator
    tenant = sim.dataset()["customers"][1]["tenantId"]
    sim.revoke_consent(tenant)
    failed = _cipp(sim, f"ListUsers?tenantFilter={tenant}")
    assert failed.status_code == 500 and failed.headers["content-type"].startswith("text/plain")
    assert "AADSTS65001" in failed.text
    assert _cipp(sim, "ListUsers?tenantFilter=unknown.example").status_code == 500


def test_list_graph_request_pages_with_metadata_next_link(fresh_simulator: SimulatorClient) -> None:
    sim = fresh_simulator
    customer = sim.dataset()["customers"][0]
    live = {u["id"] for u in customer["users"] if not u.get("deletedDateTime")}
    token = sim.cipp_token()
    base = (
        f"ListGraphRequest?tenantFilter={customer['tenantId']}&Endpoint=users&manualPagination=true"
        "&$select=id,mail&$top=50"
    )
    seen, query = [], base
    while True:
        body = _cipp(sim, query, token).json()
        assert set(body) == {"Results", "Metadata"}
        seen += body["Results"]
        if not body["Metadata"].get("nextLink"):
            break
        assert body["Metadata"]["nextLink"].startswith("https://graph.microsoft.com/beta/users?")
        query = f"{base}&nextLink={quote(body['Metadata']['nextLink'], safe='')}"
    assert len(seen) == len(live) and {u["id"] for u in seen} == live and set(seen[0]) == {"id", "mail"}
    unpaged = _cipp(sim, f"ListGraphRequest?tenantFilter={customer['tenantId']}&Endpoint=users", token).json()
    assert len(unpaged["Results"]) == len(live) and unpaged["Metadata"] == {}


def test_auth_version_me_and_endpoint_casing(fresh_simulator: SimulatorClient) -> None:
    sim = fresh_simulator
    assert sim.http.get(f"{sim.cipp_base_url}/api/ListTenants").status_code == 401
    token = sim.cipp_token()
    assert _cipp(sim, "me", token).json()["clientPrincipal"]["appId"] == sim.credentials.cipp_client_id
    assert _cipp(sim, "GetVersion", token).json()["LocalCIPPAPIVersion"]
    assert _cipp(sim, "listtenants", token).status_code == 404
    sim.expire_access_tokens()
    assert _cipp(sim, "ListTenants", token).status_code == 401
