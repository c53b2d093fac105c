"""The applier on PostgreSQL through the example host's adapter: what one Microsoft tenant's sync writes, and what it
does not write (a no-change re-sync writes no contact, link or review row; a small change writes proportionally)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select, update

from flask_entra import sync
from flask_entra.errors import Conflict
from flask_entra.models import (
    ContactLink,
    ManagedTenantRow,
    SyncRun,
    SyncRunTenant,
    SyncSettings,
    TenantMapping,
    new_id,
)
from flask_entra.providers.base import EntraUser, UserListing
from flask_entra.state import get_state
from flask_entra.sync_runs import RunIdentity, finish_run, open_run
from tests.plugins.host import build_app, dispose, prepare_database

ENTRA = "44444444-4444-4444-8444-444444444444"
TENANT = "applyco"
WRITE = re.compile(r"^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)", re.IGNORECASE)
RUN_TABLES = {"entra_sync_runs", "entra_sync_run_tenants"}


def member(n: int, **changes: Any) -> EntraUser:
    base = EntraUser(
        object_id=f"u{n:03d}",
        user_principal_name=f"user{n:03d}@apply.test",
        display_name=f"User {n:03d}",
        mail=f"user{n:03d}@apply.test",
        job_title="Staff",
        mobile_phone=f"+1 555 {n:04d}",
    )
    return replace(base, **changes)


@pytest.fixture(scope="module")
def app(host_db: str) -> Iterator[Flask]:
    built = build_app(host_db, "enterprise")
    prepare_database(built)
    yield built
    dispose(built)


@pytest.fixture
def client_id(app: Flask) -> str:
    """A fresh client (with the contacts user001..user010 already in the PSA) mapped to the Microsoft tenant."""
    from example_host.models import Client, Contact, Tenant, db

    with app.app_context():
        if db.session.get(Tenant, TENANT) is None:
            db.session.add(Tenant(slug=TENANT, name="Apply MSP"))
        for model in (ContactLink, SyncRunTenant, SyncRun, TenantMapping, ManagedTenantRow, SyncSettings):
            db.session.query(model).filter_by(tenant=TENANT).delete()
        db.session.query(Contact).filter_by(tenant=TENANT).delete()
        db.session.query(Client).filter_by(tenant=TENANT).delete()
        client = Client(tenant=TENANT, name="Apply Client")
        db.session.add(client)
        db.session.flush()
        for n in range(1, 11):
            db.session.add(
                Contact(tenant=TENANT, client_id=client.id, full_name=f"Contact {n}", email=f"USER{n:03d}@apply.test")
            )
        db.session.add(ManagedTenantRow(tenant=TENANT, entra_tenant_id=ENTRA, display_name="Apply Corp"))
        db.session.add(
            TenantMapping(
                tenant=TENANT, entra_tenant_id=ENTRA, state="mapped", client_id=str(client.id), reason="manual"
            )
        )
        db.session.commit()
        return str(client.id)


def run_sync(
    app: Flask,
    client_id: str,
    users: Sequence[EntraUser],
    *,
    deleted: Sequence[EntraUser] = (),
    complete: bool = True,
    dry_run: bool = False,
) -> tuple[str, sync.TenantResult]:
    with app.app_context():
        state = get_state()
        run = RunIdentity(tenant=TENANT, run_id=new_id(), workflow_id="test", kind="all", dry_run=dry_run)
        open_run(state.session, run)
        listing = UserListing(
            users=list(users), deleted=list(deleted), complete=complete, error=None if complete else "page 2 failed"
        )
        result = sync.sync_tenant(
            state.session, state.adapter, sync.TenantJob(TENANT, run.run_id, ENTRA, client_id, dry_run), listing
        )
        finish_run(state.session, run)
        return run.run_id, result


def contacts(app: Flask, client_id: str) -> dict[str, tuple[Any, ...]]:
    from example_host.models import Contact, db

    with app.app_context():
        rows = db.session.execute(
            select(Contact.email, Contact.full_name, Contact.job_title, Contact.mobile, Contact.is_inactive).where(
                Contact.client_id == int(client_id)
            )
        ).all()
    return {row[0].lower(): tuple(row[1:]) for row in rows}


def links(app: Flask) -> dict[str, ContactLink]:
    with app.app_context():
        session = get_state().session
        found = {
            row.entra_object_id: row for row in session.execute(select(ContactLink).filter_by(tenant=TENANT)).scalars()
        }
        session.expunge_all()
        return found


@contextmanager
def data_writes(app: Flask) -> Iterator[list[tuple[str, int]]]:
    """(table, rows) of every INSERT/UPDATE/DELETE sent to PostgreSQL, except the run bookkeeping rows."""
    seen: list[tuple[str, int]] = []

    def hook(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        match = WRITE.match(statement)
        if match and match.group(2) not in RUN_TABLES:
            seen.append((match.group(2), len(parameters) if executemany else 1))

    with app.app_context():
        engine = get_state().db.engine
    event.listen(engine, "before_cursor_execute", hook)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", hook)


def set_toggles(app: Flask, **toggles: bool) -> None:
    with app.app_context():
        session = get_state().session
        session.merge(SyncSettings(tenant=TENANT, field_toggles=toggles, filters={}))
        session.commit()


def test_first_sync_links_existing_contacts_and_creates_the_rest_with_their_reasons(app: Flask, client_id: str) -> None:
    users = [member(n) for n in range(1, 16)]
    _, result = run_sync(app, client_id, users)
    assert (result.status, result.counters["linked"], result.counters["created"]) == ("completed", 10, 5)
    after = contacts(app, client_id)
    assert len(after) == 15
    assert after["user001@apply.test"] == ("Contact 1", None, None, False)  # linked, toggles off: untouched
    assert after["user015@apply.test"] == ("User 015", "Staff", "+1 555 0015", False)  # created with every field
    reasons = {oid: link.link_reason for oid, link in links(app).items()}
    assert reasons == {
        **{f"u{n:03d}": "email_match" for n in range(1, 11)},
        **{f"u{n:03d}": "created" for n in range(11, 16)},
    }


def test_toggled_fields_update_and_inactivation_reactivation_round_trip(app: Flask, client_id: str) -> None:
    users = [member(n) for n in range(1, 11)]
    run_sync(app, client_id, users)
    set_toggles(app, job_title=True)
    users[0] = replace(users[0], job_title="Director", display_name="Renamed")
    users[1] = replace(users[1], account_enabled=False)
    _, result = run_sync(app, client_id, users[:9], deleted=[replace(users[9], deleted=True)])
    assert (result.counters["updated"], result.counters["inactivated"]) == (9, 2)  # the 9 live ones got a title
    after = contacts(app, client_id)
    assert after["user001@apply.test"][:3] == ("Contact 1", "Director", None)  # only the toggled field changed
    assert after["user003@apply.test"][:3] == ("Contact 3", "Staff", None)
    assert after["user002@apply.test"][3] is True and after["user010@apply.test"][3] is True
    found = links(app)
    assert (found["u002"].inactivation_reason, found["u010"].inactivation_reason) == ("disabled", "deleted")

    users[1] = replace(users[1], account_enabled=True)
    _, result = run_sync(app, client_id, users)
    assert result.counters["reactivated"] == 2
    after = contacts(app, client_id)
    assert after["user002@apply.test"][3] is False and after["user010@apply.test"][3] is False
    assert not links(app)["u002"].inactivated_by_sync


def test_a_no_change_resync_writes_nothing_and_a_small_change_writes_little(app: Flask, client_id: str) -> None:
    users = [member(n) for n in range(1, 201)]
    run_sync(app, client_id, users)
    before = contacts(app, client_id), {oid: (link.contact_id, link.updated_at) for oid, link in links(app).items()}

    with data_writes(app) as writes:
        _, result = run_sync(app, client_id, users)
    assert writes == []
    assert result.counters["created"] == result.counters["linked"] == result.counters["updated"] == 0
    assert (contacts(app, client_id), {o: (x.contact_id, x.updated_at) for o, x in links(app).items()}) == before

    users[41] = replace(users[41], account_enabled=False)
    with data_writes(app) as writes:
        run_sync(app, client_id, users)
    # one contact made inactive, one link marked and refreshed: a row each, whatever the tenant's size
    assert sorted(writes) == [("contacts", 1), ("entra_contact_links", 1)]


def test_dry_run_writes_nothing_and_predicts_the_real_run(app: Flask, client_id: str) -> None:
    users = [member(n) for n in range(1, 13)] + [member(50, account_enabled=False)]
    with data_writes(app) as writes:
        dry_id, dry = run_sync(app, client_id, users, dry_run=True)
    assert writes == [] and links(app) == {}
    _, real = run_sync(app, client_id, users)
    assert dry.counters == real.counters and real.counters["skipped_by_reason"] == {"disabled": 1}
    with app.app_context():
        dry_run = get_state().session.get(SyncRun, (TENANT, dry_id))
        assert dry_run is not None and dry_run.status == "completed" and dry_run.counters["created"] == 2


def test_rerunning_the_same_listing_creates_no_duplicate(app: Flask, client_id: str) -> None:
    users = [member(n) for n in range(1, 21)]
    run_sync(app, client_id, users)
    _, again = run_sync(app, client_id, users)
    assert again.counters["created"] == again.counters["linked"] == 0
    assert len(contacts(app, client_id)) == 20 and len(links(app)) == 20


def test_an_incomplete_listing_inactivates_nothing_and_makes_the_run_partial(app: Flask, client_id: str) -> None:
    users = [member(n) for n in range(1, 11)]
    run_sync(app, client_id, users)
    run_id, result = run_sync(app, client_id, users[:3], complete=False)
    assert result.counters["inactivated"] == 0 and "incomplete" in (result.error or "")
    assert not any(row[3] for row in contacts(app, client_id).values())
    with app.app_context():
        run = get_state().session.get(SyncRun, (TENANT, run_id))
        assert run is not None and run.status == "partial"


def test_a_mass_inactivation_is_held_until_released_and_rechecked(app: Flask, client_id: str) -> None:
    users = [member(n) for n in range(1, 11)]
    run_sync(app, client_id, users)
    run_id, result = run_sync(app, client_id, users[:3])  # 7 of 10 gone from a complete listing: over 5 and 20 %
    assert (result.status, result.counters["held"], result.counters["inactivated"]) == ("held", 7, 0)
    assert not any(row[3] for row in contacts(app, client_id).values())

    from example_host.models import Contact, db

    with app.app_context():  # meanwhile someone made one of them inactive by hand
        db.session.execute(update(Contact).where(Contact.email == "USER004@apply.test").values(is_inactive=True))
        db.session.commit()
        state = get_state()
        released = sync.release_held(state.session, state.adapter, TENANT, run_id, ENTRA, "admin")
    assert released == {"entra_tenant_id": ENTRA, "released": 6, "skipped": 1}
    after = contacts(app, client_id)
    assert [email for email, row in sorted(after.items()) if row[3]] == [
        f"user{n:03d}@apply.test" for n in range(4, 11)
    ]
    assert links(app)["u005"].inactivation_reason == "absent"
    with app.app_context():
        state = get_state()
        row = state.session.get(SyncRunTenant, (TENANT, run_id, ENTRA))
        assert row is not None and row.status == "released" and row.counters["inactivated"] == 6
        with pytest.raises(Conflict):
            sync.release_held(state.session, state.adapter, TENANT, run_id, ENTRA, "admin")
