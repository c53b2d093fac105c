"""Per-app state of the extension, kept in ``app.extensions["entra"]`` (never on the ``Entra`` object)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import Session

from .errors import ConfigurationError
from .host import HostAdapter, Principal

if TYPE_CHECKING:
    from .flags import FlagService
    from .secrets import SecretChain

PrincipalLoader = Callable[[], "Principal | None"]


@dataclass
class EntraState:
    app: Flask
    db: SQLAlchemy
    host: HostAdapter | None
    enterprise: bool
    principal_loader: Callable[[], PrincipalLoader]
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _lazy: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def config(self) -> Any:
        return self.app.config

    @property
    def session(self) -> Session:
        return self.db.session  # type: ignore[return-value]

    @property
    def adapter(self) -> HostAdapter:
        if self.host is None:
            raise ConfigurationError("No host adapter configured.", advice="Pass host=... to Entra().")
        return self.host

    def load_principal(self) -> Principal | None:
        return self.principal_loader()()

    def once(self, name: str, build: Callable[[], Any]) -> Any:
        """Build a per-process service on first use (never at import), once even under threads."""
        with self._lock:
            if name not in self._lazy:
                self._lazy[name] = build()
            return self._lazy[name]

    @property
    def flags(self) -> FlagService:
        from .flags import build_flag_service

        return self.once("flags", lambda: build_flag_service(self.app, self.db))

    @property
    def secrets(self) -> SecretChain:
        from .secrets import SecretChain

        return self.once("secrets", lambda: SecretChain.from_config(self.app.config))

    def close(self) -> None:
        """Stop per-process services (flag SDK threads); used by tests and at worker shutdown."""
        with self._lock:
            for service in self._lazy.values():
                closer = getattr(service, "close", None)
                if callable(closer):
                    closer()
            self._lazy.clear()


def get_state(app: Flask | None = None) -> EntraState:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        return app.extensions["entra"]  # type: ignore[no-any-return]
    except KeyError:
        raise ConfigurationError(
            "flask-entra is not initialised on this app.", advice="Call Entra(app, host=...) or entra.init_app(app)."
        ) from None
