"""Discovered tenants, the mapping preview (computed, never stored), confirm (all or nothing), unmap."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, NotFound, ValidationFailed
from ..host import READ, UPDATE, ClientRecord, Principal
from ..mapping import MappingThresholds, suggest_mappings
from ..models import ManagedTenantRow, TenantMapping, utcnow
from ..providers.base import ManagedTenant
from . import serialize
from ._common import enter, field, json_object, session


def _managed(tenant: str) -> list[ManagedTenantRow]:
    stmt = select(ManagedTenantRow).filter_by(tenant=tenant).order_by(ManagedTenantRow.display_name)
    return list(session().execute(stmt).scalars())


def active_mappings(tenant: str) -> dict[str, TenantMapping]:
    stmt = select(TenantMapping).filter_by(tenant=tenant, active=True)
    return {m.entra_tenant_id: m for m in session().execute(stmt).scalars()}


def _client_names(tenant: str, client_ids: set[str]) -> dict[str, str]:
    from ..state import get_state

    if not client_ids:
        return {}
    return {c.id: c.name for c in get_state().adapter.get_clients(tenant, client_ids)}


def list_tenants(principal: Principal | None) -> list[dict[str, Any]]:
    principal, _ = enter(principal, READ)
    rows, mappings = _managed(principal.tenant), active_mappings(principal.tenant)
    names = _client_names(principal.tenant, {m.client_id for m in mappings.values() if m.client_id})
    return [serialize.managed_tenant(r, serialize.mapping(mappings.get(r.entra_tenant_id), names)) for r in rows]


def _as_managed(row: ManagedTenantRow) -> ManagedTenant:
    return ManagedTenant(
        entra_tenant_id=row.entra_tenant_id,
        display_name=row.display_name,
        default_domain=row.default_domain,
        verified_domains=tuple(row.verified_domains or ()),
        gdap_relationship_end=row.gdap_relationship_end,
        user_count=row.user_count,
    )


def _thresholds() -> MappingThresholds:
    from ..state import get_state

    return MappingThresholds.from_config(get_state().config)


def preview_mappings(principal: Principal | None) -> dict[str, Any]:
    """Suggestions for every discovered tenant plus the decisions already made. Reads only."""
    principal, state = enter(principal, READ)
    rows, mappings = _managed(principal.tenant), active_mappings(principal.tenant)
    clients: list[ClientRecord] = list(state.adapter.list_clients(principal.tenant))
    names = {c.id: c.name for c in clients}
    undecided = [r for r in rows if r.entra_tenant_id not in mappings]
    suggestions = suggest_mappings([_as_managed(r) for r in undecided], clients, _thresholds())
    out, summary = [], dict.fromkeys(("auto_matched", "needs_review", "unmatched", "mapped", "skipped"), 0)
    for row in rows:
        decided = mappings.get(row.entra_tenant_id)
        item = serialize.managed_tenant(row, serialize.mapping(decided, names))
        if decided is not None:
            item["state"], item["candidates"] = decided.state, []
        else:
            suggestion = suggestions[row.entra_tenant_id]
            item["state"] = suggestion.state
            item["suggested_client_id"] = suggestion.client_id
            item["candidates"] = [
                {"client_id": c.client_id, "client_name": c.client_name, "score": round(c.score, 1), "reason": c.reason}
                for c in suggestion.candidates
            ]
        summary[item["state"]] += 1
        out.append(item)
    return {"tenants": out, "summary": summary}


def confirm_mappings(principal: Principal | None, payload: Any) -> dict[str, Any]:
    """Apply every decision in one transaction, or none of them."""
    principal, state = enter(principal, UPDATE)
    body = json_object(payload)
    decisions = field(body, "decisions", list)
    start_initial = field(body, "start_initial_sync", bool, required=False, default=False)
    tenant = principal.tenant
    rows = {r.entra_tenant_id: r for r in _managed(tenant)}
    parsed: list[tuple[str, str, str | None]] = []
    for raw in decisions:
        decision = json_object(raw)
        entra_tenant_id = field(decision, "entra_tenant_id", str)
        action = field(decision, "action", str)
        if entra_tenant_id not in rows:
            raise NotFound(f"Unknown Microsoft tenant {entra_tenant_id!r}.")
        if action not in ("map", "skip"):
            raise ValidationFailed("'action' must be 'map' or 'skip'.")
        client_id = field(decision, "client_id", (str, int), required=action == "map")
        parsed.append((entra_tenant_id, action, str(client_id) if action == "map" else None))
    if len({d[0] for d in parsed}) != len(parsed):
        raise ValidationFailed("A Microsoft tenant appears twice in the decisions.")
    wanted = {d[2] for d in parsed if d[2]}
    clients = {c.id: c for c in state.adapter.get_clients(tenant, wanted)}
    if wanted - set(clients):
        raise NotFound("Unknown client.")
    reasons = _reasons(tenant, [rows[d[0]] for d in parsed if d[2]], list(clients.values()))
    current = active_mappings(tenant)
    now, s = utcnow(), session()
    try:
        for entra_tenant_id, action, client_id in parsed:
            old = current.get(entra_tenant_id)
            if old is not None:
                if old.state == ("mapped" if action == "map" else "skipped") and old.client_id == client_id:
                    continue
                old.active, old.ended_at, old.ended_by = False, now, principal.user_id
                s.flush()
            reason, confidence = reasons.get((entra_tenant_id, client_id or ""), ("manual", None))
            s.add(
                TenantMapping(
                    tenant=tenant,
                    entra_tenant_id=entra_tenant_id,
                    state="mapped" if action == "map" else "skipped",
                    client_id=client_id,
                    reason=reason if action == "map" else "skip",
                    confidence=confidence,
                    active=True,
                    decided_by=principal.user_id,
                    decided_at=now,
                )
            )
        s.commit()
    except IntegrityError:
        s.rollback()
        raise Conflict("Another change to these mappings happened at the same time; reload and try again.") from None
    result: dict[str, Any] = {
        "mapped": sum(1 for d in parsed if d[1] == "map"),
        "skipped": sum(1 for d in parsed if d[1] == "skip"),
        "run": None,
    }
    if start_initial:
        from .sync import start_sync

        result["run"] = start_sync(principal, {"scope": "initial"})
    return result


def _reasons(
    tenant: str, rows: list[ManagedTenantRow], clients: list[ClientRecord]
) -> dict[tuple[str, str], tuple[str, float | None]]:
    """Why each chosen client: the engine's reason when it suggested that client, else a manual choice."""
    if not rows:
        return {}
    suggestions = suggest_mappings([_as_managed(r) for r in rows], clients, _thresholds())
    out: dict[tuple[str, str], tuple[str, float | None]] = {}
    for entra_tenant_id, suggestion in suggestions.items():
        for candidate in suggestion.candidates:
            reason = "exact_domain" if candidate.reason == "exact_domain" else "fuzzy"
            out.setdefault((entra_tenant_id, candidate.client_id), (reason, candidate.score))
    return out


def unmap(principal: Principal | None, entra_tenant_id: str) -> dict[str, Any]:
    """End the active decision for a Microsoft tenant; history stays."""
    principal, _ = enter(principal, UPDATE)
    current = active_mappings(principal.tenant).get(entra_tenant_id)
    if current is None:
        raise NotFound("No active mapping for this Microsoft tenant.")
    current.active, current.ended_at, current.ended_by = False, utcnow(), principal.user_id
    session().commit()
    return {"entra_tenant_id": entra_tenant_id, "unmapped": True}


def history(principal: Principal | None, entra_tenant_id: str) -> list[dict[str, Any]]:
    principal, _ = enter(principal, READ)
    stmt = (
        select(TenantMapping)
        .filter_by(tenant=principal.tenant, entra_tenant_id=entra_tenant_id)
        .order_by(TenantMapping.decided_at.desc())
    )
    rows = list(session().execute(stmt).scalars())
    if not rows:
        raise NotFound("Not found.")
    names = _client_names(principal.tenant, {r.client_id for r in rows if r.client_id})
    return [
        {
            **(serialize.mapping(r, names) or {}),
            "active": r.active,
            "ended_at": serialize.iso(r.ended_at),
            "ended_by": r.ended_by,
        }
        for r in rows
    ]


def search_clients(principal: Principal | None, query: str, *, limit: int = 20) -> list[dict[str, Any]]:
    """The client picker's server-side search: fast at any number of clients."""
    principal, state = enter(principal, READ)
    query = query.strip()[:100]
    if not query:
        return []
    clients = state.adapter.search_clients(principal.tenant, query, limit=max(1, min(limit, 50)))
    return [{"client_id": c.id, "client_name": c.name, "domains": list(c.domains)} for c in clients]
