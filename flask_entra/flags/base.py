"""Flag names, the state the management API shows, and the interface both flag stores implement."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import EntraError, ValidationFailed

UI = "entra-integration-ui"
CLIENT_SYNC = "entra-integration-client-sync-action"
CIPP = "entra-integration-cipp"
FIELD_SYNC = "entra-integration-field-sync"
QUEUE = "entra-integration-ambiguous-queue"

ENTRA_FLAGS: dict[str, str] = {
    UI: "Entra settings card, wizard pages and integration API",
    CLIENT_SYNC: "Client page 'Sync Entra Now' button and its endpoint",
    CIPP: "CIPP connection option and CIPP connect API",
    FIELD_SYNC: "Per-field overwrite toggles",
    QUEUE: "Ambiguous contact review queue pages and API",
}

# Unleash's own rule for flag names (URL-safe, at most 100 characters), applied to the embedded store too so a flag
# created there can later move to Unleash unchanged.
KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,99}$")


class FlagStoreError(EntraError):
    """The flag store (the Unleash Admin API or the ``entra_feature_flags`` table) failed or could not be reached."""

    code = "flag_store_error"
    status = 503


@dataclass(frozen=True)
class FlagState:
    key: str
    description: str
    enabled: bool
    tenant_ids: tuple[str, ...]  # empty: every tenant, when enabled

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "description": self.description,
            "enabled": self.enabled,
            "tenant_ids": list(self.tenant_ids),
        }


def checked_key(key: str) -> str:
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        raise ValidationFailed(
            f"{key!r} is not a valid flag name.",
            advice="Use letters, digits, '.', '_', '~' or '-', starting with a letter or digit, at most 100 characters.",
        )
    return key


def normalised_tenants(tenant_ids: Iterable[str]) -> tuple[str, ...]:
    """Tenant ids stripped, blanks and repeats dropped, order kept."""
    if isinstance(tenant_ids, str) or not all(isinstance(t, str) for t in tenant_ids):
        raise ValidationFailed("Tenant ids must be a list of strings.")
    return tuple(dict.fromkeys(t.strip() for t in tenant_ids if t.strip()))


class FlagService(ABC):
    """Evaluation (per request, fail closed) and management of platform feature flags, one instance per process."""

    @abstractmethod
    def is_enabled(self, flag: str, *, tenant: str, user_id: str | None = None) -> bool:
        """Whether ``flag`` is on for this tenant and user; False when the store cannot answer."""

    @abstractmethod
    def list_flags(self) -> list[FlagState]: ...

    @abstractmethod
    def create_flag(self, key: str, description: str = "", enabled: bool = False) -> FlagState:
        """Create ``key`` (untargeted); an existing flag is returned unchanged, so creating is idempotent."""

    @abstractmethod
    def set_enabled(self, key: str, enabled: bool) -> FlagState:
        """Turn ``key`` on or off (NotFound for an unknown key); its targeting is kept."""

    @abstractmethod
    def set_tenants(self, key: str, tenant_ids: Iterable[str]) -> FlagState:
        """Limit ``key`` to these tenants; an empty list means every tenant (NotFound for an unknown key)."""

    @abstractmethod
    def close(self) -> None:
        """Stop background work (SDK polling threads, HTTP connections)."""

    def ensure_entra_flags(self) -> list[FlagState]:
        """Create the five Entra flags, off; flags that exist already keep their state."""
        return [self.create_flag(key, description) for key, description in ENTRA_FLAGS.items()]
