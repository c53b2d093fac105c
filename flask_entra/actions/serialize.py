"""Rows -> plain dicts for JSON answers and pages (never a secret: connections expose no secret fields at all)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..models import Connection, ManagedTenantRow, ReconciliationItem, SyncRun, SyncRunTenant, TenantMapping


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def connection(row: Connection | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "id": row.id,
        "type": row.connection_type,
        "status": row.status,
        "partner_tenant_id": row.partner_tenant_id,
        "cipp_base_url": row.cipp_base_url,
        "last_validated_at": iso(row.validated_at),
        "last_error": row.last_error,
        "connected_at": iso(row.created_at),
    }


def mapping(row: TenantMapping | None, client_names: dict[str, str]) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "state": row.state,
        "client_id": row.client_id,
        "client_name": client_names.get(row.client_id or ""),
        "reason": row.reason,
        "confidence": row.confidence,
        "decided_by": row.decided_by,
        "decided_at": iso(row.decided_at),
    }


def managed_tenant(row: ManagedTenantRow, active_mapping: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "entra_tenant_id": row.entra_tenant_id,
        "display_name": row.display_name,
        "default_domain": row.default_domain,
        "verified_domains": list(row.verified_domains or []),
        "user_count": row.user_count,
        "gdap_relationship_end": iso(row.gdap_relationship_end),
        "first_seen_at": iso(row.first_seen_at),
        "last_seen_at": iso(row.last_seen_at),
        "missing": row.missing_since is not None,
        "missing_since": iso(row.missing_since),
        "mapping": active_mapping,
    }


def run(row: SyncRun, tenants: list[SyncRunTenant] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "run_id": row.id,
        "kind": row.kind,
        "client_id": row.client_id,
        "dry_run": row.dry_run,
        "workflow_id": row.workflow_id,
        "status": row.status,
        "requested_by": row.requested_by,
        "counters": dict(row.counters or {}),
        "tenants_total": row.tenants_total,
        "tenants_done": row.tenants_done,
        "error": row.error,
        "created_at": iso(row.created_at),
        "started_at": iso(row.started_at),
        "finished_at": iso(row.finished_at),
    }
    if tenants is not None:
        out["tenants"] = [run_tenant(t) for t in tenants]
    return out


def run_tenant(row: SyncRunTenant) -> dict[str, Any]:
    return {
        "entra_tenant_id": row.entra_tenant_id,
        "client_id": row.client_id,
        "status": row.status,
        "counters": dict(row.counters or {}),
        "held": row.status == "held",
        "held_inactivations": len(row.held_inactivations or []),
        "examples": dict(row.examples or {}),
        "error": row.error,
        "started_at": iso(row.started_at),
        "finished_at": iso(row.finished_at),
    }


def review_item(row: ReconciliationItem, candidates: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "item_id": row.id,
        "entra_tenant_id": row.entra_tenant_id,
        "entra_object_id": row.entra_object_id,
        "client_id": row.client_id,
        "user": dict(row.user or {}),
        "reason": row.reason,
        "candidates": candidates,
        "status": row.status,
        "resolution": row.resolution,
        "resolved_contact_id": row.resolved_contact_id,
        "resolved_by": row.resolved_by,
        "resolved_at": iso(row.resolved_at),
        "created_at": iso(row.created_at),
    }
