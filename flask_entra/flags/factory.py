"""Which flag store a process uses: Unleash when ``ENTRA_UNLEASH_URL`` is set, else the embedded table."""

from __future__ import annotations

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from ..config import DEFAULTS
from .base import FlagService
from .embedded import EmbeddedFlagService
from .unleash import UnleashFlagService, UnleashSettings


def build_flag_service(app: Flask, db: SQLAlchemy) -> FlagService:
    """Called once per process, on first use (never at import); nothing touches the network or the database here."""
    if app.config.get("ENTRA_UNLEASH_URL"):
        return UnleashFlagService(UnleashSettings.from_config(app.config))
    with app.app_context():
        engine = db.engine
    return EmbeddedFlagService(
        engine,
        app_name=str(app.config.get("ENTRA_UNLEASH_APP_NAME", DEFAULTS["ENTRA_UNLEASH_APP_NAME"])),
        refresh_interval=float(
            app.config.get("ENTRA_UNLEASH_REFRESH_INTERVAL", DEFAULTS["ENTRA_UNLEASH_REFRESH_INTERVAL"])
        ),
    )
