"""The example host wired to the simulator for the connection flows (step 1 of the wizard), driven like a browser.

``connect_world`` (module): the host on its own PostgreSQL database, the Microsoft app registration of the simulator
in the environment, tenant secrets in a temporary directory, every test client recording what it was answered.
``fresh_connect_world`` (function): the same, with the simulator reset and no connection, sign-in state or tenant
secret left from an earlier test. ``partner_sign_in`` plays the partner admin at the simulator's consent page.
"""

from __future__ import annotations

import html
import logging
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import hvac
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, inspect, text
from werkzeug.test import TestResponse

from flask_entra import flags
from flask_entra.actions.connection import provider_for
from flask_entra.models import Connection, OAuthState
from flask_entra.secrets import names
from flask_entra.simulator import (
    DEFAULT_CIPP_CLIENT_ID,
    DEFAULT_CIPP_CLIENT_SECRET,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    SimulatorClient,
)
from flask_entra.state import get_state
from tests.plugins.host import PASSWORD, Session, build_app, dispose, prepare_database, set_all_flags, sign_in
from tests.plugins.openbao import OpenBao, free_port
from tests.plugins.postgres import create_database, drop_database

API = "/api/integrations/entra"
CALLBACK = "/api/auth/microsoft/entra/callback"
CONNECT_PAGE = "/settings/integrations/entra/connect"
DISCOVER_PAGE = "/settings/integrations/entra/discover"
ADMIN, SECOND_ADMIN, OTHER_TENANT_ADMIN = "admin@acme.test", "admin2@acme.test", "admin@globex.test"
TENANTS = ("acme", "globex")
#: Every refresh token the simulator issues has this shape, rotated ones included: a leak of any of them is caught.
REFRESH_TOKEN_SHAPE = re.compile(r"0\.[A-Za-z0-9_-]{100,}")
_FLASH = re.compile(r'data-flash="entra-(error|ok)">(.*?)</p>', re.S)


class RecordingClient(FlaskClient):
    """A test client that keeps every response body and Location header, to prove no secret was ever answered."""

    seen: list[str] = []

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        response = super().open(*args, **kwargs)
        RecordingClient.seen.append(response.get_data(as_text=True) + response.headers.get("Location", ""))
        return response


@dataclass
class ConnectWorld:
    app: Flask
    sim: SimulatorClient
    #: Values a test used (a wrong secret it typed, a token it saw) that must not be echoed back either.
    extra_secrets: set[str] = field(default_factory=set)

    def admin(self, email: str = ADMIN) -> Session:
        return sign_in(self.app, email)

    def connections(self, tenant: str = "acme") -> list[Connection]:
        with self.app.app_context():
            session = get_state().session
            rows = list(session.query(Connection).filter_by(tenant=tenant).order_by(Connection.created_at))
            session.expunge_all()
            return rows

    def active(self, tenant: str = "acme") -> Connection | None:
        return next((c for c in self.connections(tenant) if c.status == "active"), None)

    def secret(self, name: str, tenant: str = "acme") -> str | None:
        with self.app.app_context():
            return get_state().secrets.get(tenant, name)

    def stored_secrets(self, tenant: str = "acme") -> dict[str, str]:
        found = {name: self.secret(name, tenant) for name in names.TENANT_SECRET_NAMES}
        return {name: value for name, value in found.items() if value is not None}

    def database_text(self) -> str:
        """Every row of every table of the host's database, as text (a secret in any column shows up here)."""
        with self.app.app_context():
            session = get_state().session
            tables = inspect(session.get_bind()).get_table_names()
            dump = [str(row) for table in tables for row in session.execute(text(f'SELECT * FROM "{table}"'))]
            session.rollback()
        return "\n".join(dump)

    def set_cipp_flag(self, enabled: bool) -> None:
        with self.app.app_context():
            self.app.extensions["entra"].flags.set_enabled(flags.CIPP, enabled)

    def sync_side_provider(self, tenant: str = "acme") -> Any:
        """What a worker builds for the tenant: credentials read back from the secret store."""
        with self.app.app_context():
            return provider_for(tenant)

    def forget_connections(self) -> None:
        with self.app.app_context():
            state = get_state()
            for tenant in TENANTS:
                state.secrets.delete_many(tenant, names.TENANT_SECRET_NAMES)
            state.session.execute(delete(Connection))
            state.session.execute(delete(OAuthState))
            state.session.commit()


def partner_sign_in(session: Session, consent: str = "accept") -> str:
    """Start the Direct connection through our API, then accept (or cancel) at the simulator's consent page, as the
    browser would; returns the callback path and query Microsoft redirects to."""
    started = session.open("POST", f"{API}/connect/direct", json={})
    assert started.status_code == 200, started.get_json()
    authorize_url = started.get_json()["authorize_url"]
    with httpx.Client(timeout=30) as browser:
        answer = browser.get(authorize_url)
        if answer.status_code == 200:  # the consent page (Microsoft may also redirect at once with an error)
            assert 'id="accept"' in answer.text, answer.text[:500]
            answer = browser.post(authorize_url, data={"consent": consent})
    assert answer.status_code == 302, answer.text[:500]
    location = urlsplit(answer.headers["location"])
    assert location.path == CALLBACK
    return f"{location.path}?{location.query}"


def nothing_saved(world: ConnectWorld) -> None:
    """No connection row and no tenant secret for the acme tenant."""
    assert world.connections() == []
    assert world.stored_secrets() == {}


def with_params(callback: str, **changes: str | None) -> str:
    """The callback URL Microsoft sent, with query parameters replaced (``None`` removes one)."""
    parts = urlsplit(callback)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return f"{parts.path}?{urlencode({k: v for k, v in query.items() if v is not None})}"


def connect_direct(world: ConnectWorld) -> None:
    """The whole Direct dance, successfully, by the acme admin."""
    admin = world.admin()
    flash_after(admin, admin.client.get(partner_sign_in(admin)), DISCOVER_PAGE)


def cipp_details(world: ConnectWorld, **changes: str) -> dict[str, str]:
    """The CIPP connect form, filled in with the simulator's CIPP-API client unless ``changes`` say otherwise."""
    return {
        "base_url": world.sim.cipp_base_url,
        "client_id": DEFAULT_CIPP_CLIENT_ID,
        "client_secret": DEFAULT_CIPP_CLIENT_SECRET,
        "tenant_id": world.sim.partner_tenant_id,
        **changes,
    }


def flash_after(session: Session, response: TestResponse, page: str) -> tuple[str, str]:
    """Follow the callback's redirect, which must lead to ``page``; the (category, text) of the message shown there."""
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert urlsplit(response.headers["Location"]).path == page
    shown = _FLASH.findall(session.client.get(page).get_data(as_text=True))
    assert len(shown) == 1, shown
    category, message = shown[0]
    return category, html.unescape(" ".join(message.split()))


def app_registration_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Microsoft app registration as the host already configures it (environment variables)."""
    monkeypatch.setenv("MICROSOFT_CLIENT_ID", DEFAULT_CLIENT_ID)
    monkeypatch.setenv("MICROSOFT_CLIENT_SECRET", DEFAULT_CLIENT_SECRET)


def add_second_admin(app: Flask) -> None:
    """Another admin of the acme tenant: the sign-in state must be bound to the user, not only the tenant."""
    from example_host.models import User, db

    with app.app_context():
        user = User(email=SECOND_ADMIN, full_name="Second Admin", tenant="acme", role="admin")
        user.set_password(PASSWORD)
        db.session.add(user)
        db.session.commit()


@pytest.fixture(scope="module")
def connect_world_factory(simulator: SimulatorClient) -> Iterator[Any]:
    """Builds hosts wired to the session simulator; each gets its own database, dropped at the module's end."""
    built: list[tuple[Flask, str]] = []

    def build(secrets_dir: Path, **config: Any) -> ConnectWorld:
        url = create_database(f"entra_connect_{uuid.uuid4().hex[:6]}")
        app = build_app(
            url.replace("postgresql://", "postgresql+psycopg://", 1),
            "enterprise",
            ENTRA_LOGIN_BASE_URL=simulator.login_base_url,
            ENTRA_GRAPH_BASE_URL=simulator.graph_base_url,
            ENTRA_SECRETS_DIR=str(secrets_dir),
            ENTRA_HTTP_MAX_RETRIES=1,
            # No Temporal here: schedule reconciliation must fail fast and never fail a connect.
            ENTRA_TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}",
            **config,
        )
        app.test_client_class = RecordingClient
        prepare_database(app)
        add_second_admin(app)
        set_all_flags(app, True)
        built.append((app, url))
        return ConnectWorld(app, simulator)

    yield build
    for app, url in built:
        dispose(app)
        drop_database(url)


@pytest.fixture(scope="module")
def connect_world(connect_world_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConnectWorld]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        app_registration_env(monkeypatch)
        yield connect_world_factory(
            tmp_path_factory.mktemp("entra-secrets"), ENTRA_SECRET_PROVIDERS=("env", "filesystem")
        )


def _fresh_and_watched(world: ConnectWorld, caplog: pytest.LogCaptureFixture) -> Iterator[ConnectWorld]:
    """The world reset for one test; afterwards no secret may appear in any response it got or any log line (DEBUG)."""
    world.sim.reset()
    world.forget_connections()
    set_all_flags(world.app, True)
    RecordingClient.seen.clear()
    caplog.set_level(logging.DEBUG)
    yield world
    stored = world.stored_secrets()
    secrets = {DEFAULT_CLIENT_SECRET, DEFAULT_CIPP_CLIENT_SECRET, *world.extra_secrets}
    secrets |= {stored[n] for n in (names.DIRECT_REFRESH_TOKEN, names.CIPP_CLIENT_SECRET) if n in stored}
    # caplog.text would hold only this teardown's records: read the test's own phases.
    records = [*caplog.get_records("setup"), *caplog.get_records("call")]
    logged = [f"{r.getMessage()} {r.exc_text or ''} {r.stack_info or ''}" for r in records]
    for where, seen in (("a response", RecordingClient.seen), ("the log", logged)):
        for body in seen:
            # pytest.fail, not assert: assertion introspection would print the secret it found.
            if REFRESH_TOKEN_SHAPE.search(body) or any(secret in body for secret in secrets):
                pytest.fail(f"a refresh token or secret value in {where}", pytrace=False)
    world.extra_secrets.clear()


@pytest.fixture
def fresh_connect_world(connect_world: ConnectWorld, caplog: pytest.LogCaptureFixture) -> Iterator[ConnectWorld]:
    yield from _fresh_and_watched(connect_world, caplog)


@pytest.fixture(scope="module")
def vault_connect_world(
    connect_world_factory: Any, openbao: OpenBao, tmp_path_factory: pytest.TempPathFactory
) -> ConnectWorld:
    """Secrets only in the OpenBao dev server, under a prefix of this module; the app registration is stored there."""
    prefix = f"connect-{uuid.uuid4().hex[:8]}"
    kv = hvac.Client(url=openbao.url, token=openbao.token).secrets.kv.v2
    for name, value in (
        (names.MICROSOFT_CLIENT_ID, DEFAULT_CLIENT_ID),
        (names.MICROSOFT_CLIENT_SECRET, DEFAULT_CLIENT_SECRET),
    ):
        kv.create_or_update_secret(path=f"{prefix}/app/{name}", secret={"value": value}, mount_point="secret")
    return connect_world_factory(
        tmp_path_factory.mktemp("unused-secrets-dir"),
        ENTRA_SECRET_PROVIDERS=("vault",),
        ENTRA_VAULT_URL=openbao.url,
        ENTRA_VAULT_TOKEN=openbao.token,
        ENTRA_VAULT_PATH_PREFIX=prefix,
    )


@pytest.fixture
def fresh_vault_connect_world(
    vault_connect_world: ConnectWorld, caplog: pytest.LogCaptureFixture
) -> Iterator[ConnectWorld]:
    yield from _fresh_and_watched(vault_connect_world, caplog)


__all__ = [
    "ADMIN",
    "API",
    "CALLBACK",
    "CONNECT_PAGE",
    "DISCOVER_PAGE",
    "OTHER_TENANT_ADMIN",
    "REFRESH_TOKEN_SHAPE",
    "SECOND_ADMIN",
    "ConnectWorld",
    "RecordingClient",
    "cipp_details",
    "connect_direct",
    "flash_after",
    "nothing_saved",
    "partner_sign_in",
    "with_params",
]
