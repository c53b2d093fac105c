"""A real PostgreSQL: one fresh database per test session (so parallel sessions never collide), dropped at the end."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

ADMIN_URL = os.environ.get("ENTRA_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _admin() -> psycopg.Connection:
    try:
        return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:  # the suite needs it; say how to start it rather than skipping
        raise RuntimeError(
            f"PostgreSQL is not reachable at {ADMIN_URL}: start it "
            "(pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) or set ENTRA_TEST_PG_ADMIN_URL"
        ) from exc


def create_database(prefix: str = "entra_test") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL (psycopg 3 dialect for SQLAlchemy) of an empty database owned by this session."""
    url = create_database()
    yield url.replace("postgresql://", "postgresql+psycopg://", 1)
    drop_database(url)
