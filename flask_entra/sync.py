"""Applies the planner's plan for one Microsoft tenant of one run, in one transaction.

The contacts (through the host adapter's bulk methods), our link rows, the review items and the tenant's run row
commit together: a retried activity finds its tenant row finished and returns the stored result, and a re-run plans
from what was committed, so nothing is ever created twice. The plan is made inside the transaction, under a lock per
Microsoft tenant, from the database as it is then. A plan with nothing to do writes nothing but the run row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, exists, insert, select, update
from sqlalchemy.orm import Session

from .errors import Conflict, NotFound
from .host import ContactUpdate, HostAdapter
from .models import ContactLink, ReconciliationItem, SyncRun, SyncRunTenant, new_id, utcnow
from .providers.base import UserListing
from .reconcile import Identity, Inactivation, Plan, plan_sync
from .sqlalchemy_adapter.bulk import bulk_for
from .sync_runs import FINISHED_TENANT_STATES, recompute_run, refresh_progress, tenant_row
from .sync_state import load_links, load_state, lock_microsoft_tenant, plan_settings

LINKS = ContactLink.__table__


@dataclass(frozen=True)
class TenantJob:
    """One Microsoft tenant of one run."""

    tenant: str
    run_id: str
    entra_tenant_id: str
    client_id: str
    dry_run: bool = False


@dataclass(frozen=True)
class TenantResult:
    """``status``: completed | held (real runs only); ``error`` notes an incomplete listing."""

    status: str
    counters: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def stored_result(row: SyncRunTenant) -> TenantResult | None:
    """The result of a tenant that already finished in this run (what a retried activity returns)."""
    if row.status not in FINISHED_TENANT_STATES or row.status == "failed":
        return None
    return TenantResult(status=row.status, counters=dict(row.counters or {}), error=row.error)


def sync_tenant(session: Session, adapter: HostAdapter, job: TenantJob, listing: UserListing) -> TenantResult:
    """Plan and (unless a dry run) apply one Microsoft tenant's listing; records the tenant row. Commits."""
    try:
        lock_microsoft_tenant(session, job.tenant, job.entra_tenant_id)
        row = tenant_row(session, job.tenant, job.run_id, job.entra_tenant_id)
        if row is None:
            raise NotFound(f"Run {job.run_id} has no Microsoft tenant {job.entra_tenant_id}.")
        previous = stored_result(row)
        if previous is not None:
            session.rollback()
            return previous
        loaded = load_state(session, adapter, job.tenant, job.entra_tenant_id, job.client_id, listing)
        plan = plan_sync(
            entra_tenant_id=job.entra_tenant_id,
            client_id=job.client_id,
            listing=listing,
            state=loaded.local,
            settings=plan_settings(session, job.tenant),
        )
        now = utcnow()
        if not job.dry_run:
            _apply(session, adapter, job, plan, loaded.link_ids, now)
        result = TenantResult(
            status="held" if plan.held and not job.dry_run else "completed",
            counters=plan.counters(),
            error=None if listing.complete else _incomplete_note(listing),
        )
        row.status, row.counters, row.error, row.finished_at = result.status, result.counters, result.error, now
        row.client_id = job.client_id
        row.held_inactivations = [] if job.dry_run else [_held_entry(item) for item in plan.held_inactivations]
        row.examples = _examples(plan) if job.dry_run else {}
        session.flush()
        refresh_progress(session, job.tenant, job.run_id)
        session.commit()
        return result
    except BaseException:
        session.rollback()
        raise


def _incomplete_note(listing: UserListing) -> str:
    cause = f": {listing.error}" if listing.error else ""
    return f"The user listing was incomplete{cause}. Links and new contacts were applied; nothing was inactivated."


def _examples(plan: Plan, limit: int = 5) -> dict[str, list[str]]:
    """A few names per kind of change, so a dry run's preview shows who would be affected (names only, no secrets)."""
    return {
        "created": [c.contact.full_name for c in plan.creates[:limit]],
        "linked": [link.identity.upn or link.identity.object_id for link in plan.links[:limit]],
        "queued": [r.user.display_name or r.user.user_principal_name for r in plan.reviews[:limit]],
        "inactivated": [i.object_id for i in (plan.inactivations or plan.held_inactivations)[:limit]],
    }


def _held_entry(item: Inactivation) -> dict[str, str]:
    return {"contact_id": item.contact_id, "object_id": item.object_id, "reason": item.reason}


# -- applying a plan -------------------------------------------------------------------------------------------------


def _apply(
    session: Session, adapter: HostAdapter, job: TenantJob, plan: Plan, link_ids: Mapping[str, str], now: datetime
) -> None:
    new_contact_ids = adapter.create_contacts(job.tenant, [create.contact for create in plan.creates])
    contact_changes: dict[str, dict[str, Any]] = defaultdict(dict)
    for change in plan.updates:
        contact_changes[change.contact_id].update(change.changes)
    for inactivation in plan.inactivations:
        contact_changes[inactivation.contact_id]["is_inactive"] = True
    for reactivation in plan.reactivations:
        contact_changes[reactivation.contact_id]["is_inactive"] = False
    if contact_changes:
        adapter.update_contacts(job.tenant, [ContactUpdate(cid, changes) for cid, changes in contact_changes.items()])

    links = _LinkWrites(job, link_ids, now)
    for create, contact_id in zip(plan.creates, new_contact_ids, strict=True):
        links.bind(create.identity, contact_id, "created")
    for link in plan.links:
        links.bind(link.identity, link.contact_id, link.reason)
    for refresh in plan.link_refreshes:
        links.change(refresh.identity.object_id, _identity_values(refresh.identity, now))
        if refresh.clear_inactivation:
            links.change(refresh.identity.object_id, {"inactivated_by_sync": False, "inactivation_reason": None})
    mark_inactivated(links, plan.inactivations)
    for reactivation in plan.reactivations:
        links.change(reactivation.object_id, {"inactivated_by_sync": False, "inactivation_reason": None})
    links.write(session)
    _queue_reviews(session, job, plan)


def _identity_values(identity: Identity, now: datetime) -> dict[str, Any]:
    return {
        "upn": identity.upn,
        "mail": identity.mail,
        "account_enabled": identity.account_enabled,
        "last_seen_at": now,
    }


def mark_inactivated(links: _LinkWrites, inactivations: Iterable[Inactivation]) -> None:
    for item in inactivations:
        links.change(item.object_id, {"inactivated_by_sync": True, "inactivation_reason": item.reason})


class _LinkWrites:
    """Collects link inserts and per-row updates, then writes them as a few statements.

    New rows are kept as tuples in the order of ``INSERT_KEYS``: at 100,000 new links, dicts would cost the worker
    some 50 MB more at its peak."""

    INSERT_KEYS = (
        "tenant",
        "id",
        "entra_tenant_id",
        "entra_object_id",
        "created_at",
        "updated_at",
        "contact_id",
        "client_id",
        "active",
        "link_reason",
        "inactivated_by_sync",
        "inactivation_reason",
        "upn",
        "mail",
        "account_enabled",
        "last_seen_at",
    )

    def __init__(self, job: TenantJob, link_ids: Mapping[str, str], now: datetime) -> None:
        self.job, self.link_ids, self.now = job, link_ids, now
        self.inserts: list[tuple[Any, ...]] = []
        self.updates: dict[str, dict[str, Any]] = defaultdict(dict)

    def bind(self, identity: Identity, contact_id: str, reason: str) -> None:
        """Link an identity to a contact: update its (inactive) row when one exists, else insert one."""
        values = {
            "contact_id": contact_id,
            "client_id": self.job.client_id,
            "active": True,
            "link_reason": reason,
            "inactivated_by_sync": False,
            "inactivation_reason": None,
            **_identity_values(identity, self.now),
        }
        if identity.object_id in self.link_ids:
            self.change(identity.object_id, values)
            return
        row = {
            "tenant": self.job.tenant,
            "id": new_id(),
            "entra_tenant_id": self.job.entra_tenant_id,
            "entra_object_id": identity.object_id,
            "created_at": self.now,
            "updated_at": self.now,
            **values,
        }
        self.inserts.append(tuple(row[key] for key in self.INSERT_KEYS))

    def change(self, object_id: str, values: Mapping[str, Any]) -> None:
        link_id = self.link_ids.get(object_id)
        if link_id is None:
            raise NotFound(f"No link row for identity {object_id}.")
        self.updates[link_id].update(values, updated_at=self.now)

    def write(self, session: Session) -> None:
        if self.inserts:
            bulk_for(session).copy_in(LINKS, self.INSERT_KEYS, self.inserts)  # a COPY on PostgreSQL
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for link_id, values in self.updates.items():
            groups[tuple(sorted(values))].append({"link_id": link_id, **{f"v_{k}": v for k, v in values.items()}})
        for columns, params in groups.items():
            stmt = (
                update(LINKS)
                .where(LINKS.c.tenant == self.job.tenant, LINKS.c.id == bindparam("link_id"))
                .values({column: bindparam(f"v_{column}") for column in columns})
            )
            session.execute(stmt, params)


def _queue_reviews(session: Session, job: TenantJob, plan: Plan) -> None:
    rows = [
        {
            "tenant": job.tenant,
            "id": new_id(),
            "entra_tenant_id": job.entra_tenant_id,
            "entra_object_id": item.object_id,
            "client_id": job.client_id,
            "run_id": job.run_id,
            "user": {
                "display_name": item.user.display_name,
                "user_principal_name": item.user.user_principal_name,
                "mail": item.user.mail,
                "other_mails": list(item.user.other_mails),
                "account_enabled": item.user.account_enabled,
                "job_title": item.user.job_title,
                "mobile_phone": item.user.mobile_phone,
                "business_phones": list(item.user.business_phones),
                "other_client_contacts": [
                    {"contact_id": contact_id, "client_id": client_id}
                    for contact_id, client_id in item.other_client_contacts
                ],
            },
            "candidate_contact_ids": list(item.candidate_contact_ids),
            "reason": item.reason,
            "status": "open",
            "created_at": utcnow(),
        }
        for item in plan.reviews
    ]
    if rows:
        session.execute(insert(ReconciliationItem.__table__), rows)


# -- releasing a held mass inactivation ------------------------------------------------------------------------------


def release_held(
    session: Session, adapter: HostAdapter, tenant: str, run_id: str, entra_tenant_id: str, user_id: str
) -> dict[str, Any]:
    """Apply a held tenant's inactivations after an admin confirmed them. Commits.

    Each is re-checked first: the link must still be active on the same contact, the contact still active and not
    already inactivated by the sync, and a ``disabled`` user still disabled as last seen. Only the latest real run's
    held result of a Microsoft tenant can be released: after a newer run, what it held may no longer hold.
    """
    try:
        lock_microsoft_tenant(session, tenant, entra_tenant_id)
        run = session.get(SyncRun, (tenant, run_id))
        row = tenant_row(session, tenant, run_id, entra_tenant_id)
        if run is None or row is None:
            raise NotFound("Not found.")
        if row.status != "held":
            raise Conflict("Nothing is held for this Microsoft tenant in this run.")
        if _newer_run_exists(session, run, entra_tenant_id):
            raise Conflict(
                "A newer sync of this Microsoft tenant has run since; release that run's held result instead."
            )
        still_due = _still_due(session, adapter, tenant, entra_tenant_id, row.held_inactivations or [])
        now = utcnow()
        if still_due:
            adapter.update_contacts(
                tenant, [ContactUpdate(item.contact_id, {"is_inactive": True}) for item in still_due]
            )
            job = TenantJob(tenant, run_id, entra_tenant_id, row.client_id or "")
            link_ids = {link.entra_object_id: link.id for link in load_links(session, tenant, entra_tenant_id)}
            links = _LinkWrites(job, link_ids, now)
            mark_inactivated(links, still_due)
            links.write(session)
        held = len(row.held_inactivations or [])
        counters = dict(row.counters or {})
        counters["inactivated"] = int(counters.get("inactivated", 0)) + len(still_due)
        counters.update(released=len(still_due), release_skipped=held - len(still_due), released_by=user_id)
        row.status, row.counters = "released", counters
        session.flush()
        recompute_run(session, run)
        session.commit()
        return {"entra_tenant_id": entra_tenant_id, "released": len(still_due), "skipped": held - len(still_due)}
    except BaseException:
        session.rollback()
        raise


def _newer_run_exists(session: Session, run: SyncRun, entra_tenant_id: str) -> bool:
    stmt = select(
        exists().where(
            SyncRunTenant.tenant == run.tenant,
            SyncRunTenant.entra_tenant_id == entra_tenant_id,
            SyncRunTenant.run_id == SyncRun.id,
            SyncRun.tenant == run.tenant,
            SyncRun.dry_run.is_(False),
            SyncRun.created_at > run.created_at,
            SyncRunTenant.status.in_(("completed", "held", "released")),
        )
    )
    return bool(session.scalar(stmt))


def _still_due(
    session: Session, adapter: HostAdapter, tenant: str, entra_tenant_id: str, held: Sequence[Mapping[str, Any]]
) -> list[Inactivation]:
    links = {link.entra_object_id: link for link in load_links(session, tenant, entra_tenant_id)}
    contacts = {c.id: c for c in adapter.get_contacts(tenant, [item["contact_id"] for item in held])}
    due = []
    for item in held:
        link, contact = links.get(item["object_id"]), contacts.get(item["contact_id"])
        if link is None or contact is None or contact.is_inactive:
            continue
        if not link.active or link.contact_id != contact.id or link.inactivated_by_sync:
            continue
        if item["reason"] == "disabled" and link.account_enabled:
            continue
        due.append(Inactivation(contact.id, link.entra_object_id, item["reason"]))
    return due
