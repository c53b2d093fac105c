"""The flag service on both stores (the embedded table and a real Unleash server), through its API and the CLI."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import create_engine

from flask_entra import Entra
from flask_entra.cli_flags import flags_cli
from flask_entra.errors import NotFound, ValidationFailed
from flask_entra.flags import CIPP, ENTRA_FLAGS, QUEUE, UI, FlagService, FlagState, FlagStoreError, build_flag_service
from flask_entra.models import EntraBase
from flask_entra.state import get_state
from tests.plugins.postgres import create_database, drop_database
from tests.plugins.unleash import UnleashServer

REFRESH_SECONDS = 1
# Unleash's client API follows its Admin API within about a second; the SDK polls every REFRESH_SECONDS.
PROPAGATION_MARGIN_SECONDS = 3.0

pytestmark = pytest.mark.slow


@dataclass
class Backend:
    """A flag store, and a way to build services on it as separate processes of the host would."""

    name: str
    config: dict[str, Any]
    take_down: Callable[[], None]
    secret: str | None = None  # a token that must never show in an error
    _apps: list[Flask] = field(default_factory=list)
    _services: list[FlagService] = field(default_factory=list)

    def app(self, refresh_interval: int = REFRESH_SECONDS) -> Flask:
        app = Flask(__name__)
        app.config.update(SECRET_KEY="test", ENTRA_UNLEASH_REFRESH_INTERVAL=refresh_interval, **self.config)
        SQLAlchemy(app)
        self._apps.append(app)
        return app

    def service(self, refresh_interval: int = REFRESH_SECONDS) -> FlagService:
        app = self.app(refresh_interval)
        service = build_flag_service(app, app.extensions["sqlalchemy"])
        self._services.append(service)
        return service

    def close(self) -> None:
        for service in self._services:
            service.close()
        for app in self._apps:
            with app.app_context():
                app.extensions["sqlalchemy"].engine.dispose()


@pytest.fixture(params=["embedded", "unleash"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "embedded":
        url = create_database("entra_flags")
        sa_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
        engine = create_engine(sa_url)
        EntraBase.metadata.create_all(engine)
        engine.dispose()
        backend = Backend("embedded", {"SQLALCHEMY_DATABASE_URI": sa_url}, take_down=lambda: drop_database(url))
        yield backend
        backend.close()
        drop_database(url)
    else:
        server: UnleashServer = request.getfixturevalue("running_unleash")
        server.delete_all_flags()
        config = {
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "ENTRA_UNLEASH_URL": server.url.removesuffix("/api"),  # the service accepts the root URL too
            "ENTRA_UNLEASH_API_TOKEN": server.client_token,
            "ENTRA_UNLEASH_ADMIN_TOKEN": server.admin_token,
        }
        backend = Backend("unleash", config, take_down=server.stop, secret=server.admin_token)
        yield backend
        backend.close()


def wait_until(condition: Callable[[], bool], seconds: float) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, f"not true within {seconds} s"
        time.sleep(0.1)
    return time.monotonic() - started


def test_ensure_creates_the_five_entra_flags_off_and_keeps_existing_state(backend: Backend) -> None:
    service = backend.service()
    assert not service.is_enabled(UI, tenant="tenant-a")  # unknown flag: off

    created = service.ensure_entra_flags()

    assert created == [FlagState(key, description, False, ()) for key, description in ENTRA_FLAGS.items()]
    assert [s for s in service.list_flags() if s.key in ENTRA_FLAGS] == sorted(created, key=lambda s: s.key)
    assert not any(service.is_enabled(key, tenant="tenant-a", user_id="u1") for key in ENTRA_FLAGS)
    service.set_enabled(QUEUE, True)
    again = {s.key: s for s in service.ensure_entra_flags()}
    assert again[QUEUE].enabled and not again[UI].enabled
    assert service.create_flag("host-beta", "a host flag", enabled=True) == FlagState(
        "host-beta", "a host flag", True, ()
    )
    assert service.is_enabled("host-beta", tenant="tenant-a")
    with pytest.raises(ValidationFailed):
        service.create_flag("no spaces/allowed")


def test_tenant_targeting_and_immediate_changes_in_this_process(backend: Backend) -> None:
    service = backend.service(refresh_interval=600)  # no refresh happens during the test: changes show by themselves
    service.ensure_entra_flags()
    assert not service.is_enabled(UI, tenant="tenant-a")

    service.set_enabled(UI, True)
    targeted = service.set_tenants(UI, ["tenant-a"])

    assert targeted == FlagState(UI, ENTRA_FLAGS[UI], True, ("tenant-a",))
    assert service.is_enabled(UI, tenant="tenant-a", user_id="u1")
    assert not service.is_enabled(UI, tenant="tenant-b", user_id="u1")
    assert not service.is_enabled(CIPP, tenant="tenant-a")  # the other flags are untouched

    assert service.set_tenants(UI, []).tenant_ids == ()
    assert service.is_enabled(UI, tenant="tenant-a") and service.is_enabled(UI, tenant="tenant-b")

    service.set_enabled(UI, False)
    assert not service.is_enabled(UI, tenant="tenant-a")  # the very next call in this process
    assert {s.key: s for s in service.list_flags()}[UI] == FlagState(UI, ENTRA_FLAGS[UI], False, ())
    with pytest.raises(NotFound):
        service.set_enabled("entra-integration-nonexistent", True)


def test_another_process_follows_within_the_refresh_interval(backend: Backend) -> None:
    writer = backend.service()
    writer.ensure_entra_flags()
    reader = backend.service()
    assert not reader.is_enabled(UI, tenant="tenant-a")

    writer.set_enabled(UI, True)
    wait_until(lambda: reader.is_enabled(UI, tenant="tenant-a"), REFRESH_SECONDS + PROPAGATION_MARGIN_SECONDS)

    writer.set_tenants(UI, ["tenant-b"])
    wait_until(lambda: not reader.is_enabled(UI, tenant="tenant-a"), REFRESH_SECONDS + PROPAGATION_MARGIN_SECONDS)
    assert reader.is_enabled(UI, tenant="tenant-b")


def test_store_unreachable_with_nothing_cached_means_every_flag_off(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    warm = backend.service()
    warm.ensure_entra_flags()
    warm.set_enabled(UI, True)
    assert warm.is_enabled(UI, tenant="tenant-a")

    backend.take_down()
    cold = backend.service()
    with caplog.at_level(logging.WARNING, logger="flask_entra.flags"):
        answers = [cold.is_enabled(key, tenant="tenant-a", user_id="u1") for key in ENTRA_FLAGS]

    assert answers == [False] * len(ENTRA_FLAGS)
    assert any(r.name == "flask_entra.flags" and r.levelno == logging.WARNING for r in caplog.records)
    # A process that has read the flags keeps the last state it read, past its next refresh.
    time.sleep(REFRESH_SECONDS + 0.2)
    assert warm.is_enabled(UI, tenant="tenant-a")
    with pytest.raises(FlagStoreError) as failure:
        cold.set_enabled(UI, False)
    if backend.secret:
        assert backend.secret not in str(failure.value)


def test_close_leaves_no_background_threads(backend: Backend) -> None:
    before = set(threading.enumerate())
    service = backend.service()
    service.ensure_entra_flags()
    service.set_enabled(UI, True)
    assert service.is_enabled(UI, tenant="tenant-a")

    service.close()

    assert [t.name for t in set(threading.enumerate()) - before] == []


def test_flags_cli_on_an_app_with_the_extension(backend: Backend) -> None:
    app = backend.app()
    Entra(app)  # the community edition needs no host adapter; flag management does not depend on the edition
    runner = app.test_cli_runner()
    try:
        ensured = runner.invoke(flags_cli, ["ensure"])
        assert ensured.exit_code == 0, ensured.output
        assert sorted(line.split("\t")[:3] for line in ensured.output.splitlines()) == sorted(
            [key, "off", "all tenants"] for key in ENTRA_FLAGS
        )

        assert runner.invoke(flags_cli, ["enable", UI]).exit_code == 0
        targeted = runner.invoke(flags_cli, ["target", UI, "tenant-a", "tenant-b"])
        assert targeted.output.split("\t")[:3] == [UI, "on", "tenants tenant-a, tenant-b"]
        with app.app_context():
            flags = get_state().flags
            assert flags.is_enabled(UI, tenant="tenant-b") and not flags.is_enabled(UI, tenant="tenant-c")

        assert runner.invoke(flags_cli, ["target", UI]).output.split("\t")[:3] == [UI, "on", "all tenants"]
        assert runner.invoke(flags_cli, ["disable", UI]).exit_code == 0
        listed = {
            line.split("\t")[0]: line.split("\t")[1] for line in runner.invoke(flags_cli, ["list"]).output.splitlines()
        }
        assert listed[UI] == "off"
        with app.app_context():
            assert not get_state().flags.is_enabled(UI, tenant="tenant-b")

        missing = runner.invoke(flags_cli, ["enable", "no-such-flag"])
        assert missing.exit_code == 1 and "No feature flag named 'no-such-flag'" in missing.output
    finally:
        get_state(app).close()
