"""The ``Entra`` extension object: configuration, the edition gate, and registration of our surfaces."""

from __future__ import annotations

import difflib
import os

from flask import Flask

from . import config as entra_config
from .errors import ConfigurationError
from .host import HostAdapter, Principal
from .state import EntraState, PrincipalLoader

EDITIONS = ("enterprise", "community")


def flask_login_principal() -> Principal | None:
    """Default principal loader: Flask-Login's ``current_user`` with ``tenant``, ``is_client_portal``, ``permissions``."""
    from flask_login import current_user

    if not getattr(current_user, "is_authenticated", False):
        return None
    return Principal(
        user_id=str(current_user.get_id()),
        tenant=str(current_user.tenant),
        is_client_portal=bool(getattr(current_user, "is_client_portal", False)),
        permissions=frozenset(getattr(current_user, "permissions", ()) or ()),
    )


class Entra:
    """Microsoft Entra integration for a multi-tenant PSA.

    ``Entra(app, host=adapter)`` or ``entra = Entra(host=adapter)`` then ``entra.init_app(app)``. Flask-SQLAlchemy must be
    initialised on the app first: our tables are used through the host's ``db.session``.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        host: HostAdapter | None = None,
        principal_loader: PrincipalLoader | None = None,
    ) -> None:
        self._host = host
        self._principal_loader: PrincipalLoader = principal_loader or flask_login_principal
        if app is not None:
            self.init_app(app)

    def principal_loader(self, loader: PrincipalLoader) -> PrincipalLoader:
        """Register the hook that tells who is acting (``None`` when nobody is signed in). Returns ``loader``."""
        self._principal_loader = loader
        return loader

    def init_app(self, app: Flask) -> None:
        entra_config.apply_defaults(app.config)  # type: ignore[arg-type]
        _check_config(app)
        db = app.extensions.get("sqlalchemy")
        if db is None:
            raise ConfigurationError(
                "Flask-SQLAlchemy is not initialised on this app.",
                advice="Call db.init_app(app) (or SQLAlchemy(app)) before Entra(app).",
            )
        edition = app.config["ENTRA_EDITION"] or app.config.get("EDITION", "community")
        enterprise = edition == "enterprise"
        if enterprise and self._host is None:
            raise ConfigurationError(
                "The enterprise edition needs a host adapter.",
                advice="Pass host=SQLAlchemyHostAdapter(db, client_model=..., contact_model=...) to Entra().",
            )
        app.extensions["entra"] = EntraState(
            app=app, db=db, host=self._host, enterprise=enterprise, principal_loader=self._current_loader
        )
        if enterprise:
            from .blueprints import register_enterprise  # EE modules are imported only in the enterprise edition
            from .secrets import SecretChain, redact_log_handlers

            if app.config["ENTRA_SECRETS_DIR"] is None:
                app.config["ENTRA_SECRETS_DIR"] = os.path.join(app.instance_path, "entra-secrets")
            SecretChain.from_config(app.config)  # fails now, not at the first secret read
            redact_log_handlers()
            register_enterprise(app)
        else:
            from .community import register_community

            register_community(app)
        from .cli import entra_cli

        if "entra" not in app.cli.commands:
            app.cli.add_command(entra_cli)

    def _current_loader(self) -> PrincipalLoader:
        return self._principal_loader


def _check_config(app: Flask) -> None:
    unknown = entra_config.unknown_keys(app.config)  # type: ignore[arg-type]
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, entra_config.DEFAULTS, n=1)
            hints.append(f"{key} (did you mean {close[0]}?)" if close else key)
        raise ConfigurationError(
            f"Unknown configuration keys: {', '.join(hints)}.",
            advice="Every ENTRA_* key is listed in flask_entra/config.py and docs/host-guide.md.",
        )
    edition = app.config["ENTRA_EDITION"]
    if edition is not None and edition not in EDITIONS:
        raise ConfigurationError(f"ENTRA_EDITION must be one of {EDITIONS}, not {edition!r}.")
    providers = app.config["ENTRA_SECRET_PROVIDERS"]
    if isinstance(providers, str):  # "env,vault" from an environment variable
        providers = [p.strip() for p in providers.split(",")]
    if "vault" in providers and not app.config["ENTRA_VAULT_URL"]:
        raise ConfigurationError(
            "ENTRA_SECRET_PROVIDERS names 'vault' but ENTRA_VAULT_URL is not set.",
            advice="Set ENTRA_VAULT_URL and ENTRA_VAULT_TOKEN, or remove 'vault' from ENTRA_SECRET_PROVIDERS.",
        )
