"""``flask entra flags ...``: list, create and target the platform feature flags from a shell (the app's flag service)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

import click
from flask.cli import AppGroup

from .errors import EntraError
from .flags import FlagService, FlagState
from .state import get_state

P = ParamSpec("P")
R = TypeVar("R")

flags_cli = AppGroup("flags", help="Platform feature flags (Unleash when ENTRA_UNLEASH_URL is set, else the table).")


def _service() -> FlagService:
    return get_state().flags


def _operator_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Our errors end the command with their message and advice (exit status 1), not a traceback."""

    @wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except EntraError as exc:
            raise click.ClickException(str(exc)) from exc

    return run


def _line(state: FlagState) -> str:
    audience = "tenants " + ", ".join(state.tenant_ids) if state.tenant_ids else "all tenants"
    return f"{state.key}\t{'on' if state.enabled else 'off'}\t{audience}\t{state.description}"


def _echo(states: list[FlagState]) -> None:
    for state in states:
        click.echo(_line(state))


@flags_cli.command("list")
@_operator_errors
def list_command() -> None:
    """Every flag: key, on/off, the tenants it is limited to, description."""
    _echo(_service().list_flags())


@flags_cli.command("ensure")
@_operator_errors
def ensure_command() -> None:
    """Create the five Entra flags, off (existing flags keep their state)."""
    _echo(_service().ensure_entra_flags())


@flags_cli.command("enable")
@click.argument("key")
@_operator_errors
def enable_command(key: str) -> None:
    """Turn KEY on (for the tenants it targets; everyone if none)."""
    _echo([_service().set_enabled(key, True)])


@flags_cli.command("disable")
@click.argument("key")
@_operator_errors
def disable_command(key: str) -> None:
    """Turn KEY off; the integration's data is kept."""
    _echo([_service().set_enabled(key, False)])


@flags_cli.command("target")
@click.argument("key")
@click.argument("tenants", nargs=-1)
@_operator_errors
def target_command(key: str, tenants: tuple[str, ...]) -> None:
    """Limit KEY to these TENANTS; with none, KEY applies to every tenant."""
    _echo([_service().set_tenants(key, list(tenants))])
