"""``flask entra ...``: database, worker, schedules, manual sync, simulator and flags, for operators."""

from __future__ import annotations

import click
from alembic import command
from flask import current_app
from flask.cli import AppGroup

from . import migrate
from .cli_flags import flags_cli
from .cli_temporal import schedules_cli, sync_command, worker_command

entra_cli = AppGroup("entra", help="Microsoft Entra integration (flask-entra).")
db_cli = AppGroup("db", help="flask-entra's own tables (separate from the host's migrations).")
entra_cli.add_command(db_cli)
entra_cli.add_command(flags_cli)
entra_cli.add_command(worker_command)
entra_cli.add_command(schedules_cli)
entra_cli.add_command(sync_command)


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


@entra_cli.command("simulator")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=8765, type=int)
@click.option(
    "--dataset", type=click.Path(exists=True, dir_okay=False), help="Dataset JSON (default: the demo dataset)."
)
def simulator(host: str, port: int, dataset: str | None) -> None:
    """Serve the local Microsoft identity platform + Graph + CIPP-API simulator (never for production)."""
    from .simulator import serve

    click.echo(f"simulator on http://{host}:{port} (login /login, Graph /graph, CIPP /cipp)")
    serve(host, port, dataset)
