"""R1, R3, R4 of RELIABILITY.md: Microsoft and CIPP misbehaving (throttling, a listing breaking part-way, every user
vanishing) against the real PostgreSQL, Temporal dev server and simulator. The expected end state comes from the
directory's composition rules (tests/plugins/resilience_world.py), not from our code."""

from __future__ import annotations

from tests.plugins.host import sign_in
from tests.plugins.reliability import Scale
from tests.plugins.resilience_world import (
    assert_synced_exactly,
    counters_of,
    customers,
    enroll,
    summed,
)
from tests.plugins.sync_world import SyncWorld

RETRY_AFTER_SECONDS = 1
#: Rules are tried in order: 30% of all calls are throttled, and 5% of all calls (5/70 of the rest) are unavailable.
STORM = {
    "seed": 19,  # reaches both services and both statuses at each scale, never more than 4 faults in a row
    "throttle": [{"path": r"^/(graph|cipp)/", "rate": 0.30, "retry_after": RETRY_AFTER_SECONDS}],
    "unavailable": [{"path": r"^/(graph|cipp)/", "rate": 0.05 / 0.70}],
}


def test_r1_a_throttling_storm_delays_the_run_but_loses_nothing(resilience_base: SyncWorld, scale: Scale) -> None:
    # One tenant at a time, so the simulator's log is one sequence of calls: each fault is followed by its own retry.
    base = resilience_base
    direct = enroll(base, scale, concurrency=1)
    cipp = enroll(base, scale, cipp=True, concurrency=1)
    base.sim.set_faults(**STORM)
    base.sim.clear_request_log()

    runs = [world.sync("all") for world in (direct, cipp)]

    expected_counters = summed([one.first_sync_counters() for one in customers(scale)])
    for world, run in zip((direct, cipp), runs, strict=True):
        assert run.status == "completed", world.run_tenants(run.id)
        assert counters_of(run) == expected_counters
        assert_synced_exactly(world, customers(scale))

    log = sorted(base.sim.request_log(), key=lambda entry: entry["time"])
    calls = [entry for entry in log if entry["path"].startswith(("/graph/", "/cipp/"))]
    throttled = [i for i, entry in enumerate(log) if entry["status"] == 429]
    unavailable = [i for i, entry in enumerate(log) if entry["status"] == 503]
    assert throttled and unavailable, "the storm did not reach this run"
    assert any(log[i]["path"].startswith("/cipp/") for i in throttled)
    # Retry-After honoured, measured: the next call came at least Retry-After seconds after each 429 was answered.
    waits = [log[i + 1]["time"] - log[i]["time"] for i in throttled]
    assert min(waits) >= RETRY_AFTER_SECONDS
    assert sum(waits) >= RETRY_AFTER_SECONDS * len(throttled)
    print(
        f"R1[{scale.name}] calls={len(calls)} 429={len(throttled)} 503={len(unavailable)} "
        f"retry_after_served={RETRY_AFTER_SECONDS * len(throttled)}s waited_after_429={sum(waits):.1f}s "
        f"contacts={direct.count_contacts()}+{cipp.count_contacts()} lost=0"
    )


def test_r3_a_listing_that_breaks_part_way_inactivates_nothing(resilience_base: SyncWorld, scale: Scale) -> None:
    world = enroll(resilience_base, scale)
    assert world.sync("all").status == "completed"
    broken, *others = customers(scale)
    disabled, deleted = 5, -(-2 * scale.page_size // 5) * 5  # linked users on the first page and the third
    assert broken.kind(disabled) == broken.kind(deleted) == "known"
    world.sim.disable_user(broken.tenant_id, broken.object_id(disabled))
    world.sim.hard_delete_user(broken.tenant_id, broken.object_id(deleted))
    world.sim.set_faults(fail_after_pages={broken.tenant_id: 2}, fail_status=500)

    run = world.sync("all")

    assert run.status == "partial"
    rows = world.run_tenants(run.id)
    error = rows[broken.tenant_id].error or ""
    assert "listing was incomplete" in error and "HTTP 500" in error and "nothing was inactivated" in error
    assert rows[broken.tenant_id].counters["inactivated"] == 0
    assert all(rows[other.tenant_id].status == "completed" and rows[other.tenant_id].error is None for other in others)
    assert_synced_exactly(world, customers(scale))  # every contact active, every link in place

    world.sim.set_faults(fail_after_pages={})  # Microsoft recovers: the next run catches up, exactly
    again = world.sync("all")
    assert again.status == "completed" and again.counters["inactivated"] == 2
    expected = broken.expected_contacts()
    for i in (disabled, deleted):
        name, _, title = expected[broken.email(i)]
        expected[broken.email(i)] = (name, True, title)
    assert world.contacts(broken.client) == expected
    links = world.links(broken.tenant_id)
    assert (
        links[broken.object_id(disabled)].inactivation_reason,
        links[broken.object_id(deleted)].inactivation_reason,
    ) == ("disabled", "absent")


def test_r4_every_user_vanishing_is_held_until_an_admin_releases_it(resilience_base: SyncWorld, scale: Scale) -> None:
    world = enroll(resilience_base, scale, tenant="acme")  # the seeded MSP tenant, whose admin can sign in to the API
    assert world.sync("all").status == "completed"
    vanished, *others = customers(scale)
    world.sim.set_faults(empty_listing=[vanished.tenant_id])  # consent revoked: the listing answers [] with success

    run = world.sync("all")

    row = world.run_tenants(run.id)[vanished.tenant_id]
    assert row.status == "held"
    assert {item["object_id"] for item in row.held_inactivations} == set(vanished.expected_links())
    assert {item["reason"] for item in row.held_inactivations} == {"absent"}
    assert_synced_exactly(world, customers(scale))  # held: nothing inactivated anywhere

    admin = sign_in(world.app, "admin@acme.test")
    response = admin.open("POST", f"/api/integrations/entra/sync/runs/{run.id}/tenants/{vanished.tenant_id}/release")
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "entra_tenant_id": vanished.tenant_id,
        "released": len(vanished.expected_links()),
        "skipped": 0,
    }

    assert_synced_exactly(world, customers(scale), inactive=[vanished])  # exactly that client's contacts inactive
    assert all(
        link.inactivated_by_sync and link.inactivation_reason == "absent"
        for link in world.links(vanished.tenant_id).values()
    )
    assert all(not link.inactivated_by_sync for other in others for link in world.links(other.tenant_id).values())
    again = admin.open("POST", f"/api/integrations/entra/sync/runs/{run.id}/tenants/{vanished.tenant_id}/release")
    assert again.status_code == 409  # released once only
