"""The world of the ongoing-sync tests: a sync world (tests/plugins/sync_world.py) with three customer tenants, an admin
of its MSP tenant signed in over HTTP, and a first sync done. Also the row checksums that prove "nothing else changed".

Directory and what the first sync does with it (Alpha and Beta mapped; Filter Co's tenant is mapped by the filter test):
- Alpha: alice and grace linked by email, tom created, erin and gina ambiguous (two Alpha contacts share each address),
  frank ambiguous (his address belongs to a contact of Beta).
- Beta: judy linked, ivan created.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from flask_entra.discovery import upsert_managed_tenants
from flask_entra.models import ReconciliationItem, SyncRun
from flask_entra.providers.base import ManagedTenant
from flask_entra.state import get_state
from flask_entra.temporal.ids import schedule_id
from tests.plugins.host import Session, sign_in
from tests.plugins.postgres import create_database, drop_database
from tests.plugins.sync_world import SyncWorld, customer, directory, sync_world, user
from tests.plugins.temporal import TemporalServer

ALPHA, BETA, FILTER = (
    "a1a1a1a1-0000-4000-8000-00000000000a",
    "b2b2b2b2-0000-4000-8000-00000000000b",
    "f3f3f3f3-0000-4000-8000-00000000000f",
)
API = "/api/integrations/entra"

ALPHA_USERS = [
    user("a-alice", "alice@alpha.test", "Alice Archer"),
    user("a-grace", "grace@alpha.test", "Grace Green"),
    user("a-tom", "tom@alpha.test", "Tom Turner", jobTitle="Technician"),
    user("a-erin", "erin@alpha.test", "Erin Ellis", jobTitle="Buyer"),
    user("a-gina", "gina@alpha.test", "Gina Gold"),
    user("a-frank", "frank@alpha.test", "Frank Fox", jobTitle="Driver"),
]
BETA_USERS = [user("b-judy", "judy@beta.test", "Judy Jones"), user("b-ivan", "ivan@beta.test", "Ivan Ito")]
#: One user per filter, and one member every filter lets through.
FILTER_USERS = [
    user("f-mia", "mia@filter.test", "Mia Member"),
    user("f-gus", "gus_else.test#EXT#@filter.onmicrosoft.com", "Gus Guest", mail="gus@else.test", userType="Guest"),
    user("f-una", "una@filter.test", "Una Unlicensed", assignedLicenses=[]),
    user("f-info", "info@filter.test", "Filter Info"),
    user("f-ext", "ext-vera@filter.test", "Vera External"),
]
CLIENTS = {
    "Alpha": [
        ("Alice A.", "alice@alpha.test"),
        ("Grace G.", "grace@alpha.test"),
        ("Erin One", "erin@alpha.test"),
        ("Erin Two", "ERIN@alpha.test"),
        ("Gina One", "gina@alpha.test"),
        ("Gina Two", "Gina@Alpha.test"),
    ],
    "Beta": [("Judy J.", "judy@beta.test"), ("Frank at Beta", "frank@alpha.test")],
    "Filter Co": [],
    "Unmapped": [],
}


@dataclass
class OngoingWorld:
    world: SyncWorld
    secrets_dir: Path
    admin: Session
    admin_id: str

    @property
    def tenant(self) -> str:
        return self.world.tenant

    def client_id(self, name: str) -> str:
        return self.world.client_ids[name]

    def api(self, method: str, path: str, json: Any = None) -> Any:
        return self.admin.open(method, f"{API}{path}", json=json)

    def save_settings(self, **payload: Any) -> dict[str, Any]:
        response = self.api("PUT", "/settings", payload)
        assert response.status_code == 200, response.get_json()
        return dict(response.get_json())

    def sync_client(self, name: str) -> SyncRun:
        """The client page's "Sync Entra Now", over HTTP, until its run ends."""
        response = self.admin.open("POST", f"/api/clients/{self.client_id(name)}/entra/sync")
        assert response.status_code == 202, response.get_json()
        run = self.world.wait_for_run(response.get_json()["run_id"])
        assert (run.kind, run.client_id, run.status) == ("client", self.client_id(name), "completed")
        return run

    def sql(self, statement: str, **params: Any) -> list[Any]:
        with self.world.app.app_context():
            return list(get_state().session.execute(text(statement), params).all())

    def contact_id(self, client: str, full_name: str) -> str:
        rows = self.sql(
            "SELECT id FROM contacts WHERE tenant = :t AND client_id = :c AND full_name = :n",
            t=self.tenant,
            c=int(self.client_id(client)),
            n=full_name,
        )
        assert len(rows) == 1, rows
        return str(rows[0][0])

    def open_items(self) -> dict[str, ReconciliationItem]:
        with self.world.app.app_context():
            session = get_state().session
            rows = session.execute(select(ReconciliationItem).filter_by(tenant=self.tenant, status="open")).scalars()
            found = {row.entra_object_id: row for row in rows}
            session.expunge_all()
            return found


def row_checksums(ongoing: OngoingWorld, table: str, where: str = "TRUE", **params: Any) -> dict[str, str]:
    """id -> md5 of the whole row as PostgreSQL prints it: any change to any column changes it."""
    rows = ongoing.sql(f"SELECT t.id::text, md5(t::text) FROM {table} t WHERE {where}", **params)
    return {str(key): str(value) for key, value in rows}


def schedule_interval(ongoing: OngoingWorld) -> timedelta | None:
    """The interval of the tenant's Temporal schedule, or None when it has none."""

    async def look(client: Client) -> timedelta | None:
        try:
            described = await client.get_schedule_handle(schedule_id(ongoing.tenant)).describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return None
            raise
        (interval,) = described.schedule.spec.intervals
        return interval.every

    return ongoing.world.temporal.call(look)


@pytest.fixture(scope="module")
def ongoing(temporal_server: TemporalServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OngoingWorld]:
    from example_host.models import User, db

    url = create_database("entra_ongoing")
    secrets_dir = tmp_path_factory.mktemp("secrets") / "store"
    document = directory(
        [
            customer(ALPHA, "Alpha Corp", "alpha.test", ALPHA_USERS),
            customer(BETA, "Beta LLC", "beta.test", BETA_USERS),
            customer(FILTER, "Filter Co", "filter.test", FILTER_USERS),
        ]
    )
    try:
        with sync_world(
            url.replace("postgresql://", "postgresql+psycopg://", 1), temporal_server, secrets_dir, document
        ) as world:
            world.add_clients(CLIENTS)
            world.connect_direct()
            email = f"admin@{world.tenant}.test"
            with world.app.app_context():
                upsert_managed_tenants(
                    get_state().session,
                    world.tenant,
                    [
                        ManagedTenant(ALPHA, "Alpha Corp"),
                        ManagedTenant(BETA, "Beta LLC"),
                        ManagedTenant(FILTER, "Filter Co"),
                    ],
                )
                admin = User(tenant=world.tenant, email=email, full_name="Ongoing Admin", role="admin")
                admin.set_password("demo")
                db.session.add(admin)
                db.session.commit()
                admin_id = str(admin.id)
            world.map_tenant(ALPHA, "Alpha")
            world.map_tenant(BETA, "Beta")
            world.sync("initial")
            yield OngoingWorld(world=world, secrets_dir=secrets_dir, admin=sign_in(world.app, email), admin_id=admin_id)
    finally:
        drop_database(url)
