"""A small multi-tenant PSA that embeds flask-entra: the demo, and the host the test suite runs against."""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
