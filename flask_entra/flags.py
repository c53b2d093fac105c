"""Feature flags: names, and the flag service the guards ask (PLACEHOLDER: the flags issue replaces the engine).

Interface kept stable for the rest of the code:
``service.is_enabled(flag, *, tenant, user_id=None) -> bool`` and the management methods used by the
platform-feature-flags API: ``list_flags``, ``create_flag``, ``ensure_entra_flags``, ``set_enabled``, ``set_tenants``.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from .errors import NotFound
from .models import FeatureFlag

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


@dataclass(frozen=True)
class FlagState:
    key: str
    description: str
    enabled: bool
    tenant_ids: tuple[str, ...]


class EmbeddedFlagService:
    def __init__(self, db: SQLAlchemy) -> None:
        self._db = db

    def is_enabled(self, flag: str, *, tenant: str, user_id: str | None = None) -> bool:
        row = self._db.session.get(FeatureFlag, flag)
        return bool(row and row.enabled and (not row.tenant_ids or tenant in row.tenant_ids))

    def list_flags(self) -> list[FlagState]:
        rows = self._db.session.query(FeatureFlag).order_by(FeatureFlag.key).all()
        return [_state(r) for r in rows]

    def create_flag(self, key: str, description: str = "", enabled: bool = False) -> FlagState:
        row = self._db.session.get(FeatureFlag, key)
        if row is None:
            row = FeatureFlag(key=key, description=description, enabled=enabled, tenant_ids=[])
            self._db.session.add(row)
            self._db.session.commit()
        return _state(row)

    def ensure_entra_flags(self) -> list[FlagState]:
        return [self.create_flag(k, d) for k, d in ENTRA_FLAGS.items()]

    def set_enabled(self, key: str, enabled: bool) -> FlagState:
        row = self._get(key)
        row.enabled = enabled
        self._db.session.commit()
        return _state(row)

    def set_tenants(self, key: str, tenant_ids: list[str]) -> FlagState:
        row = self._get(key)
        row.tenant_ids = list(tenant_ids)
        self._db.session.commit()
        return _state(row)

    def _get(self, key: str) -> FeatureFlag:
        row = self._db.session.get(FeatureFlag, key)
        if row is None:
            raise NotFound(f"No feature flag named {key!r}.")
        return row


def _state(row: FeatureFlag) -> FlagState:
    return FlagState(row.key, row.description, row.enabled, tuple(row.tenant_ids or ()))


def build_flag_service(app: Flask, db: SQLAlchemy) -> EmbeddedFlagService:
    """Called once per process, on first use (never at import)."""
    return EmbeddedFlagService(db)
