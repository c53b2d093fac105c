"""Operator commands for the Temporal side, attached to the ``flask entra`` group: ``worker``, ``schedules sync`` and
``sync`` (a manual run without going through the web UI's guards: the operator at the shell is trusted).

The Temporal and sync modules are imported inside the commands: a community-edition app loads this module with the
``flask entra`` group but must not import any enterprise module.
"""

from __future__ import annotations

import time

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from .errors import EntraError
from .models import SyncRun
from .state import get_state

schedules_cli = AppGroup("schedules", help="The per-tenant Temporal sync schedules.")


@click.command("worker")
@with_appcontext
def worker_command() -> None:
    """Run the Temporal worker of this app until interrupted (Ctrl-C or SIGTERM)."""
    from .temporal.worker import run_worker

    run_worker(current_app._get_current_object())  # type: ignore[attr-defined]


@schedules_cli.command("sync")
def schedules_sync_command() -> None:
    """Create, update or remove every tenant's sync schedule to match its settings and connection."""
    from .temporal.schedules import sync_all_schedules

    try:
        outcomes = sync_all_schedules(current_app._get_current_object())  # type: ignore[attr-defined]
    except EntraError as exc:
        raise click.ClickException(str(exc)) from None
    for tenant, outcome in outcomes.items():
        click.echo(f"{tenant}: {outcome}")
    if not outcomes:
        click.echo("no tenant has sync settings or a connection")


@click.command("sync")
@click.option("--tenant", required=True, help="The MSP tenant whose mapped Microsoft tenants to sync.")
@click.option("--scope", default="all", show_default=True, help="initial, all or client.")
@click.option("--client-id", help="With --scope client: the client whose Microsoft tenants to sync.")
@click.option("--dry-run", is_flag=True, help="Plan and count only; change nothing.")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Follow the run until it ends.")
@with_appcontext
def sync_command(tenant: str, scope: str, client_id: str | None, dry_run: bool, wait: bool) -> None:
    """Start (or join) a sync run and, by default, follow it to its end."""
    from .actions.sync import launch_sync
    from .sync_runs import FINISHED_RUN_STATES

    try:
        started = launch_sync(tenant, scope, client_id=client_id, dry_run=dry_run, requested_by="cli")
    except EntraError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"run {started['run_id']} ({started['workflow_id']})")
    if not wait:
        return
    session = get_state().session
    while True:
        run = session.get(SyncRun, (tenant, started["run_id"]), populate_existing=True)
        seen = None if run is None else (run.status, run.tenants_done, run.tenants_total, dict(run.counters or {}))
        session.rollback()  # the next look must see the worker's commits
        if seen is not None:
            status, done, total, counters = seen
            click.echo(f"  {status}: {done}/{total} Microsoft tenants")
            if status in FINISHED_RUN_STATES:
                click.echo(f"  counters: {counters}")
                if status != "completed":
                    raise SystemExit(1)
                return
        time.sleep(2)
