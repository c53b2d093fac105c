"""A local Microsoft identity platform + Microsoft Graph + CIPP-API simulator, for the demo, tests and benchmarks.

One threaded HTTP server: ``/login`` (identity platform), ``/graph`` (Graph v1.0), ``/cipp`` (CIPP-API), ``/_sim``
(control API: faults, request log, dataset mutations; see control.py). Start it with
``python -m flask_entra.simulator --port 8765 [--dataset FILE] [--generate 50x200] [--seed N]`` or ``serve(...)``.
The dataset file format is documented in dataset.py; the fault knobs in faults.py.
"""

from __future__ import annotations

from flask_entra.simulator.client import PARTNER_SCOPES, SimulatorClient
from flask_entra.simulator.dataset import Dataset, DatasetError
from flask_entra.simulator.faults import FaultRule, Faults
from flask_entra.simulator.generator import generate_dataset
from flask_entra.simulator.server import SimulatorServer, create_app, demo_dataset, load_dataset, serve
from flask_entra.simulator.settings import (
    DEFAULT_CIPP_CLIENT_ID,
    DEFAULT_CIPP_CLIENT_SECRET,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_PARTNER_TENANT_ID,
    DEFAULT_REDIRECT_URIS,
    GRAPH_RESOURCE,
    SimulatorCredentials,
)
from flask_entra.simulator.state import SimulatorState

__all__ = [
    "DEFAULT_CIPP_CLIENT_ID",
    "DEFAULT_CIPP_CLIENT_SECRET",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_PARTNER_TENANT_ID",
    "DEFAULT_REDIRECT_URIS",
    "GRAPH_RESOURCE",
    "PARTNER_SCOPES",
    "Dataset",
    "DatasetError",
    "FaultRule",
    "Faults",
    "SimulatorClient",
    "SimulatorCredentials",
    "SimulatorServer",
    "SimulatorState",
    "create_app",
    "demo_dataset",
    "generate_dataset",
    "load_dataset",
    "serve",
]
