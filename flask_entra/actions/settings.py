"""Sync settings per MSP tenant: schedule, user filters, the mass-inactivation guard, field toggles."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .. import flags
from ..errors import NotFound, ValidationFailed
from ..host import CONTACT_FIELDS, READ, UPDATE, Principal
from ..models import SyncSettings
from ..security import flag_on
from ._common import enter, field, json_object, session

DEFAULT_FILTERS: dict[str, Any] = {
    "skip_guests": True,
    "skip_unlicensed": False,
    "skip_service_accounts": True,
    "custom_patterns": [],
}
MIN_INTERVAL, MAX_INTERVAL = 15, 7 * 24 * 60


def load_settings(tenant: str) -> SyncSettings:
    """The tenant's settings row, or an unsaved one holding the defaults."""
    row = session().get(SyncSettings, tenant)
    if row is None:
        row = SyncSettings(
            tenant=tenant,
            enabled=False,
            interval_minutes=1440,
            field_toggles={},
            filters=dict(DEFAULT_FILTERS),
            mass_inactivation_min=5,
            mass_inactivation_percent=20.0,
        )
    return row


def settings_dict(tenant: str, *, include_toggles: bool) -> dict[str, Any]:
    row = load_settings(tenant)
    out: dict[str, Any] = {
        "enabled": row.enabled,
        "interval_minutes": row.interval_minutes,
        "filters": {**DEFAULT_FILTERS, **(row.filters or {})},
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
    percent = field(guard, "percent", (int, float), required=False, default=row.mass_inactivation_percent)
    if min_count < 0 or not 0 <= percent <= 100:
        raise ValidationFailed("'mass_inactivation' needs min_count >= 0 and percent between 0 and 100.")
    toggles = row.field_toggles or {}
    if "field_toggles" in body:
        if not flag_on(principal, flags.FIELD_SYNC):
            raise NotFound("Field toggles are not available.")
        toggles = _toggles(field(body, "field_toggles", Mapping), toggles)
    row.enabled, row.interval_minutes, row.filters = enabled, interval, filters
    row.mass_inactivation_min, row.mass_inactivation_percent = min_count, float(percent)
    row.field_toggles, row.updated_by = toggles, principal.user_id
    session().add(row)
    session().commit()
    from .schedules import reconcile_schedule  # schedules follow the settings

    reconcile_schedule(principal.tenant)
    return settings_dict(principal.tenant, include_toggles=flag_on(principal, flags.FIELD_SYNC))


def _filters(given: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(given) - set(DEFAULT_FILTERS)
    if unknown:
        raise ValidationFailed(f"Unknown filters: {', '.join(sorted(unknown))}.")
    out = {**DEFAULT_FILTERS, **current}
    for name in ("skip_guests", "skip_unlicensed", "skip_service_accounts"):
        out[name] = field(given, name, bool, required=False, default=out[name])
    patterns = field(given, "custom_patterns", list, required=False, default=out["custom_patterns"])
    for pattern in patterns:
        if not isinstance(pattern, str) or len(pattern) > 200:
            raise ValidationFailed("Each custom pattern must be a string of at most 200 characters.")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValidationFailed(f"Custom pattern {pattern!r} is not a valid regular expression: {exc}.") from None
    out["custom_patterns"] = list(patterns)
    return out


def _toggles(given: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, bool]:
    unknown = set(given) - set(CONTACT_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown fields: {', '.join(sorted(unknown))}.")
    return {name: field(given, name, bool, required=False, default=bool(current.get(name))) for name in CONTACT_FIELDS}
