"""Default credentials of the simulated app registrations, and the registration settings a simulator instance uses.

Tests and the demo import these constants to configure flask-entra against a simulator. They are fake values that only the
simulator accepts; the client secrets are checked but never logged or echoed back.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

#: The MSP's (partner's) Entra tenant in the demo and generated datasets.
DEFAULT_PARTNER_TENANT_ID = "8f0c2d3e-5b7a-4c1d-9e6f-0a1b2c3d4e5f"
#: The multi-tenant app registration flask-entra signs in with (Direct connection).
DEFAULT_CLIENT_ID = "4a6b9c1d-2e3f-4a5b-8c7d-9e0f1a2b3c4d"
DEFAULT_CLIENT_SECRET = "sim-app-secret-not-for-production"
#: The CIPP-API client (a single-tenant app in the partner tenant) used with client credentials.
DEFAULT_CIPP_CLIENT_ID = "c1990a11-7b2c-4d3e-8f4a-5b6c7d8e9f00"
DEFAULT_CIPP_CLIENT_SECRET = "sim-cipp-secret-not-for-production"
#: The host PSA's OAuth callback (docs/contracts/HTTP_API.md); any port is accepted on loopback hosts, as Entra does.
DEFAULT_REDIRECT_URIS = (
    "http://localhost/api/auth/microsoft/entra/callback",
    "http://127.0.0.1/api/auth/microsoft/entra/callback",
)
#: The resource identifier of Microsoft Graph in scopes (tokens are requested for it even though calls go to the simulator).
GRAPH_RESOURCE = "https://graph.microsoft.com"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})


@dataclass(frozen=True)
class SimulatorCredentials:
    """The app registrations the simulated identity platform knows. ``repr`` hides the secrets."""

    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = field(default=DEFAULT_CLIENT_SECRET, repr=False)
    redirect_uris: tuple[str, ...] = DEFAULT_REDIRECT_URIS
    cipp_client_id: str = DEFAULT_CIPP_CLIENT_ID
    cipp_client_secret: str = field(default=DEFAULT_CIPP_CLIENT_SECRET, repr=False)
    #: The tenant the CIPP-API client lives in; ``None`` means the dataset's partner tenant.
    cipp_tenant_id: str | None = None

    def with_redirect_uri(self, uri: str) -> SimulatorCredentials:
        return replace(self, redirect_uris=(*self.redirect_uris, uri))

    def redirect_uri_registered(self, uri: str) -> bool:
        """Exact match, except that loopback redirect URIs match on any port (Entra's localhost exception)."""
        if uri in self.redirect_uris:
            return True
        asked = urlsplit(uri)
        if asked.hostname not in LOOPBACK_HOSTS and f"[{asked.hostname}]" not in LOOPBACK_HOSTS:
            return False
        for registered in map(urlsplit, self.redirect_uris):
            if (registered.scheme, registered.hostname, registered.path, registered.query) == (
                asked.scheme,
                asked.hostname,
                asked.path,
                asked.query,
            ):
                return True
        return False
