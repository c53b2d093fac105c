"""Keeps each tenant's Temporal schedule in line with its settings and connection."""

from __future__ import annotations


def reconcile_schedule(tenant: str) -> None:
    """Create, update or remove the tenant's sync schedule (wired to Temporal by the schedules issue)."""
