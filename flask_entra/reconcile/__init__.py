"""Pure reconciliation planner: Entra users + existing contacts and links -> a plan (see DESIGN.md)."""

from __future__ import annotations

from flask_entra.reconcile.inputs import (
    DEFAULT_SERVICE_PATTERNS,
    FILTER_KEYS,
    LinkState,
    LocalState,
    OtherClientContact,
    PlanSettings,
)
from flask_entra.reconcile.plan import (
    Identity,
    Inactivation,
    InactivationReason,
    LinkRefresh,
    Plan,
    PlannedCreate,
    PlannedLink,
    Reactivation,
    ReviewItem,
    ReviewReason,
    Skip,
    SkipReason,
)
from flask_entra.reconcile.planner import plan_sync

__all__ = [
    "DEFAULT_SERVICE_PATTERNS",
    "FILTER_KEYS",
    "Identity",
    "Inactivation",
    "InactivationReason",
    "LinkRefresh",
    "LinkState",
    "LocalState",
    "OtherClientContact",
    "Plan",
    "PlanSettings",
    "PlannedCreate",
    "PlannedLink",
    "Reactivation",
    "ReviewItem",
    "ReviewReason",
    "Skip",
    "SkipReason",
    "plan_sync",
]
