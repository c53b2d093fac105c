"""Discovery and sync runs end to end: real Temporal dev server, PostgreSQL, the example host, the simulator.

The directory below is small enough to check by hand; every expected number in these tests is derived from it.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import ActivityEnvironment

from flask_entra.actions.discovery import get_discovery, start_discovery
from flask_entra.actions.sync import start_sync
from flask_entra.cli_temporal import schedules_cli, sync_command
from flask_entra.errors import Conflict
from flask_entra.models import ContactLink, ReconciliationItem, SyncRun, TenantMapping
from flask_entra.state import get_state
from flask_entra.temporal.activities import EntraActivities
from flask_entra.temporal.messages import RunRef, SyncRequest, Target, TenantJob
from tests.plugins.postgres import create_database, drop_database
from tests.plugins.sync_world import SyncWorld, customer, directory, sync_world, user
from tests.plugins.temporal import TemporalServer

ALPHA, BETA, GAMMA = (
    "11111111-1111-4111-8111-111111111111",
    "22222222-2222-4222-8222-222222222222",
    "33333333-3333-4333-8333-333333333333",
)

#: Alpha Corp's directory and what the first sync must do with each user (mapped to client "Alpha").
ALPHA_USERS = [
    user("a-alice", "alice@alpha.test", "Alice Archer"),  # contact alice@ exists: linked
    user("a-bob", "bob@alpha.test", "Bob Baker", jobTitle="Engineer"),  # no contact: created
    user("a-carol", "carol@alpha.test", "Carol Cruz", accountEnabled=False),  # disabled, unlinked: skipped
    user(
        "a-dave", "dave_other.test#EXT#@alpha.onmicrosoft.com", "Dave Guest", mail="dave@other.test", userType="Guest"
    ),  # guest: skipped
    user("a-info", "info@alpha.test", "Alpha Info"),  # shared mailbox pattern: skipped
    user("a-erin", "erin@alpha.test", "Erin Ellis"),  # two Alpha contacts share it: review
    user("a-frank", "frank@alpha.test", "Frank Fox"),  # address of a Beta contact: review
    user("a-grace", "grace@alpha.test", "Grace Green"),  # linked (later disabled upstream)
    user("a-heidi", "heidi@alpha.test", "Heidi Hall"),  # linked (later deleted upstream)
]
BETA_USERS = [
    user("b-ivan", "ivan@beta.test", "Ivan Ito"),  # created
    user("b-judy", "judy@beta.test", "Judy Jones"),  # linked
]
GAMMA_USERS = [user("g-ken", "ken@gamma.test", "Ken Kato")]

CLIENTS = {
    "Alpha": [
        ("Alice A.", "alice@alpha.test"),
        ("Erin One", "erin@alpha.test"),
        ("Erin Two", "ERIN@alpha.test"),
        ("Grace G.", "grace@alpha.test"),
        ("Heidi H.", "heidi@alpha.test"),
    ],
    "Beta": [("Judy J.", "judy@beta.test"), ("Frank at Beta", "frank@alpha.test")],
    "Gamma": [],
}


@pytest.fixture(scope="module")
def world(temporal_server: TemporalServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncWorld]:
    url = create_database("entra_wf")
    document = directory(
        [
            customer(ALPHA, "Alpha Corp", "alpha.test", ALPHA_USERS),
            customer(BETA, "Beta LLC", "beta.test", BETA_USERS),
            customer(GAMMA, "Gamma GmbH", "gamma.test", GAMMA_USERS),
        ]
    )
    try:
        with sync_world(
            url.replace("postgresql://", "postgresql+psycopg://", 1),
            temporal_server,
            tmp_path_factory.mktemp("secrets") / "store",
            document,
        ) as built:
            built.add_clients(CLIENTS)
            built.connect_direct()
            yield built
    finally:
        drop_database(url)


def discover(world: SyncWorld) -> dict[str, object]:
    with world.app.app_context():
        workflow_id = start_discovery(world.principal)["workflow_id"]

    async def result(client: Client) -> object:
        return await client.get_workflow_handle(workflow_id).result()

    world.temporal.call(result)
    with world.app.app_context():
        return get_discovery(world.principal)


def test_discovery_is_idempotent_and_updates_renamed_tenants_in_place(world: SyncWorld) -> None:
    first = discover(world)
    assert first["status"] == "completed"
    tenants = world.managed_tenants()
    assert {t: row.display_name for t, row in tenants.items()} == {
        ALPHA: "Alpha Corp",
        BETA: "Beta LLC",
        GAMMA: "Gamma GmbH",
    }
    assert tenants[ALPHA].default_domain == "alpha.test"
    assert all(row.missing_since is None for row in tenants.values())

    again = discover(world)
    assert again["result"]["added"] == 0 and again["result"]["updated"] == 0  # type: ignore[index]
    assert {t: row.id for t, row in world.managed_tenants().items()} == {t: row.id for t, row in tenants.items()}

    world.sim.rename_tenant(BETA, "Beta Holdings LLC")
    renamed = discover(world)
    assert renamed["result"]["updated"] == 1  # type: ignore[index]
    after = world.managed_tenants()
    assert after[BETA].display_name == "Beta Holdings LLC"
    assert after[BETA].id == tenants[BETA].id  # the same row, updated in place
    assert len(after) == 3

    world.map_tenant(GAMMA, "Gamma")
    world.sim.end_gdap(GAMMA)  # the customer left: discovery no longer returns it
    gone = discover(world)
    assert gone["result"]["missing"] == 1  # type: ignore[index]
    assert world.managed_tenants()[GAMMA].missing_since is not None  # marked, not deleted
    with world.app.app_context():  # and its mapping is kept
        kept = (
            get_state()
            .session.execute(
                select(TenantMapping.client_id).filter_by(tenant=world.tenant, entra_tenant_id=GAMMA, active=True)
            )
            .scalar_one()
        )
    assert kept == world.client_ids["Gamma"]
    world.sim.update_tenant(GAMMA, gdapStatus="active")
    back = discover(world)
    assert back["result"]["returned"] == 1 and world.managed_tenants()[GAMMA].missing_since is None  # type: ignore[index]


@pytest.fixture(scope="module")
def mapped(world: SyncWorld) -> SyncWorld:
    """Discovered; Alpha and Beta mapped, Gamma skipped."""
    discover(world)
    world.map_tenant(ALPHA, "Alpha")
    world.map_tenant(BETA, "Beta")
    world.map_tenant(GAMMA, None)
    return world


def activity_counters(row_counters: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in row_counters.items() if k != "skipped"}


ALPHA_FIRST = {
    "created": 1,
    "linked": 3,
    "updated": 0,
    "inactivated": 0,
    "reactivated": 0,
    "ambiguous": 2,
    "held": 0,
    "skipped_by_reason": {"disabled": 1, "guest": 1, "service_account": 1},
}
BETA_FIRST = {
    "created": 1,
    "linked": 1,
    "updated": 0,
    "inactivated": 0,
    "reactivated": 0,
    "ambiguous": 0,
    "held": 0,
    "skipped_by_reason": {},
}


def test_dry_run_predicts_the_initial_sync_which_links_creates_queues_and_skips(mapped: SyncWorld) -> None:
    world = mapped
    contacts_before = world.contacts("Alpha"), world.contacts("Beta")

    dry = world.sync("initial", dry_run=True)
    assert (dry.status, dry.kind, dry.dry_run, dry.tenants_total) == ("completed", "initial", True, 2)
    assert dry.workflow_id == f"entra-sync:{world.tenant}:initial:dry-run"
    assert (world.contacts("Alpha"), world.contacts("Beta")) == contacts_before  # a dry run writes nothing
    assert world.count(ContactLink) == 0 and world.count(ReconciliationItem) == 0

    real = world.sync("initial")
    assert (real.status, real.kind, real.dry_run) == ("completed", "initial", False)
    predicted, applied = world.run_tenants(dry.id), world.run_tenants(real.id)
    assert set(applied) == {ALPHA, BETA}  # Gamma is skipped in the mapping
    for entra_tenant_id in (ALPHA, BETA):
        assert predicted[entra_tenant_id].counters == applied[entra_tenant_id].counters
    assert activity_counters(applied[ALPHA].counters) == ALPHA_FIRST
    assert activity_counters(applied[BETA].counters) == BETA_FIRST
    assert real.counters["created"] == 2 and real.counters["linked"] == 4 and real.counters["ambiguous"] == 2

    alpha = world.contacts("Alpha")
    assert alpha["bob@alpha.test"] == ("Bob Baker", False, "Engineer")  # created with every field
    assert alpha["alice@alpha.test"] == ("Alice A.", False, None)  # linked; toggles off: untouched
    assert "carol@alpha.test" not in alpha and "info@alpha.test" not in alpha
    assert set(world.contacts("Beta")) == {"judy@beta.test", "frank@alpha.test", "ivan@beta.test"}

    links = world.links(ALPHA)
    assert {oid: link.link_reason for oid, link in links.items()} == {
        "a-alice": "email_match",
        "a-bob": "created",
        "a-grace": "email_match",
        "a-heidi": "email_match",
    }
    with world.app.app_context():
        items = (
            get_state()
            .session.execute(
                select(ReconciliationItem.entra_object_id, ReconciliationItem.reason).filter_by(
                    tenant=world.tenant, status="open"
                )
            )
            .all()
        )
    assert dict(items) == {"a-erin": "multiple_candidates", "a-frank": "email_owned_by_other_client"}


def test_upstream_disable_delete_and_reenable_inactivate_then_reactivate(mapped: SyncWorld) -> None:
    world = mapped
    world.sync("all")  # whatever came before, start from a synced state
    world.sim.disable_user(ALPHA, "a-grace")
    world.sim.soft_delete_user(ALPHA, "a-heidi")

    run = world.sync("all")
    assert run.status == "completed" and run.kind == "all"
    alpha = world.contacts("Alpha")
    assert alpha["grace@alpha.test"][1] is True and alpha["heidi@alpha.test"][1] is True  # inactive, not deleted
    links = world.links(ALPHA)
    assert (links["a-grace"].inactivation_reason, links["a-grace"].inactivated_by_sync) == ("disabled", True)
    assert (links["a-heidi"].inactivation_reason, links["a-heidi"].inactivated_by_sync) == ("deleted", True)
    assert world.run_tenants(run.id)[ALPHA].counters["inactivated"] == 2

    world.sim.enable_user(ALPHA, "a-grace")
    world.sim.restore_user(ALPHA, "a-heidi")
    again = world.sync("all")
    assert world.run_tenants(again.id)[ALPHA].counters["reactivated"] == 2
    alpha = world.contacts("Alpha")
    assert alpha["grace@alpha.test"][1] is False and alpha["heidi@alpha.test"][1] is False
    links = world.links(ALPHA)
    assert not links["a-grace"].inactivated_by_sync and links["a-grace"].inactivation_reason is None


def test_rerun_and_retried_activity_create_no_duplicate(mapped: SyncWorld) -> None:
    world = mapped
    world.sync("all")
    world.sim.add_user(ALPHA, **user("a-oscar", "oscar@alpha.test", "Oscar Ode"))
    contacts, links = world.count_contacts(), world.count(ContactLink)

    # a retry of the same activity after it committed: the second attempt returns the stored result
    run_id = "f" * 32
    ref = RunRef(run_id=run_id, workflow_id="test-retry", request=SyncRequest(tenant=world.tenant, kind="all"))
    activities = EntraActivities(world.app)
    environment = ActivityEnvironment()
    opened = environment.run(activities.open_run, ref)
    alpha = next(target for target in opened.targets if target.entra_tenant_id == ALPHA)
    first = environment.run(activities.sync_tenant, TenantJob(ref, alpha))
    second = environment.run(activities.sync_tenant, TenantJob(ref, Target(ALPHA, alpha.client_id)))
    assert first == second and first.counters["created"] == 1
    assert (world.count_contacts(), world.count(ContactLink)) == (contacts + 1, links + 1)

    rerun = world.sync("all")  # and a whole new run finds nothing left to do
    assert rerun.counters["created"] == 0 and rerun.counters["linked"] == 0 and rerun.counters["updated"] == 0
    assert (world.count_contacts(), world.count(ContactLink)) == (contacts + 1, links + 1)


def test_a_failing_tenant_makes_the_run_partial_while_the_others_complete(mapped: SyncWorld) -> None:
    world = mapped
    world.map_tenant(GAMMA, "Gamma")
    world.sim.set_faults(no_consent=[GAMMA])
    world.sim.expire_access_tokens()  # consent withdrawn: the next token request for Gamma is refused
    try:
        run = world.sync("all")
    finally:
        world.sim.set_faults(no_consent=[])
        world.map_tenant(GAMMA, None)
    assert run.status == "partial"
    rows = world.run_tenants(run.id)
    assert {t: row.status for t, row in rows.items()} == {ALPHA: "completed", BETA: "completed", GAMMA: "failed"}
    assert "consent" in (rows[GAMMA].error or "").lower()
    assert "refresh_token" not in (rows[GAMMA].error or "") and "Bearer" not in (rows[GAMMA].error or "")
    assert run.tenants_done == 3 and run.tenants_total == 3


def test_a_second_start_joins_the_running_run_and_a_later_one_starts_anew(mapped: SyncWorld) -> None:
    world = mapped
    world.worker.stop()  # with no worker polling, the first run stays running
    try:
        with world.app.app_context():
            first = start_sync(world.principal, {"scope": "all"})
            second = start_sync(world.principal, {"scope": "all"})
            queued = get_state().session.get(SyncRun, (world.tenant, first["run_id"]))
            assert queued is not None and queued.status == "queued"  # listed at once, before any worker saw it
    finally:
        world.worker.start()
    assert first == second
    assert first["workflow_id"] == f"entra-sync:{world.tenant}:all"
    assert world.wait_for_run(first["run_id"]).status == "completed"

    async def status(client: Client) -> WorkflowExecutionStatus | None:
        handle = client.get_workflow_handle(first["workflow_id"])
        await asyncio.wait_for(handle.result(), timeout=60)  # the run row is final a moment before the workflow closes
        return (await handle.describe()).status

    assert world.temporal.call(status) == WorkflowExecutionStatus.COMPLETED
    with world.app.app_context():
        third = start_sync(world.principal, {"scope": "all"})
    assert third["run_id"] != first["run_id"]
    assert world.wait_for_run(third["run_id"]).status == "completed"


def test_a_start_while_a_finished_run_is_closing_waits_for_it_and_starts_a_new_run(mapped: SyncWorld) -> None:
    world = mapped
    world.worker.stop()  # the run's workflow stays open ...
    with world.app.app_context():
        closing = start_sync(world.principal, {"scope": "all"})
        session = get_state().session
        session.execute(update(SyncRun).filter_by(tenant=world.tenant, id=closing["run_id"]).values(status="completed"))
        session.commit()  # ... while its row says it has ended: the moment between its last activity and its close
    worker_back = threading.Timer(1.0, world.worker.start)  # then the workflow goes on and closes
    worker_back.start()
    try:
        with world.app.app_context():
            fresh = start_sync(world.principal, {"scope": "all"})
    finally:
        worker_back.join()
    assert fresh["run_id"] != closing["run_id"]  # not the ended run handed back as if it were the new one
    assert world.wait_for_run(fresh["run_id"]).status == "completed"


def test_client_scope_with_no_mapped_tenant_is_a_conflict(mapped: SyncWorld) -> None:
    with mapped.app.app_context(), pytest.raises(Conflict):
        start_sync(mapped.principal, {"scope": "client", "client_id": mapped.client_ids["Gamma"]})


def test_operators_can_run_a_sync_and_reconcile_schedules_from_the_cli(mapped: SyncWorld) -> None:
    runner = mapped.app.test_cli_runner()
    result = runner.invoke(sync_command, ["--tenant", mapped.tenant, "--scope", "all"])
    assert result.exit_code == 0, result.output
    assert "completed: 2/2 Microsoft tenants" in result.output
    refused = runner.invoke(
        sync_command, ["--tenant", mapped.tenant, "--scope", "client", "--client-id", mapped.client_ids["Gamma"]]
    )
    assert refused.exit_code == 1 and "no mapped Microsoft tenant" in refused.output
    listed = runner.invoke(schedules_cli, ["sync"])
    assert listed.exit_code == 0 and f"{mapped.tenant}: absent" in listed.output  # sync is not enabled here


def test_a_settled_worker_heap_is_left_out_of_full_collections() -> None:
    """What the worker loaded is frozen and full collections are spaced out, in a process of its own (it is global)."""
    probe = (
        "import gc, json; from flask_entra.temporal.worker import settle_heap, FULL_COLLECTION_SPACING;"
        "before = gc.get_freeze_count(); settle_heap();"
        "print(json.dumps([before, gc.get_freeze_count(), gc.get_threshold()[2], FULL_COLLECTION_SPACING]))"
    )
    answer = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    before, frozen, spacing, configured = json.loads(answer.stdout)
    assert before == 0 and frozen > 10_000  # the modules flask-entra imports, at least
    assert spacing == configured > 10
