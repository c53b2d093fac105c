"""``flask entra ...``: database, worker, schedules, manual sync, simulator and flags, for operators."""

from __future__ import annotations

import click
from alembic import command
from flask import current_app
from flask.cli import AppGroup

from . import migrate

entra_cli = AppGroup("entra", help="Microsoft Entra integration (flask-entra).")
db_cli = AppGroup("db", help="flask-entra's own tables (separate from the host's migrations).")
entra_cli.add_command(db_cli)


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Create or upgrade the entra_* tables."""
    migrate.upgrade(current_app, revision)
    click.echo(f"flask-entra tables at {migrate.current_revision(current_app)}")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Step the entra_* tables back to REVISION ("base" removes them)."""
    migrate.downgrade(current_app, revision)


@db_cli.command("current")
def db_current() -> None:
    click.echo(migrate.current_revision(current_app) or "none")


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    """For contributors: autogenerate a new revision from flask_entra.models."""
    command.revision(migrate._config(current_app), message=message, autogenerate=True)
