"""Direct connection: Microsoft Graph with the partner admin's delegated sign-in and GDAP.

The partner user's refresh token yields a partner-tenant token (discovery) and, redeemed at each customer's authority,
a customer-tenant token (domains, users). Only reads: every request is a GET on Graph v1.0.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from typing import Any

from flask_entra.errors import ProviderError
from flask_entra.providers.base import ManagedTenant, PageCallback, UserListing, ValidationResult
from flask_entra.providers.http import HttpClient, TokenGetter
from flask_entra.providers.normalize import collect_users
from flask_entra.providers.tokens import TokenCache, token_lifetime

DEFAULT_LOGIN_BASE_URL = "https://login.microsoftonline.com"
DEFAULT_GRAPH_BASE_URL = "https://graph.microsoft.com"
#: Scopes always name the real Graph resource, whichever base URL (simulator or Microsoft) requests go to.
GRAPH_RESOURCE = "https://graph.microsoft.com"
USER_SELECT = (
    "id,userPrincipalName,mail,displayName,givenName,surname,accountEnabled,jobTitle,mobilePhone,businessPhones,"
    "otherMails,proxyAddresses,userType,assignedLicenses"
)
DELETED_USER_SELECT = "id,displayName,userPrincipalName,mail,deletedDateTime"
RELATIONSHIPS_PATH = "/v1.0/tenantRelationships/delegatedAdminRelationships"
CUSTOMERS_PATH = "/v1.0/tenantRelationships/delegatedAdminCustomers"
MICROSOFT_LED_PREFIX = "MLT_"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_PARTNER = "partner"


def _parse_datetime(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _text(value: object) -> str | None:
    return (value.strip()[:256] or None) if isinstance(value, str) else None


class DirectProvider:
    """Implements :class:`flask_entra.providers.base.Provider` over Graph with GDAP. Thread-safe."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        partner_tenant_id: str,
        login_base_url: str = DEFAULT_LOGIN_BASE_URL,
        graph_base_url: str = DEFAULT_GRAPH_BASE_URL,
        on_refresh_token: Callable[[str], None] | None = None,
        http: HttpClient | None = None,
        page_size: int = 999,
        include_user_count: bool = False,
        max_workers: int = 8,
    ) -> None:
        self.client_id = client_id
        self.partner_tenant_id = partner_tenant_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self._on_refresh_token = on_refresh_token
        self._login_base = login_base_url.rstrip("/")
        self._graph_base = graph_base_url.rstrip("/")
        self._http = http or HttpClient()
        self._page_size = page_size
        self._include_user_count = include_user_count
        self._max_workers = max_workers
        self._tokens = TokenCache()
        self._refresh_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"DirectProvider(partner_tenant_id={self.partner_tenant_id!r}, graph={self._graph_base!r})"

    # --- tokens ----------------------------------------------------------------------------------------------------
    def _refresh_grant(self, tenant_id: str, scope: str) -> dict[str, Any]:
        with self._refresh_lock:
            refresh_token = self._refresh_token
        form = {
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "scope": scope,
        }
        return self._http.post_token(f"{self._login_base}/{tenant_id}/oauth2/v2.0/token", form)

    def _fetch_partner_token(self) -> tuple[str, float]:
        body = self._refresh_grant(self.partner_tenant_id, f"{GRAPH_RESOURCE}/.default offline_access")
        rotated = body.get("refresh_token")
        if isinstance(rotated, str) and rotated:
            with self._refresh_lock:
                changed = rotated != self._refresh_token
                self._refresh_token = rotated
            if changed and self._on_refresh_token is not None:
                self._on_refresh_token(rotated)
        return body["access_token"], token_lifetime(body)

    def _fetch_customer_token(self, tenant_id: str) -> tuple[str, float]:
        body = self._refresh_grant(tenant_id, f"{GRAPH_RESOURCE}/.default")
        return body["access_token"], token_lifetime(body)

    def _partner_token(self, force: bool) -> str:
        return self._tokens.get(_PARTNER, self._fetch_partner_token, force=force)

    def _customer_token(self, tenant_id: str, force: bool) -> str:
        return self._tokens.get(tenant_id, partial(self._fetch_customer_token, tenant_id), force=force)

    def _customer(self, tenant_id: str) -> TokenGetter:
        return partial(self._customer_token, tenant_id)

    def _pages(self, path: str, token: TokenGetter, params: dict[str, str] | None = None) -> Iterable[list[Any]]:
        return self._http.iter_pages(f"{self._graph_base}{path}", token=token, params=params)

    # --- Provider --------------------------------------------------------------------------------------------------
    def validate(self) -> ValidationResult:
        """Refresh the partner token and read one GDAP relationship: proves consent and the discovery permission."""
        try:
            self._http.get_json(
                f"{self._graph_base}{RELATIONSHIPS_PATH}", token=self._partner_token, params={"$top": "1"}
            )
        except ProviderError as exc:
            return ValidationResult(ok=False, partner_tenant_id=self.partner_tenant_id, message=str(exc))
        return ValidationResult(
            ok=True,
            partner_tenant_id=self.partner_tenant_id,
            message="Microsoft Graph answered; GDAP relationships are readable.",
        )

    def list_managed_tenants(self) -> list[ManagedTenant]:
        """Customers with an active GDAP relationship (Microsoft-led transition ones aside), with their domains."""
        relationship_ends: dict[str, datetime | None] = {}
        names: dict[str, str] = {}
        for page in self._pages(RELATIONSHIPS_PATH, self._partner_token, {"$filter": "status eq 'active'"}):
            for relationship in page:
                if not isinstance(relationship, dict):
                    continue
                display_name = relationship.get("displayName")
                customer = relationship.get("customer")
                if isinstance(display_name, str) and display_name.startswith(MICROSOFT_LED_PREFIX):
                    continue
                tenant_id = customer.get("tenantId") if isinstance(customer, dict) else None
                if not isinstance(tenant_id, str) or not _GUID.match(tenant_id):
                    continue
                tenant_id = tenant_id.lower()
                end = _parse_datetime(relationship.get("endDateTime"))
                known = relationship_ends.get(tenant_id)
                relationship_ends[tenant_id] = max(known, end) if known and end else known or end
                names.setdefault(tenant_id, _text(customer.get("displayName")) or tenant_id)
        for page in self._pages(CUSTOMERS_PATH, self._partner_token):
            for customer in page:
                tenant_id = customer.get("tenantId") if isinstance(customer, dict) else None
                name = _text(customer.get("displayName")) if isinstance(customer, dict) else None
                if isinstance(tenant_id, str) and tenant_id.lower() in names and name:
                    names[tenant_id.lower()] = name  # the customer's current name beats the one at relationship time
        with ThreadPoolExecutor(max_workers=self._max_workers) as pool:
            details = dict(zip(names, pool.map(self._tenant_details, names), strict=True))
        tenants = [
            ManagedTenant(
                entra_tenant_id=tenant_id,
                display_name=details[tenant_id][0] or names[tenant_id],
                default_domain=details[tenant_id][1],
                verified_domains=details[tenant_id][2],
                gdap_relationship_end=relationship_ends[tenant_id],
                user_count=details[tenant_id][3],
            )
            for tenant_id in names
        ]
        return sorted(tenants, key=lambda t: (t.display_name.casefold(), t.entra_tenant_id))

    def _tenant_details(self, tenant_id: str) -> tuple[str | None, str | None, tuple[str, ...], int | None]:
        """(display name from the fallback, default domain, verified domains, user count) of one customer."""
        try:
            domains = [
                d
                for page in self._pages("/v1.0/domains", self._customer(tenant_id))
                for d in page
                if isinstance(d, dict) and isinstance(d.get("id"), str)
            ]
        except ProviderError:
            return (*self._tenant_information(tenant_id), None)
        verified = tuple(d["id"].lower() for d in domains if d.get("isVerified") is True)
        default = next((d["id"].lower() for d in domains if d.get("isDefault") is True), None)
        return None, default, verified, self._user_count(tenant_id) if self._include_user_count else None

    def _tenant_information(self, tenant_id: str) -> tuple[str | None, str | None, tuple[str, ...]]:
        """Partner-token fallback when the customer token is refused: name and default domain only."""
        path = f"/v1.0/tenantRelationships/findTenantInformationByTenantId(tenantId='{tenant_id}')"
        try:
            info = self._http.get_json(f"{self._graph_base}{path}", token=self._partner_token)
        except ProviderError:
            return None, None, ()
        if not isinstance(info, dict):
            return None, None, ()
        default = info.get("defaultDomainName")
        default = default.lower() if isinstance(default, str) and default else None
        return _text(info.get("displayName")), default, (default,) if default else ()

    def _user_count(self, tenant_id: str) -> int | None:
        try:
            count = self._http.get_json(
                f"{self._graph_base}/v1.0/users/$count",
                token=self._customer(tenant_id),
                headers={"ConsistencyLevel": "eventual"},
            )
        except ProviderError:
            return None
        return count if isinstance(count, int) and not isinstance(count, bool) else None

    def list_users(self, entra_tenant_id: str, *, on_page: PageCallback | None = None) -> UserListing:
        """Live users, then soft-deleted users. Raises if nothing could be read; later failures mark it incomplete."""
        listing = UserListing()
        token = self._customer(entra_tenant_id)
        sources = (
            ("/v1.0/users", USER_SELECT, False),
            ("/v1.0/directory/deletedItems/microsoft.graph.user", DELETED_USER_SELECT, True),
        )
        read = 0
        pages = 0
        try:
            for path, select, deleted in sources:
                seen: set[str] = set()
                for page in self._pages(path, token, {"$select": select, "$top": str(self._page_size)}):
                    collect_users(page, listing, seen, deleted=deleted)
                    pages += 1
                    read += len(page)
                    if on_page is not None:
                        on_page(read)
        except ProviderError as exc:
            if pages == 0:
                raise
            listing.complete = False
            listing.error = str(exc)
        return listing
