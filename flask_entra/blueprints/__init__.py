"""HTTP surfaces of flask-entra (enterprise edition) and the community stubs."""

from __future__ import annotations

from .registry import register_enterprise

__all__ = ["register_enterprise"]
