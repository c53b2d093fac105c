"""Secret names and the validation that keeps a tenant or a name from ever addressing outside its own slot."""

from __future__ import annotations

import re

from ..errors import ValidationFailed

# App secrets: the names the host already uses (env MICROSOFT_CLIENT_ID, ...), so one app registration serves both.
MICROSOFT_CLIENT_ID = "microsoft_client_id"
MICROSOFT_CLIENT_SECRET = "microsoft_client_secret"
MICROSOFT_TENANT_ID = "microsoft_tenant_id"
APP_SECRET_NAMES = (MICROSOFT_CLIENT_ID, MICROSOFT_CLIENT_SECRET, MICROSOFT_TENANT_ID)

# Tenant secrets, namespaced per MSP tenant. The CIPP base URL is not secret: it is a column of entra_connections.
DIRECT_REFRESH_TOKEN = "entra_direct_refresh_token"
CIPP_CLIENT_ID = "entra_cipp_client_id"
CIPP_CLIENT_SECRET = "entra_cipp_client_secret"
CIPP_TENANT_ID = "entra_cipp_tenant_id"
DIRECT_SECRET_NAMES = (DIRECT_REFRESH_TOKEN,)
CIPP_SECRET_NAMES = (CIPP_CLIENT_ID, CIPP_CLIENT_SECRET, CIPP_TENANT_ID)
TENANT_SECRET_NAMES = DIRECT_SECRET_NAMES + CIPP_SECRET_NAMES

# Both patterns start with a letter or digit and allow no slash, so neither can be "", "." or ".." or cross a directory.
# Names have no double underscore: the env provider uses "__" to separate tenant from name.
_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_MAX_LENGTH = 128


def validate_name(name: str) -> str:
    # The message never echoes the input: a secret passed by mistake in the name's place must not reach a log.
    if not isinstance(name, str) or len(name) > _MAX_LENGTH or not _NAME.fullmatch(name):
        raise ValidationFailed("Invalid secret name: use lowercase letters, digits and single underscores.")
    return name


def validate_tenant(tenant: str) -> str:
    if not isinstance(tenant, str) or len(tenant) > _MAX_LENGTH or not _TENANT.fullmatch(tenant):
        raise ValidationFailed("Invalid tenant for a secret: use letters, digits, '-', '_' and '.'.")
    return tenant
