"""Alembic environment of flask-entra's own tables (run through flask_entra.migrate, never with a bare alembic.ini)."""

from __future__ import annotations

from alembic import context

from flask_entra.migrate import VERSION_TABLE, include_object
from flask_entra.models import EntraBase


def _only_ours(object, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    return not include_object(object, name, type_, reflected, compare_to)


engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=EntraBase.metadata,
        version_table=VERSION_TABLE,
        include_object=_only_ours,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
