"""A real Unleash server (npm ``unleash-server``, run by Node 20) on its own PostgreSQL database.

The npm package is installed once into ``.cache/unleash-server`` (git-ignored, shared by every session and checkout of
this tree); the first start of a fresh database takes tens of seconds because Unleash migrates its schema.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import httpx
import pytest

from tests.plugins.postgres import create_database, drop_database

UNLEASH_VERSION = "7.5.1"  # the last line that runs on Node 20
CACHE_DIR = Path(__file__).resolve().parents[2] / ".cache" / "unleash-server"
PACKAGE_DIR = CACHE_DIR / "node_modules" / "unleash-server"
CLIENT_TOKEN = "*:development.flask-entra-test-client"
ADMIN_TOKEN = "*:*.flask-entra-test-admin"
START_TIMEOUT_SECONDS = 180.0

# Options come in as JSON so the script stays fixed; the package is ESM, hence the dynamic import.
START_SCRIPT = """\
const { start } = await import(process.env.UNLEASH_ENTRY);
await start(JSON.parse(process.env.UNLEASH_OPTIONS));
"""


def install_unleash_server() -> Path:
    """The package's entry module, installing it first when the cache lacks this version (one installer at a time)."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        manifest = PACKAGE_DIR / "package.json"
        if not manifest.exists() or json.loads(manifest.read_text())["version"] != UNLEASH_VERSION:
            npm = shutil.which("npm")
            if npm is None:
                raise RuntimeError("npm (Node 20) is needed to install unleash-server for the tests.")
            subprocess.run(
                [
                    npm,
                    "install",
                    "--prefix",
                    str(CACHE_DIR),
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    f"unleash-server@{UNLEASH_VERSION}",
                ],
                check=True,
                capture_output=True,
                timeout=900,
            )
    return PACKAGE_DIR / "dist" / "lib" / "server-impl.js"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class UnleashServer:
    """One Unleash server process; ``stop()`` and ``start()`` let a test take it away and bring it back."""

    entry: Path
    db_url: str
    workdir: Path
    port: int = field(default_factory=free_port)
    client_token: str = CLIENT_TOKEN
    admin_token: str = ADMIN_TOKEN
    _process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """The API URL, as Unleash SDKs and ENTRA_UNLEASH_URL take it."""
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> None:
        db = urlsplit(self.db_url)
        options = {
            # node's pg client wants a password string even where PostgreSQL trusts the connection
            "db": {
                "host": db.hostname,
                "port": db.port or 5432,
                "user": db.username or "postgres",
                "password": db.password or "unused",
                "database": db.path.lstrip("/"),
                "ssl": False,
            },
            "server": {"port": self.port, "host": "127.0.0.1"},
            "authentication": {
                "type": "none",
                "initApiTokens": [
                    {
                        "type": "backend",
                        "secret": self.client_token,
                        "projects": ["*"],
                        "environment": "development",
                        "tokenName": "flask-entra-test-client",
                    },
                    {
                        "type": "admin",
                        "secret": self.admin_token,
                        "projects": ["*"],
                        "environment": "*",
                        "tokenName": "flask-entra-test-admin",
                    },
                ],
            },
            "versionCheck": {"enable": False},
            "logLevel": "warn",
        }
        script = self.workdir / "start-unleash.mjs"
        script.write_text(START_SCRIPT)
        env = {
            **os.environ,
            "UNLEASH_ENTRY": str(self.entry),
            "UNLEASH_OPTIONS": json.dumps(options),
            "CHECK_VERSION": "false",
            "SEND_TELEMETRY": "false",
        }  # no calls home
        if self._log is not None:  # a restart after a crash: do not leak the previous handle
            self._log.close()
        self._log = open(self.workdir / "unleash.log", "ab")
        self._process = subprocess.Popen(["node", str(script)], env=env, stdout=self._log, stderr=subprocess.STDOUT)
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"unleash-server exited early: see {self.workdir / 'unleash.log'}")
            try:
                # /health can answer before the Admin API does on a restart: wait for both.
                health = httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code
                admin = httpx.get(
                    f"{self.url}/admin/projects/default/features",
                    timeout=5,
                    headers={"Authorization": self.admin_token},
                ).status_code
                if health == 200 and admin == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"unleash-server did not answer /health in {START_TIMEOUT_SECONDS} s: see its log")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def delete_all_flags(self, project: str = "default") -> None:
        """Archive and delete every flag of ``project``, and wait until SDKs are served none (a clean slate per test)."""
        admin = httpx.Client(base_url=self.url, headers={"Authorization": self.admin_token}, timeout=10)
        with admin:
            listing = admin.get(f"/admin/projects/{project}/features").raise_for_status().json()
            for feature in listing["features"]:
                admin.delete(f"/admin/projects/{project}/features/{feature['name']}").raise_for_status()
                admin.delete(f"/admin/archive/{feature['name']}").raise_for_status()
            deadline = time.monotonic() + 10
            while admin.get("/client/features", headers={"Authorization": self.client_token}).json()["features"]:
                assert time.monotonic() < deadline, "Unleash still serves deleted flags to SDKs"
                time.sleep(0.1)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None


@pytest.fixture(scope="session")
def unleash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UnleashServer]:
    """A running Unleash server for the session (URL, client token, admin token); stopped and its database dropped."""
    entry = install_unleash_server()
    db_url = create_database("entra_unleash")
    server = UnleashServer(entry=entry, db_url=db_url, workdir=tmp_path_factory.mktemp("unleash"))
    try:
        server.start()
        yield server
    finally:
        server.stop()
        drop_database(db_url)


@pytest.fixture
def running_unleash(unleash: UnleashServer) -> Iterator[UnleashServer]:
    """The session's server, started again after a test that stopped it."""
    if not unleash.running:
        unleash.start()
    yield unleash
    if not unleash.running:
        unleash.start()
