"""Keeps secret values out of log lines: every value the chain reads or writes is registered and scrubbed from records.

A handler filter, not a logger filter, because only a handler sees the records propagated from child loggers
(httpx, hvac, the host's own). Cost per record: one substring search per registered value, nothing when none is.
"""

from __future__ import annotations

import logging
import threading
from collections import deque

REDACTED = "[redacted]"
# Shorter values are not secrets worth the noise: scrubbing them would mangle ordinary words in every log line.
MIN_REDACTED_LENGTH = 6
# A rotated refresh token may still sit in a pending log record; older values are dropped so memory stays bounded.
_VALUES_KEPT_PER_SLOT = 2

_exception_formatter = logging.Formatter()


class SecretRegistry:
    """The secret values this process has handled, the latest few per (tenant, name) slot."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_slot: dict[tuple[str, str], deque[str]] = {}
        self._values: tuple[str, ...] = ()

    def register(self, tenant: str | None, name: str, value: str) -> None:
        if len(value) < MIN_REDACTED_LENGTH:
            return
        with self._lock:
            kept = self._by_slot.setdefault((tenant or "", name), deque(maxlen=_VALUES_KEPT_PER_SLOT))
            if value in kept:
                return
            kept.append(value)
            # Longest first, so a value that contains another is replaced whole.
            every = {v for values in self._by_slot.values() for v in values}
            self._values = tuple(sorted(every, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, REDACTED)
        return text

    def __bool__(self) -> bool:
        return bool(self._values)


REGISTRY = SecretRegistry()


def redact_secrets(text: str) -> str:
    """``text`` with every secret value handled in this process replaced (for error texts stored or shown elsewhere)."""
    return REGISTRY.redact(text)


class SecretRedactingFilter(logging.Filter):
    """Replaces registered secret values with ``[redacted]`` in a record's message, arguments, exception and stack."""

    def __init__(self, registry: SecretRegistry = REGISTRY) -> None:
        super().__init__()
        self._registry = registry

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._registry:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format call: let the handler report it the usual way
            return True
        clean = self._registry.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        exception_text = record.exc_text or (
            _exception_formatter.formatException(record.exc_info) if record.exc_info else None
        )
        if exception_text:
            clean = self._registry.redact(exception_text)
            if clean != exception_text:
                # Formatters print exc_text when set; dropping exc_info stops any other formatter re-rendering it raw.
                record.exc_text, record.exc_info = clean, None
        if record.stack_info:
            record.stack_info = self._registry.redact(record.stack_info)
        return True


_FILTER = SecretRedactingFilter()


def redact_log_handlers(logger: logging.Logger | None = None) -> None:
    """Attach the redacting filter to every handler of ``logger`` (the root logger by default); idempotent.

    Handlers added later are not covered: call this after the host configured logging.
    """
    for handler in (logger or logging.getLogger()).handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
