"""Ongoing sync over HTTP on the real Temporal dev server, PostgreSQL and the simulator: the client page's single-client
sync, field toggles and the field-sync flag, user filters, and disconnect / reconnect."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select

from flask_entra import flags
from flask_entra.host import CONTACT_FIELDS
from flask_entra.models import Connection, ManagedTenantRow, SyncRun, SyncRunTenant, TenantMapping
from flask_entra.secrets import names
from flask_entra.simulator import DEFAULT_CIPP_CLIENT_ID, DEFAULT_CIPP_CLIENT_SECRET
from flask_entra.state import get_state
from tests.plugins.ongoing_world import ALPHA, BETA, FILTER, OngoingWorld, row_checksums, schedule_interval
from tests.plugins.sync_world import user

DEFAULT_FILTERS = {"skip_guests": True, "skip_unlicensed": False, "skip_service_accounts": True, "custom_patterns": []}


def outside_client(ongoing: OngoingWorld, name: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Checksums of every contact, link and review item (of every MSP tenant) that does not belong to client ``name``."""
    client, tenant = ongoing.client_id(name), ongoing.tenant
    return (
        row_checksums(ongoing, "contacts", "NOT (tenant = :t AND client_id = :c)", t=tenant, c=int(client)),
        row_checksums(ongoing, "entra_contact_links", "NOT (tenant = :t AND client_id = :c)", t=tenant, c=client),
        row_checksums(
            ongoing, "entra_reconciliation_items", "NOT (tenant = :t AND client_id = :c)", t=tenant, c=client
        ),
    )


def test_single_client_sync_changes_only_that_clients_contacts(ongoing: OngoingWorld) -> None:
    world = ongoing.world
    world.sim.add_user(ALPHA, **user("a-nora", "nora@alpha.test", "Nora North"))
    world.sim.add_user(BETA, **user("b-otto", "otto@beta.test", "Otto Olsen"))
    world.sim.disable_user(BETA, "b-judy")
    before = outside_client(ongoing, "Alpha")
    try:
        run = ongoing.sync_client("Alpha")
        assert set(world.run_tenants(run.id)) == {ALPHA}
        assert world.run_tenants(run.id)[ALPHA].counters["created"] == 1
        assert world.contacts("Alpha")["nora@alpha.test"] == ("Nora North", False, None)
        assert outside_client(ongoing, "Alpha") == before  # Beta's new and disabled users wait for their own sync
        assert "otto@beta.test" not in world.contacts("Beta") and world.contacts("Beta")["judy@beta.test"][1] is False
        listed = ongoing.api("GET", f"/sync/runs/{run.id}").get_json()
        assert (listed["kind"], listed["client_id"], listed["requested_by"]) == (
            "client",
            ongoing.client_id("Alpha"),
            ongoing.admin_id,
        )
    finally:
        world.sim.hard_delete_user(BETA, "b-otto")
        world.sim.enable_user(BETA, "b-judy")


def test_single_client_sync_of_a_client_with_no_mapped_tenant_is_a_conflict(ongoing: OngoingWorld) -> None:
    runs = ongoing.world.count(SyncRun)
    refused = ongoing.admin.open("POST", f"/api/clients/{ongoing.client_id('Unmapped')}/entra/sync")
    assert refused.status_code == 409 and refused.get_json()["error"] == "conflict"
    assert "no mapped Microsoft tenant" in refused.get_json()["message"]
    acme_client = ongoing.sql("SELECT min(id) FROM clients WHERE tenant = 'acme'")[0][0]
    assert ongoing.admin.open("POST", f"/api/clients/{acme_client}/entra/sync").status_code == 404
    assert ongoing.world.count(SyncRun) == runs


def test_a_field_changes_upstream_only_when_its_toggle_is_on(ongoing: OngoingWorld) -> None:
    world = ongoing.world
    shown = ongoing.api("GET", "/settings").get_json()["field_toggles"]
    assert shown == dict.fromkeys(CONTACT_FIELDS, False)  # all off by default
    world.sim.update_user(ALPHA, "a-alice", jobTitle="Chief Technology Officer", displayName="Alice Archer-Lee")

    ongoing.save_settings(field_toggles={"job_title": False})
    off = ongoing.sync_client("Alpha")
    assert world.contacts("Alpha")["alice@alpha.test"] == ("Alice A.", False, None)
    assert world.run_tenants(off.id)[ALPHA].counters["updated"] == 0

    saved = ongoing.save_settings(field_toggles={"job_title": True})
    assert saved["field_toggles"] == {**dict.fromkeys(CONTACT_FIELDS, False), "job_title": True}
    on = ongoing.sync_client("Alpha")
    assert world.contacts("Alpha")["alice@alpha.test"] == ("Alice A.", False, "Chief Technology Officer")  # name: off
    assert world.run_tenants(on.id)[ALPHA].counters["updated"] == 1


def test_with_field_sync_off_toggles_are_hidden_and_refused_while_other_settings_save(ongoing: OngoingWorld) -> None:
    service = ongoing.world.app.extensions["entra"].flags
    before = ongoing.api("GET", "/settings").get_json()
    with ongoing.world.app.app_context():
        service.set_enabled(flags.FIELD_SYNC, False)
    try:
        shown = ongoing.api("GET", "/settings").get_json()
        assert "field_toggles" not in shown and "field_toggles" not in ongoing.api("GET", "").get_json()["settings"]
        refused = ongoing.api("PUT", "/settings", {"interval_minutes": 120, "field_toggles": {"job_title": False}})
        assert refused.status_code == 404
        assert ongoing.api("GET", "/settings").get_json()["interval_minutes"] == before["interval_minutes"]
        assert ongoing.save_settings(interval_minutes=120)["interval_minutes"] == 120
    finally:
        with ongoing.world.app.app_context():
            service.set_enabled(flags.FIELD_SYNC, True)
    assert ongoing.api("GET", "/settings").get_json()["field_toggles"] == before["field_toggles"]  # kept while hidden


def test_filters_skip_exactly_the_users_they_name_and_count_why(ongoing: OngoingWorld) -> None:
    world = ongoing.world
    world.map_tenant(FILTER, "Filter Co")
    try:
        ongoing.save_settings(
            filters={
                "skip_guests": True,
                "skip_unlicensed": True,
                "skip_service_accounts": True,
                "custom_patterns": ["^ext-"],
            }
        )
        for bad in (["(unclosed"], [7], "^ext-"):
            refused = ongoing.api("PUT", "/settings", {"filters": {"custom_patterns": bad}})
            assert refused.status_code == 400, bad
        assert ongoing.api("PUT", "/settings", {"filters": {"skip_robots": True}}).status_code == 400
        assert ongoing.api("PUT", "/settings", {"mass_inactivation": {"percent": 150}}).status_code == 400
        assert ongoing.api("GET", "/settings").get_json()["filters"]["custom_patterns"] == ["^ext-"]

        filtered = world.run_tenants(ongoing.sync_client("Filter Co").id)[FILTER].counters
        assert filtered["skipped_by_reason"] == {"guest": 1, "unlicensed": 1, "service_account": 1, "pattern": 1}
        assert filtered["created"] == 1 and set(world.contacts("Filter Co")) == {"mia@filter.test"}

        ongoing.save_settings(
            filters={
                "skip_guests": False,
                "skip_unlicensed": False,
                "skip_service_accounts": False,
                "custom_patterns": [],
            }
        )
        unfiltered = world.run_tenants(ongoing.sync_client("Filter Co").id)[FILTER].counters
        assert unfiltered["skipped_by_reason"] == {} and unfiltered["created"] == 4
        assert set(world.contacts("Filter Co")) == {
            "mia@filter.test",
            "gus@else.test",
            "una@filter.test",
            "info@filter.test",
            "ext-vera@filter.test",
        }
    finally:
        ongoing.save_settings(filters=DEFAULT_FILTERS)
        world.map_tenant(FILTER, None)


def kept_records(ongoing: OngoingWorld) -> dict[str, object]:
    world = ongoing.world
    return {
        "counts": {m.__name__: world.count(m) for m in (ManagedTenantRow, TenantMapping, SyncRun, SyncRunTenant)},
        "mappings": row_checksums(ongoing, "entra_tenant_mappings", "tenant = :t", t=ongoing.tenant),
        "links": {t: {o: link.contact_id for o, link in world.links(t).items()} for t in (ALPHA, BETA)},
        "contacts": row_checksums(ongoing, "contacts"),
    }


def tenant_secrets(ongoing: OngoingWorld) -> dict[str, str | None]:
    with ongoing.world.app.app_context():
        store = get_state().secrets
        return {name: store.get(ongoing.tenant, name) for name in names.TENANT_SECRET_NAMES}


def reconnect_direct(ongoing: OngoingWorld) -> None:
    """The partner admin signs in again: our authorize URL, the simulator's consent, our callback."""
    started = ongoing.api("POST", "/connect/direct")
    assert started.status_code == 200, started.get_json()
    consent = httpx.post(started.get_json()["authorize_url"], data={"consent": "accept"}, follow_redirects=False)
    assert consent.status_code == 302, consent.text
    callback = urlsplit(consent.headers["location"])
    landed = ongoing.admin.client.get(f"{callback.path}?{callback.query}")
    assert landed.status_code == 302 and landed.headers["location"].endswith("/settings/integrations/entra/discover")


def assert_resumes(ongoing: OngoingWorld, kept: dict[str, object]) -> None:
    """A sync after reconnecting finds every identity where it left it: nothing created, linked or changed."""
    run = ongoing.world.sync("all")
    assert run.status == "completed" and (run.counters["created"], run.counters["linked"]) == (0, 0)
    now = kept_records(ongoing)
    assert now["links"] == kept["links"] and now["contacts"] == kept["contacts"]


def test_disconnect_keeps_the_data_drops_secrets_and_schedule_and_reconnecting_resumes(ongoing: OngoingWorld) -> None:
    world = ongoing.world
    ongoing.save_settings(enabled=True, interval_minutes=60)
    try:
        assert schedule_interval(ongoing) == timedelta(minutes=60)
        world.sync("all")
        kept, token = kept_records(ongoing), tenant_secrets(ongoing)[names.DIRECT_REFRESH_TOKEN]
        assert token and kept["links"][ALPHA] and kept["links"][BETA]  # type: ignore[index]

        assert ongoing.api("POST", "/disconnect").status_code == 200
        assert tenant_secrets(ongoing) == dict.fromkeys(names.TENANT_SECRET_NAMES)
        secret_files = [p for p in ongoing.secrets_dir.rglob("*") if p.is_file()]
        assert not any(ongoing.tenant in str(p) for p in secret_files)  # the files themselves are gone
        assert not any(token in p.read_text(encoding="utf-8") for p in secret_files)
        assert schedule_interval(ongoing) is None
        assert kept_records(ongoing) == kept  # tenants, mappings, links, runs and contacts all stay
        assert ongoing.api("GET", "/settings").get_json()["enabled"] is True  # the wish is kept for a reconnect
        refused = ongoing.api("POST", "/sync", {"scope": "all"})
        assert refused.status_code == 409 and world.count(SyncRun) == kept["counts"]["SyncRun"]  # type: ignore[index]

        reconnect_direct(ongoing)
        assert tenant_secrets(ongoing)[names.DIRECT_REFRESH_TOKEN]
        assert schedule_interval(ongoing) == timedelta(minutes=60)  # the schedule comes back with the connection
        assert_resumes(ongoing, kept)

        switched = ongoing.api(
            "POST",
            "/connect/cipp",
            {
                "base_url": world.sim.cipp_base_url,
                "client_id": DEFAULT_CIPP_CLIENT_ID,
                "client_secret": DEFAULT_CIPP_CLIENT_SECRET,
                "tenant_id": world.sim.partner_tenant_id,
            },
        )
        assert switched.status_code == 200, switched.get_json()
        secrets = tenant_secrets(ongoing)
        assert secrets[names.DIRECT_REFRESH_TOKEN] is None and secrets[names.CIPP_CLIENT_SECRET]
        assert_resumes(ongoing, kept)
        with world.app.app_context():
            statuses = (
                get_state()
                .session.execute(
                    select(Connection.connection_type, Connection.status)
                    .filter_by(tenant=ongoing.tenant)
                    .order_by(Connection.created_at)
                )
                .all()
            )
        assert [tuple(row) for row in statuses] == [
            ("direct", "disconnected"),
            ("direct", "disconnected"),
            ("cipp", "active"),
        ]
    finally:
        ongoing.save_settings(enabled=False)
    assert schedule_interval(ongoing) is None
