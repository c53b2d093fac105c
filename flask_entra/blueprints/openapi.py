"""The OpenAPI 3.1 document of every route flask-entra registers, built from the app's URL map.

Paths and methods come from the URL map (so configured prefixes are honoured), the access statuses from each view's
``Guard`` metadata (DESIGN.md's rules), and what is left, the summary, body, answer and the statuses of the route's
own logic, from the ``OPERATIONS`` table below. A route missing from that table is missing from the document, which
``tests/test_openapi.py`` catches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flask import Flask

from ..security import WRITE_METHODS, Guard
from . import openapi_schemas as s

JSON = "application/json"
HTML = "text/html"
ID_ARGUMENTS = frozenset({"entra_tenant_id", "run_id", "item_id", "client_id"})

ERRORS: dict[int, str] = {
    400: "Malformed body or parameters, a missing or invalid CSRF token, or (connect) a probe that failed: nothing "
    "was saved.",
    401: "Not signed in.",
    403: "A client-portal user, or the permission is missing.",
    404: "Not found: unknown, another tenant's, or the surface's feature flag is off for this tenant.",
    409: "The request contradicts the current state (no active connection, nothing mapped, already resolved...).",
    501: "Community edition: the Entra integration is part of the enterprise edition.",
    503: "A backing service (Temporal, the secret store or the flag store) could not be reached; retry later.",
}
PAGE_ERRORS: dict[int, str] = {
    302: "Not signed in: redirected to the host's sign-in page.",
    403: "A client-portal user, or the permission is missing (a bare page with no Entra content).",
    404: "Not found, another tenant's, or the feature flag is off.",
}


@dataclass(frozen=True)
class Operation:
    """What the URL map and guard cannot tell about a route."""

    summary: str
    answer: s.Schema | None = None  # JSON answer of the success status; None: an HTML page or a redirect
    status: int = 200
    body: s.Schema | None = None
    errors: tuple[int, ...] = ()  # statuses of the route's own logic, beyond the guard's
    query: dict[str, s.Schema] = field(default_factory=dict)


def _list_of(key: str, item: s.Schema) -> s.Schema:
    return s.obj({key: s.array(item)})


BACKEND = 503
CONNECT = (400, BACKEND)

OPERATIONS: dict[str, Operation] = {
    "entra_api.openapi_document": Operation(
        "This document.", s.obj({"openapi": s.STRING, "info": {"type": "object"}, "paths": {"type": "object"}})
    ),
    "entra_api.status": Operation(
        "Connection, counts, settings, last run and which flagged surfaces are on.", s.STATUS
    ),
    "entra_api.connect_direct": Operation(
        "Start the Direct partner sign-in; state and PKCE verifier stay server-side.",
        s.obj({"authorize_url": {"type": "string", "format": "uri"}}),
        errors=CONNECT,
    ),
    "entra_api.connect_cipp": Operation(
        "Probe CIPP-API with these credentials, then store them and activate.",
        s.CONNECTED,
        body=s.CIPP_BODY,
        errors=CONNECT,
    ),
    "entra_api.validate": Operation(
        "Re-probe the active connection and record the outcome.",
        s.obj({"ok": s.BOOLEAN, "connection": s.ref("Connection")}),
        errors=(409, BACKEND),
    ),
    "entra_api.disconnect": Operation(
        "Deactivate; remove its secrets and schedule (tenants, mappings, links and runs are kept).",
        s.obj({"disconnected": {"const": True}}),
        errors=(409, BACKEND),
    ),
    "entra_api.discovery_start": Operation(
        "Start (or join) the discovery workflow.", s.obj({"workflow_id": s.STRING}), 202, errors=(409, BACKEND)
    ),
    "entra_api.discovery_status": Operation("The latest discovery.", s.DISCOVERY, errors=(BACKEND,)),
    "entra_api.tenants": Operation(
        "Discovered Microsoft tenants with their active mapping.", _list_of("tenants", s.ref("ManagedTenant"))
    ),
    "entra_api.clients": Operation(
        "Search the host's clients (the mapping step's picker).",
        _list_of("clients", s.CLIENT_HIT),
        query={
            "q": {"type": "string", "description": "Matched against names and domains; the first 100 characters count."}
        },
    ),
    "entra_api.mappings_preview": Operation("Suggested and decided mappings; writes nothing.", s.PREVIEW),
    "entra_api.mappings_confirm": Operation(
        "Apply every decision in one transaction, or none; optionally start the initial sync.",
        s.CONFIRMED,
        body=s.CONFIRM_BODY,
        errors=(404, 409, BACKEND),
    ),
    "entra_api.mappings_unmap": Operation(
        "End the active mapping of a Microsoft tenant; history is kept.",
        s.obj({"entra_tenant_id": s.STRING, "unmapped": {"const": True}}),
    ),
    "entra_api.mappings_history": Operation(
        "Every mapping decision of a Microsoft tenant, newest first.", _list_of("history", s.HISTORY_ENTRY)
    ),
    "entra_api.sync_start": Operation(
        "Start (or join) a sync run.", s.ref("Started"), 202, body=s.SYNC_BODY, errors=(404, 409, BACKEND)
    ),
    "entra_api.sync_release": Operation(
        "Apply the inactivations the mass-inactivation guard held for one Microsoft tenant of a run.",
        s.RELEASED,
        errors=(409,),
    ),
    "entra_api.runs": Operation("Latest runs, newest first.", _list_of("runs", s.ref("Run"))),
    "entra_api.run_detail": Operation("A run with its per-Microsoft-tenant results.", s.ref("Run")),
    "entra_api.settings": Operation("Sync settings (field toggles only with their flag).", s.ref("Settings")),
    "entra_api.settings_update": Operation(
        "Validate, then save the sync settings; the schedule follows.", s.ref("Settings"), body=s.SETTINGS_BODY
    ),
    "entra_api.reconciliation": Operation(
        "Open review items with their candidate contacts.", _list_of("items", s.ref("ReviewItem"))
    ),
    "entra_api.reconciliation_resolve": Operation(
        "Link to a contact of the item's client, create a contact, or dismiss.",
        s.ref("ReviewItem"),
        body=s.RESOLVE_BODY,
        errors=(409,),
    ),
    "entra_client_sync.client_sync": Operation(
        "Sync one client's mapped Microsoft tenants.", s.ref("Started"), 202, errors=(409, BACKEND)
    ),
    "entra_oauth.callback": Operation(
        "Microsoft's redirect after the partner sign-in: validates the single-use state, redeems the code with the "
        "PKCE verifier, probes Graph, stores the refresh token, then redirects to the wizard (advice flashed on "
        "failure).",
        status=302,
        errors=(BACKEND,),
        query=dict.fromkeys(("state", "code", "error", "error_description"), s.STRING),
    ),
    "entra_flags_api.list_flags": Operation("Feature flags.", _list_of("flags", s.ref("Flag")), errors=(BACKEND,)),
    "entra_flags_api.create_flag": Operation(
        "Create a flag, or the five Entra flags with {'__action': 'ensure_entra_flags'}.",
        {"oneOf": [s.ref("Flag"), _list_of("flags", s.ref("Flag"))]},
        201,
        body=s.FLAG_CREATE_BODY,
        errors=(BACKEND,),
    ),
    "entra_flags_api.set_enabled": Operation(
        "Enable or disable a flag.", s.ref("Flag"), body=s.FLAG_ENABLED_BODY, errors=(404, BACKEND)
    ),
    "entra_flags_api.set_tenants": Operation(
        "Target a flag to these tenants (empty: everyone, when enabled).",
        s.ref("Flag"),
        body=s.FLAG_TENANTS_BODY,
        errors=(404, BACKEND),
    ),
    "entra_pages.overview": Operation("Status overview and the wizard's entry."),
    "entra_pages.connect": Operation("Step 1: connect Direct or CIPP."),
    "entra_pages.discover": Operation("Step 2: discovery and the discovered tenants."),
    "entra_pages.map": Operation("Step 3: map Microsoft tenants to clients."),
    "entra_pages.sync": Operation("Step 4: dry run and initial sync."),
    "entra_pages.runs": Operation("Run history."),
    "entra_pages.run_detail": Operation("A run's per-tenant results and held inactivations."),
    "entra_pages.review": Operation("The ambiguous-contact review queue."),
    "entra_pages.settings": Operation("Schedule, filters, guard threshold and field toggles."),
}


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


def _response(description: str, media: str | None = None, schema: s.Schema | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if media is not None:
        out["content"] = {media: {"schema": schema} if schema is not None else {}}
    return out


def _statuses(guard: Guard, op: Operation, method: str, id_bearing: bool) -> set[int]:
    """The guard's statuses (DESIGN.md's access rules) plus the route's own."""
    found = {400, 401, 403, 501, *op.errors}  # 400: a NUL character anywhere; on writes also CSRF and validation
    if guard.flags or id_bearing:
        found.add(404)
    return found


def _operation(endpoint: str, method: str, arguments: set[str], guard: Guard, op: Operation) -> dict[str, Any]:
    id_bearing = bool(arguments & ID_ARGUMENTS)
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in sorted(arguments)
    ] + [{"name": name, "in": "query", "required": False, "schema": schema} for name, schema in op.query.items()]
    responses: dict[str, Any]
    if guard.page:
        responses = {"200": _response("The page.", HTML, s.STRING)}
        for status, text in PAGE_ERRORS.items():
            if status != 404 or guard.flags or id_bearing:
                responses[str(status)] = _response(text, HTML if status != 302 else None)
    else:
        ok = _response(op.summary, JSON, op.answer) if op.answer is not None else _response("Redirect.")
        responses = {str(op.status): ok}
        for status in sorted(_statuses(guard, op, method, id_bearing)):
            responses[str(status)] = _response(ERRORS[status], JSON, s.ref("Error"))
    out: dict[str, Any] = {
        "operationId": endpoint.replace(".", "_"),
        "summary": op.summary,
        "tags": [endpoint.split(".")[0]],
        "responses": responses,
    }
    if parameters:
        out["parameters"] = parameters
    if op.body is not None:
        out["requestBody"] = {"required": True, "content": {JSON: {"schema": op.body}}}
    if method in WRITE_METHODS:
        out["description"] = "Needs the CSRF token in the X-CSRFToken header (from the page's csrf-token meta tag)."
    return out


def build_document(app: Flask) -> dict[str, Any]:
    """The document for ``app``: every route of ours that ``OPERATIONS`` describes."""
    paths: dict[str, dict[str, Any]] = {}
    for rule in app.url_map.iter_rules():
        op = OPERATIONS.get(rule.endpoint)
        guard = getattr(app.view_functions[rule.endpoint], "entra_guard", None)
        if op is None or guard is None:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            path = paths.setdefault(openapi_path(rule.rule), {})
            path[method.lower()] = _operation(rule.endpoint, method, set(rule.arguments), guard, op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "flask-entra",
            "version": "1",
            "description": "Microsoft Entra integration of the host PSA. Every call runs as the signed-in user of the "
            "host's session cookie; writes need the CSRF token in the X-CSRFToken header. Errors are "
            '{"error": code, "message": text}.',
        },
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": s.COMPONENTS},
    }
