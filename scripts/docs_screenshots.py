"""`make docs-screenshots`: walk the wizard as acme's admin in headless Chromium and write a PNG of each real page.

Starts the browser tests' world (tests/plugins/browser.py): a PostgreSQL database of its own (PostgreSQL must be running,
as for `make test`), the simulator with its demo dataset, a Temporal dev server with a worker, the example host served
on a free port. Everything is stopped and dropped at the end; only docs/screenshots/*.png stay.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
sys.path.insert(0, str(ROOT))  # the start-up lives with the tests it is shared with

from playwright.sync_api import Page, expect  # noqa: E402

from tests.plugins.browser import (  # noqa: E402
    ADMIN,
    PAGES,
    REVIEW_CLIENT,
    choose_mappings,
    chromium,
    confirm_mappings,
    connect_direct,
    dry_run,
    initial_sync,
    live_host,
    new_page,
    run_discovery,
    sign_in,
    temporal_dev_server,
)


def shoot(page: Page, name: str) -> None:
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"wrote {path.relative_to(ROOT)}")


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request would bury the output
    OUT.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="entra-screenshots-") as workdir,
        temporal_dev_server() as temporal,
        live_host(temporal, Path(workdir)) as live,
        chromium() as browser,
        new_page(browser, live.base_url) as page,
    ):
        sign_in(page, ADMIN)
        page.goto(f"{PAGES}/connect")
        shoot(page, "1-connect")
        connect_direct(page, at_consent=lambda: shoot(page, "1-consent"))
        run_discovery(page)
        shoot(page, "2-discover")
        choose_mappings(page, live)
        shoot(page, "3-map")
        confirm_mappings(page)
        dry_run(page)
        shoot(page, "4-sync-dry-run")
        initial_sync(page)
        page.get_by_role("link", name="See the run's per-tenant results").click()
        expect(page.locator("#run-status")).to_have_text("completed")
        shoot(page, "5-run-detail")
        page.goto(f"{PAGES}/review")
        shoot(page, "6-review")
        page.goto(f"{PAGES}/settings")
        shoot(page, "7-settings")
        page.goto(f"/clients/{live.client_id(REVIEW_CLIENT)}")
        page.get_by_role("button", name="Sync Entra Now").click()
        expect(page.locator(".entra-sync-status")).to_contain_text("completed", timeout=90_000)
        shoot(page, "8-client-sync-button")


if __name__ == "__main__":
    main()
