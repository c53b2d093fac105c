"""Keeps each tenant's Temporal schedule in line with its settings and connection."""

from __future__ import annotations

import logging

from ..errors import WorkflowError
from ..temporal.schedules import reconcile_tenant_schedule

log = logging.getLogger(__name__)


def reconcile_schedule(tenant: str) -> None:
    """Create, update or remove the tenant's sync schedule; call after settings change, connect and disconnect.

    Never fails the caller's save: when Temporal is unreachable the settings are already committed, and
    ``flask entra schedules sync`` (also run at every worker start) repairs the schedule later.
    """
    try:
        outcome = reconcile_tenant_schedule(None, tenant)
    except WorkflowError as exc:
        log.warning("sync schedule of tenant %s not reconciled (%s); run `flask entra schedules sync`", tenant, exc)
        return
    log.info("sync schedule of tenant %s: %s", tenant, outcome)
