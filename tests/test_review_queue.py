"""The review queue over HTTP, fed by a real sync (Temporal dev server, PostgreSQL, the simulator): link to an existing
contact, create a new one, dismiss; who and when are recorded; foreign contacts and items are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from flask_entra.models import ReconciliationItem
from flask_entra.state import get_state
from tests.plugins.host import sign_in
from tests.plugins.ongoing_world import ALPHA, OngoingWorld, row_checksums

WHO_AND_WHEN = ("status", "resolution", "resolved_contact_id", "resolved_by")


def resolve(ongoing: OngoingWorld, object_id: str, **body: object) -> tuple[int, dict[str, object]]:
    item_id = ongoing.open_items()[object_id].id
    response = ongoing.api("POST", f"/reconciliation/{item_id}/resolve", body)
    return response.status_code, response.get_json()


def everything(ongoing: OngoingWorld) -> tuple[dict[str, str], ...]:
    return (
        row_checksums(ongoing, "contacts"),
        row_checksums(ongoing, "entra_contact_links"),
        row_checksums(ongoing, "entra_reconciliation_items"),
    )


def test_the_queue_lists_what_the_sync_could_not_decide_with_candidates_and_reasons(ongoing: OngoingWorld) -> None:
    listed = ongoing.api("GET", "/reconciliation")
    assert listed.status_code == 200
    items = {item["entra_object_id"]: item for item in listed.get_json()["items"]}
    assert {oid: item["reason"] for oid, item in items.items()} == {
        "a-erin": "multiple_candidates",
        "a-gina": "multiple_candidates",
        "a-frank": "email_owned_by_other_client",
    }
    assert sorted(c["full_name"] for c in items["a-erin"]["candidates"]) == ["Erin One", "Erin Two"]
    assert items["a-erin"]["user"]["display_name"] == "Erin Ellis"
    assert all(item["client_id"] == ongoing.client_id("Alpha") for item in items.values())


def test_contacts_of_another_client_or_tenant_and_other_tenants_items_are_refused(ongoing: OngoingWorld) -> None:
    before = everything(ongoing)
    other_client = ongoing.contact_id("Beta", "Frank at Beta")  # the very contact holding frank's address
    other_tenant = str(ongoing.sql("SELECT min(id) FROM contacts WHERE tenant = 'acme'")[0][0])
    for contact_id in (other_client, other_tenant, "999999", "not-a-number"):
        status, answer = resolve(ongoing, "a-frank", action="link_existing", contact_id=contact_id)
        assert status == 404, answer
    globex = sign_in(ongoing.world.app, "admin@globex.test")  # an admin of another MSP tenant, all flags on
    item_id = ongoing.open_items()["a-erin"].id
    for action in ({"action": "dismiss"}, {"action": "create_new"}):
        assert (
            globex.open("POST", f"/api/integrations/entra/reconciliation/{item_id}/resolve", action).status_code == 404
        )
    assert everything(ongoing) == before
    assert set(ongoing.open_items()) == {"a-erin", "a-gina", "a-frank"}


def test_link_existing_create_new_and_dismiss_each_resolve_and_record_who_and_when(ongoing: OngoingWorld) -> None:
    world, started = ongoing.world, datetime.now(UTC)
    erin_one = ongoing.contact_id("Alpha", "Erin One")

    status, linked = resolve(ongoing, "a-erin", action="link_existing", contact_id=erin_one)
    assert status == 200, linked
    assert tuple(linked[k] for k in WHO_AND_WHEN) == ("resolved", "link_existing", erin_one, ongoing.admin_id)
    status, created = resolve(ongoing, "a-frank", action="create_new")
    assert status == 200, created
    assert tuple(created[k] for k in WHO_AND_WHEN)[:2] == ("resolved", "create_new")
    assert created["resolved_by"] == ongoing.admin_id
    status, dismissed = resolve(ongoing, "a-gina", action="dismiss")
    assert status == 200, dismissed
    assert tuple(dismissed[k] for k in WHO_AND_WHEN) == ("dismissed", "dismiss", None, ongoing.admin_id)
    for answer in (linked, created, dismissed):
        resolved_at = datetime.fromisoformat(str(answer["resolved_at"]))
        assert started - timedelta(seconds=5) <= resolved_at <= datetime.now(UTC) + timedelta(seconds=5)
    assert ongoing.api("GET", "/reconciliation").get_json()["items"] == []

    alpha = world.contacts("Alpha")
    assert alpha["frank@alpha.test"] == ("Frank Fox", False, "Driver")  # created as a sync creates: every field
    assert "frank@alpha.test" in world.contacts("Beta")  # the other client's contact is left alone
    links = world.links(ALPHA)
    assert (links["a-erin"].contact_id, links["a-erin"].link_reason, links["a-erin"].upn) == (
        erin_one,
        "resolved",
        "erin@alpha.test",
    )
    assert (links["a-frank"].contact_id, links["a-frank"].link_reason) == (created["resolved_contact_id"], "resolved")
    assert "a-gina" not in links

    again = ongoing.api("POST", f"/reconciliation/{linked['item_id']}/resolve", {"action": "dismiss"})
    assert (again.status_code, again.get_json()["error"]) == (409, "conflict")  # resolved once, for good


def test_the_next_sync_keeps_the_resolutions_and_does_not_queue_a_dismissed_identity(ongoing: OngoingWorld) -> None:
    world = ongoing.world
    contacts, links = world.count_contacts(), world.links(ALPHA)
    run = world.sync("all")
    alpha = world.run_tenants(run.id)[ALPHA].counters
    assert (alpha["created"], alpha["linked"], alpha["ambiguous"]) == (0, 0, 0)
    assert alpha["skipped_by_reason"] == {"dismissed": 1}
    assert world.count_contacts() == contacts  # no duplicate of the linked or created contacts
    assert {oid: link.contact_id for oid, link in world.links(ALPHA).items()} == {
        oid: link.contact_id for oid, link in links.items()
    }
    with world.app.app_context():
        gina = (
            get_state()
            .session.execute(
                select(ReconciliationItem.status).filter_by(tenant=ongoing.tenant, entra_object_id="a-gina")
            )
            .scalars()
            .all()
        )
    assert gina == ["dismissed"]
