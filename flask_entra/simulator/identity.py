"""The Microsoft identity platform under ``/login``: authorize (consent page), token (three grants), discovery, JWKS."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus, urlencode

from flask import Blueprint, Response, jsonify, render_template_string, request

from flask_entra.simulator.settings import GRAPH_RESOURCE
from flask_entra.simulator.state import SimulatorState, state
from flask_entra.simulator.tokens import AuthorizationCode, RefreshGrant

identity = Blueprint("sim_identity", __name__, url_prefix="/login")
IDENTITY_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})
GENERIC_AUTHORITIES = frozenset({"organizations", "common"})

_CONSENT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Permissions requested</title></head>
<body>
<h1>Permissions requested</h1>
<p>The app <strong>{{ client_id }}</strong> (simulated Microsoft identity platform) would like to:</p>
<ul>{% for scope in scopes %}<li>{{ scope }}</li>{% endfor %}</ul>
<form method="post" action="{{ action }}">
  <label for="user">Signed in as</label>
  <select id="user" name="user">{% for user in users %}
    <option value="{{ user.id }}" {% if user.selected %}selected{% endif %}>{{ user.name }} ({{ user.upn }})</option>
  {% endfor %}</select>
  <button type="submit" name="consent" value="accept" id="accept">Accept</button>
  <button type="submit" name="consent" value="cancel" id="cancel">Cancel</button>
</form>
</body></html>"""


def login_base() -> str:
    return f"{request.url_root}login"


def issuer(tenant_id: str) -> str:
    return f"{login_base()}/{tenant_id}/v2.0"


def aad_error(status: int, error: str, code: int, message: str, suberror: str | None = None) -> Response:
    """The identity platform's error body: AADSTS code first in the description, then trace and correlation ids."""
    trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    timestamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    body: dict[str, Any] = {
        "error": error,
        "error_description": f"AADSTS{code}: {message} Trace ID: {trace_id} Correlation ID: {correlation_id} "
        f"Timestamp: {timestamp}",
        "error_codes": [code],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"{login_base()}/error?code={code}",
    }
    if suberror:
        body["suberror"] = suberror
    response = jsonify(body)
    response.status_code = status
    return response


def _error_page(code: int, message: str) -> Response:
    """Errors Entra shows to the user instead of redirecting (unknown app, unregistered redirect URI)."""
    page = render_template_string(
        "<!doctype html><title>Sign in error</title><h1>Sorry, but we're having trouble "
        "signing you in.</h1><p>AADSTS{{ code }}: {{ message }}</p>",
        code=code,
        message=message,
    )
    return Response(page, status=400, mimetype="text/html")


def _authority(sim: SimulatorState, reference: str) -> dict[str, Any] | None:
    return sim.dataset.partner if reference.lower() in GENERIC_AUTHORITIES else sim.dataset.tenant(reference)


def _redirect_with(uri: str, params: dict[str, str | None]) -> Response:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return Response(status=302, headers={"Location": f"{uri}{'&' if '?' in uri else '?'}{query}"})


def _resource(scope: str) -> str:
    return scope.rsplit("/", 1)[0] if "://" in scope else GRAPH_RESOURCE


def _audience(sim: SimulatorState, scopes: list[str]) -> tuple[str | None, Response | None]:
    """("graph" | "cipp", None) for scopes naming one known resource, else (None, the identity platform's error)."""
    resources = {_resource(s) for s in scopes if s not in IDENTITY_SCOPES} or {GRAPH_RESOURCE}
    if len(resources) > 1:
        return None, aad_error(
            400,
            "invalid_scope",
            70011,
            "The provided value for the input parameter 'scope' isn't "
            "valid: a token request may only name scopes of one resource.",
        )
    resource = resources.pop()
    if resource == GRAPH_RESOURCE:
        return "graph", None
    if resource == f"api://{sim.credentials.cipp_client_id}":
        return "cipp", None
    return None, aad_error(
        400, "invalid_resource", 500011, f"The resource principal named {resource} was not found in the tenant."
    )


@identity.get("/<tenant>/v2.0/.well-known/openid-configuration")
def openid_configuration(tenant: str) -> Response:
    found = _authority(state(), tenant)
    if found is None:
        return aad_error(400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
    authority = f"{login_base()}/{tenant}"
    return jsonify(
        {
            # like Entra: a multi-tenant authority's issuer is a template the client fills with the token's tid
            "issuer": issuer("{tenantid}" if tenant.lower() in GENERIC_AUTHORITIES else found["tenantId"]),
            "authorization_endpoint": f"{authority}/oauth2/v2.0/authorize",
            "token_endpoint": f"{authority}/oauth2/v2.0/token",
            "jwks_uri": f"{authority}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "code_challenge_methods_supported": ["S256", "plain"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "nonce",
                "name",
                "preferred_username",
                "oid",
                "tid",
                "ver",
            ],
            "tenant_region_scope": "NA",
        }
    )


@identity.get("/<tenant>/discovery/v2.0/keys")
def keys(tenant: str) -> Response:
    return jsonify(state().tokens.jwks())


@identity.route("/<tenant>/oauth2/v2.0/authorize", methods=["GET", "POST"])
def authorize(tenant: str) -> Response:
    sim = state()
    args = request.args
    if _authority(sim, tenant) is not sim.dataset.partner:
        return _error_page(90002, f"Tenant '{tenant}' not found, or the signing-in account does not belong to it.")
    if args.get("client_id") != sim.credentials.client_id:
        return _error_page(
            700016, f"Application with identifier '{args.get('client_id')}' was not found in the directory '{tenant}'."
        )
    redirect_uri = args.get("redirect_uri", "")
    if not sim.credentials.redirect_uri_registered(redirect_uri):
        return _error_page(
            50011,
            f"The redirect URI '{redirect_uri}' specified in the request does not match the "
            f"redirect URIs configured for the application '{sim.credentials.client_id}'.",
        )
    state_value = args.get("state")
    fail = {"state": state_value}
    if args.get("response_type") != "code":
        return _redirect_with(
            redirect_uri,
            {
                **fail,
                "error": "unsupported_response_type",
                "error_description": "AADSTS700054: response_type must be 'code'.",
            },
        )
    if args.get("code_challenge") and args.get("code_challenge_method", "plain") not in ("S256", "plain"):
        return _redirect_with(
            redirect_uri,
            {
                **fail,
                "error": "invalid_request",
                "error_description": "AADSTS50027: unsupported code_challenge_method.",
            },
        )
    if sim.faults.faults.authorize_error:
        return _redirect_with(
            redirect_uri,
            {
                **fail,
                "error": sim.faults.faults.authorize_error,
                "error_description": "AADSTS65004: simulated authorization failure.",
            },
        )
    scopes = args.get("scope", "").split()
    _, scope_error = _audience(sim, scopes)
    if scope_error is not None:
        return _redirect_with(
            redirect_uri,
            {**fail, "error": "invalid_scope", "error_description": "AADSTS70011: the scopes must name one resource."},
        )
    users = [
        u for u in sim.dataset.live_users(sim.dataset.partner) if u["accountEnabled"] and u["userType"] == "Member"
    ]
    if request.method == "GET":
        hint = (args.get("login_hint") or "").lower()
        return Response(
            render_template_string(
                _CONSENT_PAGE,
                client_id=sim.credentials.client_id,
                scopes=scopes,
                action=request.full_path,
                users=[
                    {
                        "id": u["id"],
                        "name": u["displayName"],
                        "upn": u["userPrincipalName"],
                        "selected": u["userPrincipalName"].lower() == hint,
                    }
                    for u in users
                ],
            ),
            mimetype="text/html",
        )
    if request.form.get("consent") != "accept":
        return _redirect_with(
            redirect_uri,
            {
                **fail,
                "error": "access_denied",
                "error_description": "AADSTS65004: User declined to consent to access the app.",
            },
        )
    user = next((u for u in users if u["id"] == request.form.get("user")), users[0] if users else None)
    if user is None:
        return _error_page(50034, "The user account does not exist in the directory.")
    code = sim.tokens.issue_code(
        AuthorizationCode(
            client_id=sim.credentials.client_id,
            redirect_uri=redirect_uri,
            user_id=user["id"],
            tenant_id=sim.dataset.partner_id,
            scopes=tuple(scopes),
            nonce=args.get("nonce"),
            code_challenge=args.get("code_challenge"),
            code_challenge_method=args.get("code_challenge_method", "plain"),
        )
    )
    return _redirect_with(redirect_uri, {"code": code, "state": state_value, "session_state": str(uuid.uuid4())})


def _client(sim: SimulatorState, tenant: str) -> tuple[str, Response | None]:
    """(client id, error): client_secret_post or client_secret_basic, compared in constant time."""
    basic = request.authorization
    client_id = request.form.get("client_id") or (unquote_plus(basic.username or "") if basic else "")
    secret = request.form.get("client_secret") or (unquote_plus(basic.password or "") if basic else "")
    known = {
        sim.credentials.client_id: sim.credentials.client_secret,
        sim.credentials.cipp_client_id: sim.credentials.cipp_client_secret,
    }
    if client_id not in known:
        return client_id, aad_error(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory '{tenant}'.",
        )
    if not secret:
        return client_id, aad_error(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )
    if not hmac.compare_digest(secret.encode(), known[client_id].encode()):
        return client_id, aad_error(
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret "
            f"being sent in the request is the client secret value for app '{client_id}'.",
        )
    return client_id, None


def _token_answer(
    sim: SimulatorState,
    tenant_id: str,
    audience: str,
    user: dict[str, Any] | None,
    client_id: str,
    scopes: list[str],
    refresh: RefreshGrant | None,
    nonce: str | None = None,
) -> Response:
    lifetime = sim.faults.faults.access_token_lifetime
    subject = user["id"] if user else client_id
    body: dict[str, Any] = {
        "token_type": "Bearer",
        "scope": " ".join(s for s in scopes if s != "offline_access"),
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": sim.tokens.issue_access(tenant_id, audience, subject, lifetime, delegated=user is not None),
    }
    if refresh is not None and "offline_access" in refresh.scopes:
        body["refresh_token"] = sim.tokens.issue_refresh(refresh)
    if user is not None and "openid" in scopes:
        claims = {
            "iss": issuer(tenant_id),
            "aud": client_id,
            "tid": tenant_id,
            "oid": user["id"],
            "sub": hashlib.sha256(f"{user['id']}:{client_id}".encode()).hexdigest()[:43],
            "preferred_username": user["userPrincipalName"],
            "name": user["displayName"],
        }
        body["id_token"] = sim.tokens.id_token({**claims, **({"nonce": nonce} if nonce else {})})
    return jsonify(body)


@identity.post("/<tenant>/oauth2/v2.0/token")
def token(tenant: str) -> Response:
    sim = state()
    client_id, client_error = _client(sim, tenant)
    if client_error is not None:
        return client_error
    authority = _authority(sim, tenant)
    if authority is None:
        return aad_error(
            400,
            "invalid_request",
            90002,
            f"Tenant '{tenant}' not found. Check to make sure you have the "
            "correct tenant ID and are signing into the correct cloud.",
        )
    grant_type = request.form.get("grant_type")
    if grant_type == "authorization_code":
        return _redeem_code(sim, authority, client_id)
    if grant_type == "refresh_token":
        return _redeem_refresh_token(sim, authority, client_id)
    if grant_type == "client_credentials":
        return _client_credentials(sim, authority, client_id)
    return aad_error(
        400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant_type}'."
    )


def _redeem_code(sim: SimulatorState, authority: dict[str, Any], client_id: str) -> Response:
    code, first_use = sim.tokens.redeem_code(request.form.get("code", ""))
    if code is None:
        return aad_error(400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
    if not first_use:
        return aad_error(
            400,
            "invalid_grant",
            54005,
            "OAuth2 Authorization code was already redeemed, please retry "
            "with a new valid code or use an existing refresh token.",
        )
    if code.expires_at < time.time() or code.client_id != client_id or authority["tenantId"] != code.tenant_id:
        return aad_error(
            400,
            "invalid_grant",
            70008,
            "The provided authorization code has expired or was issued to another client or tenant.",
        )
    if request.form.get("redirect_uri") != code.redirect_uri:
        return aad_error(
            400,
            "invalid_grant",
            500112,
            "The reply address does not match the reply address provided when requesting the authorization code.",
        )
    if code.code_challenge:
        verifier = request.form.get("code_verifier", "")
        expected = (
            verifier
            if code.code_challenge_method == "plain"
            else base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        )
        if not verifier or not hmac.compare_digest(expected, code.code_challenge):
            return aad_error(
                400,
                "invalid_grant",
                501481,
                "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
            )
    audience, scope_error = _audience(sim, list(code.scopes))
    if scope_error is not None or audience is None:
        return scope_error or aad_error(400, "invalid_scope", 70011, "Invalid scope.")
    user = sim.dataset.find_user(sim.dataset.partner, code.user_id)
    grant = RefreshGrant(user_id=user["id"], home_tenant_id=code.tenant_id, client_id=client_id, scopes=code.scopes)
    return _token_answer(sim, code.tenant_id, audience, user, client_id, list(code.scopes), grant, code.nonce)


def _redeem_refresh_token(sim: SimulatorState, authority: dict[str, Any], client_id: str) -> Response:
    grant = sim.tokens.refresh(request.form.get("refresh_token", ""))
    if grant is None or grant.client_id != client_id:
        return aad_error(400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
    if grant.revoked:
        return aad_error(
            400,
            "invalid_grant",
            700082,
            "The refresh token has expired due to inactivity. The token was "
            "issued long ago and was inactive for 90 days.",
            suberror="bad_token",
        )
    scopes = request.form.get("scope", "").split() or list(grant.scopes)
    audience, scope_error = _audience(sim, scopes)
    if scope_error is not None or audience is None:
        return scope_error or aad_error(400, "invalid_scope", 70011, "Invalid scope.")
    user = sim.dataset.find_user(sim.dataset.partner, grant.user_id)
    tenant_id = authority["tenantId"]
    if sim.dataset.is_customer(authority):
        if not sim.dataset.gdap_active(authority) or tenant_id in sim.faults.faults.no_gdap:
            return aad_error(
                400,
                "invalid_grant",
                50020,
                f"User account '{user['userPrincipalName']}' from identity "
                f"provider '{issuer(grant.home_tenant_id)}' does not exist in tenant "
                f"'{authority['displayName']}' and cannot access the application '{client_id}' in that "
                "tenant. The account needs to be added as an external user in the tenant first.",
            )
        if not authority.get("appConsent", True) or tenant_id in sim.faults.faults.no_consent:
            return aad_error(
                400,
                "invalid_grant",
                65001,
                f"The user or administrator has not consented to use the "
                f"application with ID '{client_id}'. Send an interactive authorization request for this "
                "user and resource.",
                suberror="consent_required",
            )
    return _token_answer(sim, tenant_id, audience, user, client_id, scopes, replace(grant))


def _client_credentials(sim: SimulatorState, authority: dict[str, Any], client_id: str) -> Response:
    scopes = request.form.get("scope", "").split()
    if len(scopes) != 1 or not scopes[0].endswith("/.default"):
        return aad_error(
            400,
            "invalid_scope",
            1002012,
            f"The provided value for scope {' '.join(scopes)} is not "
            "valid. Client credential flows must have a scope value with /.default suffixed to the "
            "resource identifier (application ID URI).",
        )
    audience, scope_error = _audience(sim, scopes)
    if scope_error is not None or audience is None:
        return scope_error or aad_error(400, "invalid_scope", 70011, "Invalid scope.")
    home = sim.cipp_tenant_id if audience == "cipp" else sim.dataset.partner_id
    if authority["tenantId"] != home:
        return aad_error(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory '{authority['tenantId']}'.",
        )
    return _token_answer(sim, home, audience, None, client_id, scopes, None)
