"""Every Graph request the Direct adapter makes in a full run exists in Microsoft's published Graph v1.0 schema.

A PSA once shipped a user listing on a Graph path that does not exist and never noticed, because it was only tested
against its own emulator. The simulator's request log shows what our adapter really sent; graphschema checks it.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from flask_entra.providers.direct import DirectProvider
from flask_entra.providers.direct_oauth import redeem_code, start_authorization
from flask_entra.simulator import DEFAULT_REDIRECT_URIS, SimulatorClient
from tests import graphschema
from tests.plugins.simulator import opened_http


def full_direct_run(sim: SimulatorClient) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    """Sign in, validate, discover (one customer without consent, for the fallback) and list every tenant's users."""
    unconsented = sim.dataset()["customers"][0]["tenantId"]
    sim.revoke_consent(unconsented)
    sim.clear_request_log()
    http = opened_http(timeout_seconds=10, max_retries=2, backoff_base_seconds=0.01)
    request = start_authorization(
        client_id=sim.credentials.client_id, redirect_uri=DEFAULT_REDIRECT_URIS[0], login_base_url=sim.login_base_url
    )
    answer = httpx.post(request.url, data={"consent": "accept"}, follow_redirects=False)
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    signed_in = redeem_code(
        client_id=sim.credentials.client_id,
        client_secret=sim.credentials.client_secret,
        code=code,
        code_verifier=request.code_verifier,
        redirect_uri=DEFAULT_REDIRECT_URIS[0],
        nonce=request.nonce,
        login_base_url=sim.login_base_url,
        http=http,
    )
    provider = DirectProvider(
        client_id=sim.credentials.client_id,
        client_secret=sim.credentials.client_secret,
        refresh_token=signed_in.refresh_token,
        partner_tenant_id=signed_in.partner_tenant_id,
        login_base_url=sim.login_base_url,
        graph_base_url=sim.graph_base_url,
        http=http,
        page_size=100,
    )
    assert provider.validate().ok
    tenants = provider.list_managed_tenants()
    listings = [provider.list_users(t.entra_tenant_id) for t in tenants if t.entra_tenant_id != unconsented]
    assert tenants and all(listing.complete for listing in listings)
    return {
        (entry["path"], tuple(sorted(entry["query"].items())))
        for entry in sim.request_log()
        if entry["path"].startswith("/graph/")
    }


def test_every_graph_request_of_a_full_direct_run_exists_in_graph_v1(fresh_simulator: SimulatorClient) -> None:
    requests = full_direct_run(fresh_simulator)
    paths = {path for path, _ in requests}
    # The run covered every kind of call the adapter makes, the fallback and paging included.
    for expected in (
        "/delegatedAdminRelationships",
        "/delegatedAdminCustomers",
        "findTenantInformationByTenantId",
        "/v1.0/domains",
        "/v1.0/users",
        "/deletedItems/microsoft.graph.user",
    ):
        assert any(expected in path for path in paths), expected
    assert any(dict(query).get("$skiptoken") for _, query in requests)
    problems = {
        f"{path}?{dict(query)}": found
        for path, query in requests
        if (found := graphschema.check_request(path, dict(query)))
    }
    assert problems == {}


def test_the_check_rejects_paths_and_properties_microsoft_does_not_have() -> None:
    assert graphschema.check_request("/graph/beta/tenantRelationships/managedTenants/users")
    assert graphschema.check_request("/v1.0/tenantRelationships/managedTenants/users")
    assert graphschema.check_request("/v1.0/directory/deletedUsers")
    assert graphschema.check_request("/v1.0/users", {"$select": "id,isLicensed"})
    assert graphschema.check_request("/v1.0/users", {"tenantFilter": "contoso.com"})
    assert graphschema.check_request("/v1.0/users", {"$select": "id,mail", "$top": "999"}) == []
