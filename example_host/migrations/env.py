"""Alembic environment of the example PSA (run through Flask-Migrate: ``flask --app example_host db ...``).

flask-entra's ``entra_*`` tables share the database but have their own history (``flask entra db upgrade``), so
``include_object`` keeps them out of this history's autogenerate.
"""

from __future__ import annotations

from alembic import context
from flask import current_app

from flask_entra.migrate import include_object

db = current_app.extensions["migrate"].db
target_metadata = db.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=db.engine.url.render_as_string(hide_password=False),
        target_metadata=target_metadata,
        include_object=include_object,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    with db.engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_object=include_object,
            render_as_batch=True,  # SQLite can only alter tables by copying them
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
