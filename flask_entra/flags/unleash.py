"""Flags on a real Unleash server: evaluation by the Unleash SDK (polling), management through the Unleash Admin API.

Freshness: a write returns once Unleash serves it to SDKs (its client API follows the Admin API within about a
second), and this process's SDK client is then restarted, so the next evaluation here sees it. Other processes follow
on their next poll, every ``ENTRA_UNLEASH_REFRESH_INTERVAL`` seconds.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from UnleashClient import UnleashClient
from UnleashClient.utils import InstanceAllowType

from ..config import DEFAULTS
from ..errors import Conflict, NotFound, ValidationFailed
from .base import ENTRA_FLAGS, FlagService, FlagState, FlagStoreError, checked_key, normalised_tenants
from .sdk import TENANT_CONTEXT, MemoryCache, evaluate, logger, targeted_tenants, targeting_strategy

ADMIN_TIMEOUT_SECONDS = 10.0
SDK_REQUEST_TIMEOUT_SECONDS = 5  # bounds the first evaluation of a process when Unleash is down
PROPAGATION_TIMEOUT_SECONDS = 10.0
PROPAGATION_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class UnleashSettings:
    api_url: str  # ends in /api, as every Unleash SDK expects
    app_name: str
    environment: str
    project: str
    refresh_interval: int
    client_token: str | None = field(default=None, repr=False)
    admin_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> UnleashSettings:
        def get(key: str) -> Any:
            return config.get(key, DEFAULTS[key])

        url = str(get("ENTRA_UNLEASH_URL")).rstrip("/")
        return cls(
            api_url=url if url.endswith("/api") else f"{url}/api",
            app_name=str(get("ENTRA_UNLEASH_APP_NAME")),
            environment=str(get("ENTRA_UNLEASH_ENVIRONMENT")),
            project=str(get("ENTRA_UNLEASH_PROJECT")),
            refresh_interval=max(1, int(get("ENTRA_UNLEASH_REFRESH_INTERVAL"))),
            client_token=get("ENTRA_UNLEASH_API_TOKEN"),
            admin_token=get("ENTRA_UNLEASH_ADMIN_TOKEN"),
        )


class UnleashFlagService(FlagService):
    def __init__(self, settings: UnleashSettings) -> None:
        self._settings = settings
        self._cache = MemoryCache()  # what this process fetched, carried over to each restarted SDK client
        self._lock = threading.RLock()
        self._client: UnleashClient | None = None
        self._client_pid = 0
        admin_headers = {"Authorization": settings.admin_token} if settings.admin_token else {}
        self._http = httpx.Client(base_url=settings.api_url, headers=admin_headers, timeout=ADMIN_TIMEOUT_SECONDS)

    # evaluation

    def is_enabled(self, flag: str, *, tenant: str, user_id: str | None = None) -> bool:
        return evaluate(self._sdk(), flag, tenant, user_id)

    def _sdk(self) -> UnleashClient:
        client = self._client
        if client is not None and self._client_pid == os.getpid():
            return client
        with self._lock:  # first use in this process (or in a forked child, whose SDK threads did not survive)
            if self._client is None or self._client_pid != os.getpid():
                self._start_sdk()
            assert self._client is not None
            return self._client

    def _start_sdk(self) -> None:
        """Start a polling SDK client (it fetches at once) and stop the previous one. Caller holds the lock."""
        settings = self._settings
        previous, inherited = self._client, self._client_pid != os.getpid()
        self._cache = self._cache.carried_over()
        client = UnleashClient(
            url=settings.api_url,
            app_name=settings.app_name,
            environment=settings.environment,
            instance_id=f"{settings.app_name}-{os.getpid()}",
            project_name=settings.project,
            refresh_interval=settings.refresh_interval,
            request_timeout=SDK_REQUEST_TIMEOUT_SECONDS,
            request_retries=1,
            custom_headers={"Authorization": settings.client_token} if settings.client_token else {},
            cache=self._cache,
            disable_registration=True,  # the server learns about us from the metrics, sent to the same URL
            multiple_instance_mode=InstanceAllowType.SILENTLY_ALLOW,  # restarts after writes are deliberate
        )
        try:
            client.initialize_client()
        except Exception as exc:  # only a malformed URL raises; the SDK logs the rest and keeps polling
            logger.warning("The Unleash SDK could not start (%s); check ENTRA_UNLEASH_URL.", type(exc).__name__)
        self._client, self._client_pid = client, os.getpid()
        if previous is not None and not inherited and previous.is_initialized:
            previous.destroy()
        if not self._cache.has_features():
            logger.warning(
                "No feature flags could be read from Unleash at %s and none are cached: every feature flag is off "
                "until it answers (the SDK retries every %s s). Check ENTRA_UNLEASH_URL and ENTRA_UNLEASH_API_TOKEN.",
                settings.api_url,
                settings.refresh_interval,
            )

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
            if client is not None and client.is_initialized and self._client_pid == os.getpid():
                client.destroy()
        self._http.close()

    # management

    def list_flags(self) -> list[FlagState]:
        listing = self._admin("GET", self._features_path())
        names = sorted(f["name"] for f in listing.get("features", []) if not f.get("archived"))
        return [self._state_of(name) for name in names]

    def create_flag(self, key: str, description: str = "", enabled: bool = False) -> FlagState:
        state = self._create(key, description, enabled)
        self._publish([state])
        return state

    def ensure_entra_flags(self) -> list[FlagState]:
        self._ensure_tenant_context_field()
        states = [self._create(key, description, False) for key, description in ENTRA_FLAGS.items()]
        self._publish(states)
        return states

    def set_enabled(self, key: str, enabled: bool) -> FlagState:
        self._admin("POST", f"{self._environment_path(key)}/{'on' if enabled else 'off'}", key=key)
        state = self._state_of(key)
        self._publish([state])
        return state

    def set_tenants(self, key: str, tenant_ids: Iterable[str]) -> FlagState:
        """Replace the environment's strategies with one targeting strategy (first changed in place, so the flag never
        passes through a moment with no strategy, which Unleash would treat as on for everyone)."""
        wanted = targeting_strategy(key, normalised_tenants(tenant_ids))
        path = f"{self._environment_path(key)}/strategies"
        current = self._admin("GET", path, key=key) or []
        if current:
            self._admin("PUT", f"{path}/{quote(current[0]['id'], safe='')}", json=wanted, key=key)
            for extra in current[1:]:
                self._admin("DELETE", f"{path}/{quote(extra['id'], safe='')}", key=key)
        else:
            self._admin("POST", path, json=wanted, key=key)
        state = self._state_of(key)
        self._publish([state])
        return state

    def _create(self, key: str, description: str, enabled: bool) -> FlagState:
        checked_key(key)
        try:
            self._admin(
                "POST", self._features_path(), json={"name": key, "description": description, "type": "release"}
            )
        except Conflict:
            return self._state_of(key)  # it exists: unchanged, as the interface promises
        self._admin("POST", f"{self._environment_path(key)}/strategies", json=targeting_strategy(key, ()), key=key)
        if enabled:
            self._admin("POST", f"{self._environment_path(key)}/on", key=key)
        return self._state_of(key)

    def _ensure_tenant_context_field(self) -> None:
        """Register ``tenantId`` so Unleash's UI offers it; evaluation works without it, so failure is not fatal."""
        body = {"name": TENANT_CONTEXT, "description": "PSA tenant id (flask-entra targeting)", "stickiness": False}
        try:
            self._admin("POST", "/admin/context", json=body)
        except Conflict:
            pass
        except FlagStoreError as exc:
            logger.info("The %r context field was not created in Unleash: %s", TENANT_CONTEXT, exc.message)

    def _state_of(self, key: str) -> FlagState:
        feature = self._admin("GET", self._feature_path(key), key=key)
        if feature.get("archived"):
            raise Conflict(
                f"The flag {key!r} is archived in Unleash.", advice="Revive it in Unleash, or use another name."
            )
        env = next((e for e in feature.get("environments", []) if e.get("name") == self._settings.environment), None)
        if env is None:
            raise FlagStoreError(
                f"Environment {self._settings.environment!r} is not enabled in Unleash project "
                f"{self._settings.project!r}.",
                advice="Enable it in the project's settings, or set ENTRA_UNLEASH_ENVIRONMENT to one that is.",
            )
        return FlagState(
            key,
            feature.get("description") or "",
            bool(env.get("enabled")),
            targeted_tenants(env.get("strategies") or []),
        )

    def _publish(self, states: list[FlagState]) -> None:
        """Wait until Unleash serves ``states`` to SDKs, then restart this process's SDK client to pick them up."""
        deadline = time.monotonic() + PROPAGATION_TIMEOUT_SECONDS
        while not self._served(states):
            if time.monotonic() >= deadline:
                logger.warning(
                    "Unleash has not served the flag change to SDKs within %s s; this process may show the previous "
                    "state for up to ENTRA_UNLEASH_REFRESH_INTERVAL seconds.",
                    PROPAGATION_TIMEOUT_SECONDS,
                )
                break
            time.sleep(PROPAGATION_POLL_SECONDS)
        with self._lock:
            if self._client is not None:  # otherwise the first evaluation starts a client that fetches fresh state
                self._start_sdk()

    def _served(self, states: list[FlagState]) -> bool:
        settings = self._settings
        if not settings.client_token:
            return True  # nothing to compare with: the SDK itself cannot read flags (its start logs why)
        try:
            response = self._http.get(
                "/client/features",
                params={"project": settings.project},
                headers={"Authorization": settings.client_token},
            )
            served = {f["name"]: f for f in response.json().get("features", [])} if response.is_success else {}
        except (httpx.HTTPError, ValueError):
            return False
        for state in states:
            feature = served.get(state.key)
            if (
                feature is None
                or bool(feature.get("enabled")) != state.enabled
                or set(targeted_tenants(feature.get("strategies") or [])) != set(state.tenant_ids)
            ):
                return False
        return True

    def _admin(self, method: str, path: str, *, json: Any = None, key: str | None = None) -> Any:
        """One Admin API call, its failures turned into our errors (never carrying the token)."""
        try:
            response = self._http.request(method, path, json=json)
        except httpx.HTTPError as exc:
            raise FlagStoreError(
                f"Unleash at {self._settings.api_url} could not be reached ({type(exc).__name__}).",
                advice="Check ENTRA_UNLEASH_URL and that the Unleash server is running.",
            ) from exc
        status = response.status_code
        if status == 404 and key is not None:
            raise NotFound(f"No feature flag named {key!r} in Unleash project {self._settings.project!r}.")
        if status in (401, 403):
            raise FlagStoreError(
                f"Unleash refused the flag management request (HTTP {status}).",
                advice=f"Set ENTRA_UNLEASH_ADMIN_TOKEN to an admin API token or a personal access token allowed to "
                f"edit project {self._settings.project!r}.",
            )
        if status == 409:
            raise Conflict(f"Unleash refused the change: {_message(response)}")
        if status == 400:
            raise ValidationFailed(f"Unleash rejected the request: {_message(response)}")
        if response.is_error:
            raise FlagStoreError(f"Unleash answered HTTP {status} to {method} {path}.")
        try:
            return response.json() if response.content else None
        except ValueError as exc:
            raise FlagStoreError(
                f"{self._settings.api_url} answered {method} {path} with something other than JSON.",
                advice="Check that ENTRA_UNLEASH_URL points at Unleash's API.",
            ) from exc

    def _features_path(self) -> str:
        return f"/admin/projects/{quote(self._settings.project, safe='')}/features"

    def _feature_path(self, key: str) -> str:
        return f"{self._features_path()}/{quote(key, safe='')}"

    def _environment_path(self, key: str) -> str:
        return f"{self._feature_path(key)}/environments/{quote(self._settings.environment, safe='')}"


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message") or response.reason_phrase)
    except ValueError:
        return response.reason_phrase
