"""The wizard in headless Chromium against the example host served for real (see tests/plugins/browser.py).

One world per module, and the tests tell one story in file order: an admin connects, discovers and maps (issue 4), runs
the dry run and the initial sync (issue 5), then uses the client page's button, the review queue and the settings page
(issue 6). Each later test starts where the previous one ended.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from flask_entra import flags
from tests.plugins.browser import (
    ADMIN,
    API,
    PAGES,
    PORTAL_USER,
    REVIEW_CANDIDATES,
    REVIEW_EMAIL,
    RUN_TIMEOUT_MS,
    LiveHost,
    choose_mappings,
    confirm_mappings,
    connect_direct,
    dry_run,
    initial_sync,
    run_discovery,
    sign_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WIZARD_PAGES = ("", "/connect", "/discover", "/map", "/sync", "/runs", "/runs/any-run", "/review", "/settings")
#: The run counters the pages show, with their labels.
COUNTERS = {
    "created": "created",
    "linked": "linked",
    "updated": "updated",
    "inactivated": "inactivated",
    "reactivated": "reactivated",
    "ambiguous": "queued for review",
    "skipped": "skipped",
}


def api_get(page: Page, path: str) -> Any:
    """The JSON API as the signed-in browser sees it (same cookies)."""
    response = page.request.get(f"{API}{path}")
    assert response.status == 200, (path, response.status, response.text())
    return response.json()


def test_client_portal_user_is_refused_every_wizard_page(page: Page) -> None:
    sign_in(page, PORTAL_USER)
    for path in WIZARD_PAGES:
        response = page.goto(f"{PAGES}{path}")
        assert response is not None and response.status == 403, path
        assert "Entra" not in page.content(), path


def test_admin_connects_discovers_and_maps_writing_nothing_before_confirm(page: Page, live: LiveHost) -> None:
    sign_in(page, ADMIN)
    connect_direct(page)
    run_discovery(page)

    untouched = live.entra_fingerprint()
    page.goto(f"{PAGES}/map")
    expect(page.locator("#next-step")).to_be_disabled()
    expected = choose_mappings(page, live)
    api_get(page, "/mappings/preview")
    page.reload()
    expected = choose_mappings(page, live)  # a second round of selections after another preview load
    assert live.entra_fingerprint() == untouched
    expect(page.locator("#next-step")).to_be_disabled()

    confirm_mappings(page)
    expect(page.locator("#next-step")).to_be_enabled()
    mappings = {t["entra_tenant_id"]: t["mapping"] for t in api_get(page, "/tenants")["tenants"]}
    assert {k: (m["state"], m["client_id"]) for k, m in mappings.items()} == expected
    assert sorted(m["reason"] for m in mappings.values()) == ["exact_domain", "exact_domain", "fuzzy", "manual", "skip"]


def test_dry_run_then_initial_sync_with_progress_and_run_detail(page: Page) -> None:
    sign_in(page, ADMIN)
    dry_run_id = dry_run(page)
    dry = api_get(page, f"/sync/runs/{dry_run_id}")
    assert dry["dry_run"] and dry["status"] == "completed"
    shown = page.locator("#dry-counters").inner_text()
    assert shown == " · ".join(f"{label} {dry['counters'].get(k, 0)}" for k, label in COUNTERS.items())
    assert dry["counters"]["created"] > 0 and dry["counters"]["linked"] == 2 and dry["counters"]["ambiguous"] == 1

    run_id = initial_sync(page)
    expect(page.locator("#sync-status")).to_have_text("completed · 4 of 4 tenants")
    assert page.locator("#sync-progress").evaluate("p => p.value === p.max")
    page.get_by_role("link", name="See the run's per-tenant results").click()
    expect(page.locator("#run-status")).to_have_text("completed")

    run = api_get(page, f"/sync/runs/{run_id}")
    assert {k: run["counters"].get(k, 0) for k in COUNTERS} == {k: dry["counters"].get(k, 0) for k in COUNTERS}
    assert len(run["tenants"]) == 4
    expect(page.locator("#run-tenants")).to_contain_text("Tailspin Toys Limited → Tailspin Toys")
    for tenant in run["tenants"]:
        row = page.locator(f'#run-tenants tr[data-tenant="{tenant["entra_tenant_id"]}"]')
        for key in COUNTERS:
            expect(row.locator(f'[data-counter="{key}"]')).to_have_text(str(tenant["counters"].get(key, 0)))


def test_client_page_sync_button_only_for_mapped_client_with_flag(page: Page, live: LiveHost) -> None:
    sign_in(page, ADMIN)
    button = page.get_by_role("button", name="Sync Entra Now")
    page.goto(f"/clients/{live.client_id('Northwind Traders')}")  # its tenant was skipped: unmapped
    expect(page.get_by_role("heading", name="Northwind Traders")).to_be_visible()
    expect(button).to_have_count(0)

    contoso = f"/clients/{live.client_id('Contoso Ltd')}"
    live.set_flag(flags.CLIENT_SYNC, False)
    try:
        page.goto(contoso)
        expect(page.get_by_role("heading", name="Contoso Ltd")).to_be_visible()
        expect(button).to_have_count(0)
    finally:
        live.set_flag(flags.CLIENT_SYNC, True)

    page.goto(contoso)
    button.click()
    expect(page.locator(".entra-sync-status")).to_have_text("Sync completed (1/1 tenants)", timeout=RUN_TIMEOUT_MS)
    expect(button).to_be_enabled()
    assert api_get(page, "/sync/runs")["runs"][0]["kind"] == "client"


def test_review_queue_resolves_by_linking_and_settings_save(page: Page) -> None:
    sign_in(page, ADMIN)
    page.goto(f"{PAGES}/review")
    item = page.locator("#review-items tr", has_text=REVIEW_EMAIL)
    expect(item).to_have_count(1)
    item.get_by_role("button", name=f"Link to {REVIEW_CANDIDATES[0]}").click()
    expect(page.locator("#review-items tr", has_text=REVIEW_EMAIL)).to_have_count(0)
    assert all(REVIEW_EMAIL not in str(i["user"]) for i in api_get(page, "/reconciliation")["items"])

    page.goto(f"{PAGES}/settings")
    page.get_by_label("Every").fill("240")
    page.get_by_label("Guests").uncheck()
    page.get_by_label("Job title").check()
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#settings-message")).to_have_text("Saved.")
    saved = api_get(page, "/settings")
    assert saved["interval_minutes"] == 240
    assert saved["filters"]["skip_guests"] is False
    assert saved["field_toggles"]["job_title"] is True
