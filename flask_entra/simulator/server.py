"""The simulator's Flask app and its threaded HTTP server (in a background thread for tests, blocking for the CLI)."""

from __future__ import annotations

import json
import threading
import time
from importlib import resources
from pathlib import Path
from typing import Any

from cheroot import wsgi
from flask import Flask, Response, g, jsonify, request

from flask_entra.simulator.cipp import cipp
from flask_entra.simulator.control import control
from flask_entra.simulator.dataset import Dataset
from flask_entra.simulator.faults import Faults, Injected
from flask_entra.simulator.generator import generate_dataset
from flask_entra.simulator.graph import graph
from flask_entra.simulator.identity import aad_error, identity
from flask_entra.simulator.odata import graph_error_response
from flask_entra.simulator.settings import SimulatorCredentials
from flask_entra.simulator.state import SimulatorState, state

#: Requests served at once: the worker's tenants in parallel, with room for the tests' bursts of fifty.
SERVER_THREADS = 64


def demo_dataset() -> dict[str, Any]:
    """The hand-written demo dataset whose customers line up with the example PSA's clients."""
    text = resources.files("flask_entra.simulator").joinpath("demo_dataset.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def load_dataset(
    path: Path | str | None = None, generate: tuple[int, int] | None = None, seed: int = 0
) -> dict[str, Any]:
    """A dataset document from a file, from the generator (tenants, users per tenant), or the demo one."""
    if path is not None:
        return Dataset.from_file(path).to_document()
    if generate is not None:
        return generate_dataset(generate[0], generate[1], seed=seed)
    return demo_dataset()


def _injected_response(injected: Injected) -> Response:
    """A throttling or outage answer in the dialect of the service the path belongs to."""
    if request.path.startswith("/graph"):
        code = "TooManyRequests" if injected.status == 429 else "serviceNotAvailable"
        return graph_error_response(injected.status, code, "Simulated fault.", injected.retry_after)
    if request.path.startswith("/login"):
        response = aad_error(injected.status, "temporarily_unavailable", 90033, "A transient error has occurred.")
    else:
        response = Response("Simulated fault.", status=injected.status, mimetype="text/plain")
    if injected.retry_after is not None:
        response.headers["Retry-After"] = str(injected.retry_after)
    return response


def create_app(simulator_state: SimulatorState) -> Flask:
    app = Flask(__name__)
    app.extensions["entra_simulator"] = simulator_state
    for blueprint in (identity, graph, cipp, control):
        app.register_blueprint(blueprint)

    @app.before_request
    def _faults() -> Response | None:
        if request.path.startswith("/_sim"):
            return None
        g.sim_received = time.monotonic()
        injected = state().faults.injected(request.path)
        return _injected_response(injected) if injected else None

    @app.after_request
    def _log_and_delay(response: Response) -> Response:
        if not request.path.startswith("/_sim"):
            state().record(request.method, request.path, dict(request.args), response.status_code)
            latency = state().faults.faults.latency_ms / 1000
            if latency and "sim_received" in g:
                time.sleep(max(0.0, g.sim_received + latency - time.monotonic()))
        return response

    @app.get("/")
    def index() -> Response:
        return jsonify(
            {
                "service": "flask-entra simulator",
                "login": f"{request.url_root}login",
                "graph": f"{request.url_root}graph",
                "cipp": f"{request.url_root}cipp",
                "control": f"{request.url_root}_sim",
            }
        )

    return app


class SimulatorServer:
    """A running simulator: ``start()`` serves in a daemon thread; ``port=0`` picks a free port.

    Cheroot rather than Werkzeug's development server because that one closes the connection after every answer, and
    Microsoft keeps it open: a listing measured against the simulator would have paid a new TCP connection per page.
    """

    def __init__(self, simulator_state: SimulatorState, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = simulator_state
        self._server = wsgi.Server(
            (host, port), create_app(simulator_state), numthreads=SERVER_THREADS, server_name="flask-entra-simulator"
        )
        self._server.prepare()  # binds now, so base_url holds the real port before start()
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.bind_addr[:2]
        return f"http://{host}:{port}"

    def start(self) -> SimulatorServer:
        self._thread = threading.Thread(target=self._server.serve, name="entra-simulator", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve()

    def stop(self) -> None:
        self._server.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    dataset_path: Path | str | None = None,
    *,
    generate: tuple[int, int] | None = None,
    seed: int = 0,
    faults: Faults | dict[str, Any] | None = None,
    credentials: SimulatorCredentials | None = None,
) -> None:
    """Serve until interrupted (``flask entra simulator`` and ``python -m flask_entra.simulator`` call this)."""
    knobs = Faults.from_dict(faults) if isinstance(faults, dict) else faults
    server = SimulatorServer(SimulatorState(load_dataset(dataset_path, generate, seed), credentials, knobs), host, port)
    base = server.base_url
    print(
        f"flask-entra simulator on {base}: login {base}/login, graph {base}/graph, cipp {base}/cipp, control "
        f"{base}/_sim; partner tenant {server.state.dataset.partner_id}",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
