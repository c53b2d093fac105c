"""Access tokens cached per key (a tenant id) until shortly before they expire.

Listings of many customer tenants run concurrently in worker threads: each key has its own lock so one tenant's token
request never waits for another's, and concurrent listings of one tenant fetch its token once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

#: Renew this long before expiry (capped at a tenth of the lifetime, so short-lived tokens are still reused).
RENEW_MARGIN_SECONDS = 300.0
DEFAULT_LIFETIME_SECONDS = 300.0


def token_lifetime(body: Mapping[str, Any]) -> float:
    """``expires_in`` of a token response (Microsoft sends a number; some proxies send a string)."""
    try:
        seconds = float(body.get("expires_in", DEFAULT_LIFETIME_SECONDS))
    except (TypeError, ValueError):
        return DEFAULT_LIFETIME_SECONDS
    return seconds if seconds > 0 else 0.0


class TokenCache:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tokens: dict[str, tuple[str, float]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: str, fetch: Callable[[], tuple[str, float]], *, force: bool = False) -> str:
        """The cached token for ``key``, or a new one from ``fetch`` (returning token and lifetime in seconds).

        ``force`` replaces a token the server refused (a 401), unless another thread already replaced it.
        """
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
            stale = self._tokens.get(key)
        with lock:
            current = self._tokens.get(key)
            if current is not None and current[1] > self._clock():
                if not force or current is not stale:
                    return current[0]
            token, lifetime = fetch()
            renew_after = lifetime - min(RENEW_MARGIN_SECONDS, lifetime / 10)
            self._tokens[key] = (token, self._clock() + renew_after)
            return token
