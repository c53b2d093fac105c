"""The one HTTP layer towards Microsoft and CIPP-API.

Timeouts, ``@odata.nextLink`` paging, throttling retries that honour ``Retry-After``, exactly one token refresh on a
401, and conversion of every failure into :mod:`flask_entra.errors` with operator advice. Takes plain arguments (not
Flask config) so providers run the same inside a request, a CLI command or a Temporal worker thread.
"""

from __future__ import annotations

import queue
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from flask_entra.errors import IncompleteListing, ProviderAuthError, ProviderError, ProviderThrottled
from flask_entra.providers.advice import aadsts_code, advice_for_aadsts, advice_for_cipp, advice_for_graph

#: Returns a bearer token; called with ``True`` once after a 401 to get a fresh one instead of a cached one.
TokenGetter = Callable[[bool], str]

RETRIED_STATUSES = frozenset({429, 503, 504})
_MAX_DETAIL_CHARS = 300
_SECRET_PATTERNS = (
    re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*"),  # any JWT
    re.compile(r"(?i)bearer\s+\S+"),
    re.compile(r"(?i)((?:refresh|access|id)_token|client_secret|code_verifier)([\"']?\s*[:=]\s*[\"']?)[^\s\"'&,}]+"),
)


@dataclass
class RetryStats:
    """What retrying cost: read by tests and the reliability report."""

    requests: int = 0
    retries: int = 0
    retry_after_seconds: float = 0.0
    backoff_seconds: float = 0.0
    token_refreshes: int = 0


def scrub(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove tokens and secrets from text bound for an exception message, and bound its length."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    text = _SECRET_PATTERNS[0].sub("[redacted]", text)
    text = _SECRET_PATTERNS[1].sub("Bearer [redacted]", text)
    text = _SECRET_PATTERNS[2].sub(r"\1\2[redacted]", text)
    text = " ".join(text.split())
    return text if len(text) <= _MAX_DETAIL_CHARS else text[:_MAX_DETAIL_CHARS] + "..."


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds) if seconds == seconds else None  # NaN is unreadable


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _path(url: str) -> str:
    return urlsplit(url).path or "/"


#: ``{"@odata.context": "...", "@odata.nextLink": "..."`` at the very start of a page, without escapes.
_LEADING_NEXT_LINK = re.compile(
    rb'\A\s*\{(?:\s*"@odata\.context"\s*:\s*"[^"\\]*"\s*,)?\s*"@odata\.nextLink"\s*:\s*"([^"\\]*)"'
)


def _leading_next_link(content: bytes) -> str | None:
    """The next-page link when the body starts with it (Graph's order), read without parsing the body."""
    match = _LEADING_NEXT_LINK.match(content)
    return match.group(1).decode("utf-8", "replace") if match else None


def _call_when_sent(callback: Callable[[], None]) -> Callable[[str, Mapping[str, Any]], None]:
    """An httpcore ``trace`` extension calling ``callback`` once the request body has been written."""

    def trace(event: str, _info: Mapping[str, Any]) -> None:
        if event.endswith("send_request_body.complete"):
            callback()

    return trace


@dataclass
class _ReadPage:
    """A page as it arrived, parsed once, by whichever thread first needs its body."""

    url: str
    response: httpx.Response
    early_link: str | None
    _body: dict[str, Any] | None = None

    def body(self, client: HttpClient) -> dict[str, Any]:
        if self._body is None:
            body = client._json(self.response)
            if not isinstance(body, dict) or not isinstance(body.get("value"), list):
                raise ProviderError(f"GET {_path(self.url)} answered a page without a 'value' list.")
            self._body = body
        return self._body

    def next_link(self, client: HttpClient) -> object:
        """The page's ``@odata.nextLink`` as found (None at the end), read from the head when it is there."""
        return self.early_link if self.early_link is not None else self.body(client).get("@odata.nextLink")

    def value(self, client: HttpClient) -> list[Any]:
        body = self.body(client)
        if self.early_link is not None and body.get("@odata.nextLink") != self.early_link:
            raise ProviderError(f"GET {_path(self.url)} answered a page with two different next-page links.")
        value: list[Any] = body["value"]
        return value


def http_client_from_config(config: Mapping[str, Any], **overrides: Any) -> HttpClient:
    """An :class:`HttpClient` set up from the ``ENTRA_HTTP_*`` keys of a (Flask or plain) config mapping."""
    settings: dict[str, Any] = {
        "timeout_seconds": float(config.get("ENTRA_HTTP_TIMEOUT_SECONDS", 30.0)),
        "max_retries": int(config.get("ENTRA_HTTP_MAX_RETRIES", 6)),
        "max_retry_after_seconds": float(config.get("ENTRA_HTTP_MAX_RETRY_AFTER_SECONDS", 120.0)),
    }
    return HttpClient(**(settings | overrides))


class HttpClient:
    """Thread-safe: one instance may serve many concurrent tenant listings."""

    def __init__(
        self,
        *,
        timeout_seconds: float = 30.0,
        max_retries: int = 6,
        max_retry_after_seconds: float = 120.0,
        backoff_base_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.max_retries = max_retries
        self.max_retry_after_seconds = max_retry_after_seconds
        self.backoff_base_seconds = backoff_base_seconds
        self._sleep = sleep
        self._client = httpx.Client(timeout=timeout_seconds, follow_redirects=False)
        self._stats = RetryStats()
        self._lock = threading.Lock()

    @property
    def stats(self) -> RetryStats:
        """A snapshot of the counters since this client was made."""
        with self._lock:
            return replace(self._stats)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def get_json(
        self,
        url: str,
        *,
        token: TokenGetter | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        response = self._send("GET", url, token=token, params=params, headers=headers)
        return self._json(response)

    def iter_pages(
        self,
        url: str,
        *,
        token: TokenGetter | None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[list[Any]]:
        """Yield each page's ``value`` list, following ``@odata.nextLink`` (an opaque absolute URL) until absent.

        From the second page on, a reader thread keeps one request ahead of the caller (see :meth:`_read_ahead`), so
        parsing a page and the caller's work on it (normalising a thousand users) overlap the next round trip instead
        of adding to it; most tenants fit in one page and need no thread. A failure after the first page raises
        :class:`IncompleteListing`: what was yielded must not count as complete. The bearer token is only ever sent
        to the origin of ``url``.
        """
        response = self._send("GET", url, token=token, params=params, headers=headers)
        first = _ReadPage(url, response, _leading_next_link(response.content))
        if first.next_link(self) is None:
            yield first.value(self)
            return
        handoff: queue.Queue[_ReadPage | Exception | None] = queue.Queue(maxsize=1)
        stop = threading.Event()
        threading.Thread(
            target=self._read_ahead,
            args=(first, token, headers, handoff, stop),
            name="entra-page-reader",
            daemon=True,
        ).start()
        pages = 0
        try:
            while (item := handoff.get()) is not None:
                try:
                    if isinstance(item, Exception):
                        raise item
                    value = item.value(self)
                except IncompleteListing:
                    raise
                except ProviderError as exc:
                    if pages == 0:
                        raise
                    raise IncompleteListing(
                        f"The listing of {_path(url)} stopped after {pages} page(s): {exc.message}", advice=exc.advice
                    ) from exc
                pages += 1
                yield value
        finally:
            stop.set()

    def _read_ahead(
        self,
        first: _ReadPage,
        token: TokenGetter | None,
        headers: Mapping[str, str] | None,
        handoff: queue.Queue[_ReadPage | Exception | None],
        stop: threading.Event,
    ) -> None:
        """Request the pages after ``first`` one by one; hand each over (one waiting at most), then None or the error.

        A page is handed over once the next request has been written, so the caller's parsing of it (which holds the
        GIL) cannot hold that request back; Graph writes the next-page link at the head of the body, where it is read
        without parsing, and a link found elsewhere costs a parse here first.
        """

        def hand_over(item: _ReadPage | Exception | None) -> bool:
            while not stop.is_set():
                try:
                    handoff.put(item, timeout=0.05)
                    return True
                except queue.Full:
                    continue
            return False

        waiting: _ReadPage | None = first

        def release_waiting() -> None:
            nonlocal waiting
            if waiting is not None:
                page, waiting = waiting, None
                hand_over(page)

        origin = _origin(first.url)
        seen: set[str] = set()
        page = first
        try:
            while (link := page.next_link(self)) is not None:
                if not isinstance(link, str) or _origin(link) != origin or link in seen:
                    release_waiting()
                    hand_over(
                        IncompleteListing(
                            f"The listing of {_path(first.url)} stopped after {len(seen) + 1} page(s): the next-page "
                            "link is unusable (not a string, another host, or a repeat)."
                        )
                    )
                    return
                seen.add(link)
                try:
                    response = self._send("GET", link, token=token, headers=headers, on_sent=release_waiting)
                finally:
                    release_waiting()
                if stop.is_set():
                    return
                page = waiting = _ReadPage(link, response, _leading_next_link(response.content))
            release_waiting()
            hand_over(None)
        except Exception as exc:  # the caller's thread re-raises it; this thread must not swallow or print it
            hand_over(exc)

    def post_token(self, url: str, form: Mapping[str, str]) -> dict[str, Any]:
        """POST a token request; a refusal becomes :class:`ProviderAuthError` carrying the AADSTS code and advice."""
        secrets = tuple(v for k, v in form.items() if k in ("client_secret", "refresh_token", "code", "code_verifier"))
        response = self._send("POST", url, token=None, data=dict(form), secrets=secrets, convert_errors=False)
        if response.status_code >= 400:
            body = self._try_json(response)
            if response.status_code in (400, 401) and isinstance(body, dict) and "error" in body:
                error = str(body.get("error"))
                description = str(body.get("error_description") or "").split(" Trace ID:")[0]
                code = aadsts_code(description, body.get("error_codes"))
                detail = scrub(description, secrets) or error
                raise ProviderAuthError(
                    f"Microsoft refused the token request ({error}): {detail}",
                    advice=advice_for_aadsts(code, error),
                    aadsts=code,
                )
            raise self._error("POST", url, response, secrets)
        body = self._json(response)
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise ProviderError(f"POST {_path(url)} answered without an access token.")
        return body

    def _send(
        self,
        method: str,
        url: str,
        *,
        token: TokenGetter | None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        data: dict[str, str] | None = None,
        secrets: tuple[str, ...] = (),
        convert_errors: bool = True,
        on_sent: Callable[[], None] | None = None,
    ) -> httpx.Response:
        """One request with retries; ``on_sent`` is called once the (first) request has been written."""
        bearer = token(False) if token is not None else None
        extensions = None if on_sent is None else {"trace": _call_when_sent(on_sent)}
        refreshed = False
        attempt = 0
        while True:
            request_headers = {"Accept": "application/json", **(headers or {})}
            if bearer is not None:
                request_headers["Authorization"] = f"Bearer {bearer}"
            self._count(requests=1)
            try:
                response = self._client.request(
                    method, url, params=params, headers=request_headers, data=data, extensions=extensions
                )
            except httpx.InvalidURL as exc:  # not an HTTPError, and retrying cannot help
                raise ProviderError(
                    f"{method} {_path(url)}: the address is not valid: {exc}", advice="Check the service URL and ids."
                ) from None
            except httpx.HTTPError as exc:
                if attempt >= self.max_retries:
                    raise ProviderError(
                        f"{method} {_path(url)} could not be completed: {type(exc).__name__}: "
                        f"{scrub(str(exc), (*secrets, bearer or ''))}",
                        advice="Check that the service URL is right and reachable from the worker.",
                    ) from None
                self._wait(attempt, None)
                attempt += 1
                continue
            if response.status_code == 401 and token is not None and not refreshed:
                refreshed = True
                self._count(token_refreshes=1)
                bearer = token(True)
                continue
            if response.status_code in RETRIED_STATUSES:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if attempt >= self.max_retries or (
                    retry_after is not None and retry_after > self.max_retry_after_seconds
                ):
                    raise ProviderThrottled(
                        f"{method} {_path(url)} was throttled or unavailable (HTTP {response.status_code}) after "
                        f"{attempt} retries{'' if retry_after is None else f'; Retry-After asked {retry_after:g}s'}.",
                        advice="Microsoft or CIPP is busy: the sync retries later by itself; if this persists, lower "
                        "ENTRA_SYNC_MAX_CONCURRENT_TENANTS.",
                    )
                self._wait(attempt, retry_after)
                attempt += 1
                continue
            if response.status_code >= 400 and convert_errors:
                raise self._error(method, url, response, (*secrets, bearer or ""))
            return response

    def _wait(self, attempt: int, retry_after: float | None) -> None:
        if retry_after is not None:
            self._count(retries=1, retry_after_seconds=retry_after)
            self._sleep(retry_after)
            return
        ceiling = min(self.max_retry_after_seconds, self.backoff_base_seconds * 2**attempt)
        delay = ceiling / 2 + random.uniform(0, ceiling / 2)  # jitter spreads concurrent tenants apart
        self._count(retries=1, backoff_seconds=delay)
        self._sleep(delay)

    def _count(self, **increments: float) -> None:
        with self._lock:
            for name, amount in increments.items():
                setattr(self._stats, name, getattr(self._stats, name) + amount)

    @staticmethod
    def _try_json(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            return None

    def _json(self, response: httpx.Response) -> Any:
        body = self._try_json(response)
        if body is None and response.content.strip() != b"null":
            raise ProviderError(
                f"{response.request.method} {_path(str(response.request.url))} answered HTTP {response.status_code} "
                "with a body that is not JSON.",
                advice="Check that the configured URL points at Microsoft Graph or the CIPP-API, not a web page.",
            )
        return body

    def _error(self, method: str, url: str, response: httpx.Response, secrets: tuple[str, ...]) -> ProviderError:
        status = response.status_code
        body = self._try_json(response)
        graph_error = body.get("error") if isinstance(body, dict) else None
        if isinstance(graph_error, dict):
            code = str(graph_error.get("code") or "") or None
            text = str(graph_error.get("message") or "")
            advice = advice_for_graph(code) or advice_for_cipp(text)
        else:
            code = None
            text = response.text
            advice = advice_for_cipp(text)
        detail = scrub(f"{code + ': ' if code else ''}{text}", secrets)
        message = f"{method} {_path(url)} answered HTTP {status}" + (f": {detail}" if detail else ".")
        aadsts = aadsts_code(text)
        if status in (401, 403) or aadsts is not None or "insufficient privileges" in text.lower():
            return ProviderAuthError(message, advice=advice or advice_for_aadsts(aadsts), aadsts=aadsts)
        error = ProviderError(message, advice=advice)
        error.retryable = status >= 500
        return error
