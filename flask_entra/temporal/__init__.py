"""Temporal side of flask-entra: workflow ids, the client bridge, workflows, activities, schedules and the worker."""

from __future__ import annotations

from .client import (
    StartedWorkflow,
    TemporalBridge,
    bridge,
    discovery_state,
    start_discovery_workflow,
    start_sync_workflow,
)
from .messages import SyncRequest

__all__ = [
    "StartedWorkflow",
    "SyncRequest",
    "TemporalBridge",
    "bridge",
    "discovery_state",
    "start_discovery_workflow",
    "start_sync_workflow",
]
