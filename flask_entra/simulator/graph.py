"""Microsoft Graph v1.0 under ``/graph``: the partner's GDAP views and a tenant's domains, organization and users.

Like Graph, the access token's tenant decides whose data an answer holds: a partner token on ``/v1.0/users`` lists the
partner's own users, and a customer's users need a token issued at that customer's authority.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from flask_entra.simulator import odata
from flask_entra.simulator.dataset import DEFAULT_USER_SELECT, LIVE_RELATIONSHIP_STATUSES, USER_PROPERTIES
from flask_entra.simulator.odata import GraphHTTPError
from flask_entra.simulator.state import SimulatorState, state

graph = Blueprint("sim_graph", __name__, url_prefix="/graph")
USER_PAGE_DEFAULT, USER_PAGE_MAX = 100, 999
GDAP_PAGE_DEFAULT, GDAP_PAGE_MAX = 100, 300
DELTA_PAGE_SIZE = 200
DELETED_USER_DEFAULT_SELECT = (*DEFAULT_USER_SELECT, "deletedDateTime")
DOMAIN_DEFAULTS = {
    "authenticationType": "Managed",
    "availabilityStatus": None,
    "isAdminManaged": True,
    "isRoot": True,
    "passwordNotificationWindowInDays": 14,
    "passwordValidityPeriodInDays": 2147483647,
    "supportedServices": ["Email", "OfficeCommunicationsOnline"],
}
_RELATIONSHIP_FILTERS = ("status", "customer/tenantId", "displayName")


@graph.errorhandler(GraphHTTPError)
def _graph_error(error: GraphHTTPError) -> Response:
    return odata.graph_error_response(error.status, error.code, error.message, error.retry_after)


@graph.before_request
def _authenticate() -> None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer ") or not header[7:].strip():
        raise GraphHTTPError(401, "InvalidAuthenticationToken", "Access token is empty.")
    token = state().tokens.access(header[7:].strip())
    if token is None or token.audience != "graph":
        raise GraphHTTPError(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
    if token.expired:
        raise GraphHTTPError(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
    tenant = state().dataset.tenant(token.tenant_id)
    if tenant is None:
        raise GraphHTTPError(401, "InvalidAuthenticationToken", "The tenant of the access token no longer exists.")
    g.sim_token, g.sim_tenant = token, tenant


def _tenant() -> dict[str, Any]:
    tenant: dict[str, Any] = g.sim_tenant
    return tenant


def _customers_of(sim: SimulatorState, tenant: dict[str, Any]) -> list[dict[str, Any]]:
    """Customers with a live GDAP relationship, when the token is the partner's; nobody else has customers."""
    if tenant is not sim.dataset.partner:
        return []
    return [
        c
        for c in sim.dataset.customers
        if any(r.get("status") in LIVE_RELATIONSHIP_STATUSES for r in c.get("relationships", []))
    ]


@graph.get("/v1.0/tenantRelationships/delegatedAdminCustomers")
def delegated_admin_customers() -> Response:
    sim = state()
    items = [
        {
            "@odata.type": "#microsoft.graph.delegatedAdminCustomer",
            "id": c["tenantId"],
            "tenantId": c["tenantId"],
            "displayName": c["displayName"],
        }
        for c in _customers_of(sim, _tenant())
    ]
    body, page = odata.collection_page(
        items, "tenantRelationships/delegatedAdminCustomers", GDAP_PAGE_DEFAULT, GDAP_PAGE_MAX
    )
    return jsonify({**body, "value": page})


def _relationship_filter() -> tuple[str, str] | None:
    """``$filter=<property> eq '<value>'`` on status, customer/tenantId or displayName; anything else is a 400."""
    raw = odata.query().get("$filter")
    if not raw:
        return None
    field, operator, literal = (raw.strip().split(" ", 2) + ["", ""])[:3]
    if (
        field not in _RELATIONSHIP_FILTERS
        or operator != "eq"
        or not (literal.startswith("'") and literal.endswith("'"))
    ):
        raise GraphHTTPError(400, "Request_UnsupportedQuery", f"Unsupported filter: {raw}")
    return field, literal[1:-1].replace("''", "'")


@graph.get("/v1.0/tenantRelationships/delegatedAdminRelationships")
def delegated_admin_relationships() -> Response:
    sim = state()
    wanted = _relationship_filter()
    items = []
    customers = sim.dataset.customers if _tenant() is sim.dataset.partner else []
    for customer in customers:
        for relationship in customer.get("relationships", []):
            item = {
                "@odata.type": "#microsoft.graph.delegatedAdminRelationship",
                **relationship,
                "customer": {"tenantId": customer["tenantId"], "displayName": customer["displayName"]},
                "lastModifiedDateTime": relationship.get("activatedDateTime"),
            }
            value = (
                item["customer"]["tenantId"]
                if wanted and wanted[0] == "customer/tenantId"
                else (item.get(wanted[0]) if wanted else None)
            )
            if wanted is None or value == wanted[1]:
                items.append(item)
    body, page = odata.collection_page(
        items, "tenantRelationships/delegatedAdminRelationships", GDAP_PAGE_DEFAULT, GDAP_PAGE_MAX
    )
    return jsonify({**body, "value": page})


@graph.get("/v1.0/tenantRelationships/findTenantInformationByTenantId(tenantId='<tenant_id>')")
def find_tenant_information(tenant_id: str) -> Response:
    found = state().dataset.tenant(tenant_id)
    if found is None or found["tenantId"].lower() != tenant_id.lower():
        raise GraphHTTPError(404, "Request_ResourceNotFound", f"Tenant '{tenant_id}' was not found.")
    return jsonify(
        {
            "@odata.context": odata.context_url("microsoft.graph.tenantInformation"),
            "tenantId": found["tenantId"],
            "displayName": found["displayName"],
            "defaultDomainName": state().dataset.default_domain(found),
            "federationBrandName": None,
        }
    )


@graph.get("/v1.0/contracts")
def contracts() -> Response:
    sim = state()
    customers = sim.dataset.customers if _tenant() is sim.dataset.partner else []
    items = [
        {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"contract/{c['tenantId']}")),
            "contractType": "ResellerPartner",
            "customerId": c["tenantId"],
            "defaultDomainName": sim.dataset.initial_domain(c),
            "displayName": c["displayName"],
        }
        for c in customers
        if c.get("legacyContract")
    ]
    body, page = odata.collection_page(items, "contracts", USER_PAGE_DEFAULT, USER_PAGE_MAX)
    return jsonify({**body, "value": page})


@graph.get("/v1.0/domains")
def domains() -> Response:
    items = [
        {**DOMAIN_DEFAULTS, "isDefault": False, "isInitial": False, "isVerified": False, **d}
        for d in _tenant()["domains"]
    ]
    return jsonify({"@odata.context": odata.context_url("domains"), "value": items})


@graph.get("/v1.0/organization")
def organization() -> Response:
    tenant = _tenant()
    verified = [
        {
            "capabilities": "Email, OfficeCommunicationsOnline",
            "isDefault": bool(d.get("isDefault")),
            "isInitial": bool(d.get("isInitial")),
            "name": d["id"],
            "type": "Managed",
        }
        for d in tenant["domains"]
        if d.get("isVerified", True)
    ]
    record = {
        "id": tenant["tenantId"],
        "displayName": tenant["displayName"],
        "verifiedDomains": verified,
        "tenantType": "AAD",
        "countryLetterCode": "US",
        "createdDateTime": "2019-05-01T12:00:00Z",
    }
    names = odata.selection(list(record), record, "microsoft.graph.organization")
    return jsonify({"@odata.context": odata.context_url("organization"), "value": [odata.shape(record, names)]})


def _user_page(*, deleted: bool, default_select: tuple[str, ...], fragment: str) -> Response:
    sim = state()
    tenant_id = _tenant()["tenantId"]
    names = tuple(odata.selection(default_select, USER_PROPERTIES, "microsoft.graph.user"))
    annotation = {"@odata.type": "#microsoft.graph.user"} if deleted else {}

    def render(user: dict[str, Any]) -> str:
        return odata.compact_json({**annotation, **odata.shape(user, names)})

    encoded = sim.dataset.rendered_users(_tenant(), deleted=deleted, key=names, render=render)
    body, page = odata.collection_page(
        sim.faults.listed(encoded, tenant_id), fragment, USER_PAGE_DEFAULT, USER_PAGE_MAX
    )
    _guard_page(sim, odata.skip_state()["p"])
    if sim.faults.faults.malformed_rate > 0:
        page = [odata.compact_json(r) for r in sim.faults.malform([json.loads(text) for text in page], tenant_id)]
    return odata.page_response(body, page)


def _guard_page(sim: SimulatorState, page: int) -> None:
    """The ``fail_after_pages`` knob: this tenant's user listing breaks, persistently, from page N on."""
    if sim.faults.page_fails(_tenant()["tenantId"], page):
        status = sim.faults.faults.fail_status
        raise GraphHTTPError(
            status,
            "UnknownError" if status == 500 else "serviceNotAvailable",
            "The service is temporarily unavailable." if status != 500 else "An error occurred.",
        )


@graph.get("/v1.0/users")
def users() -> Response:
    return _user_page(deleted=False, default_select=DEFAULT_USER_SELECT, fragment="users")


@graph.get("/v1.0/directory/deletedItems/microsoft.graph.user")
def deleted_users() -> Response:
    return _user_page(
        deleted=True,
        default_select=DELETED_USER_DEFAULT_SELECT,
        fragment="directory/deletedItems/microsoft.graph.user",
    )


@graph.get("/v1.0/me")
def me() -> Response:
    if not g.sim_token.delegated:
        raise GraphHTTPError(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
    return user_by_id(g.sim_token.subject)


@graph.get("/v1.0/users/<user_id>")
def user_by_id(user_id: str) -> Response:
    match = next(
        (u for u in state().dataset.live_users(_tenant()) if user_id in (u["id"], u["userPrincipalName"])), None
    )
    if match is None:
        raise GraphHTTPError(
            404,
            "Request_ResourceNotFound",
            f"Resource '{user_id}' does not exist or one of its queried reference-property objects are not present.",
        )
    names = odata.selection(DEFAULT_USER_SELECT, USER_PROPERTIES, "microsoft.graph.user")
    return jsonify({"@odata.context": odata.context_url("users/$entity"), **odata.shape(match, names)})


@graph.get("/v1.0/users/delta")
@graph.get("/v1.0/users/delta()")
def users_delta() -> Response:
    """Rounds of pages: nextLink until the last page, which carries the deltaLink for the next round."""
    sim = state()
    tenant = _tenant()
    names = odata.selection(DEFAULT_USER_SELECT, USER_PROPERTIES, "microsoft.graph.user")
    params = odata.query()
    if "$deltatoken" in params:
        decoded = odata.decode_token(params["$deltatoken"])
        if decoded is None or decoded.get("t") != tenant["tenantId"] or not isinstance(decoded.get("s"), int):
            raise GraphHTTPError(400, "syncStateNotFound", "The sync state could not be found for the given token.")
        if decoded.get("e") != sim.delta_epoch:
            raise GraphHTTPError(
                410,
                "resyncRequired",
                "Resync required. Replace any local cached data with the "
                "full data set, using a new delta query without a delta token.",
            )
        position = {"o": 0, "p": 0, "s": decoded["s"], "n": sim.dataset.sequence}
    else:
        position = odata.skip_state()
        position.setdefault("s", -1)
        position.setdefault("n", sim.dataset.sequence)
    _guard_page(sim, position["p"])
    if position["s"] < 0:  # the initial round: every live user, nothing removed
        changed, removed = sim.dataset.live_users(tenant), list[tuple[str, str]]()
    else:
        changed, removed = sim.dataset.changes_since(tenant, position["s"])
    items = [odata.shape(u, names) for u in changed] + [
        {"id": uid, "@removed": {"reason": why}} for uid, why in removed
    ]
    size = _max_page_size()
    offset = position["o"]
    body: dict[str, Any] = {"@odata.context": odata.context_url("users")}
    if offset + size < len(items):
        next_position = {**position, "o": offset + size, "p": position["p"] + 1}
        body["@odata.nextLink"] = odata.link_with(**{"$skiptoken": odata.encode_token(next_position)})
    else:
        token = {"t": tenant["tenantId"], "s": position["n"], "e": sim.delta_epoch}
        body["@odata.deltaLink"] = odata.link_with(**{"$deltatoken": odata.encode_token(token)})
    body["value"] = sim.faults.malform(items[offset : offset + size], tenant["tenantId"])
    return jsonify(body)


def _max_page_size() -> int:
    """Delta honours ``Prefer: odata.maxpagesize=N`` as Graph does; otherwise a fixed page size."""
    for preference in request.headers.get("Prefer", "").split(","):
        name, _, value = preference.strip().partition("=")
        if name == "odata.maxpagesize" and value.isdigit() and int(value) > 0:
            return min(int(value), USER_PAGE_MAX)
    return DELTA_PAGE_SIZE


@graph.route("/<path:unknown>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown_resource(unknown: str) -> Response:
    segment = unknown.split("/")[-1]
    raise GraphHTTPError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")
