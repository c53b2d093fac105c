"""The bundled host adapter for hosts whose clients and contacts are SQLAlchemy models."""

from __future__ import annotations

from .adapter import DEFAULT_CONTACT_FIELDS, SQLAlchemyHostAdapter

__all__ = ["DEFAULT_CONTACT_FIELDS", "SQLAlchemyHostAdapter"]
