"""The shared HTTP layer against a real local HTTP server serving canned answers (paging, throttling, 401, errors)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from flask_entra.config import DEFAULTS
from flask_entra.errors import IncompleteListing, ProviderAuthError, ProviderError, ProviderThrottled
from flask_entra.providers.http import HttpClient, http_client_from_config, parse_retry_after, scrub

BEARER = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwYXJ0bmVyIn0.c2lnbmF0dXJl"
Canned = tuple[int, Any, dict[str, str]]


@dataclass
class CannedServer:
    """Answers each path with its queued responses in order (the last one repeats) and records every request."""

    base_url: str = ""
    routes: dict[str, list[Canned]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    delay_seconds: float = 0.0

    def queue(self, path: str, *responses: Canned) -> str:
        self.routes[path] = list(responses)
        return self.base_url + path

    def app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.requests.append(
            {
                "path": request.path,
                "args": dict(request.args),
                "auth": request.headers.get("Authorization"),
                "form": dict(request.form),
            }
        )
        time.sleep(self.delay_seconds)
        queued = self.routes.get(request.path) or [(404, {"error": {"code": "NotFound", "message": "none"}}, {})]
        status, body, headers = queued.pop(0) if len(queued) > 1 else queued[0]
        text = body if isinstance(body, str) else json.dumps(body)
        mimetype = "text/plain" if isinstance(body, str) else "application/json"
        return Response(text, status=status, headers=headers, mimetype=mimetype)(environ, start_response)


@pytest.fixture(scope="module")
def running_server() -> Iterator[CannedServer]:
    canned = CannedServer()
    httpd = make_server("127.0.0.1", 0, canned.app, threaded=True)
    canned.base_url = f"http://127.0.0.1:{httpd.server_port}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield canned
    httpd.shutdown()
    thread.join(5)


@pytest.fixture()
def server(running_server: CannedServer) -> CannedServer:
    running_server.routes.clear()
    running_server.requests.clear()
    running_server.delay_seconds = 0.0
    return running_server


def fixed_token(force: bool) -> str:
    return BEARER


def make_client(**overrides: Any) -> HttpClient:
    settings: dict[str, Any] = {
        "timeout_seconds": 5.0,
        "max_retries": 3,
        "max_retry_after_seconds": 5.0,
        "backoff_base_seconds": 0.01,
    }
    return HttpClient(**(settings | overrides))


def page(value: list[Any], link: str | None = None, *, link_first: bool) -> dict[str, Any]:
    """A Graph page; Graph writes ``@odata.nextLink`` before ``value``, other services may not."""
    if link is None:
        return {"value": value}
    return {"@odata.nextLink": link, "value": value} if link_first else {"value": value, "@odata.nextLink": link}


LINK_ORDERS = pytest.mark.parametrize("link_first", [True, False], ids=["link-first", "link-last"])


@LINK_ORDERS
def test_paging_follows_next_links_as_opaque_urls(server: CannedServer, link_first: bool) -> None:
    page2 = server.base_url + "/v1.0/opaque-page-2?$skiptoken=abc%3D%3D"
    first = server.queue("/v1.0/users", (200, page([{"id": "1"}, {"id": "2"}], page2, link_first=link_first), {}))
    server.queue("/v1.0/opaque-page-2", (200, {"value": [{"id": "3"}]}, {}))
    with make_client() as client:
        pages = list(client.iter_pages(first, token=fixed_token, params={"$top": "999"}))
    assert [[r["id"] for r in value] for value in pages] == [["1", "2"], ["3"]]
    assert server.requests[0]["args"] == {"$top": "999"}
    assert server.requests[1]["args"] == {"$skiptoken": "abc=="}  # the link is used as given, no params re-added
    assert all(r["auth"] == f"Bearer {BEARER}" for r in server.requests)


@LINK_ORDERS
def test_the_next_page_is_on_its_way_while_the_caller_works_on_this_one(server: CannedServer, link_first: bool) -> None:
    page2 = server.base_url + "/v1.0/page2"
    url = server.queue("/v1.0/users", (200, page([{"id": "1"}], page2, link_first=link_first), {}))
    server.queue("/v1.0/page2", (200, {"value": [{"id": "2"}]}, {}))
    with make_client() as client:
        pages = client.iter_pages(url, token=fixed_token)
        assert next(pages) == [{"id": "1"}]
        deadline = time.monotonic() + 5
        while len(server.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [r["path"] for r in server.requests] == ["/v1.0/users", "/v1.0/page2"]
        assert list(pages) == [[{"id": "2"}]]


def test_a_page_that_names_two_different_next_links_is_not_trusted(server: CannedServer) -> None:
    page2, page3 = server.base_url + "/v1.0/page2", server.base_url + "/v1.0/page3"
    body = f'{{"@odata.nextLink": "{page2}", "value": [{{"id": "1"}}], "@odata.nextLink": "{page3}"}}'
    url = server.queue("/v1.0/users", (200, body, {}))
    server.queue("/v1.0/page2", (200, {"value": [{"id": "2"}]}, {}))
    with make_client() as client, pytest.raises(ProviderError, match="two different next-page links"):
        list(client.iter_pages(url, token=fixed_token))


def test_a_page_whose_body_breaks_after_its_next_link_fails(server: CannedServer) -> None:
    page2 = server.base_url + "/v1.0/page2"
    url = server.queue("/v1.0/users", (200, f'{{"@odata.nextLink": "{page2}", "value": [{{"id": "1"}}, {{"id', {}))
    server.queue("/v1.0/page2", (200, {"value": [{"id": "2"}]}, {}))
    with make_client() as client, pytest.raises(ProviderError, match="not JSON"):
        list(client.iter_pages(url, token=fixed_token))


def test_retry_after_is_honoured_with_a_real_wait(server: CannedServer) -> None:
    url = server.queue(
        "/v1.0/users", (429, {"error": {"code": "TooManyRequests"}}, {"Retry-After": "1"}), (200, {"value": []}, {})
    )
    with make_client() as client:
        started = time.monotonic()
        assert client.get_json(url, token=fixed_token) == {"value": []}
        elapsed = time.monotonic() - started
        stats = client.stats
    assert elapsed >= 1.0
    assert (stats.retries, stats.retry_after_seconds, stats.requests) == (1, 1.0, 2)


def test_503_without_retry_after_backs_off_then_succeeds(server: CannedServer) -> None:
    url = server.queue("/v1.0/domains", (503, "busy", {}), (504, "gateway", {}), (200, {"value": [1]}, {}))
    waits: list[float] = []
    with make_client(sleep=waits.append) as client:
        assert client.get_json(url, token=fixed_token) == {"value": [1]}
        stats = client.stats
    assert stats.retries == 2 and stats.retry_after_seconds == 0
    assert len(waits) == 2 and all(0 < w <= 0.04 for w in waits)
    assert stats.backoff_seconds == pytest.approx(sum(waits))


def test_throttling_beyond_the_retry_budget_raises_provider_throttled(server: CannedServer) -> None:
    url = server.queue("/v1.0/users", (429, "slow down", {"Retry-After": "0"}))
    with make_client(max_retries=2) as client:
        with pytest.raises(ProviderThrottled) as caught:
            client.get_json(url, token=fixed_token)
        assert client.stats.retries == 2
    assert len(server.requests) == 3
    assert caught.value.retryable and caught.value.advice


def test_retry_after_longer_than_the_maximum_fails_fast(server: CannedServer) -> None:
    url = server.queue("/v1.0/users", (429, "later", {"Retry-After": "3600"}))
    with make_client(max_retry_after_seconds=2.0) as client:
        started = time.monotonic()
        with pytest.raises(ProviderThrottled, match="3600"):
            client.get_json(url, token=fixed_token)
    assert time.monotonic() - started < 1.0
    assert len(server.requests) == 1


def test_401_refreshes_the_token_exactly_once(server: CannedServer) -> None:
    url = server.queue(
        "/v1.0/users", (401, {"error": {"code": "InvalidAuthenticationToken"}}, {}), (200, {"value": []}, {})
    )
    calls: list[bool] = []

    def token(force: bool) -> str:
        calls.append(force)
        return "fresh" if force else "stale"

    with make_client() as client:
        assert client.get_json(url, token=token) == {"value": []}
        assert client.stats.token_refreshes == 1
    assert calls == [False, True]
    assert [r["auth"] for r in server.requests] == ["Bearer stale", "Bearer fresh"]


def test_a_second_401_is_an_auth_error_without_further_refreshes(server: CannedServer) -> None:
    expired = {"error": {"code": "InvalidAuthenticationToken", "message": "expired"}}
    url = server.queue("/v1.0/users", (401, expired, {}))
    calls: list[bool] = []

    def token(force: bool) -> str:
        calls.append(force)
        return BEARER

    with make_client() as client, pytest.raises(ProviderAuthError) as caught:
        client.get_json(url, token=token)
    assert calls == [False, True] and len(server.requests) == 2
    assert not caught.value.retryable
    assert "reconnect" in (caught.value.advice or "").lower()


def test_error_messages_never_contain_the_bearer_token(server: CannedServer) -> None:
    echo = {"error": {"code": "Authorization_RequestDenied", "message": f"token {BEARER} lacks Directory Readers"}}
    url = server.queue("/v1.0/users", (403, echo, {}))
    with make_client() as client, pytest.raises(ProviderAuthError) as caught:
        client.get_json(url, token=lambda force: "opaque-bearer-value")
    assert BEARER not in str(caught.value) and BEARER not in repr(caught.value)
    assert "Authorization_RequestDenied" in caught.value.message
    assert "Directory Readers" in (caught.value.advice or "")


@LINK_ORDERS
def test_a_failure_after_the_first_page_is_an_incomplete_listing(server: CannedServer, link_first: bool) -> None:
    page2 = server.base_url + "/v1.0/page2"
    url = server.queue("/v1.0/users", (200, page([{"id": "1"}], page2, link_first=link_first), {}))
    server.queue("/v1.0/page2", (500, {"error": {"code": "InternalServerError", "message": "boom"}}, {}))
    read: list[Any] = []
    with make_client() as client, pytest.raises(IncompleteListing, match="after 1 page"):
        for value in client.iter_pages(url, token=fixed_token):
            read.extend(value)
    assert read == [{"id": "1"}]


def test_a_failure_on_the_first_page_keeps_its_own_error(server: CannedServer) -> None:
    url = server.queue("/v1.0/users", (404, {"error": {"code": "Request_ResourceNotFound", "message": "gone"}}, {}))
    with make_client() as client, pytest.raises(ProviderError) as caught:
        list(client.iter_pages(url, token=fixed_token))
    assert type(caught.value) is ProviderError and not caught.value.retryable
    assert "HTTP 404" in caught.value.message


@LINK_ORDERS
def test_the_token_is_never_sent_to_a_next_link_on_another_host(server: CannedServer, link_first: bool) -> None:
    foreign = server.base_url.replace("127.0.0.1", "localhost") + "/steal"
    url = server.queue("/v1.0/users", (200, page([{"id": "1"}], foreign, link_first=link_first), {}))
    read: list[Any] = []
    with make_client() as client, pytest.raises(IncompleteListing, match="another host"):
        for value in client.iter_pages(url, token=fixed_token):
            read.extend(value)
    assert read == [{"id": "1"}]  # what was read is still handed over, then the listing is marked incomplete
    assert [r["path"] for r in server.requests] == ["/v1.0/users"]


@LINK_ORDERS
def test_a_next_link_that_repeats_stops_instead_of_looping(server: CannedServer, link_first: bool) -> None:
    loop = server.base_url + "/v1.0/loop"
    url = server.queue("/v1.0/users", (200, page([], loop, link_first=link_first), {}))
    server.queue("/v1.0/loop", (200, page([{"id": "x"}], loop, link_first=link_first), {}))
    with make_client() as client, pytest.raises(IncompleteListing, match="repeat"):
        list(client.iter_pages(url, token=fixed_token))
    assert len(server.requests) == 2


def test_token_errors_carry_aadsts_advice_and_no_secret(server: CannedServer) -> None:
    body = {
        "error": "invalid_grant",
        "error_codes": [65001],
        "suberror": "consent_required",
        "error_description": "AADSTS65001: The user or administrator has not consented to use the application "
        "(refresh_token=the-refresh-secret). Trace ID: 1 Correlation ID: 2",
    }
    url = server.queue("/tenant/oauth2/v2.0/token", (400, body, {}))
    form = {"grant_type": "refresh_token", "refresh_token": "the-refresh-secret", "client_secret": "s3cr3t-value"}
    with make_client() as client, pytest.raises(ProviderAuthError) as caught:
        client.post_token(url, form)
    error = caught.value
    assert error.aadsts == 65001 and not error.retryable
    assert "consent" in (error.advice or "")
    assert "the-refresh-secret" not in str(error) and "s3cr3t-value" not in str(error)
    assert "Trace ID" not in str(error)
    assert server.requests[0]["form"]["grant_type"] == "refresh_token"


def test_token_endpoint_throttling_is_retried(server: CannedServer) -> None:
    url = server.queue(
        "/t/oauth2/v2.0/token",
        (503, "down", {"Retry-After": "0"}),
        (200, {"access_token": "a", "expires_in": 3599}, {}),
    )
    with make_client() as client:
        assert client.post_token(url, {"grant_type": "client_credentials"})["access_token"] == "a"
        assert client.stats.retries == 1


def test_plain_text_cipp_errors_become_auth_errors_with_advice(server: CannedServer) -> None:
    url = server.queue("/api/ListUsers", (500, "Could not get token: invalid_grant:AADSTS65001: not consented", {}))
    with make_client() as client, pytest.raises(ProviderAuthError) as caught:
        client.get_json(url, token=fixed_token)
    assert caught.value.aadsts == 65001 and "consent" in (caught.value.advice or "")


def test_a_timeout_is_retried_then_reported(server: CannedServer) -> None:
    server.delay_seconds = 0.5
    url = server.queue("/v1.0/users", (200, {"value": []}, {}))
    with make_client(timeout_seconds=0.1, max_retries=1) as client, pytest.raises(ProviderError, match="Timeout"):
        client.get_json(url, token=fixed_token)
    assert client.stats.retries == 1


def test_an_html_page_instead_of_json_is_reported_with_advice(server: CannedServer) -> None:
    url = server.queue("/v1.0/users", (200, "<html>sign in</html>", {}))
    with make_client() as client, pytest.raises(ProviderError, match="not JSON") as caught:
        client.get_json(url, token=fixed_token)
    assert "URL" in (caught.value.advice or "")


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after("7") == 7.0
    assert 25 <= (parse_retry_after(later) or 0) <= 31
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None and parse_retry_after("nan") is None


def test_scrub_removes_tokens_and_secrets_and_bounds_length() -> None:
    text = f"Bearer abc.def {BEARER} client_secret=xyz refresh_token: 'r1' " + "x" * 1000
    cleaned = scrub(text, ("hunter2",))
    assert "abc.def" not in cleaned and BEARER not in cleaned and "xyz" not in cleaned and "'r1'" not in cleaned
    assert len(cleaned) <= 303
    assert scrub("password hunter2 here", ("hunter2",)) == "password [redacted] here"


def test_config_keys_set_the_retry_budget(server: CannedServer) -> None:
    url = server.queue("/v1.0/users", (503, "busy", {"Retry-After": "0"}))
    config = DEFAULTS | {"ENTRA_HTTP_MAX_RETRIES": 1, "ENTRA_HTTP_TIMEOUT_SECONDS": 2}
    with http_client_from_config(config) as client, pytest.raises(ProviderThrottled):
        client.get_json(url, token=fixed_token)
    assert len(server.requests) == 2
