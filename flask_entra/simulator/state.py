"""Everything one simulator instance holds: dataset, credentials, tokens, fault knobs and the request log."""

from __future__ import annotations

import copy
import threading
import time
from collections import deque
from typing import Any

from flask import current_app

from flask_entra.simulator.dataset import Dataset
from flask_entra.simulator.faults import FaultEngine, Faults
from flask_entra.simulator.settings import SimulatorCredentials
from flask_entra.simulator.tokens import TokenStore

REQUEST_LOG_SIZE = 20_000
#: Query parameters whose values are credentials; the request log keeps their names only.
SECRET_PARAMETERS = frozenset(
    {
        "code",
        "client_secret",
        "refresh_token",
        "access_token",
        "id_token",
        "code_verifier",
        "client_assertion",
        "assertion",
        "password",
    }
)


class SimulatorState:
    def __init__(
        self,
        document: dict[str, Any],
        credentials: SimulatorCredentials | None = None,
        faults: Faults | None = None,
    ) -> None:
        self._initial_document = copy.deepcopy(document)
        self._initial_faults = faults or Faults()
        self.credentials = credentials or SimulatorCredentials()
        self.dataset = Dataset(document)
        self.tokens = TokenStore()
        self.faults = FaultEngine(Faults.from_dict(self._initial_faults.to_dict()))
        #: Bumped when delta tokens must stop working (reset, or a test asking for a resync).
        self.delta_epoch = 0
        self._log: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_SIZE)
        self._log_lock = threading.Lock()

    @property
    def cipp_tenant_id(self) -> str:
        return self.credentials.cipp_tenant_id or self.dataset.partner_id

    def reset(self) -> None:
        """Back to the dataset and faults the instance started with; issued tokens stay valid, delta tokens do not."""
        self.dataset = Dataset(copy.deepcopy(self._initial_document))
        self.faults.configure(Faults.from_dict(self._initial_faults.to_dict()))
        self.delta_epoch += 1
        self.clear_log()

    def record(self, method: str, path: str, query: dict[str, str], status: int) -> None:
        safe_query = {k: ("<redacted>" if k.lower() in SECRET_PARAMETERS else v) for k, v in query.items()}
        entry = {"time": time.time(), "method": method, "path": path, "query": safe_query, "status": status}
        with self._log_lock:
            self._log.append(entry)

    def request_log(self) -> list[dict[str, Any]]:
        with self._log_lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._log_lock:
            self._log.clear()


def state() -> SimulatorState:
    """The state of the app serving the current request."""
    simulator_state: SimulatorState = current_app.extensions["entra_simulator"]
    return simulator_state
