"""Fault knobs: throttling and outages with Retry-After, latency under parallel load, failing pages, malformed
records, all deterministic; the request log never holds a credential."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from flask_entra.simulator import SimulatorClient
from tests import graphschema


def _customer_token(sim: SimulatorClient, index: int = 0) -> tuple[str, str]:
    refresh = sim.sign_in()["refresh_token"]
    tenant = sim.dataset()["customers"][index]["tenantId"]
    return sim.customer_token(refresh, tenant).json()["access_token"], tenant


def _users(sim: SimulatorClient, token: str, url: str = "/v1.0/users?$top=50") -> Any:
    target = url if url.startswith("http") else f"{sim.graph_base_url}{url}"
    return sim.http.get(target, headers={"Authorization": f"Bearer {token}"})


def test_throttling_answers_429_with_retry_after_then_recovers(fresh_simulator: SimulatorClient) -> None:
    sim = fresh_simulator
    token, _ = _customer_token(sim)
    sim.set_faults(throttle=[{"path": r"/graph/v1\.0/users", "retry_after": 7, "times": 2}])
    for _ in range(2):
        throttled = _users(sim, token)
        assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "7"
        assert throttled.json()["error"]["code"] == "TooManyRequests"
    assert _users(sim, token).status_code == 200
    domains = sim.http.get(f"{sim.graph_base_url}/v1.0/domains", headers={"Authorization": f"Bearer {token}"})
    assert domains.status_code == 200  # the rule's path regex does not match


def test_outages_answer_503_at_a_seeded_rate(fresh_simulator: SimulatorClient) -> None:
    sim = fresh_simulator
    token, _ = _customer_token(sim)

    def statuses() -> list[int]:
        sim.set_faults(seed=3, unavailable=[{"path": "/graph/", "rate": 0.5, "retry_after": 2}])
        return [_users(sim, token).status_code for _ in range(20)]

    first = statuses()
    assert first == statuses()  # same seed, same sequence
    assert 3 <= first.count(503) <= 17 and first.count(200) + first.count(503) == 20
    unavailable = next(r for r in (_users(sim, token) for _ in range(20)) if r.status_code == 503)
    assert unavailable.headers["Retry-After"] == "2"
    sim.set_faults(unavailable=[{"path": "/cipp/"}])
    outage = sim.http.get(f"{sim.cipp_base_url}/api/ListTenants", headers={"Authorization": "Bearer x"})
    assert outage.status_code == 503 and "Retry-After" not in outage.headers


def test_latency_is_applied_while_fifty_tenants_are_fetched_in_parallel(fresh_simulator: SimulatorClient) -> None:
    sim = fresh_simulator
    token, _ = _customer_token(sim)
    sim.set_faults(latency_ms=200)
    url = f"{sim.graph_base_url}/v1.0/users?$top=5"
    with httpx.Client(timeout=30, limits=httpx.Limits(max_connections=50)) as client:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=50) as pool:
            answers = list(
                pool.map(lambda _: client.get(url, headers={"Authorization": f"Bearer {token}"}).status_code, range(50))
            )
        elapsed = time.monotonic() - started
    assert answers == [200] * 50
    assert 0.2 <= elapsed < 5  # serially it would take at least 10 s


def test_fail_after_pages_breaks_a_tenants_listing_persistently(fresh_simulator: SimulatorClient) -> None:
    sim = fresh_simulator
    token, tenant = _customer_token(sim)
    sim.set_faults(fail_after_pages={tenant: 1}, fail_status=503)
    first = _users(sim, token)
    assert first.status_code == 200
    for _ in range(3):
        assert _users(sim, token, first.json()["@odata.nextLink"]).status_code == 503
    sim.set_faults(fail_status=500)
    assert _users(sim, token, first.json()["@odata.nextLink"]).status_code == 500
    cipp = sim.http.get(
        f"{sim.cipp_base_url}/api/ListUsers?tenantFilter={tenant}",
        headers={"Authorization": f"Bearer {sim.cipp_token()}"},
    )
    assert cipp.status_code == 200  # CIPP reads 999 per page: this tenant's users fit in its first page
    sim.set_faults(fail_after_pages={tenant: 0})
    assert _users(sim, token).status_code == 500
    assert (
        sim.http.get(
            f"{sim.cipp_base_url}/api/ListUsers?tenantFilter={tenant}",
            headers={"Authorization": f"Bearer {sim.cipp_token()}"},
        ).status_code
        == 500
    )


def test_malformed_records_are_seeded_and_break_the_schema(fresh_simulator: SimulatorClient) -> None:
    sim = fresh_simulator
    token, _ = _customer_token(sim)
    select = "/v1.0/users?$top=999&$select=id,displayName,userPrincipalName,mail,accountEnabled,businessPhones"
    clean = _users(sim, token, select).json()["value"]
    sim.set_faults(malformed_rate=0.3, seed=11)
    broken = _users(sim, token, select).json()["value"]
    assert broken == _users(sim, token, select).json()["value"]  # deterministic
    damaged = [b for b, c in zip(broken, clean, strict=True) if b != c]
    assert 0.15 * len(clean) < len(damaged) < 0.45 * len(clean)
    assert any("id" not in record for record in damaged)
    assert len({r["id"] for r in broken if "id" in r}) < len([r for r in broken if "id" in r])  # duplicate ids
    assert any(len(str(r.get("displayName"))) >= 100_000 for r in damaged)
    assert any(r.get("mail") == "not an email@@" for r in damaged)
    assert sum(bool(graphschema.check_json("user", r)) for r in damaged) > 0


def test_request_log_holds_no_credentials(fresh_simulator: SimulatorClient) -> None:
    sim = fresh_simulator
    signed_in = sim.sign_in()
    sim.http.get(
        f"{sim.login_base_url}/organizations/oauth2/v2.0/authorize",
        params={"client_id": sim.credentials.client_id, "code": "abc-code", "client_secret": "s3cret"},
    )
    sim.http.get(
        f"{sim.graph_base_url}/v1.0/users?$top=3", headers={"Authorization": f"Bearer {signed_in['access_token']}"}
    )
    log = sim.request_log()
    text = repr(log)
    for secret in (
        signed_in["access_token"],
        signed_in["refresh_token"],
        sim.credentials.client_secret,
        "s3cret",
        "abc-code",
    ):
        assert secret not in text
    assert {"method", "path", "query", "status"} <= log[-1].keys()
    assert log[-1]["path"] == "/graph/v1.0/users" and log[-1]["query"] == {"$top": "3"} and log[-1]["status"] == 200
    assert any(e["path"].endswith("/oauth2/v2.0/token") and e["method"] == "POST" for e in log)
    sim.reset()
    assert sim.request_log() == []
