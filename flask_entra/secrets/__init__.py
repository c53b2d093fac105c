"""Secret provider chain (env, filesystem, Vault) and the log filter that keeps secret values out of log lines."""

from __future__ import annotations

from .chain import PROVIDER_KINDS, SecretChain
from .names import (
    APP_SECRET_NAMES,
    CIPP_CLIENT_ID,
    CIPP_CLIENT_SECRET,
    CIPP_SECRET_NAMES,
    CIPP_TENANT_ID,
    DIRECT_REFRESH_TOKEN,
    DIRECT_SECRET_NAMES,
    MICROSOFT_CLIENT_ID,
    MICROSOFT_CLIENT_SECRET,
    MICROSOFT_TENANT_ID,
    TENANT_SECRET_NAMES,
)
from .providers import EnvSecretProvider, FilesystemSecretProvider, SecretProvider
from .redaction import REDACTED, SecretRedactingFilter, redact_log_handlers, redact_secrets
from .vault import VaultSecretProvider

__all__ = [
    "APP_SECRET_NAMES",
    "CIPP_CLIENT_ID",
    "CIPP_CLIENT_SECRET",
    "CIPP_SECRET_NAMES",
    "CIPP_TENANT_ID",
    "DIRECT_REFRESH_TOKEN",
    "DIRECT_SECRET_NAMES",
    "MICROSOFT_CLIENT_ID",
    "MICROSOFT_CLIENT_SECRET",
    "MICROSOFT_TENANT_ID",
    "PROVIDER_KINDS",
    "REDACTED",
    "TENANT_SECRET_NAMES",
    "EnvSecretProvider",
    "FilesystemSecretProvider",
    "SecretChain",
    "SecretProvider",
    "SecretRedactingFilter",
    "VaultSecretProvider",
    "redact_log_handlers",
    "redact_secrets",
]
