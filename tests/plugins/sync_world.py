"""A whole sync world for the Temporal tests: the example host on PostgreSQL, the simulator with a hand-written
directory, a Direct connection obtained by a real (simulated) partner sign-in, discovered and mapped tenants, and a
worker on a real Temporal dev server."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from flask_entra.host import READ, UPDATE, Principal
from flask_entra.models import Connection, ContactLink, ManagedTenantRow, SyncRun, SyncRunTenant, TenantMapping
from flask_entra.secrets import names
from flask_entra.simulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_PARTNER_TENANT_ID,
    SimulatorClient,
    SimulatorServer,
    SimulatorState,
)
from flask_entra.state import get_state
from flask_entra.sync_runs import FINISHED_RUN_STATES
from tests.plugins.host import build_app, dispose, prepare_database, set_all_flags
from tests.plugins.temporal import TemporalServer, WorkerThread, temporal_config

RELATIONSHIP_END = "2031-06-30T00:00:00Z"


def user(object_id: str, upn: str, name: str, **fields: Any) -> dict[str, Any]:
    """A licensed, enabled member whose mail is its UPN unless ``fields`` say otherwise."""
    return {
        "id": object_id,
        "userPrincipalName": upn,
        "displayName": name,
        "mail": upn,
        "accountEnabled": True,
        "userType": "Member",
        "assignedLicenses": [{"skuId": "bdb767e7-9e82-55d5-b37a-0e03e5c815f7", "disabledPlans": []}],
        **fields,
    }


def customer(tenant_id: str, name: str, domain: str, users: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A customer tenant with its domain, one active GDAP relationship and consent."""
    return {
        "tenantId": tenant_id,
        "displayName": name,
        "domains": [
            {"id": domain, "isDefault": True, "isInitial": False, "isVerified": True},
            {
                "id": f"{domain.split('.')[0]}.onmicrosoft.com",
                "isDefault": False,
                "isInitial": True,
                "isVerified": True,
            },
        ],
        "appConsent": True,
        "legacyContract": False,
        "relationships": [
            {
                "id": f"rel-{tenant_id}",
                "displayName": f"GDAP_{name}",
                "status": "active",
                "createdDateTime": "2024-06-30T00:00:00Z",
                "activatedDateTime": "2024-07-01T00:00:00Z",
                "endDateTime": RELATIONSHIP_END,
                "duration": "P730D",
                "autoExtendDuration": "P180D",
                "accessDetails": {"unifiedRoles": [{"roleDefinitionId": "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"}]},
            }
        ],
        "users": list(users),
    }


def directory(customers: Sequence[dict[str, Any]]) -> dict[str, Any]:
    partner = {
        "tenantId": DEFAULT_PARTNER_TENANT_ID,
        "displayName": "Sync Test Partner",
        "domains": [{"id": "partner.test", "isDefault": True, "isInitial": False, "isVerified": True}],
        "users": [user("partner-admin", "admin@partner.test", "Partner Admin")],
    }
    return {"format": 1, "partner": partner, "customers": list(customers)}


@dataclass
class SyncWorld:
    app: Flask
    sim: SimulatorClient
    server: SimulatorServer
    temporal: TemporalServer
    worker: WorkerThread
    tenant: str
    client_ids: dict[str, str] = field(default_factory=dict)

    @property
    def principal(self) -> Principal:
        return Principal(user_id="1", tenant=self.tenant, permissions=frozenset({READ, UPDATE}))

    # -- setting the world up ----------------------------------------------------------------------------------------

    def add_clients(self, clients: dict[str, Sequence[tuple[str, str]]]) -> None:
        """``{client name: [(full name, email), ...]}`` in our own MSP tenant of the example host."""
        from example_host.models import Client, Contact, Tenant, db

        with self.app.app_context():
            if db.session.get(Tenant, self.tenant) is None:
                db.session.add(Tenant(slug=self.tenant, name=f"MSP {self.tenant}"))
                db.session.flush()
            for name, contacts in clients.items():
                client = Client(tenant=self.tenant, name=name, website=None)
                db.session.add(client)
                db.session.flush()
                self.client_ids[name] = str(client.id)
                for full_name, email in contacts:
                    db.session.add(Contact(tenant=self.tenant, client_id=client.id, full_name=full_name, email=email))
            db.session.commit()

    def connect_direct(self) -> None:
        """The partner admin signs in at the simulator; its refresh token goes to the secret store."""
        tokens = self.sim.sign_in()
        with self.app.app_context():
            state = get_state()
            state.secrets.set(self.tenant, names.DIRECT_REFRESH_TOKEN, tokens["refresh_token"])
            state.session.add(
                Connection(
                    tenant=self.tenant,
                    connection_type="direct",
                    status="active",
                    partner_tenant_id=self.sim.partner_tenant_id,
                    connected_by="1",
                )
            )
            state.session.commit()

    def map_tenant(self, entra_tenant_id: str, client_name: str | None) -> None:
        """An active mapping (``None``: skipped), ending any earlier one."""
        with self.app.app_context():
            session = get_state().session
            for old in session.execute(
                select(TenantMapping).filter_by(tenant=self.tenant, entra_tenant_id=entra_tenant_id, active=True)
            ).scalars():
                old.active = False
            session.flush()
            session.add(
                TenantMapping(
                    tenant=self.tenant,
                    entra_tenant_id=entra_tenant_id,
                    state="mapped" if client_name else "skipped",
                    client_id=self.client_ids[client_name] if client_name else None,
                    reason="manual",
                    decided_by="1",
                )
            )
            session.commit()

    # -- running -----------------------------------------------------------------------------------------------------

    def wait_for_run(self, run_id: str, timeout: float = 60) -> SyncRun:
        """Poll the run row as the pages do, until the run ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.app.app_context():
                run = get_state().session.get(SyncRun, (self.tenant, run_id))
                if run is not None and run.status in FINISHED_RUN_STATES:
                    get_state().session.expunge(run)
                    return run
            time.sleep(0.2)
        raise AssertionError(f"run {run_id} did not finish within {timeout} s")

    def sync(self, scope: str = "all", **payload: Any) -> SyncRun:
        from flask_entra.actions.sync import start_sync

        with self.app.app_context():
            started = start_sync(self.principal, {"scope": scope, **payload})
        return self.wait_for_run(started["run_id"])

    # -- looking -----------------------------------------------------------------------------------------------------

    def run_tenants(self, run_id: str) -> dict[str, SyncRunTenant]:
        with self.app.app_context():
            session = get_state().session
            rows = session.execute(select(SyncRunTenant).filter_by(tenant=self.tenant, run_id=run_id)).scalars()
            found = {row.entra_tenant_id: row for row in rows}
            session.expunge_all()
            return found

    def contacts(self, client_name: str) -> dict[str, Any]:
        """email -> (full_name, is_inactive, job_title) of the client's contacts; fails on a duplicate email."""
        from example_host.models import Contact

        with self.app.app_context():
            rows = (
                get_state()
                .session.execute(
                    select(Contact.email, Contact.full_name, Contact.is_inactive, Contact.job_title).where(
                        Contact.tenant == self.tenant, Contact.client_id == int(self.client_ids[client_name])
                    )
                )
                .all()
            )
        emails = [row[0] for row in rows]
        assert len(emails) == len(set(emails)), f"duplicate contacts: {sorted(emails)}"
        return {row[0]: tuple(row[1:]) for row in rows}

    def count_contacts(self) -> int:
        from example_host.models import Contact

        with self.app.app_context():
            return int(
                get_state().session.scalar(
                    select(func.count()).select_from(Contact).where(Contact.tenant == self.tenant)
                )
                or 0
            )

    def links(self, entra_tenant_id: str) -> dict[str, ContactLink]:
        with self.app.app_context():
            session = get_state().session
            rows = session.execute(
                select(ContactLink).filter_by(tenant=self.tenant, entra_tenant_id=entra_tenant_id)
            ).scalars()
            found = {row.entra_object_id: row for row in rows}
            session.expunge_all()
            return found

    def count(self, model: type[Any]) -> int:
        with self.app.app_context():
            return int(
                get_state().session.scalar(select(func.count()).select_from(model).where(model.tenant == self.tenant))
                or 0
            )

    def managed_tenants(self) -> dict[str, ManagedTenantRow]:
        with self.app.app_context():
            session = get_state().session
            found = {
                row.entra_tenant_id: row
                for row in session.execute(select(ManagedTenantRow).filter_by(tenant=self.tenant)).scalars()
            }
            session.expunge_all()
            return found


@contextmanager
def sync_world(
    db_url: str, temporal: TemporalServer, secrets_dir: Path, document: dict[str, Any], **config: Any
) -> Iterator[SyncWorld]:
    """Everything started, nothing mapped yet; torn down in reverse order."""
    server = SimulatorServer(SimulatorState(document)).start()
    sim = SimulatorClient(server.base_url)
    secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name, value in (
        (names.MICROSOFT_CLIENT_ID, DEFAULT_CLIENT_ID),
        (names.MICROSOFT_CLIENT_SECRET, DEFAULT_CLIENT_SECRET),
    ):
        (secrets_dir / name).write_text(value, encoding="utf-8")
        (secrets_dir / name).chmod(0o600)
    app = build_app(
        db_url,
        "enterprise",
        ENTRA_LOGIN_BASE_URL=sim.login_base_url,
        ENTRA_GRAPH_BASE_URL=sim.graph_base_url,
        ENTRA_SECRET_PROVIDERS=("filesystem",),
        ENTRA_SECRETS_DIR=str(secrets_dir),
        ENTRA_HTTP_MAX_RETRIES=1,
        **temporal_config(temporal),
        **config,
    )
    prepare_database(app)
    tenant = f"sync{uuid.uuid4().hex[:6]}"
    set_all_flags(app, True)
    worker = WorkerThread(app).start()
    try:
        yield SyncWorld(app=app, sim=sim, server=server, temporal=temporal, worker=worker, tenant=tenant)
    finally:
        worker.stop()
        dispose(app)
        sim.close()
        server.stop()
