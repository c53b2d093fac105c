"""The example PSA host on a real PostgreSQL, in both editions, with the demo data seeded and sign-in helpers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_entra import migrate
from tests.plugins.postgres import create_database, drop_database

PASSWORD = "demo"
PERSONAS = {
    "anonymous": None,
    "portal": "portal@client.acme.test",
    "staff": "staff@acme.test",
    "tech": "tech@acme.test",
    "admin": "admin@acme.test",
    "other_admin": "admin@globex.test",
}
CSRF_META = re.compile(r'name="csrf-token" content="([^"]+)"')
CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def build_app(db_url: str, edition: str, **extra: Any) -> Flask:
    from example_host import create_app

    return create_app(
        {"SQLALCHEMY_DATABASE_URI": db_url, "EDITION": edition, "SECRET_KEY": "test-secret", "TESTING": False, **extra}
    )


def prepare_database(app: Flask) -> None:
    """Host tables through the host's own migrations, ours through `flask entra db upgrade`, then the demo seed."""
    runner = app.test_cli_runner()
    for args in (["db", "upgrade"], ["entra", "db", "upgrade"], ["seed-demo"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, (args, result.output, result.exception)


@dataclass
class Session:
    client: FlaskClient
    csrf: str

    def open(self, method: str, path: str, json: Any = None, **kw: Any) -> Any:
        headers = {"X-CSRFToken": self.csrf} if method in ("POST", "PUT", "PATCH", "DELETE") else {}
        return self.client.open(path, method=method, json=json, headers=headers, **kw)


def csrf_from(html: str) -> str:
    match = CSRF_META.search(html) or CSRF_INPUT.search(html)
    assert match, "page carries no CSRF token"
    return match.group(1)


def sign_in(app: Flask, email: str | None, password: str = PASSWORD) -> Session:
    client = app.test_client()
    page = client.get("/login")
    token = csrf_from(page.get_data(as_text=True))
    if email is not None:
        response = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
        assert response.status_code in (302, 303), f"sign-in of {email} failed: {response.status_code}"
        token = csrf_from(client.get("/login").get_data(as_text=True))
    return Session(client, token)


def set_all_flags(app: Flask, enabled: bool, tenants: list[str] | None = None) -> None:
    with app.app_context():
        service = app.extensions["entra"].flags
        service.ensure_entra_flags()
        for state in service.list_flags():
            if state.key.startswith("entra-integration"):
                service.set_enabled(state.key, enabled)
                service.set_tenants(state.key, tenants or [])


@pytest.fixture(scope="module")
def host_db() -> Iterator[str]:
    url = create_database("entra_host")
    yield url.replace("postgresql://", "postgresql+psycopg://", 1)
    drop_database(url)


@pytest.fixture(scope="module")
def ee_app(host_db: str) -> Iterator[Flask]:
    app = build_app(host_db, "enterprise")
    prepare_database(app)
    yield app
    dispose(app)


@pytest.fixture(scope="module")
def ce_app(host_db: str, ee_app: Flask) -> Iterator[Flask]:
    app = build_app(host_db, "community")
    yield app
    dispose(app)


def dispose(app: Flask) -> None:
    """Stop the app's per-process services and close its pooled connections before the database is dropped."""
    app.extensions["entra"].close()
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()


__all__ = ["PERSONAS", "build_app", "migrate", "prepare_database", "set_all_flags", "sign_in"]
