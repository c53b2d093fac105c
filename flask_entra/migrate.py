"""Our own Alembic history, applied with ``flask entra db upgrade`` beside the host's Flask-Migrate.

The history ships inside the wheel as ``flask_entra._migrations`` (the top-level ``migrations/`` directory of the source
tree) and records its revision in its own version table, so it never collides with the host's ``alembic_version``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from flask import Flask

from .models import EntraBase

VERSION_TABLE = "entra_alembic_version"
TABLE_PREFIX = "entra_"


def include_object(object: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Pass as ``include_object`` in the host's Alembic ``env.py`` so its autogenerate never sees our tables."""
    table = object if type_ == "table" else getattr(object, "table", None)
    table_name = getattr(table, "name", None) or (name if type_ == "table" else None)
    return not (table_name or "").startswith(TABLE_PREFIX)


def script_location() -> str:
    spec = importlib.util.find_spec("flask_entra._migrations")
    if spec is not None and spec.submodule_search_locations:
        return str(next(iter(spec.submodule_search_locations)))
    return str(Path(__file__).resolve().parent.parent / "migrations")  # a source checkout that is not installed


def _config(app: Flask) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", script_location())
    cfg.attributes["engine"] = app.extensions["sqlalchemy"].engine
    return cfg


def upgrade(app: Flask, revision: str = "head") -> None:
    with app.app_context():
        command.upgrade(_config(app), revision)


def downgrade(app: Flask, revision: str) -> None:
    with app.app_context():
        command.downgrade(_config(app), revision)


def current_revision(app: Flask) -> str | None:
    with app.app_context(), app.extensions["sqlalchemy"].engine.connect() as conn:
        return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


__all__ = ["VERSION_TABLE", "EntraBase", "current_revision", "downgrade", "include_object", "upgrade"]
