"""CIPP connection: the MSP's CIPP-API instance, called with client credentials of its API client.

CIPP answers bare arrays from List* endpoints but ``{Results, Metadata}`` elsewhere, and its key casing drifted across
versions: both shapes are accepted and keys are matched case-insensitively. It reports some failures as HTTP 200 rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask_entra.errors import ProviderError
from flask_entra.providers.advice import advice_for_cipp
from flask_entra.providers.base import ManagedTenant, PageCallback, UserListing, ValidationResult
from flask_entra.providers.direct import DEFAULT_LOGIN_BASE_URL
from flask_entra.providers.http import HttpClient
from flask_entra.providers.normalize import collect_users
from flask_entra.providers.tokens import TokenCache, token_lifetime

_PERMISSION_CHECK = "Run CIPP's permission check and repair the SAM application, then try again."


def _folded(row: object) -> dict[str, Any] | None:
    return {str(k).lower(): v for k, v in row.items()} if isinstance(row, dict) else None


def result_rows(body: Any, endpoint: str) -> list[Any]:
    """The rows of a List* answer: a bare array or ``{"Results": [...]}`` (any casing)."""
    if isinstance(body, dict):
        folded = _folded(body) or {}
        if isinstance(folded.get("results"), list):
            return folded["results"]
        if isinstance(folded.get("results"), str):
            body = [folded]  # a single failure object
    if not isinstance(body, list):
        raise ProviderError(
            f"CIPP {endpoint} answered neither an array nor {{Results: [...]}}.",
            advice="Check the CIPP API URL and the CIPP version.",
        )
    for row in body:
        folded = _folded(row)
        # Failure as HTTP 200: a row carrying a Results text and no id of its own.
        if folded and isinstance(folded.get("results"), str) and not folded.get("customerid") and not folded.get("id"):
            text = folded["results"]
            raise ProviderError(
                f"CIPP {endpoint} reported a failure: {text[:300]}", advice=advice_for_cipp(text) or _PERMISSION_CHECK
            )
    return body


def _text(value: object) -> str | None:
    return (value.strip()[:256] or None) if isinstance(value, str) else None


def _parse_datetime(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _truthy(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def tenant_from_row(row: object) -> ManagedTenant | None:
    """A ListTenants row as a managed tenant; None for pseudo rows (AllTenants, the partner) and excluded tenants."""
    fields = _folded(row)
    if fields is None:
        return None
    tenant_id = _text(fields.get("customerid"))
    name = _text(fields.get("displayname")) or ""
    if not tenant_id or tenant_id.lower() == "alltenants" or _truthy(fields.get("excluded")):
        return None
    if name.startswith("*") and "partner tenant" in name.lower():
        return None
    default = _text(fields.get("defaultdomainname"))
    domains = [default, _text(fields.get("initialdomainname"))]
    extra = fields.get("domains")
    if isinstance(extra, str):
        domains += extra.split(",")
    elif isinstance(extra, list):
        domains += [d for d in extra if isinstance(d, str)]
    verified = tuple(dict.fromkeys(d.strip().lower() for d in domains if d and d.strip()))
    return ManagedTenant(
        entra_tenant_id=tenant_id.lower(),
        display_name=name or tenant_id,
        default_domain=default.lower() if default else None,
        verified_domains=verified,
        gdap_relationship_end=_parse_datetime(fields.get("relationshipend")),
    )


class CippProvider:
    """Implements :class:`flask_entra.providers.base.Provider` over CIPP-API. Thread-safe."""

    def __init__(
        self,
        *,
        api_url: str,
        client_id: str,
        client_secret: str,
        tenant_id: str,
        login_base_url: str = DEFAULT_LOGIN_BASE_URL,
        http: HttpClient | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.client_id = client_id
        self.tenant_id = tenant_id
        self._client_secret = client_secret
        self._login_base = login_base_url.rstrip("/")
        self._http = http or HttpClient()
        self._tokens = TokenCache()

    def __repr__(self) -> str:
        return f"CippProvider(api_url={self.api_url!r}, tenant_id={self.tenant_id!r})"

    def _fetch_token(self) -> tuple[str, float]:
        body = self._http.post_token(
            f"{self._login_base}/{self.tenant_id}/oauth2/v2.0/token",
            {
                "client_id": self.client_id,
                "client_secret": self._client_secret,
                "grant_type": "client_credentials",
                "scope": f"api://{self.client_id}/.default",
            },
        )
        return body["access_token"], token_lifetime(body)

    def _token(self, force: bool) -> str:
        return self._tokens.get("cipp", self._fetch_token, force=force)

    def _get(self, endpoint: str, params: dict[str, str] | None = None) -> Any:
        return self._http.get_json(f"{self.api_url}/api/{endpoint}", token=self._token, params=params)

    def validate(self) -> ValidationResult:
        try:
            me = _folded(self._get("me")) or {}
        except ProviderError as exc:
            return ValidationResult(ok=False, partner_tenant_id=self.tenant_id, message=str(exc))
        principal = _folded(me.get("clientprincipal")) or {}
        roles = principal.get("approle") or principal.get("userroles") or []
        role_text = ", ".join(r for r in roles if isinstance(r, str)) if isinstance(roles, list) else ""
        return ValidationResult(
            ok=True,
            partner_tenant_id=self.tenant_id,
            message=f"CIPP-API answered; API client roles: {role_text or 'none reported'}.",
        )

    def list_managed_tenants(self) -> list[ManagedTenant]:
        tenants = {
            t.entra_tenant_id: t
            for t in map(tenant_from_row, result_rows(self._get("ListTenants"), "ListTenants"))
            if t is not None
        }
        return sorted(tenants.values(), key=lambda t: (t.display_name.casefold(), t.entra_tenant_id))

    def list_users(self, entra_tenant_id: str, *, on_page: PageCallback | None = None) -> UserListing:
        """One call: CIPP pages Graph itself. ``tenantFilter`` is always sent (without it CIPP lists the partner's)."""
        if not entra_tenant_id:
            raise ProviderError("A tenant is required to list CIPP users.")
        rows = result_rows(self._get("ListUsers", {"tenantFilter": entra_tenant_id}), "ListUsers")
        listing = UserListing()
        collect_users(rows, listing, set())
        if on_page is not None:
            on_page(len(rows))
        return listing
