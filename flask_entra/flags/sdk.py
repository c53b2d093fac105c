"""The Unleash SDK engine both stores evaluate with, and the flag definitions we give it (and write to Unleash)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from UnleashClient import UnleashClient
from UnleashClient.cache import BaseCache
from UnleashClient.constants import FEATURES_URL
from UnleashClient.utils import InstanceAllowType

from .base import FlagState

logger = logging.getLogger("flask_entra.flags")

TENANT_CONTEXT = "tenantId"
# An embedded client is never initialised, so this URL is never contacted; it only names the client.
EMBEDDED_URL = "embedded://entra_feature_flags"


class MemoryCache(BaseCache):
    """The SDK's cache, kept in this process's memory.

    The SDK's default file cache is shared by every process of the app name, which would blur "per process" state (a
    process that never reached Unleash would answer from another's file). Here "cached" means fetched by this process.
    """

    def __init__(self, features: list[dict[str, Any]] | None = None, *, raw_state: str | None = None) -> None:
        self._data: dict[str, Any] = {}
        if features is not None:
            raw_state = json.dumps({"version": 2, "features": features})
        if raw_state is not None:
            self._data[FEATURES_URL] = raw_state
        self.bootstrapped = raw_state is not None  # the SDK loads a bootstrapped cache into its engine at once

    def carried_over(self) -> MemoryCache:
        """A new cache holding this one's flag state, for the next client: the SDK clears a cache it is done with."""
        return MemoryCache(raw_state=self._data.get(FEATURES_URL))

    def has_features(self) -> bool:
        return bool(self._data.get(FEATURES_URL))

    def set(self, key: str, value: Any) -> None:
        self._data[key] = value

    def mset(self, data: dict[str, Any]) -> None:
        self._data.update(data)

    def get(self, key: str, default: Any | None = None) -> Any:
        return self._data.get(key, default)

    def exists(self, key: str) -> bool:
        return key in self._data

    def destroy(self) -> None:
        self._data.clear()


def targeting_strategy(key: str, tenant_ids: Iterable[str]) -> dict[str, Any]:
    """A 100 % flexibleRollout, limited by a ``tenantId IN`` constraint when tenants are given.

    The same strategy is written to Unleash by the Admin API and evaluated from the embedded store.
    """
    tenants = list(tenant_ids)
    constraints = (
        [
            {
                "contextName": TENANT_CONTEXT,
                "operator": "IN",
                "values": tenants,
                "inverted": False,
                "caseInsensitive": False,
            }
        ]
        if tenants
        else []
    )
    return {
        "name": "flexibleRollout",
        "parameters": {"rollout": "100", "stickiness": "default", "groupId": key},
        "constraints": constraints,
    }


def targeted_tenants(strategies: Iterable[dict[str, Any]]) -> tuple[str, ...]:
    """The tenants active strategies are limited to; empty when any of them (or none at all) lets every tenant in."""
    tenants: dict[str, None] = {}
    for strategy in strategies:
        if strategy.get("disabled"):
            continue
        limits = [
            c
            for c in strategy.get("constraints") or []
            if c.get("contextName") == TENANT_CONTEXT and c.get("operator") == "IN" and not c.get("inverted")
        ]
        if not limits:
            return ()
        tenants.update(dict.fromkeys(limits[0].get("values") or []))
    return tuple(tenants)


def client_feature(state: FlagState) -> dict[str, Any]:
    """``state`` as Unleash's client API would serve it."""
    return {
        "name": state.key,
        "type": "release",
        "description": state.description,
        "enabled": state.enabled,
        "project": "default",
        "stale": False,
        "impressionData": False,
        "variants": [],
        "strategies": [targeting_strategy(state.key, state.tenant_ids)],
    }


def evaluation_context(tenant: str, user_id: str | None) -> dict[str, Any]:
    """``tenantId`` top level and in ``properties``: constraints on custom fields read it from either place."""
    context: dict[str, Any] = {TENANT_CONTEXT: tenant, "properties": {TENANT_CONTEXT: tenant}}
    if user_id is not None:
        context["userId"] = user_id
    return context


def evaluate(client: UnleashClient | None, flag: str, tenant: str, user_id: str | None) -> bool:
    """Ask the SDK; any failure means off (a flag hides a surface, so off is the safe answer)."""
    if client is None:
        return False
    try:
        return bool(client.is_enabled(flag, evaluation_context(tenant, user_id)))
    except Exception:  # the SDK engine is native code: never let it break a request
        logger.warning("Evaluating feature flag %r failed; treating it as off.", flag, exc_info=True)
        return False


def embedded_client(app_name: str, states: Iterable[FlagState]) -> UnleashClient:
    """A client whose engine is bootstrapped from ``states``. Never initialised: no thread, no network."""
    return UnleashClient(
        url=EMBEDDED_URL,
        app_name=app_name,
        cache=MemoryCache([client_feature(s) for s in states]),
        disable_metrics=True,
        disable_registration=True,
        multiple_instance_mode=InstanceAllowType.SILENTLY_ALLOW,
    )
