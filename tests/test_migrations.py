"""Our Alembic history creates exactly what the models describe, and steps back cleanly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import inspect

from flask_entra import Entra, migrate
from flask_entra.models import EntraBase
from tests.plugins.postgres import create_database, drop_database


def test_history_matches_the_models_and_downgrades_to_nothing() -> None:
    url = create_database("entra_migrations")
    app = Flask(__name__)
    app.config.update(SQLALCHEMY_DATABASE_URI=url.replace("postgresql://", "postgresql+psycopg://", 1), SECRET_KEY="x")
    db = SQLAlchemy(app)
    Entra(app)
    migrate.upgrade(app)
    with app.app_context():
        engine = db.engine
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "include_object": lambda *a: not migrate.include_object(*a),
                    "version_table": migrate.VERSION_TABLE,
                },
            )
            diff = compare_metadata(context, EntraBase.metadata)
        assert diff == [], f"models changed without a migration (flask entra db revision -m ...): {diff}"
        migrate.downgrade(app, "base")
        left = [t for t in inspect(engine).get_table_names() if t.startswith("entra_") and t != migrate.VERSION_TABLE]
        engine.dispose()
    drop_database(url)
    assert left == []
