"""B2a/B2b/B2c: applying one Microsoft tenant of 50,000 users into one client on PostgreSQL.

B2a times ``sync.sync_tenant`` (read state, plan, create the contacts and link rows, commit) for 50,000 new users against
a COPY of the very same contact and link rows (the floor). B2b re-syncs the unchanged directory and counts, with a
SQLAlchemy cursor hook, every INSERT/UPDATE/DELETE it sends (run bookkeeping aside): the target is none, and planning at
100,000 users/s or more. B2c changes 5% of the users each round (half disabled or enabled again, half given another
job title with that field's toggle on) and counts the rows and statements written: they must follow the change.
Run: ``.venv/bin/python -m benchmarks.bench_apply``.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

from flask import Flask
from sqlalchemy import delete

from benchmarks.harness import RUNS, WriteCounter, host_app, host_database, interleaved_medians, scaled, timed
from flask_entra import sync
from flask_entra.models import ContactLink, ManagedTenantRow, SyncSettings, TenantMapping, new_id
from flask_entra.providers.base import EntraUser, UserListing
from flask_entra.reconcile import plan_sync
from flask_entra.state import get_state
from flask_entra.sync_runs import RunIdentity, finish_run, open_run
from flask_entra.sync_state import load_state, plan_settings

USERS = scaled(50_000, 100)
CHANGED_SHARE = 0.05
TENANT = "benchapply"
B2A_RATIO = 3.0
PLAN_USERS_PER_SECOND = 100_000
#: B2c: rows written per changed user at most (a changed user touches its contact and, at most, its link row).
ROWS_PER_CHANGE = 2
CONTACT_COLUMNS = (
    "tenant",
    "id",
    "client_id",
    "full_name",
    "email",
    "phone",
    "mobile",
    "job_title",
    "is_inactive",
    "created_at",
)
LINK_COLUMNS = (
    "tenant",
    "id",
    "entra_tenant_id",
    "entra_object_id",
    "client_id",
    "contact_id",
    "active",
    "upn",
    "mail",
    "account_enabled",
    "link_reason",
    "inactivated_by_sync",
    "last_seen_at",
    "created_at",
    "updated_at",
)


def directory(count: int, domain: str) -> list[EntraUser]:
    return [
        EntraUser(
            object_id=f"{number:08d}-0000-4000-8000-{domain[:4].encode().hex():0>12}",
            user_principal_name=f"user{number}@{domain}",
            display_name=f"User {number}",
            mail=f"user{number}@{domain}",
            job_title="Engineer",
            mobile_phone=f"+1 555 {number:07d}",
            business_phones=(f"+1 444 {number:07d}",),
        )
        for number in range(count)
    ]


class ApplyBench:
    """One MSP tenant of the example host; each target is a fresh client mapped to a fresh Microsoft tenant."""

    def __init__(self, app: Flask) -> None:
        from example_host.models import Tenant, db

        self.app = app
        with app.app_context():
            db.session.add(Tenant(slug=TENANT, name="Benchmark MSP"))
            db.session.commit()

    def new_target(self, label: str) -> tuple[str, str]:
        """(entra_tenant_id, client_id) of a new client mapped to a new Microsoft tenant."""
        from example_host.models import Client, db

        entra_tenant_id = f"{label}-{new_id()[:8]}"
        with self.app.app_context():
            client = Client(tenant=TENANT, name=f"Client {label}")
            db.session.add(client)
            db.session.flush()
            db.session.add(ManagedTenantRow(tenant=TENANT, entra_tenant_id=entra_tenant_id, display_name=label))
            db.session.add(
                TenantMapping(
                    tenant=TENANT,
                    entra_tenant_id=entra_tenant_id,
                    state="mapped",
                    client_id=str(client.id),
                    reason="manual",
                )
            )
            db.session.commit()
            return entra_tenant_id, str(client.id)

    def remove(self, entra_tenant_id: str, client_id: str) -> None:
        """Drop a target's contacts, links and mapping so every round starts from tables of the same size."""
        from example_host.models import Contact, db

        with self.app.app_context():
            db.session.execute(
                delete(ContactLink).where(ContactLink.tenant == TENANT, ContactLink.entra_tenant_id == entra_tenant_id)
            )
            db.session.execute(delete(Contact).where(Contact.tenant == TENANT, Contact.client_id == int(client_id)))
            db.session.execute(
                delete(TenantMapping).where(
                    TenantMapping.tenant == TENANT, TenantMapping.entra_tenant_id == entra_tenant_id
                )
            )
            db.session.commit()

    def sync(self, entra_tenant_id: str, client_id: str, users: Sequence[EntraUser]) -> sync.TenantResult:
        """A whole real run of one Microsoft tenant, as the worker's activity drives it (fetching aside)."""
        with self.app.app_context():
            state = get_state()
            run = RunIdentity(tenant=TENANT, run_id=new_id(), workflow_id="bench", kind="all")
            open_run(state.session, run)
            result = sync.sync_tenant(
                state.session,
                state.adapter,
                sync.TenantJob(TENANT, run.run_id, entra_tenant_id, client_id),
                UserListing(users=list(users)),
            )
            finish_run(state.session, run)
            return result

    def copy_rows(self, entra_tenant_id: str, client_id: str, users: Sequence[EntraUser]) -> float:
        """The floor: seconds to COPY the contact and link rows the sync writes (ids drawn beforehand) and commit."""
        with self.app.app_context():
            engine = get_state().db.engine
        now = datetime.now(UTC)
        raw = engine.raw_connection()
        try:
            connection = raw.driver_connection
            assert connection is not None
            ids = [
                row[0]
                for row in connection.execute(
                    "SELECT nextval(pg_get_serial_sequence('contacts', 'id')) FROM generate_series(1, %s)",
                    (len(users),),
                )
            ]
            contacts = [
                (
                    TENANT,
                    contact_id,
                    int(client_id),
                    u.display_name,
                    u.mail,
                    u.business_phones[0],
                    u.mobile_phone,
                    u.job_title,
                    False,
                    now,
                )
                for contact_id, u in zip(ids, users, strict=True)
            ]
            links = [
                (
                    TENANT,
                    new_id(),
                    entra_tenant_id,
                    u.object_id,
                    client_id,
                    str(contact_id),
                    True,
                    u.user_principal_name,
                    u.mail,
                    True,
                    "created",
                    False,
                    now,
                    now,
                    now,
                )
                for contact_id, u in zip(ids, users, strict=True)
            ]
            connection.commit()

            def copy() -> None:
                with connection.cursor() as cursor:
                    for table, columns, rows in (
                        ("contacts", CONTACT_COLUMNS, contacts),
                        ("entra_contact_links", LINK_COLUMNS, links),
                    ):
                        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as stream:
                            for row in rows:
                                stream.write_row(row)
                connection.commit()

            return timed(copy)
        finally:
            raw.close()

    def set_job_title_toggle(self, on: bool) -> None:
        with self.app.app_context():
            session = get_state().session
            session.merge(SyncSettings(tenant=TENANT, field_toggles={"job_title": on}, filters={}))
            session.commit()

    def plan_seconds(self, entra_tenant_id: str, client_id: str, users: Sequence[EntraUser]) -> float:
        """Planning alone on the state read back from the database (what B2b's rate is about)."""
        listing = UserListing(users=list(users))
        with self.app.app_context():
            state = get_state()
            loaded = load_state(state.session, state.adapter, TENANT, entra_tenant_id, client_id, listing)
            settings = plan_settings(state.session, TENANT)
            state.session.rollback()

        def plan() -> None:
            found = plan_sync(
                entra_tenant_id=entra_tenant_id,
                client_id=client_id,
                listing=listing,
                state=loaded.local,
                settings=settings,
            )
            if not found.is_empty:
                raise AssertionError("a no-change re-sync must plan nothing")

        return statistics.median(timed(plan) for _ in range(RUNS))

    def engine(self) -> Any:
        with self.app.app_context():
            return get_state().db.engine


def initial_apply(bench: ApplyBench) -> tuple[dict[str, Any], tuple[str, str]]:
    """B2a: rounds of (COPY into a fresh target, sync into another), each removed before the next sync (the same
    addresses in two clients would send every user to review); the last sync's target stays for B2b and B2c."""
    users = directory(USERS, "apply.example")
    rounds: list[float] = []
    floors: list[float] = []
    target = ("", "")
    for number in range(RUNS + 1):  # round 0 warms both paths up and is not counted
        copy_target = bench.new_target("copy")
        floor_seconds = bench.copy_rows(*copy_target, users)
        bench.remove(*copy_target)
        target = bench.new_target("sync")
        seconds = timed(partial(_initial_sync, bench, target, users))
        if number:
            rounds.append(seconds)
            floors.append(floor_seconds)
        if number < RUNS:
            bench.remove(*target)
    median, floor = statistics.median(rounds), statistics.median(floors)
    return {
        "id": "B2a",
        "what": f"initial apply of {USERS} new users into one client (PostgreSQL), median of {RUNS}",
        "median_s": round(median, 3),
        "floor_s": round(floor, 3),
        "floor": "COPY of the same contact and link rows",
        "ratio": round(median / floor, 2),
        "target": f"<= {B2A_RATIO}x floor",
        "met": median / floor <= B2A_RATIO,
    }, target


def _initial_sync(bench: ApplyBench, target: tuple[str, str], users: Sequence[EntraUser]) -> None:
    result = bench.sync(*target, users)
    if result.counters["created"] != len(users):
        raise AssertionError(f"the initial apply created {result.counters['created']} of {len(users)} contacts")


def no_change_resync(bench: ApplyBench, target: tuple[str, str]) -> dict[str, Any]:
    users = directory(USERS, "apply.example")

    def resync() -> None:
        counters = bench.sync(*target, users).counters
        if any(counters[name] for name in ("created", "linked", "updated", "inactivated", "reactivated", "ambiguous")):
            raise AssertionError(f"a no-change re-sync planned work: {counters}")

    writes = WriteCounter()
    with writes.watching(bench.engine()):
        (median,) = interleaved_medians([resync])
    plan = bench.plan_seconds(*target, users)
    rate = USERS / plan
    return {
        "id": "B2b",
        "what": f"no-change re-sync of {USERS} linked users, median of {RUNS}",
        "median_s": round(median, 3),
        "write_statements": writes.total_statements,
        "rows_written": sum(writes.rows.values()),
        "plan_s": round(plan, 4),
        "plan_users_per_second": round(rate),
        "resync_users_per_second": round(USERS / median),
        "target": f"0 INSERT/UPDATE/DELETE; planning >= {PLAN_USERS_PER_SECOND:,} users/s",
        "met": writes.total_statements == 0 and rate >= PLAN_USERS_PER_SECOND,
    }


def changed_resync(bench: ApplyBench, target: tuple[str, str]) -> dict[str, Any]:
    """Each round flips the same 5% of users: disabled <-> enabled for one half, job title for the other."""
    users = directory(USERS, "apply.example")
    step = round(1 / CHANGED_SHARE)
    changing = range(0, USERS, step)
    bench.set_job_title_toggle(True)
    flipped = [False]

    def round_of_changes() -> None:
        flipped[0] = not flipped[0]
        listing = list(users)
        for position, index in enumerate(changing):
            if position % 2 == 0:
                listing[index] = replace(listing[index], account_enabled=not flipped[0])
            else:
                listing[index] = replace(listing[index], job_title="Manager" if flipped[0] else "Engineer")
        counters = bench.sync(*target, listing).counters
        if counters["inactivated"] + counters["reactivated"] + counters["updated"] != len(changing):
            raise AssertionError(f"unexpected plan for a 5% change: {counters}")

    writes = WriteCounter()
    with writes.watching(bench.engine()):
        (median,) = interleaved_medians([round_of_changes])
    bench.set_job_title_toggle(False)
    rows_per_round = sum(writes.rows.values()) / RUNS
    statements_per_round = writes.total_statements / RUNS
    return {
        "id": "B2c",
        "what": f"re-sync with {len(changing)} of {USERS} users changed (5%), median of {RUNS}",
        "median_s": round(median, 3),
        "changed_users": len(changing),
        "rows_written_per_round": rows_per_round,
        "rows_by_table_per_round": {table: rows / RUNS for table, rows in sorted(writes.rows.items())},
        "statements_per_round": statements_per_round,
        "target": f"rows written <= {ROWS_PER_CHANGE} per changed user, a constant number of statements",
        "met": rows_per_round <= ROWS_PER_CHANGE * len(changing) and statements_per_round <= 10,
    }


def run() -> list[dict[str, Any]]:
    with host_database("entra_bench_apply") as url, host_app(url) as app:
        bench = ApplyBench(app)
        b2a, target = initial_apply(bench)
        return [b2a, no_change_resync(bench, target), changed_resync(bench, target)]


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
