"""Authorization codes, opaque access and refresh tokens held in memory, and the RS256 key that signs id_tokens."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

CODE_LIFETIME_SECONDS = 600
ID_TOKEN_LIFETIME_SECONDS = 3600


@dataclass
class AccessToken:
    tenant_id: str
    audience: str  # "graph" or "cipp"
    subject: str  # user object id (delegated) or app id (client credentials)
    expires_at: float
    delegated: bool = True

    @property
    def expired(self) -> bool:
        return time.time() >= self.expires_at


@dataclass
class RefreshGrant:
    user_id: str
    home_tenant_id: str
    client_id: str
    scopes: tuple[str, ...]
    revoked: bool = False


@dataclass
class AuthorizationCode:
    client_id: str
    redirect_uri: str
    user_id: str
    tenant_id: str
    scopes: tuple[str, ...]
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float = field(default_factory=lambda: time.time() + CODE_LIFETIME_SECONDS)
    redeemed: bool = False


class TokenStore:
    """All issued credentials; values are random strings, never derived from secrets, never logged."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._access: dict[str, AccessToken] = {}
        self._refresh: dict[str, RefreshGrant] = {}
        self._codes: dict[str, AuthorizationCode] = {}
        self.key = RSAKey.generate_key(
            2048, parameters={"kid": secrets.token_hex(8), "use": "sig", "alg": "RS256"}, private=True
        )

    def issue_code(self, code: AuthorizationCode) -> str:
        value = secrets.token_urlsafe(48)
        with self._lock:
            self._codes[value] = code
        return value

    def redeem_code(self, value: str) -> tuple[AuthorizationCode | None, bool]:
        """(the code or None, whether this is its first redemption); a code is single-use."""
        with self._lock:
            code = self._codes.get(value)
            first_use = code is not None and not code.redeemed
            if code is not None:
                code.redeemed = True
            return code, first_use

    def issue_access(self, tenant_id: str, audience: str, subject: str, lifetime: int, *, delegated: bool) -> str:
        value = secrets.token_urlsafe(64)
        with self._lock:
            self._access[value] = AccessToken(tenant_id, audience, subject, time.time() + lifetime, delegated)
        return value

    def access(self, value: str) -> AccessToken | None:
        with self._lock:
            return self._access.get(value)

    def expire_access_tokens(self) -> int:
        with self._lock:
            for token in self._access.values():
                token.expires_at = 0
            return len(self._access)

    def issue_refresh(self, grant: RefreshGrant) -> str:
        value = "0." + secrets.token_urlsafe(96)
        with self._lock:
            self._refresh[value] = grant
        return value

    def refresh(self, value: str) -> RefreshGrant | None:
        with self._lock:
            return self._refresh.get(value)

    def revoke_refresh_tokens(self) -> int:
        with self._lock:
            for grant in self._refresh.values():
                grant.revoked = True
            return len(self._refresh)

    # --- id_token signing ------------------------------------------------------------------------------------------
    def jwks(self) -> dict[str, Any]:
        return dict(KeySet([self.key]).as_dict(private=False))

    def id_token(self, claims: dict[str, Any]) -> str:
        now = int(time.time())
        payload = {"ver": "2.0", "iat": now, "nbf": now, "exp": now + ID_TOKEN_LIFETIME_SECONDS, **claims}
        return jwt.encode({"alg": "RS256", "kid": self.key.kid, "typ": "JWT"}, payload, self.key)
