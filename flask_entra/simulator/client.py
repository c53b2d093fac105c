"""A handle on a running simulator: its URLs and credentials, the control API, and a scripted partner sign-in.

Tests get one from the ``simulator`` fixture; benchmarks and the demo can build one for a simulator started with
``python -m flask_entra.simulator``: ``SimulatorClient("http://127.0.0.1:8765")``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from flask_entra.simulator.settings import DEFAULT_REDIRECT_URIS, GRAPH_RESOURCE, SimulatorCredentials

PARTNER_SCOPES = (
    "openid",
    "profile",
    "offline_access",
    f"{GRAPH_RESOURCE}/DelegatedAdminRelationship.Read.All",
    f"{GRAPH_RESOURCE}/User.Read.All",
    f"{GRAPH_RESOURCE}/Directory.Read.All",
)


@dataclass
class SimulatorClient:
    base_url: str
    credentials: SimulatorCredentials = field(default_factory=SimulatorCredentials)
    timeout: float = 30.0

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self.http = httpx.Client(base_url=self.base_url, timeout=self.timeout)

    def close(self) -> None:
        self.http.close()

    # --- where things are --------------------------------------------------------------------------------------------
    @property
    def login_base_url(self) -> str:
        return f"{self.base_url}/login"

    @property
    def graph_base_url(self) -> str:
        return f"{self.base_url}/graph"

    @property
    def cipp_base_url(self) -> str:
        return f"{self.base_url}/cipp"

    @cached_property
    def partner_tenant_id(self) -> str:
        """Read once: it is fixed for the simulator's life, and the dataset it comes from can hold 100,000 users."""
        return str(self.dataset()["partner"]["tenantId"])

    def token_url(self, tenant: str) -> str:
        return f"{self.login_base_url}/{tenant}/oauth2/v2.0/token"

    # --- control API ---------------------------------------------------------------------------------------------------
    def _call(self, method: str, path: str, json: Any = None) -> Any:
        response = self.http.request(method, f"/_sim{path}", json=json)
        response.raise_for_status()
        return response.json() if response.content else None

    def reset(self) -> None:
        self._call("POST", "/reset")

    def set_faults(self, **knobs: Any) -> dict[str, Any]:
        """Merge knobs into the current ones (names: flask_entra.simulator.Faults), e.g. ``latency_ms=50``."""
        result: dict[str, Any] = self._call("PATCH", "/faults", knobs)
        return result

    def replace_faults(self, **knobs: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._call("PUT", "/faults", knobs)
        return result

    def faults(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/faults")
        return result

    def request_log(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/requests")
        return result

    def clear_request_log(self) -> None:
        self._call("DELETE", "/requests")

    def dataset(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/dataset")
        return result

    def expire_access_tokens(self) -> None:
        self._call("POST", "/tokens/expire-access")

    def revoke_refresh_tokens(self) -> None:
        self._call("POST", "/tokens/revoke-refresh")

    def invalidate_delta_tokens(self) -> None:
        self._call("POST", "/delta/invalidate")

    def update_tenant(self, tenant_id: str, **fields: Any) -> dict[str, Any]:
        """displayName, appConsent, cippExcluded, legacyContract, gdapStatus (applied to all its relationships)."""
        result: dict[str, Any] = self._call("PATCH", f"/tenants/{tenant_id}", fields)
        return result

    def rename_tenant(self, tenant_id: str, display_name: str) -> dict[str, Any]:
        return self.update_tenant(tenant_id, displayName=display_name)

    def revoke_consent(self, tenant_id: str) -> dict[str, Any]:
        """The app loses its consent in the customer: token requests there answer AADSTS65001."""
        return self.update_tenant(tenant_id, appConsent=False)

    def end_gdap(self, tenant_id: str) -> dict[str, Any]:
        """Every GDAP relationship with the customer terminated: it leaves discovery, tokens answer AADSTS50020."""
        return self.update_tenant(tenant_id, gdapStatus="terminated")

    def add_user(self, tenant_id: str, **fields: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", f"/tenants/{tenant_id}/users", fields)
        return result

    def update_user(self, tenant_id: str, user_id: str, **fields: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._call("PATCH", f"/tenants/{tenant_id}/users/{user_id}", fields)
        return result

    def disable_user(self, tenant_id: str, user_id: str) -> dict[str, Any]:
        return self.update_user(tenant_id, user_id, accountEnabled=False)

    def enable_user(self, tenant_id: str, user_id: str) -> dict[str, Any]:
        return self.update_user(tenant_id, user_id, accountEnabled=True)

    def soft_delete_user(self, tenant_id: str, user_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", f"/tenants/{tenant_id}/users/{user_id}/soft-delete")
        return result

    def restore_user(self, tenant_id: str, user_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", f"/tenants/{tenant_id}/users/{user_id}/restore")
        return result

    def hard_delete_user(self, tenant_id: str, user_id: str) -> None:
        self._call("DELETE", f"/tenants/{tenant_id}/users/{user_id}")

    # --- credentials, as a real client obtains them ---------------------------------------------------------------------
    def sign_in(
        self,
        redirect_uri: str = DEFAULT_REDIRECT_URIS[0],
        scopes: tuple[str, ...] = PARTNER_SCOPES,
        tenant: str = "organizations",
        nonce: str | None = None,
    ) -> dict[str, Any]:
        """The partner admin's whole authorization-code + PKCE dance over HTTP; returns the token answer
        (``access_token``, ``refresh_token``, ``id_token``)."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        state = secrets.token_urlsafe(16)
        params = {
            "client_id": self.credentials.client_id,
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes),
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "response_mode": "query",
            **({"nonce": nonce} if nonce else {}),
        }
        authorize = f"/login/{tenant}/oauth2/v2.0/authorize"
        response = self.http.post(authorize, params=params, data={"consent": "accept"})
        if response.status_code != 302:
            raise RuntimeError(f"the simulator refused the sign-in: HTTP {response.status_code}")
        answer = {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}
        if answer.get("state") != state or "code" not in answer:
            raise RuntimeError(f"the sign-in came back without a code: {answer.get('error')}")
        token = self.http.post(
            self.token_url(tenant),
            data={
                "client_id": self.credentials.client_id,
                "client_secret": self.credentials.client_secret,
                "grant_type": "authorization_code",
                "code": answer["code"],
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
        )
        token.raise_for_status()
        result: dict[str, Any] = token.json()
        return result

    def customer_token(self, refresh_token: str, customer_tenant_id: str) -> httpx.Response:
        """The GDAP step: the partner's refresh token redeemed at a customer's authority (the raw answer)."""
        return self.http.post(
            self.token_url(customer_tenant_id),
            data={
                "client_id": self.credentials.client_id,
                "client_secret": self.credentials.client_secret,
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "scope": f"{GRAPH_RESOURCE}/.default",
            },
        )

    def cipp_token(self) -> str:
        """An access token for the CIPP-API, by client credentials."""
        tenant = self.credentials.cipp_tenant_id or self.partner_tenant_id
        response = self.http.post(
            self.token_url(tenant),
            data={
                "client_id": self.credentials.cipp_client_id,
                "client_secret": self.credentials.cipp_client_secret,
                "grant_type": "client_credentials",
                "scope": f"api://{self.credentials.cipp_client_id}/.default",
            },
        )
        response.raise_for_status()
        return str(response.json()["access_token"])
