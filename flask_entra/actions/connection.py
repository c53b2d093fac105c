"""Connecting to Microsoft (Direct sign-in with GDAP) or to CIPP-API, validating, disconnecting.

Nothing is saved until the new connection has been probed. Secrets go only to the secret chain; the connection row
holds no secret. Switching type removes the other type's secrets.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Row, delete, select

from .. import flags
from .. import secrets as names
from ..errors import Conflict, ConnectionFailed, EntraError, ValidationFailed
from ..host import UPDATE, Principal
from ..models import Connection, OAuthState, utcnow
from ..providers.advice import aadsts_code, advice_for_aadsts
from ..providers.base import Provider
from ..providers.cipp import CippProvider
from ..providers.direct import DirectProvider
from ..providers.direct_oauth import redeem_code, start_authorization
from ..providers.http import HttpClient, http_client_from_config, scrub
from ..state import EntraState, get_state
from . import serialize
from ._common import enter, field, json_object, session
from .schedules import reconcile_schedule

DIRECTORY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,253}")
STATE_TTL = timedelta(minutes=15)
#: An operator waits on connect and validate: one retry at most, not the worker's patient budget.
INTERACTIVE_MAX_RETRIES = 1
_START_AGAIN = "Start again from the Connect step."
_NOTHING_SAVED = "Nothing was saved; fix the cause above, then connect again."
_ADMIN_CONSENT = (
    "The app registration is not consented in your partner tenant: a Global Administrator of the partner tenant "
    "signs in once and accepts the consent for the organisation (or grants admin consent on the app's API "
    "permissions in the Entra admin center), then connect again."
)
_DECLINED = (
    "The sign-in was cancelled or the permissions were declined: connect again and accept them; if your account may "
    "not consent, ask a Global Administrator to grant admin consent first."
)
#: At the callback an AADSTS code is about the partner tenant, not a customer: advice worded for that moment.
_SIGN_IN_ADVICE_BY_ERROR = {"consent_required": _ADMIN_CONSENT, "access_denied": _DECLINED}
_SIGN_IN_ADVICE_BY_CODE = {65001: _ADMIN_CONSENT, 90094: _ADMIN_CONSENT, 65004: _DECLINED}


def _http(state: EntraState, *, interactive: bool = False) -> HttpClient:
    """One client per process and purpose: building one costs a TLS context (tens of ms of CPU)."""
    overrides = {"max_retries": min(INTERACTIVE_MAX_RETRIES, int(state.config["ENTRA_HTTP_MAX_RETRIES"]))}
    name, settings = ("http-interactive", overrides) if interactive else ("http", {})
    client: HttpClient = state.once(name, lambda: http_client_from_config(state.config, **settings))
    return client


def _app_credentials(state: EntraState) -> tuple[str, str]:
    client_id = state.secrets.get_app_secret(names.MICROSOFT_CLIENT_ID)
    client_secret = state.secrets.get_app_secret(names.MICROSOFT_CLIENT_SECRET)
    if not client_id or not client_secret:
        raise ConnectionFailed(
            "The Microsoft app registration is not configured.",
            advice="Set microsoft_client_id and microsoft_client_secret in the secret store (env MICROSOFT_CLIENT_ID / "
            "MICROSOFT_CLIENT_SECRET), then retry.",
        )
    return client_id, client_secret


def _state_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def connect_direct(principal: Principal | None, redirect_uri: str) -> dict[str, Any]:
    """Begin the partner sign-in: the authorize URL; state, PKCE verifier and nonce stay server-side."""
    principal, state = enter(principal, UPDATE)
    client_id, _ = _app_credentials(state)
    request = start_authorization(
        client_id=client_id, redirect_uri=redirect_uri, login_base_url=state.config["ENTRA_LOGIN_BASE_URL"]
    )
    s = session()
    s.execute(
        delete(OAuthState).where(OAuthState.tenant == principal.tenant, OAuthState.created_at < utcnow() - STATE_TTL)
    )
    s.add(
        OAuthState(
            tenant=principal.tenant,
            state_hash=_state_hash(request.state),
            user_id=principal.user_id,
            code_verifier=request.code_verifier,
            nonce=request.nonce,
        )
    )
    s.commit()
    return {"authorize_url": request.url}


def complete_direct(principal: Principal | None, params: dict[str, str], redirect_uri: str) -> dict[str, Any]:
    """The OAuth callback: state (single use, same tenant and user), code, probe, then save. Raises ConnectionFailed."""
    principal, state = enter(principal, UPDATE)
    pending = _consume_state(principal, params.get("state") or "")
    if params.get("error"):
        raise _sign_in_refused(params["error"], params.get("error_description") or "")
    if not params.get("code"):
        raise ConnectionFailed("Microsoft returned no authorization code.", advice=_START_AGAIN)
    client_id, client_secret = _app_credentials(state)
    http = _http(state, interactive=True)
    rotated: list[str] = []
    try:
        signed_in = redeem_code(
            client_id=client_id,
            client_secret=client_secret,
            code=params["code"],
            code_verifier=pending.code_verifier,
            redirect_uri=redirect_uri,
            nonce=pending.nonce,
            login_base_url=state.config["ENTRA_LOGIN_BASE_URL"],
            http=http,
        )
        # The probe refreshes the partner token (which may rotate the refresh token) and reads GDAP relationships.
        probe = _direct(state, signed_in.partner_tenant_id, signed_in.refresh_token, rotated.append, http).validate()
    except EntraError as exc:
        partner_advice = _SIGN_IN_ADVICE_BY_CODE.get(getattr(exc, "aadsts", None) or 0)
        raise ConnectionFailed(f"Connecting failed: {exc.message}", advice=partner_advice or exc.advice) from None
    if not probe.ok:
        raise ConnectionFailed(  # the probe's message already carries the cause's own advice
            f"Microsoft Graph could not be read with this sign-in: {probe.message}", advice=_NOTHING_SAVED
        )
    _activate(
        principal,
        state,
        "direct",
        {names.DIRECT_REFRESH_TOKEN: rotated[-1] if rotated else signed_in.refresh_token},
        partner_tenant_id=signed_in.partner_tenant_id,
    )
    return {"connected": True, "type": "direct"}


def _consume_state(principal: Principal, raw_state: str) -> Row[tuple[str, str, datetime]]:
    """Delete and return the pending sign-in in one statement, so two callbacks can never both use it.

    The tenant and user are part of the match: another user presenting the state neither uses nor burns it.
    """
    s = session()
    pending = s.execute(
        delete(OAuthState)
        .where(
            OAuthState.tenant == principal.tenant,
            OAuthState.state_hash == _state_hash(raw_state),
            OAuthState.user_id == principal.user_id,
        )
        .returning(OAuthState.code_verifier, OAuthState.nonce, OAuthState.created_at)
    ).one_or_none()
    s.commit()  # the state is spent even when what follows fails
    if pending is None or pending.created_at.replace(tzinfo=utcnow().tzinfo) < utcnow() - STATE_TTL:
        raise ConnectionFailed(
            "The sign-in could not be matched to a request from this session (expired, reused or forged state).",
            advice=_START_AGAIN,
        )
    return pending


def _sign_in_refused(error: str, description: str) -> ConnectionFailed:
    """Microsoft redirected back with ``?error=``: name the error and its AADSTS code, advise for the partner side."""
    code = aadsts_code(description)
    advice = (
        _SIGN_IN_ADVICE_BY_ERROR.get(error) or _SIGN_IN_ADVICE_BY_CODE.get(code or 0) or advice_for_aadsts(code, error)
    )
    reason = scrub(error)[:64] + (f", AADSTS{code}" if code else "")
    return ConnectionFailed(f"Microsoft refused the sign-in ({reason}).", advice=advice)


def connect_cipp(principal: Principal | None, payload: Any) -> dict[str, Any]:
    """Probe CIPP-API with the given API client first; only then store its credentials and activate."""
    principal, state = enter(principal, UPDATE, (flags.CIPP,))
    body = json_object(payload)
    base_url = field(body, "base_url", str).strip().rstrip("/")
    parts = urlsplit(base_url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValidationFailed("'base_url' must be the http(s) address of your CIPP-API.")
    credentials = {
        names.CIPP_CLIENT_ID: field(body, "client_id", str).strip(),
        names.CIPP_CLIENT_SECRET: field(body, "client_secret", str),
        names.CIPP_TENANT_ID: field(body, "tenant_id", str).strip(),
    }
    if not all(credentials.values()):
        raise ValidationFailed("'client_id', 'client_secret' and 'tenant_id' must not be empty.")
    for name in (names.CIPP_CLIENT_ID, names.CIPP_TENANT_ID):  # both end up inside URLs (authority, scope)
        if not DIRECTORY_ID.fullmatch(credentials[name]):
            raise ValidationFailed(
                "'client_id' and 'tenant_id' must be ids or domain names (letters, digits, '.', '-')."
            )
    provider = _cipp(state, base_url, credentials, _http(state, interactive=True))
    probe = provider.validate()
    if not probe.ok:
        raise ConnectionFailed(
            f"CIPP-API could not be used with these details: {probe.message}",
            advice="Nothing was saved; check the CIPP-API URL, the API client's id, secret and role in CIPP, and the "
            "tenant id, then connect again.",
        )
    try:
        # CIPP reports its own failures as HTTP 200 rows; only a tenant listing shows CIPP itself can reach Microsoft.
        provider.list_managed_tenants()
    except EntraError as exc:
        raise ConnectionFailed(
            f"CIPP-API answered but cannot list tenants: {exc.message}", advice=exc.advice or _NOTHING_SAVED
        ) from None
    _activate(principal, state, "cipp", credentials, cipp_base_url=base_url)
    return {"connected": True, "type": "cipp"}


def _activate(principal: Principal, state: EntraState, kind: str, secrets: dict[str, str], **columns: Any) -> None:
    """Store the secrets, retire the previous connection, activate the new one (one transaction for the rows)."""
    tenant = principal.tenant
    other = names.CIPP_SECRET_NAMES if kind == "direct" else names.DIRECT_SECRET_NAMES
    for name, value in secrets.items():
        state.secrets.set(tenant, name, value)
    state.secrets.delete_many(tenant, other)
    s = session()
    for old in s.execute(select(Connection).filter_by(tenant=tenant, status="active")).scalars():
        old.status, old.disconnected_at = "disconnected", utcnow()
    s.flush()
    s.add(
        Connection(
            tenant=tenant,
            connection_type=kind,
            status="active",
            connected_by=principal.user_id,
            validated_at=utcnow(),
            **columns,
        )
    )
    s.commit()
    reconcile_schedule(tenant)


def _direct(
    state: EntraState, partner_tenant_id: str, refresh_token: str, on_rotate: Any, http: HttpClient
) -> Provider:
    client_id, client_secret = _app_credentials(state)
    return DirectProvider(
        client_id=client_id,
        client_secret=client_secret,
        refresh_token=refresh_token,
        partner_tenant_id=partner_tenant_id,
        login_base_url=state.config["ENTRA_LOGIN_BASE_URL"],
        graph_base_url=state.config["ENTRA_GRAPH_BASE_URL"],
        on_refresh_token=on_rotate,
        http=http,
        page_size=state.config["ENTRA_GRAPH_PAGE_SIZE"],
    )


def _cipp(state: EntraState, base_url: str, credentials: dict[str, str], http: HttpClient) -> Provider:
    return CippProvider(
        api_url=base_url,
        client_id=credentials[names.CIPP_CLIENT_ID],
        client_secret=credentials[names.CIPP_CLIENT_SECRET],
        tenant_id=credentials[names.CIPP_TENANT_ID],
        login_base_url=state.config["ENTRA_LOGIN_BASE_URL"],
        http=http,
    )


def provider_for(tenant: str, state: EntraState | None = None, *, interactive: bool = False) -> Provider:
    """The active connection's provider (workflows' activities; ``interactive`` for an operator waiting on it).

    Conflict when there is none. A rotated refresh token is written back to the secret store as soon as it arrives.
    """
    state = state or get_state()
    connection = session().execute(select(Connection).filter_by(tenant=tenant, status="active")).scalars().first()
    if connection is None:
        raise Conflict("No active Microsoft connection; connect in step 1 of the Entra wizard.")
    http = _http(state, interactive=interactive)
    if connection.connection_type == "direct":
        token = state.secrets.get(tenant, names.DIRECT_REFRESH_TOKEN)
        if not token:
            raise ConnectionFailed(
                "The Direct connection's refresh token is missing from the secret store.",
                advice="Reconnect in step 1 of the Entra wizard.",
            )
        return _direct(
            state,
            connection.partner_tenant_id or "organizations",
            token,
            lambda new: state.secrets.set(tenant, names.DIRECT_REFRESH_TOKEN, new),
            http,
        )
    credentials = {n: state.secrets.get(tenant, n) or "" for n in names.CIPP_SECRET_NAMES}
    if not all(credentials.values()):
        raise ConnectionFailed(
            "The CIPP connection's credentials are missing from the secret store.",
            advice="Reconnect CIPP in step 1 of the Entra wizard.",
        )
    return _cipp(state, connection.cipp_base_url or "", credentials, http)


def validate_connection(principal: Principal | None) -> dict[str, Any]:
    """Re-probe the active connection and record the outcome."""
    principal, state = enter(principal, UPDATE)
    connection = _active(principal.tenant)
    try:
        result = provider_for(principal.tenant, state, interactive=True).validate()
        error = None if result.ok else result.message
    except EntraError as exc:
        error = str(exc)
    connection.last_error = error
    if error is None:
        connection.validated_at = utcnow()
    session().commit()
    return {"ok": error is None, "connection": serialize.connection(connection)}


def disconnect(principal: Principal | None) -> dict[str, Any]:
    """Deactivate and remove the secrets and schedule; tenants, mappings, links and runs stay for a reconnect."""
    principal, state = enter(principal, UPDATE)
    connection = _active(principal.tenant)
    state.secrets.delete_many(principal.tenant, names.TENANT_SECRET_NAMES)
    connection.status, connection.disconnected_at = "disconnected", utcnow()
    session().commit()
    reconcile_schedule(principal.tenant)
    return {"disconnected": True}


def _active(tenant: str) -> Connection:
    connection = session().execute(select(Connection).filter_by(tenant=tenant, status="active")).scalars().first()
    if connection is None:
        raise Conflict("There is no active connection.")
    return connection
