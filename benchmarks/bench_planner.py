"""B2b-plan: planning a no-change re-sync of 50,000 linked users must reach 100,000 users/s.

Run: ``.venv/bin/python benchmarks/bench_planner.py`` (prints the result as JSON).
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

from flask_entra.host import CONTACT_FIELDS, ContactRecord
from flask_entra.providers.base import EntraUser, UserListing
from flask_entra.reconcile import LinkState, LocalState, PlanSettings, plan_sync

USERS = 50_000
RUNS = 5
TARGET_USERS_PER_SECOND = 100_000
CLIENT_ID = "client-1"
ENTRA_TENANT_ID = "tenant-1"


def _in_step_tenant(count: int) -> tuple[UserListing, LocalState]:
    """A tenant whose every user is linked and whose contacts and links already match Entra."""
    users, contacts, links = [], [], []
    for number in range(count):
        object_id = f"{number:08d}-0000-4000-8000-000000000000"
        email = f"user{number}@contoso.example"
        users.append(
            EntraUser(
                object_id=object_id,
                user_principal_name=email,
                display_name=f"User {number}",
                mail=email,
                job_title="Engineer",
                mobile_phone=f"+1 555 {number:07d}",
                business_phones=(f"+1 444 {number:07d}",),
            )
        )
        contacts.append(
            ContactRecord(
                id=f"c{number}",
                client_id=CLIENT_ID,
                full_name=f"User {number}",
                email=email,
                phone=f"+1 444 {number:07d}",
                mobile=f"+1 555 {number:07d}",
                job_title="Engineer",
            )
        )
        links.append(LinkState(object_id, f"c{number}", CLIENT_ID, upn=email, mail=email))
    state = LocalState(
        contacts=tuple(contacts), links=tuple(links), linked_contact_ids=frozenset(c.id for c in contacts)
    )
    return UserListing(users=users), state


def _median_users_per_second(listing: UserListing, state: LocalState, settings: PlanSettings) -> float:
    durations = []
    for _ in range(RUNS):
        started = time.perf_counter()
        plan = plan_sync(
            entra_tenant_id=ENTRA_TENANT_ID, client_id=CLIENT_ID, listing=listing, state=state, settings=settings
        )
        durations.append(time.perf_counter() - started)
        if not plan.is_empty:
            raise AssertionError("a no-change re-sync must plan nothing")
    return len(listing.users) / statistics.median(durations)


def run() -> dict[str, Any]:
    """Default settings (every field toggle off) is the measured figure; every toggle on (each field compared, the
    slowest no-change path) is reported beside it."""
    listing, state = _in_step_tenant(USERS)
    users_per_second = _median_users_per_second(listing, state, PlanSettings())
    all_toggles = _median_users_per_second(listing, state, PlanSettings(field_toggles=frozenset(CONTACT_FIELDS)))
    return {
        "id": "B2b-plan",
        "what": f"plan_sync, no-change re-sync of {USERS} linked users, median of {RUNS}",
        "users": USERS,
        "runs": RUNS,
        "users_per_second": round(users_per_second),
        "all_toggles_users_per_second": round(all_toggles),
        "target": TARGET_USERS_PER_SECOND,
        "met": users_per_second >= TARGET_USERS_PER_SECOND,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
