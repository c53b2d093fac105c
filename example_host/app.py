"""``create_app``: the example PSA with flask-entra wired in."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

from flask_entra import Entra
from flask_entra.config import DEFAULTS as ENTRA_DEFAULTS
from flask_entra.sqlalchemy_adapter import SQLAlchemyHostAdapter

from .auth import auth, login_manager
from .models import Client, Contact, db
from .seed import seed_demo_command
from .views import psa

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: Environment variables copied into the config as they are (``ENTRA_*`` keys are read too, see ``_from_environment``).
ENV_KEYS = ("EDITION", "SECRET_KEY", "MICROSOFT_CLIENT_ID", "MICROSOFT_CLIENT_SECRET", "MICROSOFT_TENANT_ID")
#: Variables of the test harness that share the prefix but are not extension settings.
NOT_ENTRA_SETTINGS = "ENTRA_TEST_"

migrate = Migrate()
csrf = CSRFProtect()


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the PSA. ``config`` overrides the defaults; without it, settings come from the environment."""
    app = Flask(__name__, instance_relative_config=True)
    default_database = f"sqlite:///{Path(app.instance_path) / 'example_host.sqlite'}"
    app.config.update(EDITION="community", SQLALCHEMY_DATABASE_URI=default_database, ENTRA_LOGIN_VIEW="auth.login")
    app.config.update(_from_environment(os.environ) if config is None else config)
    if not app.config.get("SECRET_KEY"):
        # Sessions then last as long as this process: fine for a demo, set SECRET_KEY anywhere else.
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    if app.config["SQLALCHEMY_DATABASE_URI"] == default_database:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS))
    csrf.init_app(app)
    login_manager.init_app(app)
    app.register_blueprint(auth)
    app.register_blueprint(psa)
    app.cli.add_command(seed_demo_command)

    adapter = SQLAlchemyHostAdapter(
        db,
        client_model=Client,
        contact_model=Contact,
        client_domain_attrs=("website", "domain"),
        client_inactive_attr="is_inactive",
    )
    Entra(app, host=adapter)
    return app


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    settings: dict[str, Any] = {key: environ[key] for key in ENV_KEYS if environ.get(key)}
    if environ.get("DATABASE_URL"):
        settings["SQLALCHEMY_DATABASE_URI"] = _sqlalchemy_url(environ["DATABASE_URL"])
    for key, raw in environ.items():
        if key.startswith("ENTRA_") and not key.startswith(NOT_ENTRA_SETTINGS):
            settings[key] = _typed(raw, ENTRA_DEFAULTS.get(key))
    return settings


def _sqlalchemy_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` as platforms hand them out, for the psycopg 3 driver we ship with."""
    for scheme in ("postgres://", "postgresql://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url.removeprefix(scheme)
    return url


def _typed(raw: str, default: Any) -> Any:
    """An environment string in the type of the setting's default (a comma list for tuples)."""
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int | float):
        return type(default)(raw)
    if isinstance(default, tuple):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    return raw
