"""B4: fetching users through the Direct provider from the simulator (its own process) at 50 ms latency per request.

One tenant of 100,000 users: the figure is the median time of ``DirectProvider.list_users``; the floor is the round
trips it made (token, user pages, soft-deleted page) times the latency, i.e. what waiting alone costs. Then 50 tenants
fetched as the worker does (``ENTRA_SYNC_MAX_CONCURRENT_TENANTS`` at once, one shared provider) against one after
another. The process settles its heap first, as the worker process does (``settle_heap``): the listing's speed
depends on how much the garbage collector has to walk. Run: ``.venv/bin/python -m benchmarks.bench_fetch``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks.harness import RUNS, interleaved_medians, scaled, simulator_process
from flask_entra.config import DEFAULTS
from flask_entra.providers.direct import DirectProvider
from flask_entra.providers.http import HttpClient
from flask_entra.simulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SimulatorClient
from flask_entra.temporal.worker import settle_heap
from tests.plugins.sync_world import customer, directory, user

LATENCY_MS = 50
BIG_TENANT_USERS = scaled(100_000, 2_000)
SMALL_TENANTS = 50
SMALL_TENANT_USERS = scaled(250, 50)  # the size of B3's tenants
CONCURRENCY = int(DEFAULTS["ENTRA_SYNC_MAX_CONCURRENT_TENANTS"])
FLOOR_RATIO = 1.2
CONCURRENT_SPEEDUP = 6.0


def tenant_id(number: int) -> str:
    return str(uuid.UUID(int=0xB4 << 120 | number))


def members(tenant: int, count: int) -> list[dict[str, Any]]:
    domain = f"t{tenant}.example"
    return [
        user(
            f"{tenant:04d}-{n:07d}",
            f"user{n}@{domain}",
            f"User {n}",
            jobTitle="Engineer",
            mobilePhone=f"+1 555 {n:07d}",
            businessPhones=[f"+1 444 {n:07d}"],
        )
        for n in range(count)
    ]


def document(big_users: int, small_tenants: int, small_users: int) -> dict[str, Any]:
    """Tenant 0 is the big one; tenants 1..small_tenants the others."""
    customers = [customer(tenant_id(0), "Big Tenant", "t0.example", members(0, big_users))]
    customers += [
        customer(tenant_id(n), f"Tenant {n}", f"t{n}.example", members(n, small_users))
        for n in range(1, small_tenants + 1)
    ]
    return directory(customers)


def direct_provider(sim: SimulatorClient, refresh_token: str) -> DirectProvider:
    return DirectProvider(
        client_id=DEFAULT_CLIENT_ID,
        client_secret=DEFAULT_CLIENT_SECRET,
        refresh_token=refresh_token,
        partner_tenant_id=sim.partner_tenant_id,
        login_base_url=sim.login_base_url,
        graph_base_url=sim.graph_base_url,
        http=HttpClient(),
        page_size=int(DEFAULTS["ENTRA_GRAPH_PAGE_SIZE"]),
    )


def fetch_one(make: Callable[[], DirectProvider], expected: int, requests: list[int]) -> Callable[[], None]:
    """A fresh provider (so its customer token is fetched too, as after a worker start) listing the big tenant."""

    def work() -> None:
        provider = make()
        listing = provider.list_users(tenant_id(0))
        if len(listing.users) != expected or not listing.complete:
            raise AssertionError(f"listed {len(listing.users)} of {expected} users")
        requests.append(provider._http.stats.requests)  # the provider's own round-trip counter
        provider._http.close()

    return work


def fetch_many(make: Callable[[], DirectProvider], tenants: Sequence[str], workers: int) -> Callable[[], None]:
    def work() -> None:
        provider = make()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            listings = list(pool.map(provider.list_users, tenants))
        if not all(listing.complete and listing.users for listing in listings):
            raise AssertionError("a tenant's listing came back incomplete or empty")
        provider._http.close()

    return work


def run() -> list[dict[str, Any]]:
    with simulator_process(
        document(BIG_TENANT_USERS, SMALL_TENANTS, SMALL_TENANT_USERS), {"latency_ms": LATENCY_MS}
    ) as sim:
        refresh_token = str(sim.sign_in()["refresh_token"])
        settle_heap()

        def make() -> DirectProvider:
            return direct_provider(sim, refresh_token)

        requests: list[int] = []
        fetch_one(make, BIG_TENANT_USERS, [])()  # warm-up
        (one,) = interleaved_medians([fetch_one(make, BIG_TENANT_USERS, requests)])
        floor = max(requests) * LATENCY_MS / 1000
        small = [tenant_id(n) for n in range(1, SMALL_TENANTS + 1)]
        concurrent, sequential = interleaved_medians([fetch_many(make, small, CONCURRENCY), fetch_many(make, small, 1)])
    return [
        {
            "id": "B4",
            "what": f"list_users of one tenant of {BIG_TENANT_USERS} users at {LATENCY_MS} ms per request, "
            f"median of {RUNS}",
            "median_s": round(one, 3),
            "round_trips": max(requests),
            "floor_s": round(floor, 3),
            "floor": f"round trips x {LATENCY_MS} ms",
            "ratio": round(one / floor, 3),
            "target": f"<= {FLOOR_RATIO}x floor",
            "met": one / floor <= FLOOR_RATIO,
        },
        {
            "id": "B4-50",
            "what": f"{SMALL_TENANTS} tenants of {SMALL_TENANT_USERS} users, {CONCURRENCY} at once vs one after "
            f"another, median of {RUNS}",
            "median_s": round(concurrent, 3),
            "floor_s": round(sequential, 3),
            "floor": "the same tenants one after another",
            "speedup": round(sequential / concurrent, 2),
            "target": f">= {CONCURRENT_SPEEDUP}x faster than one after another",
            "met": sequential / concurrent >= CONCURRENT_SPEEDUP,
        },
    ]


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
