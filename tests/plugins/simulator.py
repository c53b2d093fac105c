"""The Microsoft identity platform + Graph + CIPP-API simulator, running on a free port in a background thread.

Fixtures (all give a ``flask_entra.simulator.SimulatorClient``: base_url, login_base_url, graph_base_url,
cipp_base_url, credentials, partner_tenant_id, control methods, sign_in(), customer_token(), cipp_token()):

- ``simulator``: session-scoped, a generated dataset (6 customers of 150 users, seed 7: ``GENERATED_*``).
- ``fresh_simulator``: the same server, reset (dataset, faults, request log) before the test.
- ``demo_simulator``: session-scoped, the bundled demo dataset (customers matching the example PSA's clients).
- ``fresh_demo_simulator``: the demo server, reset before the test.

``opened_http(**options)`` makes a provider ``HttpClient`` that is closed after the test: the simulator keeps
connections alive, as Microsoft does, so a client left open would hold its sockets until the garbage collector.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from flask_entra.providers.http import HttpClient
from flask_entra.simulator import SimulatorClient, SimulatorServer, SimulatorState, demo_dataset, generate_dataset

#: The session simulator's generated dataset: 6 customers of 150 users (more than one default Graph page), seed 7.
GENERATED_TENANTS, GENERATED_USERS_PER_TENANT, GENERATED_SEED = 6, 150, 7
_opened: list[HttpClient] = []


def opened_http(**options: Any) -> HttpClient:
    client = HttpClient(**options)
    _opened.append(client)
    return client


@pytest.fixture(autouse=True)
def _close_opened_http_clients() -> Iterator[None]:
    yield
    while _opened:
        _opened.pop().close()


def _running(document: dict[str, Any]) -> Iterator[SimulatorClient]:
    server = SimulatorServer(SimulatorState(document)).start()
    client = SimulatorClient(server.base_url)
    try:
        yield client
    finally:
        client.close()
        server.stop()


@pytest.fixture(scope="session")
def simulator() -> Iterator[SimulatorClient]:
    yield from _running(generate_dataset(GENERATED_TENANTS, GENERATED_USERS_PER_TENANT, seed=GENERATED_SEED))


@pytest.fixture
def fresh_simulator(simulator: SimulatorClient) -> SimulatorClient:
    simulator.reset()
    return simulator


@pytest.fixture(scope="session")
def demo_simulator() -> Iterator[SimulatorClient]:
    yield from _running(demo_dataset())


@pytest.fixture
def fresh_demo_simulator(demo_simulator: SimulatorClient) -> SimulatorClient:
    demo_simulator.reset()
    return demo_simulator
