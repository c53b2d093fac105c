"""The simulated Graph: everything it serves exists in Microsoft's v1.0 schema, and it pages, selects, scopes by
token tenant and expires tokens the way Graph does."""

from __future__ import annotations

import re
from typing import Any

import pytest

from flask_entra.simulator import SimulatorClient, SimulatorState, create_app, demo_dataset
from flask_entra.simulator.dataset import DEFAULT_USER_SELECT, USER_PROPERTIES
from tests import graphschema

FULL_USER_SELECT = ",".join(USER_PROPERTIES)


def _get(sim: SimulatorClient, token: str, path_or_url: str, **kwargs: Any) -> Any:
    url = path_or_url if path_or_url.startswith("http") else f"{sim.graph_base_url}{path_or_url}"
    return sim.http.get(url, headers={"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}, **kwargs)


def _tokens(sim: SimulatorClient, customer_index: int = 0) -> tuple[str, str, dict[str, Any]]:
    """(partner access token, a customer's access token, that customer's dataset entry)."""
    signed_in = sim.sign_in()
    customer = sim.dataset()["customers"][customer_index]
    customer_token = sim.customer_token(signed_in["refresh_token"], customer["tenantId"]).json()["access_token"]
    return signed_in["access_token"], customer_token, customer


def _all_pages(sim: SimulatorClient, token: str, path: str) -> tuple[list[dict[str, Any]], int]:
    items, pages, url = [], 0, path
    while url:
        body = _get(sim, token, url).json()
        items += body["value"]
        pages += 1
        url = body.get("@odata.nextLink")
    return items, pages


def test_every_graph_route_the_simulator_serves_exists_in_the_v1_schema() -> None:
    app = create_app(SimulatorState(demo_dataset()))
    routes = [
        r.rule.removeprefix("/graph")
        for r in app.url_map.iter_rules()
        if r.rule.startswith("/graph/") and r.endpoint != "sim_graph.unknown_resource"
    ]
    assert len(routes) >= 12
    for route in routes:
        path = re.sub(r"<(?:\w+:)?\w+>", "00000000-0000-0000-0000-000000000001", route)
        assert graphschema.check_request(path) == [], route


def test_every_property_the_simulator_can_return_exists_in_the_v1_schema(fresh_demo_simulator: SimulatorClient) -> None:
    sim = fresh_demo_simulator
    assert graphschema.check_properties("user", USER_PROPERTIES) == []
    partner, customer, entry = _tokens(sim)
    answers = {
        "/v1.0/tenantRelationships/delegatedAdminCustomers": partner,
        "/v1.0/tenantRelationships/delegatedAdminRelationships": partner,
        "/v1.0/tenantRelationships/delegatedAdminRelationships?$filter=status eq 'active'": partner,
        f"/v1.0/tenantRelationships/findTenantInformationByTenantId(tenantId='{entry['tenantId']}')": partner,
        "/v1.0/contracts": partner,
        "/v1.0/organization": customer,
        "/v1.0/organization?$select=id,displayName,verifiedDomains": customer,
        "/v1.0/domains": customer,
        "/v1.0/me": partner,
        "/v1.0/users": customer,
        f"/v1.0/users?$select={FULL_USER_SELECT}&$top=999": customer,
        f"/v1.0/users/{entry['users'][0]['id']}?$select={FULL_USER_SELECT}": customer,
        f"/v1.0/users/delta()?$select={FULL_USER_SELECT}": customer,
        f"/v1.0/directory/deletedItems/microsoft.graph.user?$select={FULL_USER_SELECT}": customer,
    }
    for path, token in answers.items():
        assert graphschema.check_request(path) == [], path
        response = _get(sim, token, path)
        assert response.status_code == 200, path
        body = response.json()
        assert body.get("value", [body]), path  # every answer holds data to check
        assert graphschema.check_response(path, body) == [], path


def test_users_paging_top_and_select(fresh_simulator: SimulatorClient) -> None:
    sim = fresh_simulator
    _, token, customer = _tokens(sim)
    live = [u for u in customer["users"] if not u.get("deletedDateTime")]
    assert len(live) > 100
    users, pages = _all_pages(sim, token, "/v1.0/users")
    assert pages == 2 and sorted(u["id"] for u in users) == sorted(u["id"] for u in live)  # default page size 100
    assert "accountEnabled" not in users[0] and "userType" not in users[0]  # not in Graph's default set
    assert set(users[0]) == set(DEFAULT_USER_SELECT)

    first = _get(sim, token, "/v1.0/users?$select=id,mail,accountEnabled&$top=40").json()
    assert [set(u) for u in first["value"]] == [{"id", "mail", "accountEnabled"}] * 40
    assert (
        first["@odata.nextLink"].startswith(f"{sim.graph_base_url}/v1.0/users?")
        and "skiptoken" in first["@odata.nextLink"]
    )
    selected, pages = _all_pages(sim, token, "/v1.0/users?$select=id,mail,accountEnabled&$top=40")
    assert pages == -(-len(live) // 40) and len({u["id"] for u in selected}) == len(live)
    assert _all_pages(sim, token, "/v1.0/users?$top=999")[1] == 1

    too_big = _get(sim, token, "/v1.0/users?$top=1000")
    assert too_big.status_code == 400 and too_big.json()["error"]["code"] == "Request_UnsupportedQuery"
    unknown = _get(sim, token, "/v1.0/users?$select=id,emailAddress")
    assert unknown.status_code == 400 and "emailAddress" in unknown.json()["error"]["message"]


def test_the_token_tenant_decides_whose_data_is_returned(fresh_simulator: SimulatorClient) -> None:
    sim = fresh_simulator
    partner, customer, entry = _tokens(sim)
    dataset = sim.dataset()
    partner_users = {u["id"] for u in _all_pages(sim, partner, "/v1.0/users")[0]}
    assert partner_users == {u["id"] for u in dataset["partner"]["users"]}
    customer_users = {u["id"] for u in _all_pages(sim, customer, "/v1.0/users")[0]}
    assert customer_users and not customer_users & partner_users
    assert _get(sim, customer, "/v1.0/tenantRelationships/delegatedAdminCustomers").json()["value"] == []
    assert {d["id"] for d in _get(sim, customer, "/v1.0/domains").json()["value"]} == {
        d["id"] for d in entry["domains"]
    }


def test_gdap_views(fresh_simulator: SimulatorClient) -> None:
    sim = fresh_simulator
    partner, _, _ = _tokens(sim)
    customers = sim.dataset()["customers"]
    listed = _all_pages(sim, partner, "/v1.0/tenantRelationships/delegatedAdminCustomers?$top=2")
    assert listed[1] == 3 and {c["tenantId"] for c in listed[0]} == {c["tenantId"] for c in customers}
    everything = _get(sim, partner, "/v1.0/tenantRelationships/delegatedAdminRelationships").json()["value"]
    active = _get(
        sim, partner, "/v1.0/tenantRelationships/delegatedAdminRelationships", params={"$filter": "status eq 'active'"}
    ).json()["value"]
    assert {r["status"] for r in everything} == {"active", "expired"} and {r["status"] for r in active} == {"active"}
    assert any(r["displayName"].startswith("MLT_") for r in active) and all(r["endDateTime"] for r in active)
    per_customer: dict[str, int] = {}
    for relationship in everything:
        per_customer[relationship["customer"]["tenantId"]] = (
            per_customer.get(relationship["customer"]["tenantId"], 0) + 1
        )
    assert max(per_customer.values()) > 1
    assert _get(sim, partner, "/v1.0/tenantRelationships/delegatedAdminCustomers?$top=301").status_code == 400
    sim.end_gdap(customers[0]["tenantId"])
    remaining = _get(sim, partner, "/v1.0/tenantRelationships/delegatedAdminCustomers").json()["value"]
    assert customers[0]["tenantId"] not in {c["tenantId"] for c in remaining}


def test_missing_and_expired_tokens_get_invalid_authentication_token(fresh_simulator: SimulatorClient) -> None:
    sim = fresh_simulator
    assert sim.http.get(f"{sim.graph_base_url}/v1.0/users").status_code == 401
    refresh = sim.sign_in()["refresh_token"]
    customer_id = sim.dataset()["customers"][0]["tenantId"]
    token = sim.customer_token(refresh, customer_id).json()["access_token"]
    first = _get(sim, token, "/v1.0/users?$top=50").json()
    sim.expire_access_tokens()  # the token runs out in the middle of the listing
    expired = _get(sim, token, first["@odata.nextLink"])
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "InvalidAuthenticationToken"
    renewed = sim.customer_token(refresh, customer_id).json()["access_token"]
    assert _get(sim, renewed, first["@odata.nextLink"]).status_code == 200
    sim.set_faults(access_token_lifetime=0)
    short = sim.customer_token(refresh, customer_id).json()
    assert short["expires_in"] == 0 and _get(sim, short["access_token"], "/v1.0/users").status_code == 401


def test_delta_rounds_report_changes_and_removals(fresh_simulator: SimulatorClient) -> None:
    sim = fresh_simulator
    _, token, customer = _tokens(sim, customer_index=1)
    tenant = customer["tenantId"]
    live = [u for u in customer["users"] if not u.get("deletedDateTime")]
    url: str | None = "/v1.0/users/delta?$select=id,mail,accountEnabled"
    seen, pages, delta_link = [], 0, None
    while url:
        body = _get(sim, token, url, headers={"Prefer": "odata.maxpagesize=60"}).json()
        seen += body["value"]
        pages += 1
        url, delta_link = body.get("@odata.nextLink"), body.get("@odata.deltaLink", delta_link)
        assert not (body.get("@odata.nextLink") and body.get("@odata.deltaLink"))
    assert pages == -(-len(live) // 60) and len(seen) == len(live) and delta_link

    disabled, soft_deleted, hard_deleted = live[1]["id"], live[2]["id"], live[3]["id"]
    sim.disable_user(tenant, disabled)
    sim.soft_delete_user(tenant, soft_deleted)
    sim.hard_delete_user(tenant, hard_deleted)
    added = sim.add_user(tenant, userPrincipalName=f"new.hire@{customer['domains'][0]['id']}", displayName="New Hire")
    changes = _get(sim, token, delta_link).json()
    by_id = {item["id"]: item for item in changes["value"]}
    assert by_id[disabled]["accountEnabled"] is False and by_id[added["id"]]["accountEnabled"] is True
    assert by_id[soft_deleted]["@removed"] == {"reason": "changed"}
    assert by_id[hard_deleted]["@removed"] == {"reason": "deleted"}
    assert len(by_id) == 4 and "@odata.deltaLink" in changes
    assert _get(sim, token, changes["@odata.deltaLink"]).json()["value"] == []
    sim.invalidate_delta_tokens()
    gone = _get(sim, token, changes["@odata.deltaLink"])
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "resyncRequired"


def test_soft_deleted_users_are_only_in_deleted_items(fresh_simulator: SimulatorClient) -> None:
    sim = fresh_simulator
    _, token, customer = _tokens(sim)
    victim = next(u for u in customer["users"] if not u.get("deletedDateTime") and u.get("mail"))
    sim.soft_delete_user(customer["tenantId"], victim["id"])
    live_ids = {u["id"] for u in _all_pages(sim, token, "/v1.0/users")[0]}
    deleted = _all_pages(sim, token, "/v1.0/directory/deletedItems/microsoft.graph.user?$top=999")[0]
    assert victim["id"] not in live_ids
    entry = next(u for u in deleted if u["id"] == victim["id"])
    assert entry["@odata.type"] == "#microsoft.graph.user" and entry["deletedDateTime"]
    assert entry["userPrincipalName"] == victim["id"].replace("-", "") + victim["userPrincipalName"]
    sim.restore_user(customer["tenantId"], victim["id"])
    restored = _get(sim, token, f"/v1.0/users/{victim['id']}?$select=id,userPrincipalName").json()
    assert restored["userPrincipalName"] == victim["userPrincipalName"]


@pytest.mark.parametrize("path", ["/v1.0/tenantRelationships/managedTenants/users", "/beta/users"])
def test_paths_graph_does_not_have_are_refused(fresh_simulator: SimulatorClient, path: str) -> None:
    partner, _, _ = _tokens(fresh_simulator)
    response = _get(fresh_simulator, partner, path)
    assert response.status_code == 400 and response.json()["error"]["code"] == "BadRequest"
