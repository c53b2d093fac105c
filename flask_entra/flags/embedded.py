"""The embedded flag store: flags in ``entra_feature_flags``, evaluated by the Unleash SDK engine bootstrapped from them.

Freshness: writes through a service take effect in its process at once (the engine is rebuilt from the table right
after the commit). Other processes re-read the table lazily, on the first evaluation after ``refresh_interval`` seconds,
so they follow within that interval; no thread is involved.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session
from UnleashClient import UnleashClient

from ..errors import NotFound
from ..models import FeatureFlag
from .base import FlagService, FlagState, FlagStoreError, checked_key, normalised_tenants
from .sdk import embedded_client, evaluate, logger

TABLE_ADVICE = "Check the database connection and that `flask entra db upgrade` has created the entra_* tables."


class EmbeddedFlagService(FlagService):
    def __init__(self, engine: Engine, *, app_name: str, refresh_interval: float) -> None:
        # Our own short transactions on the host's engine: flag writes never commit a request's pending work.
        self._engine = engine
        self._app_name = app_name
        self._refresh_interval = refresh_interval
        self._lock = threading.Lock()
        self._client: UnleashClient | None = None
        self._states: tuple[FlagState, ...] | None = None
        self._read_at = -math.inf

    def is_enabled(self, flag: str, *, tenant: str, user_id: str | None = None) -> bool:
        if time.monotonic() - self._read_at >= self._refresh_interval:
            self._refresh()
        return evaluate(self._client, flag, tenant, user_id)

    def list_flags(self) -> list[FlagState]:
        with self._lock:
            return list(self._reload())

    def create_flag(self, key: str, description: str = "", enabled: bool = False) -> FlagState:
        checked_key(key)
        try:
            with self._write() as session:
                if session.get(FeatureFlag, key) is None:
                    session.add(FeatureFlag(key=key, description=description, enabled=enabled, tenant_ids=[]))
        except IntegrityError:  # another process created it between our read and our insert: it exists, as asked
            pass
        return self._state_of(key)

    def set_enabled(self, key: str, enabled: bool) -> FlagState:
        with self._write() as session:
            _row(session, key).enabled = enabled
        return self._state_of(key)

    def set_tenants(self, key: str, tenant_ids: Iterable[str]) -> FlagState:
        tenants = normalised_tenants(tenant_ids)
        with self._write() as session:
            _row(session, key).tenant_ids = list(tenants)
        return self._state_of(key)

    def close(self) -> None:
        with self._lock:  # an embedded client owns no thread; dropping it is the whole shutdown
            self._client = None
            self._states = None
            self._read_at = -math.inf

    @contextmanager
    def _write(self) -> Iterator[Session]:
        try:
            with Session(self._engine) as session, session.begin():
                yield session
        except IntegrityError:
            raise
        except SQLAlchemyError as exc:
            raise FlagStoreError(
                f"The feature flag table could not be written ({type(exc).__name__}).", advice=TABLE_ADVICE
            ) from exc

    def _state_of(self, key: str) -> FlagState:
        with self._lock:
            states = self._reload()
        for state in states:
            if state.key == key:
                return state
        raise NotFound(f"No feature flag named {key!r}.")

    def _refresh(self) -> None:
        """The periodic re-read: a failure keeps the last state (or none: every flag off) and is logged."""
        with self._lock:
            if time.monotonic() - self._read_at < self._refresh_interval:
                return  # another thread has just done it
            try:
                self._reload()
            except FlagStoreError as exc:
                self._read_at = time.monotonic()  # do not hammer a failing database on every evaluation
                logger.warning(
                    "%s %s",
                    exc.message,
                    "Keeping the flags last read."
                    if self._client
                    else "Every feature flag is off until it can be read.",
                )

    def _reload(self) -> tuple[FlagState, ...]:
        """Read the table and rebuild the engine when it changed. Caller holds the lock."""
        try:
            with Session(self._engine) as session:
                rows = session.scalars(select(FeatureFlag).order_by(FeatureFlag.key)).all()
                states = tuple(
                    FlagState(r.key, r.description or "", bool(r.enabled), normalised_tenants(r.tenant_ids or ()))
                    for r in rows
                )
        except SQLAlchemyError as exc:
            raise FlagStoreError(
                f"The feature flag table could not be read ({type(exc).__name__}).", advice=TABLE_ADVICE
            ) from exc
        if states != self._states or self._client is None:
            self._client = embedded_client(self._app_name, states)
            self._states = states
        self._read_at = time.monotonic()
        return states


def _row(session: Session, key: str) -> FeatureFlag:
    row = session.get(FeatureFlag, key)
    if row is None:
        raise NotFound(f"No feature flag named {key!r}.", advice="Create it first (`flask entra flags ensure`).")
    return row
