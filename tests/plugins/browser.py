"""Headless Chromium against the example host served for real: the browser tests' fixtures and the docs screenshots'
start-up (plain functions, so ``scripts/docs_screenshots.py`` builds the same world without pytest).

The world: the example host (enterprise, its demo seed, every Entra flag on) on a PostgreSQL database of its own, served
by werkzeug's threaded server on a free 127.0.0.1 port; the simulator with its demo dataset (customers that line up with
acme's clients); the Direct app credentials of the simulator in a filesystem secret store; a real Temporal dev server
with an in-process worker. Nothing is connected, discovered or mapped: the browser does that.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
from sqlalchemy import text
from temporalio.testing import WorkflowEnvironment
from werkzeug.serving import make_server

from flask_entra.models import EntraBase
from flask_entra.simulator import demo_dataset
from flask_entra.state import get_state
from tests.plugins.host import PASSWORD
from tests.plugins.postgres import create_database, drop_database
from tests.plugins.sync_world import SyncWorld, sync_world
from tests.plugins.temporal import LoopThread, TemporalServer, temporal_cli

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
ADMIN, PORTAL_USER = "admin@acme.test", "portal@client.acme.test"
MSP_TENANT = "acme"
#: Two Contoso contacts with Alex Wilber's address: his Entra user has two candidates, so the first sync queues him for
#: review (Megan Bowen, whose seeded address exists upstream, is linked; the other users are created or skipped).
REVIEW_CLIENT, REVIEW_EMAIL = "Contoso Ltd", "alex.wilber@contoso.com"
REVIEW_CANDIDATES = ("Alex W.", "Alex Wilber (old record)")
PAGE_TIMEOUT_MS = 20_000
RUN_TIMEOUT_MS = 90_000
PAGES, API = "/settings/integrations/entra", "/api/integrations/entra"
#: The simulator's demo customers by display name (Contoso, Fabrikam and Northwind share a domain with acme's clients,
#: "Tailspin Toys Limited" only resembles "Tailspin Toys" by name, Proseware resembles nobody).
DEMO_TENANTS = {c["displayName"]: c["tenantId"] for c in demo_dataset()["customers"]}


@dataclass(frozen=True)
class LiveHost:
    """The served example host and the world behind it (``world.tenant`` is acme, the MSP the admin belongs to)."""

    world: SyncWorld
    base_url: str

    def client_id(self, name: str) -> str:
        with self.world.app.app_context():
            return next(c.id for c in get_state().adapter.list_clients(MSP_TENANT) if c.name == name)

    def set_flag(self, key: str, enabled: bool) -> None:
        with self.world.app.app_context():
            self.world.app.extensions["entra"].flags.set_enabled(key, enabled)

    def entra_fingerprint(self) -> dict[str, tuple[int, str]]:
        """Row count and an md5 of every row's text, per entra_* table: equal fingerprints mean no write happened."""
        found = {}
        with self.world.app.app_context():
            session = get_state().session
            for table in EntraBase.metadata.sorted_tables:
                row = session.execute(
                    text(
                        f"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) "
                        f"FROM {table.name} AS t"  # names come from our own metadata, not from input
                    )
                ).one()
                found[table.name] = (int(row[0]), str(row[1]))
            session.rollback()
        return found


@contextmanager
def temporal_dev_server() -> Iterator[TemporalServer]:
    """The ``temporal`` CLI's dev server, for callers outside pytest (the tests use the ``temporal_server`` fixture)."""
    loop = LoopThread("temporal-dev-server")
    env = loop.run(WorkflowEnvironment.start_local(dev_server_existing_path=temporal_cli()), timeout=120)
    try:
        config = env.client.service_client.config
        yield TemporalServer(config.target_host, env.client.namespace, env.client, loop)
    finally:
        loop.run(env.shutdown())
        loop.close()


@contextmanager
def serving(world: SyncWorld) -> Iterator[str]:
    """The host app on werkzeug's threaded server (a real socket: the browser and the OAuth redirect reach it)."""
    server = make_server("127.0.0.1", 0, world.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="entra-live-host", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@contextmanager
def live_host(temporal: TemporalServer, workdir: Path) -> Iterator[LiveHost]:
    url = create_database("entra_browser")
    try:
        with sync_world(
            url.replace("postgresql://", "postgresql+psycopg://", 1), temporal, workdir / "secrets", demo_dataset()
        ) as world:
            world = replace(world, tenant=MSP_TENANT)
            for full_name in REVIEW_CANDIDATES:
                _add_contact(world, REVIEW_CLIENT, full_name, REVIEW_EMAIL)
            with serving(world) as base_url:
                yield LiveHost(world, base_url)
    finally:
        drop_database(url)


def _add_contact(world: SyncWorld, client_name: str, full_name: str, email: str) -> None:
    from example_host.models import Client, Contact, db

    with world.app.app_context():
        client = db.session.execute(db.select(Client).filter_by(tenant=world.tenant, name=client_name)).scalar_one()
        db.session.add(Contact(tenant=world.tenant, client_id=client.id, full_name=full_name, email=email))
        db.session.commit()


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium under Playwright (never a downloaded browser)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def new_page(browser: Browser, base_url: str) -> Iterator[Page]:
    """A page in a fresh context (its own cookies, so each test signs in as whom it needs)."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Through the host's own login form, as a person would."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: not url.split("?")[0].endswith("/login"))


@pytest.fixture(scope="module")
def live(temporal_server: TemporalServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHost]:
    with live_host(temporal_server, tmp_path_factory.mktemp("browser")) as host:
        yield host


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser, live: LiveHost) -> Iterator[Page]:
    with new_page(browser, live.base_url) as opened:
        yield opened


# -- the wizard, walked as an admin would (shared by the tests and the docs screenshots) -----------------------------


def connect_direct(page: Page, at_consent: Callable[[], None] = lambda: None) -> None:
    """Step 1: "Sign in with Microsoft", Accept on the (simulated) consent page, back on step 2 connected."""
    page.goto(f"{PAGES}/connect")
    page.get_by_role("button", name="Sign in with Microsoft").click()
    expect(page.get_by_role("heading", name="Permissions requested")).to_be_visible()
    at_consent()
    page.get_by_role("button", name="Accept").click()
    page.wait_for_url(re.compile(f"{PAGES}/discover$"))
    expect(page.locator('[data-flash="entra-ok"]')).to_contain_text("Connected to Microsoft")


def run_discovery(page: Page) -> None:
    """Step 2: run discovery and watch it until the page lists every demo customer."""
    page.goto(f"{PAGES}/discover")
    page.get_by_role("button", name="Run discovery").click()
    expect(page.locator("#tenants tbody tr")).to_have_count(len(DEMO_TENANTS), timeout=RUN_TIMEOUT_MS)


def tenant_row(page: Page, display_name: str) -> Locator:
    return page.locator(f'tr[data-tenant="{DEMO_TENANTS[display_name]}"]')


def choose_mappings(page: Page, live: LiveHost) -> dict[str, tuple[str, str | None]]:
    """Step 3 up to (not including) confirm: accept the auto-matches, skip Northwind, take Tailspin's fuzzy candidate,
    find Litware for Proseware through the client search. Returns the expected ``{entra tenant: (state, client id)}``."""
    page.goto(f"{PAGES}/map")
    page.get_by_role("button", name="Accept all auto-matches").click()
    tenant_row(page, "Northwind Traders").locator("select.decision").select_option("skip")
    tailspin, litware = live.client_id("Tailspin Toys"), live.client_id("Litware")
    fuzzy = tenant_row(page, "Tailspin Toys Limited").locator(f'option[value="map:{tailspin}"]')
    expect(fuzzy).to_contain_text("fuzzy")
    tenant_row(page, "Tailspin Toys Limited").locator("select.decision").select_option(f"map:{tailspin}")
    proseware = tenant_row(page, "Proseware Inc")
    proseware.locator("input.client-search").fill("litw")
    proseware.get_by_role("button", name="Litware").click()
    expect(proseware.locator("select.decision")).to_have_value(f"map:{litware}")
    expect(page.locator("#pending-count")).to_have_text(str(len(DEMO_TENANTS)))
    return {
        DEMO_TENANTS["Contoso Ltd"]: ("mapped", live.client_id("Contoso Ltd")),
        DEMO_TENANTS["Fabrikam, Inc."]: ("mapped", live.client_id("Fabrikam, Inc.")),
        DEMO_TENANTS["Northwind Traders"]: ("skipped", None),
        DEMO_TENANTS["Tailspin Toys Limited"]: ("mapped", tailspin),
        DEMO_TENANTS["Proseware Inc"]: ("mapped", litware),
    }


def confirm_mappings(page: Page) -> None:
    page.get_by_role("button", name="Confirm decisions").click()
    expect(page.locator("#group-mapped h2")).to_contain_text("(4)")


def dry_run(page: Page) -> str:
    """Step 4's preview: returns the finished dry run's id."""
    page.goto(f"{PAGES}/sync")
    with page.expect_response(lambda r: r.url.endswith(f"{API}/sync") and r.request.method == "POST") as started:
        page.get_by_role("button", name="Preview the initial sync").click()
    expect(page.locator("#dry-status")).to_contain_text("completed", timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#dry-result li")).not_to_have_count(0)
    return str(started.value.json()["run_id"])


def initial_sync(page: Page) -> str:
    """Step 4's start button, watched until the run completed; returns the run's id (the page is still step 4)."""
    with page.expect_response(lambda r: r.url.endswith(f"{API}/sync") and r.request.method == "POST") as started:
        page.get_by_role("button", name="Start initial sync").click()
    expect(page.locator("#sync-progress")).to_be_visible()
    expect(page.locator("#sync-status")).to_contain_text("completed", timeout=RUN_TIMEOUT_MS)
    return str(started.value.json()["run_id"])
