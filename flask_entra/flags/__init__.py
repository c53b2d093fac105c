"""Feature flags: the five Entra flag names and the flag service (Unleash SDK over Unleash or the embedded store)."""

from .base import (
    CIPP,
    CLIENT_SYNC,
    ENTRA_FLAGS,
    FIELD_SYNC,
    QUEUE,
    UI,
    FlagService,
    FlagState,
    FlagStoreError,
)
from .embedded import EmbeddedFlagService
from .factory import build_flag_service
from .unleash import UnleashFlagService, UnleashSettings

__all__ = [
    "CIPP",
    "CLIENT_SYNC",
    "ENTRA_FLAGS",
    "FIELD_SYNC",
    "QUEUE",
    "UI",
    "EmbeddedFlagService",
    "FlagService",
    "FlagState",
    "FlagStoreError",
    "UnleashFlagService",
    "UnleashSettings",
    "build_flag_service",
]
