"""A world driven only through our HTTP routes: the example host (tenant acme, on PostgreSQL), the demo simulator,
a real Temporal dev server with a worker; the acme admin connects Direct, discovers, maps and syncs as a browser
would. Every response body and every log record (all loggers, DEBUG) of the world's life is kept for inspection.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from flask_entra.simulator import demo_dataset
from tests.plugins.host import PERSONAS, Session, sign_in
from tests.plugins.postgres import create_database, drop_database
from tests.plugins.sync_world import SyncWorld, sync_world
from tests.plugins.temporal import TemporalServer

API = "/api/integrations/entra"
FINISHED = {"completed", "partial", "failed"}


class LogRecorder(logging.Handler):
    """Every record of every logger, formatted with its traceback, as an operator's log file would hold it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def recording_logs(level: int) -> Iterator[LogRecorder]:
    root, recorder = logging.getLogger(), LogRecorder()
    before = root.level
    root.addHandler(recorder)
    root.setLevel(level)
    try:
        yield recorder
    finally:
        root.removeHandler(recorder)
        root.setLevel(before)


@dataclass
class ApiWorld:
    world: SyncWorld
    logs: LogRecorder
    sessions: dict[str, Session] = field(default_factory=dict)
    bodies: list[str] = field(default_factory=list)

    @property
    def app(self) -> Flask:
        return self.world.app

    def session(self, persona: str) -> Session:
        if persona not in self.sessions:
            self.sessions[persona] = sign_in(self.app, PERSONAS[persona])
        return self.sessions[persona]

    def call(self, method: str, path: str, json: Any = None, *, persona: str = "admin", **kw: Any) -> TestResponse:
        """One request as ``persona``; its body is kept."""
        response: TestResponse = self.session(persona).open(method, path, json=json, **kw)
        self.bodies.append(response.get_data(as_text=True))
        return response

    def api(self, method: str, path: str, json: Any = None, *, expect: int = 200, persona: str = "admin") -> Any:
        response = self.call(method, f"{API}{path}", json, persona=persona)
        assert response.status_code == expect, (method, path, response.status_code, response.get_data(as_text=True))
        return response.get_json()

    # -- the wizard, step by step -----------------------------------------------------------------------------------

    def authorize(self, authorize_url: str) -> str:
        """The partner admin accepts at the simulator; returns the callback path and query Microsoft redirects to."""
        answer = self.world.sim.http.post(authorize_url, data={"consent": "accept"})
        assert answer.status_code == 302, answer.text
        location = urlsplit(answer.headers["location"])
        return f"{location.path}?{location.query}"

    def connect_direct(self) -> TestResponse:
        callback = self.authorize(self.api("POST", "/connect/direct")["authorize_url"])
        return self.call("GET", callback)

    def connect_cipp(self, client_secret: str) -> Any:
        credentials = self.world.sim.credentials
        return self.api(
            "POST",
            "/connect/cipp",
            {
                "base_url": self.world.sim.cipp_base_url,
                "client_id": credentials.cipp_client_id,
                "client_secret": client_secret,
                "tenant_id": self.world.sim.partner_tenant_id,
            },
        )

    def wait(self, path: str, timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self.api("GET", path)
            if answer["status"] in FINISHED:
                return answer
            time.sleep(0.2)
        raise AssertionError(f"{path} did not finish within {timeout} s")

    def discover(self) -> Any:
        self.api("POST", "/discovery", expect=202)
        return self.wait("/discovery")

    def map_suggestions(self) -> Any:
        """Accept every suggestion (the first candidate of a tenant needing review); skip the unmatched."""
        decisions = []
        for tenant in self.api("GET", "/mappings/preview")["tenants"]:
            if tenant["state"] in ("mapped", "skipped"):
                continue
            if tenant["candidates"]:
                client_id = tenant.get("suggested_client_id") or tenant["candidates"][0]["client_id"]
                decisions.append(
                    {"entra_tenant_id": tenant["entra_tenant_id"], "action": "map", "client_id": client_id}
                )
            else:
                decisions.append({"entra_tenant_id": tenant["entra_tenant_id"], "action": "skip"})
        return self.api("POST", "/mappings/confirm", {"decisions": decisions})

    def sync(self, scope: str = "all", **payload: Any) -> Any:
        started = self.api("POST", "/sync", {"scope": scope, **payload}, expect=202)
        return self.wait(f"/sync/runs/{started['run_id']}")


@pytest.fixture(scope="module")
def api_world(
    request: pytest.FixtureRequest, temporal_server: TemporalServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiWorld]:
    """Acme connected (Direct, through the routes), its tenants discovered and mapped, one sync completed.

    A test module sets ``API_WORLD_LOG_LEVEL = logging.DEBUG`` to record every logger's every line.
    """
    url = create_database("entra_api")
    level = getattr(request.module, "API_WORLD_LOG_LEVEL", logging.WARNING)
    try:
        with (
            recording_logs(level) as logs,
            sync_world(
                url.replace("postgresql://", "postgresql+psycopg://", 1),
                temporal_server,
                tmp_path_factory.mktemp("secrets") / "store",
                demo_dataset(),
            ) as world,
        ):
            world.tenant = "acme"
            built = ApiWorld(world, logs)
            response = built.connect_direct()
            assert response.status_code == 302 and "/discover" in response.headers["Location"]
            assert built.discover()["status"] == "completed"
            built.map_suggestions()
            assert built.sync()["status"] == "completed"
            yield built
    finally:
        drop_database(url)
