"""SQLAlchemy models of the ``entra_*`` tables.

They live in their own metadata (so a host's Flask-Migrate autogenerate never sees them, see
:func:`flask_entra.migrate.include_object`) but are used through the host's ``db.session``, so contact writes and our link
rows commit together. Every tenant-owned table carries ``tenant`` first in its primary key and in every unique key,
ready for distribution by tenant.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Index, Integer, MetaData, String, Text, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class EntraBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: DateTime(timezone=True)}


def _partial(name: str, *cols: str, where: str) -> Index:
    """A unique index over ``cols`` restricted to rows matching ``where`` (PostgreSQL and SQLite both support it)."""
    return Index(name, *cols, unique=True, postgresql_where=text(where), sqlite_where=text(where))


class Connection(EntraBase):
    __tablename__ = "entra_connections"
    __table_args__ = (_partial("uq_entra_connections_one_active", "tenant", where="status = 'active'"),)

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    connection_type: Mapped[str] = mapped_column(String(16))  # direct | cipp
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | disconnected
    partner_tenant_id: Mapped[str | None] = mapped_column(String(64))
    cipp_base_url: Mapped[str | None] = mapped_column(String(500))
    connected_by: Mapped[str | None] = mapped_column(String(64))
    validated_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disconnected_at: Mapped[datetime | None]


class OAuthState(EntraBase):
    """Server-side half of a Direct sign-in: single use, bound to the tenant and user that started it."""

    __tablename__ = "entra_oauth_states"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64))
    code_verifier: Mapped[str] = mapped_column(String(128))
    nonce: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ManagedTenantRow(EntraBase):
    __tablename__ = "entra_managed_tenants"
    __table_args__ = (UniqueConstraint("tenant", "entra_tenant_id", name="uq_entra_managed_tenants_identity"),)

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    entra_tenant_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(500))
    default_domain: Mapped[str | None] = mapped_column(String(255))
    verified_domains: Mapped[list[Any]] = mapped_column(default=list)
    user_count: Mapped[int | None] = mapped_column(Integer)
    gdap_relationship_end: Mapped[datetime | None]
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    missing_since: Mapped[datetime | None]  # set when discovery no longer returns it; never deleted


class TenantMapping(EntraBase):
    __tablename__ = "entra_tenant_mappings"
    __table_args__ = (_partial("uq_entra_tenant_mappings_one_active", "tenant", "entra_tenant_id", where="active"),)

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    entra_tenant_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # mapped | skipped
    client_id: Mapped[str | None] = mapped_column(String(64), index=True)
    confidence: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(32))  # exact_domain | fuzzy | manual
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_by: Mapped[str | None] = mapped_column(String(64))
    ended_at: Mapped[datetime | None]


class SyncSettings(EntraBase):
    __tablename__ = "entra_sync_settings"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    interval_minutes: Mapped[int] = mapped_column(Integer, default=1440)
    field_toggles: Mapped[dict[str, Any]] = mapped_column(default=dict)
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    mass_inactivation_min: Mapped[int] = mapped_column(Integer, default=5)
    mass_inactivation_percent: Mapped[float] = mapped_column(Float, default=20.0)
    updated_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SyncRun(EntraBase):
    __tablename__ = "entra_sync_runs"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))  # initial | all | client | scheduled
    client_id: Mapped[str | None] = mapped_column(String(64))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    workflow_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued|running|completed|partial|failed
    requested_by: Mapped[str | None] = mapped_column(String(64))
    counters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tenants_total: Mapped[int] = mapped_column(Integer, default=0)
    tenants_done: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class SyncRunTenant(EntraBase):
    __tablename__ = "entra_sync_run_tenants"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    entra_tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|running|completed|failed|held|released
    counters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    held_inactivations: Mapped[list[Any]] = mapped_column(default=list)
    examples: Mapped[dict[str, Any]] = mapped_column(default=dict)  # dry runs: a few names per kind of change
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class ContactLink(EntraBase):
    __tablename__ = "entra_contact_links"
    __table_args__ = (
        UniqueConstraint("tenant", "entra_tenant_id", "entra_object_id", name="uq_entra_contact_links_identity"),
        _partial("uq_entra_contact_links_one_active_per_contact", "tenant", "contact_id", where="active"),
        Index("ix_entra_contact_links_tenant_client", "tenant", "client_id"),
    )

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    entra_tenant_id: Mapped[str] = mapped_column(String(64))
    entra_object_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(64))
    contact_id: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    upn: Mapped[str | None] = mapped_column(String(500))
    mail: Mapped[str | None] = mapped_column(String(500))
    account_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    link_reason: Mapped[str] = mapped_column(String(32))  # email_match | created | resolved
    inactivated_by_sync: Mapped[bool] = mapped_column(Boolean, default=False)
    inactivation_reason: Mapped[str | None] = mapped_column(String(32))  # disabled | deleted | absent
    last_seen_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReconciliationItem(EntraBase):
    __tablename__ = "entra_reconciliation_items"
    __table_args__ = (
        _partial(
            "uq_entra_reconciliation_items_one_open",
            "tenant",
            "entra_tenant_id",
            "entra_object_id",
            where="status = 'open'",
        ),
    )

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    entra_tenant_id: Mapped[str] = mapped_column(String(64))
    entra_object_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[str | None] = mapped_column(String(32))
    user: Mapped[dict[str, Any]] = mapped_column(default=dict)  # display name, UPN, mail: what the reviewer needs
    candidate_contact_ids: Mapped[list[Any]] = mapped_column(default=list)
    reason: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | resolved | dismissed
    resolution: Mapped[str | None] = mapped_column(String(32))  # link_existing | create_new | dismiss
    resolved_contact_id: Mapped[str | None] = mapped_column(String(64))
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FeatureFlag(EntraBase):
    """The embedded flag store: a platform-level table (not tenant-owned; a reference table when distributed)."""

    __tablename__ = "entra_feature_flags"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    tenant_ids: Mapped[list[Any]] = mapped_column(default=list)  # empty: every tenant when enabled
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
