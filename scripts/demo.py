"""`make demo`: the example PSA with flask-entra on SQLite, a local Temporal dev server, the worker and the simulator.

Everything lives in .demo/ (delete it to start over). Ctrl-C stops every process this script started.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from flask_entra.flags import ENTRA_FLAGS
from flask_entra.simulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_PARTNER_TENANT_ID

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".demo"
BIN = Path(sys.executable).parent
HOST_PORT = int(os.environ.get("DEMO_PORT", "5000"))
SIMULATOR_PORT = int(os.environ.get("DEMO_SIMULATOR_PORT", "8765"))
TEMPORAL_PORT = int(os.environ.get("DEMO_TEMPORAL_PORT", "7233"))


def demo_env() -> dict[str, str]:
    simulator = f"http://127.0.0.1:{SIMULATOR_PORT}"
    return {
        **os.environ,
        "FLASK_APP": "example_host",
        "EDITION": "enterprise",
        "DATABASE_URL": f"sqlite:///{DEMO / 'demo.sqlite'}",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "demo-only-secret-key"),
        "MICROSOFT_CLIENT_ID": DEFAULT_CLIENT_ID,
        "MICROSOFT_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
        "MICROSOFT_TENANT_ID": DEFAULT_PARTNER_TENANT_ID,
        "ENTRA_LOGIN_BASE_URL": f"{simulator}/login",
        "ENTRA_GRAPH_BASE_URL": f"{simulator}/graph",
        "ENTRA_SECRETS_DIR": str(DEMO / "secrets"),
        "ENTRA_TEMPORAL_ADDRESS": f"127.0.0.1:{TEMPORAL_PORT}",
    }


def wait_for_port(port: int, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"{what} did not start on port {port}; see {DEMO / 'logs'}")


def prepare() -> None:
    """Host tables, our tables, demo data and the five flags switched on, in this one process (fast)."""
    os.environ.update(demo_env())
    sys.path.insert(0, str(ROOT))  # the example host is a directory of this checkout, not an installed package
    from example_host import create_app

    app = create_app()
    runner = app.test_cli_runner()
    for args in (
        ["db", "upgrade"],
        ["entra", "db", "upgrade"],
        ["seed-demo"],
        ["entra", "flags", "ensure"],
        *(["entra", "flags", "enable", key] for key in ENTRA_FLAGS),
    ):
        result = runner.invoke(args=args)
        if result.exit_code != 0:
            raise SystemExit(f"demo set-up failed at `flask {' '.join(args)}`: {result.output}")
    print(result.output, end="")
    app.extensions["entra"].close()


def flask(*args: str) -> None:
    subprocess.run([str(BIN / "flask"), *args], cwd=ROOT, env=demo_env(), check=True)


def stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # `kill` or a closing terminal stops the children too, not only Ctrl-C


def main() -> None:
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    for port, what in (
        (HOST_PORT, "DEMO_PORT"),
        (SIMULATOR_PORT, "DEMO_SIMULATOR_PORT"),
        (TEMPORAL_PORT, "DEMO_TEMPORAL_PORT"),
    ):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                raise SystemExit(f"port {port} is already in use: stop what uses it or set {what}")
    (DEMO / "logs").mkdir(parents=True, exist_ok=True)
    prepare()
    processes: list[subprocess.Popen[bytes]] = []

    def start(name: str, *command: str) -> None:
        log = open(DEMO / "logs" / f"{name}.log", "ab")  # closed when the process ends
        processes.append(subprocess.Popen(command, cwd=ROOT, env=demo_env(), stdout=log, stderr=subprocess.STDOUT))

    try:
        start(
            "temporal",
            str(BIN / "temporal"),
            "server",
            "start-dev",
            "--headless",
            "--port",
            str(TEMPORAL_PORT),
            "--db-filename",
            str(DEMO / "temporal.db"),
            "--log-level",
            "warn",
        )
        start("simulator", sys.executable, "-m", "flask_entra.simulator", "--port", str(SIMULATOR_PORT))
        wait_for_port(TEMPORAL_PORT, "Temporal dev server")
        wait_for_port(SIMULATOR_PORT, "Simulator")
        start("worker", str(BIN / "flask"), "entra", "worker")
        flask("entra", "schedules", "sync")
        start("host", str(BIN / "flask"), "run", "--port", str(HOST_PORT), "--no-reload")
        wait_for_port(HOST_PORT, "Example host")
        print(
            f"""
flask-entra demo is running.
  Open   http://127.0.0.1:{HOST_PORT}/login   and sign in as admin@acme.test / demo
  Then   Settings -> Integrations -> Microsoft Entra, and follow the 4 steps
         (Direct sign-in goes to the local simulator's consent page; CIPP works with the simulator too).
  Logs   {DEMO / "logs"}      Start over: rm -rf .demo
Ctrl-C stops everything.""",
            flush=True,
        )
        while all(p.poll() is None for p in processes):
            time.sleep(1)
        failed = [p.args for p in processes if p.poll() is not None]
        raise SystemExit(f"a demo process stopped: {failed}; see {DEMO / 'logs'}")
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
