"""Sync settings per MSP tenant: schedule, user filters, the mass-inactivation guard, field toggles.

Filters are stored in the format :data:`flask_entra.sync_state.FILTER_DEFAULTS` defines, and a save is checked by
building the planner's settings from it, so what saves is exactly what a sync accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import flags
from ..errors import NotFound, ValidationFailed
from ..host import CONTACT_FIELDS, READ, UPDATE, Principal
from ..models import SyncSettings
from ..security import flag_on
from ..sync_state import FILTER_DEFAULTS, settings_for_planner
from ._common import enter, field, json_object, session
from .schedules import reconcile_schedule

MIN_INTERVAL, MAX_INTERVAL = 15, 7 * 24 * 60
MAX_PATTERNS, MAX_PATTERN_LENGTH = 50, 200


def load_settings(tenant: str) -> SyncSettings:
    """The tenant's settings row, or an unsaved one holding the defaults."""
    row = session().get(SyncSettings, tenant)
    if row is None:
        row = SyncSettings(
            tenant=tenant,
            enabled=False,
            interval_minutes=1440,
            field_toggles={},
            filters=_with_defaults({}),
            mass_inactivation_min=5,
            mass_inactivation_percent=20.0,
        )
    return row


def settings_dict(tenant: str, *, include_toggles: bool) -> dict[str, Any]:
    row = load_settings(tenant)
    out: dict[str, Any] = {
        "enabled": row.enabled,
        "interval_minutes": row.interval_minutes,
        "filters": _with_defaults(row.filters or {}),
        "mass_inactivation": {"min_count": row.mass_inactivation_min, "percent": row.mass_inactivation_percent},
    }
    if include_toggles:
        out["field_toggles"] = {name: bool((row.field_toggles or {}).get(name)) for name in CONTACT_FIELDS}
    return out


def get_settings(principal: Principal | None) -> dict[str, Any]:
    principal, _ = enter(principal, READ)
    return settings_dict(principal.tenant, include_toggles=flag_on(principal, flags.FIELD_SYNC))


def update_settings(principal: Principal | None, payload: Any) -> dict[str, Any]:
    """Validate everything first, then write once; toggles exist only while the field-sync flag is on."""
    principal, _ = enter(principal, UPDATE)
    body = json_object(payload)
    row = load_settings(principal.tenant)
    enabled = field(body, "enabled", bool, required=False, default=row.enabled)
    interval = field(body, "interval_minutes", int, required=False, default=row.interval_minutes)
    if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
        raise ValidationFailed(f"'interval_minutes' must be between {MIN_INTERVAL} and {MAX_INTERVAL}.")
    filters = _filters(field(body, "filters", Mapping, required=False, default={}), row.filters or {})
    guard = field(body, "mass_inactivation", Mapping, required=False, default={})
    min_count = field(guard, "min_count", int, required=False, default=row.mass_inactivation_min)
    percent = float(field(guard, "percent", (int, float), required=False, default=row.mass_inactivation_percent))
    toggles = row.field_toggles or {}
    if "field_toggles" in body:
        if not flag_on(principal, flags.FIELD_SYNC):
            raise NotFound("Field toggles are not available.")
        toggles = _toggles(field(body, "field_toggles", Mapping), toggles)
    settings_for_planner(filters, toggles, mass_inactivation_min=min_count, mass_inactivation_percent=percent)
    row.enabled, row.interval_minutes, row.filters = enabled, interval, filters
    row.mass_inactivation_min, row.mass_inactivation_percent = min_count, percent
    row.field_toggles, row.updated_by = toggles, principal.user_id
    session().add(row)
    session().commit()
    reconcile_schedule(principal.tenant)
    return settings_dict(principal.tenant, include_toggles=flag_on(principal, flags.FIELD_SYNC))


def _with_defaults(stored: Mapping[str, Any]) -> dict[str, Any]:
    out = {**FILTER_DEFAULTS, **stored}
    out["custom_patterns"] = list(out["custom_patterns"])
    return out


def _filters(given: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """``current`` with what ``given`` changes; unknown names and bad patterns are left to the planner's rules."""
    out = {**_with_defaults(current), **given}
    for name in ("skip_guests", "skip_unlicensed", "skip_service_accounts"):
        out[name] = field(out, name, bool)
    patterns = field(out, "custom_patterns", list)
    if len(patterns) > MAX_PATTERNS or not all(
        isinstance(pattern, str) and 0 < len(pattern) <= MAX_PATTERN_LENGTH for pattern in patterns
    ):
        raise ValidationFailed(
            f"'custom_patterns' must be at most {MAX_PATTERNS} non-empty strings of at most {MAX_PATTERN_LENGTH} "
            "characters."
        )
    out["custom_patterns"] = list(patterns)
    return out


def _toggles(given: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, bool]:
    unknown = set(given) - set(CONTACT_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown fields: {', '.join(sorted(unknown))}.")
    return {name: field(given, name, bool, required=False, default=bool(current.get(name))) for name in CONTACT_FIELDS}
