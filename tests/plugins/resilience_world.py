"""The world the fault scenarios run in, and the end state its directory dictates.

The directory is composed by rule, so the expected contacts and links follow from it without running our code: in each
customer tenant, user ``i`` is disabled when ``i % 10 == 7`` and a guest when ``i % 10 == 8`` (both skipped: no contact,
no link); otherwise, when ``i % 5 == 0`` the client already has a contact with the user's address under another name
(linked, and its name and job title must survive untouched: field toggles are off); every other user gets a new
contact with its name and job title.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import String, select
from sqlalchemy.exc import OperationalError
from temporalio.client import Client

from flask_entra.actions.discovery import start_discovery
from flask_entra.actions.sync import start_sync
from flask_entra.config import DEFAULTS as ENTRA_DEFAULTS
from flask_entra.models import Connection, ContactLink, SyncRun
from flask_entra.secrets import names
from flask_entra.simulator import DEFAULT_CIPP_CLIENT_ID, DEFAULT_CIPP_CLIENT_SECRET
from flask_entra.state import get_state
from flask_entra.sync_runs import FINISHED_RUN_STATES
from tests.plugins.postgres import create_database, drop_database
from tests.plugins.reliability import Scale
from tests.plugins.sync_world import SyncWorld, customer, directory, sync_world, user
from tests.plugins.temporal import TemporalServer

REPO_ROOT = Path(__file__).resolve().parents[2]
KNOWN_TITLE = None  # pre-existing contacts have no job title; a sync that wrote one would have overwritten a field
NEW_TITLE = "Field Engineer"


@dataclass(frozen=True)
class Customer:
    """One customer tenant of the directory and the client of ours it maps to."""

    index: int
    size: int

    @property
    def tenant_id(self) -> str:
        return f"{self.index:08d}-0000-4000-8000-{self.index:012d}"

    @property
    def client(self) -> str:
        return f"Client {self.index}"

    @property
    def domain(self) -> str:
        return f"customer{self.index}.test"

    def object_id(self, i: int) -> str:
        return f"c{self.index}-u{i:04d}"

    def email(self, i: int) -> str:
        return f"person{i:04d}@{self.domain}"

    @staticmethod
    def kind(i: int) -> str:
        return {7: "disabled", 8: "guest"}.get(i % 10) or ("known" if i % 5 == 0 else "new")

    def users(self) -> list[dict[str, Any]]:
        found = []
        for i in range(self.size):
            kind = self.kind(i)
            fields: dict[str, Any] = {"jobTitle": NEW_TITLE}
            if kind == "disabled":
                fields["accountEnabled"] = False
            if kind == "guest":
                fields.update(
                    userType="Guest",
                    mail=f"guest{i:04d}@elsewhere.test",
                    userPrincipalName=f"guest{i:04d}_elsewhere.test#EXT#@customer{self.index}.onmicrosoft.com",
                )
            found.append(user(self.object_id(i), self.email(i), f"Zoë Nguyễn {self.index}-{i:04d}", **fields))
        return found

    def linked(self) -> list[int]:
        return [i for i in range(self.size) if self.kind(i) in ("known", "new")]

    def known_contacts(self) -> list[tuple[str, str]]:
        return [(f"Known Person {i:04d}", self.email(i)) for i in range(self.size) if self.kind(i) == "known"]

    def expected_contacts(self, inactive: bool = False) -> dict[str, tuple[str, bool, str | None]]:
        """email -> (full name, inactive, job title) of the client's contacts after a sync."""
        expected = {email: (name, inactive, KNOWN_TITLE) for name, email in self.known_contacts()}
        for i in self.linked():
            expected.setdefault(self.email(i), (f"Zoë Nguyễn {self.index}-{i:04d}", inactive, NEW_TITLE))
        return expected

    def expected_links(self) -> dict[str, str]:
        """object id -> email of the contact it is linked to."""
        return {self.object_id(i): self.email(i) for i in self.linked()}

    def first_sync_counters(self) -> dict[str, Any]:
        kinds = [self.kind(i) for i in range(self.size)]
        skipped = {reason: kinds.count(reason) for reason in ("disabled", "guest") if kinds.count(reason)}
        return {
            "created": kinds.count("new"),
            "linked": kinds.count("known"),
            "updated": 0,
            "inactivated": 0,
            "reactivated": 0,
            "ambiguous": 0,
            "held": 0,
            "skipped_by_reason": skipped,
        }


def customers(scale: Scale) -> list[Customer]:
    return [Customer(index, scale.users) for index in range(1, scale.tenants + 1)]


def summed(counters: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Counters of several tenants added up as the run row does."""
    total: dict[str, Any] = {}
    for one in counters:
        for name, value in one.items():
            if name == "skipped_by_reason":
                reasons = total.setdefault(name, {})
                for reason, count in value.items():
                    reasons[reason] = reasons.get(reason, 0) + count
            else:
                total[name] = total.get(name, 0) + value
    return total


def counters_of(run: SyncRun) -> dict[str, Any]:
    return {name: value for name, value in run.counters.items() if name != "skipped"}


@pytest.fixture(scope="session")
def resilience_base(
    scale: Scale, temporal_server: TemporalServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SyncWorld]:
    """A world on a database of the shared PostgreSQL, for the scenarios that leave PostgreSQL alone."""
    url = create_database("entra_rel")
    try:
        with resilience_world(
            url.replace("postgresql://", "postgresql+psycopg://", 1),
            temporal_server,
            tmp_path_factory.mktemp("secrets") / "store",
            scale,
        ) as world:
            yield world
    finally:
        drop_database(url)


@contextmanager
def resilience_world(db_url: str, temporal: TemporalServer, secrets_dir: Path, scale: Scale) -> Iterator[SyncWorld]:
    """The host, simulator and in-process worker of tests/plugins/sync_world.py over this scale's directory."""
    document = directory([customer(c.tenant_id, f"Customer {c.index}", c.domain, c.users()) for c in customers(scale)])
    with sync_world(db_url, temporal, secrets_dir, document, ENTRA_GRAPH_PAGE_SIZE=scale.page_size) as world:
        # Retry as in production (sync_world retries once, for speed): the worker builds its HTTP client on first use.
        world.app.config["ENTRA_HTTP_MAX_RETRIES"] = ENTRA_DEFAULTS["ENTRA_HTTP_MAX_RETRIES"]
        yield world


def enroll(
    base: SyncWorld, scale: Scale, *, cipp: bool = False, tenant: str | None = None, concurrency: int = 8
) -> SyncWorld:
    """A new MSP tenant of ours, connected (Direct or CIPP), discovered and mapped, on a simulator back at its start.

    ``concurrency`` sets ENTRA_SYNC_MAX_CONCURRENT_TENANTS, which a run reads when it opens.
    """
    base.sim.reset()
    base.app.config["ENTRA_SYNC_MAX_CONCURRENT_TENANTS"] = concurrency
    world = replace(base, tenant=tenant or f"rel{uuid.uuid4().hex[:8]}", client_ids={})
    world.add_clients({c.client: c.known_contacts() for c in customers(scale)})
    if cipp:
        connect_cipp(world)
    else:
        world.connect_direct()
    discover(world)
    for one in customers(scale):
        world.map_tenant(one.tenant_id, one.client)
    return world


def connect_cipp(world: SyncWorld) -> None:
    """A CIPP connection with the simulator's CIPP-API client, as connect_cipp stores it after its probe."""
    with world.app.app_context():
        state = get_state()
        for name, value in (
            (names.CIPP_CLIENT_ID, DEFAULT_CIPP_CLIENT_ID),
            (names.CIPP_CLIENT_SECRET, DEFAULT_CIPP_CLIENT_SECRET),
            (names.CIPP_TENANT_ID, world.sim.partner_tenant_id),
        ):
            state.secrets.set(world.tenant, name, value)
        state.session.add(
            Connection(
                tenant=world.tenant,
                connection_type="cipp",
                status="active",
                cipp_base_url=world.sim.cipp_base_url,
                connected_by="1",
            )
        )
        state.session.commit()


def discover(world: SyncWorld) -> None:
    with world.app.app_context():
        workflow_id = start_discovery(world.principal)["workflow_id"]

    async def finished(client: Client) -> object:
        return await client.get_workflow_handle(workflow_id).result()

    world.temporal.call(finished)


def start_run(world: SyncWorld, scope: str = "all") -> str:
    with world.app.app_context():
        return str(start_sync(world.principal, {"scope": scope})["run_id"])


def wait_for_run(world: SyncWorld, run_id: str, timeout: float) -> SyncRun:
    """Like SyncWorld.wait_for_run, but riding out a database that is restarting."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with world.app.app_context():
                run = get_state().session.get(SyncRun, (world.tenant, run_id))
                if run is not None and run.status in FINISHED_RUN_STATES:
                    get_state().session.expunge(run)
                    return run
        except OperationalError:
            pass  # the server is restarting; the pool reconnects on the next try
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} did not finish within {timeout} s")


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def user_listing_requests(world: SyncWorld) -> int:
    """Pages of users served so far (Graph live and deleted users, CIPP ListUsers)."""
    return sum(
        1
        for entry in world.sim.request_log()
        if entry["path"].endswith(("/v1.0/users", "/microsoft.graph.user", "/api/ListUsers"))
    )


def activity_retries(world: SyncWorld, workflow_id: str, run_id: str) -> int:
    """Activity attempts beyond the first, from the workflow's history in Temporal."""

    async def count(client: Client) -> int:
        history = await client.get_workflow_handle(workflow_id, run_id=str(uuid.UUID(run_id))).fetch_history()
        return sum(
            event.activity_task_started_event_attributes.attempt - 1
            for event in history.events
            if event.HasField("activity_task_started_event_attributes")
        )

    return world.temporal.call(count)


# -- the end state ----------------------------------------------------------------------------------------------------


def link_emails(world: SyncWorld, one: Customer) -> dict[str, tuple[str, bool]]:
    """object id -> (email of the linked contact, link active) for one customer tenant."""
    from example_host.models import Contact

    with world.app.app_context():
        rows = (
            get_state()
            .session.execute(
                select(ContactLink.entra_object_id, Contact.email, ContactLink.active)
                .join(
                    Contact,
                    (Contact.tenant == ContactLink.tenant) & (Contact.id.cast(String) == ContactLink.contact_id),
                )
                .where(ContactLink.tenant == world.tenant, ContactLink.entra_tenant_id == one.tenant_id)
            )
            .all()
        )
    found = {row[0]: (row[1], row[2]) for row in rows}
    assert len(found) == len(rows), "an identity is linked twice"
    return found


def assert_synced_exactly(
    world: SyncWorld, directory_customers: Sequence[Customer], inactive: Sequence[Customer] = ()
) -> None:
    """Every client holds exactly the contacts its customer dictates (no duplicate, none deleted or overwritten) and
    every identity is linked exactly once to its own contact."""
    for one in directory_customers:
        assert world.contacts(one.client) == one.expected_contacts(inactive=one in inactive), one.client
        assert link_emails(world, one) == {oid: (email, True) for oid, email in one.expected_links().items()}
    assert world.count(ContactLink) == sum(len(one.expected_links()) for one in directory_customers)


# -- a worker in a process of its own ---------------------------------------------------------------------------------


class WorkerProcess:
    """``python -m flask_entra.temporal.worker --app example_host`` configured, through the environment, like the
    test app (same database, Temporal task queue, simulator and secret directory)."""

    READY = "flask-entra worker polling task queue"

    def __init__(self, world: SyncWorld, log_path: Path) -> None:
        self.log_path = log_path
        self.env = {key: value for key, value in os.environ.items() if not key.startswith("ENTRA_")}
        config = world.app.config
        self.env.update(
            DATABASE_URL=config["SQLALCHEMY_DATABASE_URI"], EDITION="enterprise", SECRET_KEY=config["SECRET_KEY"]
        )
        for key, value in config.items():
            if key.startswith("ENTRA_") and value is not None:
                self.env[key] = ",".join(value) if isinstance(value, tuple) else str(value)
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0

    def start(self, timeout: float = 60) -> None:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flask_entra.temporal.worker", "--app", "example_host"],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1
        wait_until(
            lambda: self.READY in self.log_path.read_text(errors="replace")[offset:] or not self.alive,
            timeout,
            "the worker process to poll",
        )
        assert self.alive, f"the worker process exited: {self.log_path.read_text(errors='replace')[offset:]}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, its in-flight activities are simply abandoned."""
        assert self.process is not None and self.alive
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.kills += 1

    def stop(self) -> None:
        if self.alive:
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
