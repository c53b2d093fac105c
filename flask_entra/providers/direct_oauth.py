"""The partner admin's one-time sign-in for a Direct connection: authorization code with PKCE, then code redemption.

The caller keeps ``state``, ``code_verifier`` and ``nonce`` server-side between the two steps. The id_token is checked
(signature against the authority's published keys, issuer, audience, nonce, expiry) before its ``tid`` is trusted as
the partner tenant.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from flask_entra.errors import ProviderAuthError, ProviderError
from flask_entra.providers.direct import DEFAULT_LOGIN_BASE_URL, GRAPH_RESOURCE
from flask_entra.providers.http import HttpClient

SIGN_IN_SCOPES = (
    "openid",
    "profile",
    "offline_access",
    f"{GRAPH_RESOURCE}/DelegatedAdminRelationship.Read.All",
    f"{GRAPH_RESOURCE}/User.Read.All",
    f"{GRAPH_RESOURCE}/Directory.Read.All",
)
#: Tolerated clock difference with Microsoft when checking ``exp`` and ``nbf``.
CLOCK_SKEW_SECONDS = 120
_RECONNECT = "Start the Microsoft connection again; if it keeps failing, check the app registration's redirect URI."


@dataclass(frozen=True)
class AuthorizationRequest:
    """Where to send the browser, and what to keep server-side for :func:`redeem_code`."""

    url: str
    state: str
    code_verifier: str = field(repr=False)
    nonce: str


@dataclass(frozen=True)
class RedeemedSignIn:
    """The outcome of a sign-in. ``repr`` hides the refresh token."""

    refresh_token: str = field(repr=False)
    partner_tenant_id: str
    user_object_id: str
    preferred_username: str | None
    name: str | None


def _authority(login_base_url: str, tenant: str) -> str:
    return f"{login_base_url.rstrip('/')}/{tenant}"


def start_authorization(
    *,
    client_id: str,
    redirect_uri: str,
    login_base_url: str = DEFAULT_LOGIN_BASE_URL,
    tenant: str = "organizations",
    login_hint: str | None = None,
) -> AuthorizationRequest:
    """Build the authorize URL (PKCE S256, state, nonce, account picker) for the partner admin's sign-in."""
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 characters: within RFC 7636's 43..128
    nonce = secrets.token_urlsafe(32)
    query = {
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "response_mode": "query",
        "scope": " ".join(SIGN_IN_SCOPES),
        "state": state,
        "nonce": nonce,
        "prompt": "select_account",
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    if login_hint:
        query["login_hint"] = login_hint
    url = f"{_authority(login_base_url, tenant)}/oauth2/v2.0/authorize?{urlencode(query)}"
    return AuthorizationRequest(url=url, state=state, code_verifier=verifier, nonce=nonce)


def redeem_code(
    *,
    client_id: str,
    client_secret: str,
    code: str,
    code_verifier: str,
    redirect_uri: str,
    nonce: str,
    login_base_url: str = DEFAULT_LOGIN_BASE_URL,
    tenant: str = "organizations",
    http: HttpClient | None = None,
) -> RedeemedSignIn:
    """Exchange the authorization code, verify the id_token and return the refresh token and who signed in."""
    client = http or HttpClient()
    try:
        body = client.post_token(
            f"{_authority(login_base_url, tenant)}/oauth2/v2.0/token",
            {
                "client_id": client_id,
                "client_secret": client_secret,
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
                "scope": " ".join(SIGN_IN_SCOPES),
            },
        )
        refresh_token = body.get("refresh_token")
        id_token = body.get("id_token")
        if not isinstance(refresh_token, str) or not refresh_token:
            raise ProviderAuthError(
                "Microsoft issued no refresh token.",
                advice="Grant the offline_access permission on the app registration, then connect again.",
            )
        if not isinstance(id_token, str):
            raise ProviderAuthError("Microsoft issued no id_token.", advice=_RECONNECT)
        claims = verify_id_token(
            id_token, client_id=client_id, nonce=nonce, login_base_url=login_base_url, tenant=tenant, http=client
        )
    finally:
        if http is None:
            client.close()
    return RedeemedSignIn(
        refresh_token=refresh_token,
        partner_tenant_id=claims["tid"],
        user_object_id=claims["oid"],
        preferred_username=claims.get("preferred_username"),
        name=claims.get("name"),
    )


def verify_id_token(
    id_token: str,
    *,
    client_id: str,
    nonce: str,
    http: HttpClient,
    login_base_url: str = DEFAULT_LOGIN_BASE_URL,
    tenant: str = "organizations",
) -> dict[str, Any]:
    """The id_token's claims once its signature (the authority's JWKS), issuer, audience, nonce and expiry check out."""
    metadata = http.get_json(f"{_authority(login_base_url, tenant)}/v2.0/.well-known/openid-configuration")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("jwks_uri"), str):
        raise ProviderError(
            "The identity platform's OpenID configuration has no jwks_uri.", advice="Check ENTRA_LOGIN_BASE_URL."
        )
    jwks = http.get_json(metadata["jwks_uri"])
    try:
        token = jwt.decode(id_token, KeySet.import_key_set(jwks), algorithms=["RS256"])
        claims = token.claims
        tenant_id = claims.get("tid")
        if not isinstance(tenant_id, str) or not isinstance(claims.get("oid"), str):
            raise ProviderAuthError("The id_token lacks the tid or oid claim.", advice=_RECONNECT)
        # Multi-tenant authorities publish the issuer with a {tenantid} placeholder.
        issuer = str(metadata.get("issuer", "")).replace("{tenantid}", tenant_id)
        jwt.JWTClaimsRegistry(
            leeway=CLOCK_SKEW_SECONDS,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": client_id},
            nonce={"essential": True, "value": nonce},
            exp={"essential": True},
        ).validate(claims)
    except (JoseError, ValueError, TypeError) as exc:
        reason = getattr(exc, "description", None) or type(exc).__name__
        raise ProviderAuthError(
            f"The id_token from Microsoft failed verification: {reason}.", advice=_RECONNECT
        ) from None
    return claims
