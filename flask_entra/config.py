"""Every ``ENTRA_*`` configuration key and its default, in one place.

``init_app`` applies these with ``setdefault`` and refuses unknown ``ENTRA_`` keys, so a typo fails at start-up instead
of being silently ignored. The host guide (docs/host-guide.md) documents each key; a test keeps the two equal.
"""

from __future__ import annotations

from typing import Any

DEFAULTS: dict[str, Any] = {
    # "enterprise" registers the real surfaces; anything else answers 501 (None: the host's EDITION key).
    "ENTRA_EDITION": None,
    # URL prefixes of our surfaces.
    "ENTRA_API_PREFIX": "/api/integrations/entra",
    "ENTRA_PAGES_PREFIX": "/settings/integrations/entra",
    "ENTRA_FLAGS_API_PREFIX": "/api/v1/platform-feature-flags",
    # Where the host sends unauthenticated page visitors (endpoint name or URL).
    "ENTRA_LOGIN_VIEW": "login",
    # Microsoft endpoints: the real ones in production, the simulator in the demo and tests.
    "ENTRA_LOGIN_BASE_URL": "https://login.microsoftonline.com",
    "ENTRA_GRAPH_BASE_URL": "https://graph.microsoft.com",
    # Redirect URI registered on the app; None builds it from the request host.
    "ENTRA_REDIRECT_URI": None,
    # HTTP behaviour towards Microsoft and CIPP.
    "ENTRA_HTTP_TIMEOUT_SECONDS": 30.0,
    "ENTRA_HTTP_MAX_RETRIES": 6,
    "ENTRA_HTTP_MAX_RETRY_AFTER_SECONDS": 120.0,
    "ENTRA_GRAPH_PAGE_SIZE": 999,
    # Secret providers, read in this order; writes go to the first writable one.
    "ENTRA_SECRET_PROVIDERS": ("env", "filesystem"),
    "ENTRA_SECRETS_DIR": None,  # None: <instance folder>/entra-secrets
    "ENTRA_VAULT_URL": None,
    "ENTRA_VAULT_TOKEN": None,
    "ENTRA_VAULT_MOUNT": "secret",
    "ENTRA_VAULT_PATH_PREFIX": "flask-entra",
    # Feature flags: a real Unleash server when the URL is set, otherwise the embedded store.
    "ENTRA_UNLEASH_URL": None,
    "ENTRA_UNLEASH_API_TOKEN": None,
    "ENTRA_UNLEASH_ADMIN_TOKEN": None,
    "ENTRA_UNLEASH_APP_NAME": "flask-entra",
    "ENTRA_UNLEASH_ENVIRONMENT": "development",
    "ENTRA_UNLEASH_PROJECT": "default",
    "ENTRA_UNLEASH_REFRESH_INTERVAL": 15,
    # Temporal.
    "ENTRA_TEMPORAL_ADDRESS": "127.0.0.1:7233",
    "ENTRA_TEMPORAL_NAMESPACE": "default",
    "ENTRA_TEMPORAL_TASK_QUEUE": "flask-entra",
    "ENTRA_SYNC_MAX_CONCURRENT_TENANTS": 8,
    # Mapping thresholds (see docs: chosen on the labelled evaluation set in tests/).
    "ENTRA_FUZZY_SCORE_CUTOFF": 75.0,
    "ENTRA_FUZZY_CANDIDATES": 5,
}


def apply_defaults(config: dict[str, Any]) -> None:
    for key, value in DEFAULTS.items():
        config.setdefault(key, value)


def unknown_keys(config: dict[str, Any]) -> list[str]:
    return sorted(k for k in config if k.startswith("ENTRA_") and k not in DEFAULTS)
