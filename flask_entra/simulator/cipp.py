"""CIPP-API under ``/cipp``: ListTenants, ListUsers, ListGraphRequest, me and GetVersion, with CIPP's odd edges.

Those edges are the point: List* endpoints answer bare arrays; ListTenants carries pseudo rows and reports failure with
HTTP 200; ListUsers without ``tenantFilter`` silently answers the partner's users; errors are plain text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import Blueprint, Response, g, jsonify, request

from flask_entra.simulator import odata
from flask_entra.simulator.dataset import LIVE_RELATIONSHIP_STATUSES, SKU_NAMES, USER_PROPERTIES
from flask_entra.simulator.state import SimulatorState, state

cipp = Blueprint("sim_cipp", __name__, url_prefix="/cipp")
CIPP_VERSION = "10.8.2"
LEGACY_KEYS = {"customerId": "CustomerID", "defaultDomainName": "DefaultdomainName", "displayName": "DisplayName"}
GRAPH_REQUEST_DEFAULT_TOP = 999


class CippError(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status, self.text = status, text


@cipp.errorhandler(CippError)
def _cipp_error(error: CippError) -> Response:
    return Response(error.text, status=error.status, mimetype="text/plain")


@cipp.before_request
def _authenticate() -> None:
    header = request.headers.get("Authorization", "")
    token = state().tokens.access(header[7:].strip()) if header.startswith("Bearer ") else None
    if token is None or token.audience != "cipp" or token.expired:
        raise CippError(401, "Unauthorized")
    g.cipp_params = {k.lower(): v for k, v in request.args.items()}


def _params() -> dict[str, str]:
    params: dict[str, str] = g.cipp_params
    return params


def _live_non_mlt(customer: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        r
        for r in customer.get("relationships", [])
        if r.get("status") in LIVE_RELATIONSHIP_STATUSES and not r.get("displayName", "").startswith("MLT_")
    ]


def _tenant_row(sim: SimulatorState, tenant: dict[str, Any], display_name: str | None = None) -> dict[str, Any]:
    relationships = _live_non_mlt(tenant)
    return {
        "customerId": tenant["tenantId"],
        "displayName": display_name or tenant["displayName"],
        "defaultDomainName": sim.dataset.default_domain(tenant),
        "initialDomainName": sim.dataset.initial_domain(tenant),
        "domains": "",
        "delegatedPrivilegeStatus": "granularDelegatedAdminPrivileges",
        "relationshipEnd": max((r.get("endDateTime") or "" for r in relationships), default=None),
        "relationshipCount": len(relationships),
        "GraphErrorCount": 0,
        "LastGraphError": "",
        "Excluded": bool(tenant.get("cippExcluded")),
        "RowKey": tenant["tenantId"],
        "PartitionKey": "Tenants",
    }


def list_tenants(sim: SimulatorState) -> Response:
    if sim.faults.faults.cipp_list_tenants_failure:
        return jsonify(
            [
                {
                    "Results": "Failed to retrieve tenants: Could not get token: invalid_grant: AADSTS700082",
                    "customerId": "",
                    "displayName": "Failed to retrieve tenants. Perform a permission check.",
                }
            ]
        )
    all_tenants = {
        "customerId": "AllTenants",
        "defaultDomainName": "AllTenants",
        "initialDomainName": "AllTenants",
        "displayName": "*All Tenants",
        "domains": "",
        "GraphErrorCount": 0,
        "LastGraphError": "",
        "Excluded": False,
    }
    rows = [all_tenants, _tenant_row(sim, sim.dataset.partner, "* Partner Tenant")]
    rows += [_tenant_row(sim, c) for c in sim.dataset.customers if _live_non_mlt(c)]
    if sim.faults.faults.cipp_legacy_keys:
        rows = [{LEGACY_KEYS.get(k, k): v for k, v in row.items()} for row in rows]
    return jsonify(rows)


def _target(sim: SimulatorState) -> dict[str, Any]:
    """The tenant named by tenantFilter (id or domain), or the partner's when absent, as CIPP does."""
    reference = _params().get("tenantfilter")
    if not reference:
        return sim.dataset.partner
    tenant = sim.dataset.tenant(reference)
    if tenant is None:
        raise CippError(500, f"Could not get token: invalid_request:AADSTS90002: Tenant '{reference}' not found.")
    if sim.dataset.is_customer(tenant):
        if not sim.dataset.gdap_active(tenant) or tenant["tenantId"] in sim.faults.faults.no_gdap:
            raise CippError(
                500,
                "Could not get token: invalid_grant:AADSTS50020: User account from identity provider "
                "does not exist in tenant and cannot access the application.",
            )
        if not tenant.get("appConsent", True) or tenant["tenantId"] in sim.faults.faults.no_consent:
            raise CippError(
                500,
                "Could not get token: invalid_grant:AADSTS65001: The user or administrator has not "
                "consented to use the application. Insufficient privileges to complete the operation.",
            )
    return tenant


def _cipp_user(user: dict[str, Any]) -> dict[str, Any]:
    """Graph beta's user shape as CIPP relays it, plus CIPP's computed columns."""
    upn = user["userPrincipalName"]
    row = {name: user[name] for name in USER_PROPERTIES if name != "deletedDateTime"}
    row.update(city=None, country=None, onPremisesImmutableId=None, onPremisesLastSyncDateTime=None)
    row.update(
        username=upn.split("@")[0],
        primDomain=upn.rpartition("@")[2],
        Aliases=", ".join(a.split(":", 1)[-1] for a in user["proxyAddresses"]),
        LicJoined=", ".join(
            SKU_NAMES.get(lic.get("skuId", ""), lic.get("skuId", "")) for lic in user["assignedLicenses"]
        ),
    )
    return row


def list_users(sim: SimulatorState) -> Response:
    tenant = _target(sim)
    users = [_cipp_user(u) for u in sim.faults.listed(sim.dataset.live_users(tenant), tenant["tenantId"])]
    graph_pages = max(1, -(-len(users) // GRAPH_REQUEST_DEFAULT_TOP))  # CIPP reads Graph in pages of 999
    if sim.faults.page_fails(tenant["tenantId"], graph_pages - 1):
        raise CippError(500, "Could not retrieve users: the Graph request failed part-way through paging.")
    return jsonify(sim.faults.malform(users, tenant["tenantId"]))


_GRAPH_REQUEST_SOURCES: dict[str, Callable[[SimulatorState, dict[str, Any]], list[dict[str, Any]]]] = {
    "users": lambda sim, tenant: [_cipp_user(u) for u in sim.dataset.live_users(tenant)],
    "directory/deletedItems/microsoft.graph.user": lambda sim, tenant: [
        {"@odata.type": "#microsoft.graph.user", **u} for u in sim.dataset.deleted_users(tenant)
    ],
    "domains": lambda sim, tenant: [dict(d) for d in tenant["domains"]],
}


def list_graph_request(sim: SimulatorState) -> Response:
    """``{Results, Metadata}``: one page with ``manualPagination=true`` (follow Metadata.nextLink), else everything."""
    params = _params()
    endpoint = params.get("endpoint", "").strip("/")
    source = _GRAPH_REQUEST_SOURCES.get(endpoint)
    if source is None:
        return _graph_request_error(400, f"Endpoint {endpoint!r} is not served by the simulator.")
    try:
        tenant = _target(sim)
    except CippError as exc:
        return _graph_request_error(403, exc.text)
    select = [n.strip() for n in params.get("$select", "").split(",") if n.strip()]
    items = source(sim, tenant)
    if select:
        items = [{k: v for k, v in item.items() if k in select or k.startswith("@")} for item in items]
    items = sim.faults.malform(items, tenant["tenantId"]) if endpoint == "users" else items
    top = max(1, int(params["$top"])) if params.get("$top", "").isdigit() else GRAPH_REQUEST_DEFAULT_TOP
    if params.get("manualpagination", "").lower() != "true":
        if endpoint == "users" and sim.faults.page_fails(tenant["tenantId"], max(0, len(items) - 1) // top):
            return _graph_request_error(500, "Failed to retrieve data: the Graph request failed part-way through.")
        return jsonify({"Results": items, "Metadata": {}})
    position = {"o": 0, "p": 0}
    if params.get("nextlink"):
        skiptoken = dict(parse_qsl(urlsplit(params["nextlink"]).query)).get("$skiptoken", "")
        position = odata.decode_token(skiptoken) or position
    if endpoint == "users" and sim.faults.page_fails(tenant["tenantId"], int(position.get("p", 0))):
        return _graph_request_error(500, "Failed to retrieve data: the Graph request failed part-way through.")
    offset = int(position.get("o", 0))
    metadata: dict[str, Any] = {}
    if offset + top < len(items):
        graph_query = {k: v for k, v in request.args.items() if k.startswith("$")}
        graph_query["$skiptoken"] = odata.encode_token({"o": offset + top, "p": int(position.get("p", 0)) + 1})
        metadata["nextLink"] = f"https://graph.microsoft.com/beta/{endpoint}?{urlencode(graph_query)}"
    return jsonify({"Results": items[offset : offset + top], "Metadata": metadata})


def _graph_request_error(status: int, message: str) -> Response:
    response = jsonify({"Results": message})
    response.status_code = status
    return response


def me(sim: SimulatorState) -> Response:
    app_id = sim.credentials.cipp_client_id
    return jsonify(
        {
            "clientPrincipal": {
                "appId": app_id,
                "appRole": ["readonly"],
                "identityProvider": "aad",
                "userDetails": app_id,
                "userRoles": ["readonly", "authenticated"],
            },
            "permissions": ["CIPP.Core.Read", "Tenant.Administration.Read", "Identity.User.Read"],
        }
    )


def get_version(sim: SimulatorState) -> Response:
    return jsonify(
        {
            "LocalCIPPVersion": CIPP_VERSION,
            "RemoteCIPPVersion": CIPP_VERSION,
            "LocalCIPPAPIVersion": CIPP_VERSION,
            "RemoteCIPPAPIVersion": CIPP_VERSION,
            "OutOfDateCIPP": False,
            "OutOfDateCIPPAPI": False,
        }
    )


ENDPOINTS: dict[str, Callable[[SimulatorState], Response]] = {
    "ListTenants": list_tenants,
    "ListUsers": list_users,
    "ListGraphRequest": list_graph_request,
    "me": me,
    "GetVersion": get_version,
}


@cipp.route("/api/<endpoint>", methods=["GET", "POST"])
def dispatch(endpoint: str) -> Response:
    handler = ENDPOINTS.get(endpoint)  # exact casing, as the contract asks clients to use
    if handler is None:
        raise CippError(404, "Endpoint not found")
    return handler(state())
