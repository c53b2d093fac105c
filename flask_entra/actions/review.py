"""The review queue: ambiguous identities, resolved by a person (link existing, create new, or dismiss)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import flags
from ..errors import Conflict, NotFound, ValidationFailed
from ..host import READ, UPDATE, Principal
from ..models import ContactLink, ReconciliationItem, utcnow
from ..providers.base import EntraUser
from ..reconcile.user_fields import new_contact
from . import serialize
from ._common import enter, field, json_object, one_of_tenant, session


def list_review_items(principal: Principal | None, *, status: str = "open") -> list[dict[str, Any]]:
    principal, state = enter(principal, READ, (flags.QUEUE,))
    stmt = (
        select(ReconciliationItem)
        .filter_by(tenant=principal.tenant, status=status)
        .order_by(ReconciliationItem.created_at)
        .limit(500)
    )
    items = list(session().execute(stmt).scalars())
    wanted = {cid for item in items for cid in item.candidate_contact_ids or []}
    contacts = {c.id: c for c in state.adapter.get_contacts(principal.tenant, wanted)} if wanted else {}
    out = []
    for item in items:
        candidates = [
            {
                "contact_id": c.id,
                "full_name": c.full_name,
                "email": c.email,
                "client_id": c.client_id,
                "is_inactive": c.is_inactive,
            }
            for c in (contacts.get(cid) for cid in item.candidate_contact_ids or [])
            if c is not None
        ]
        out.append(serialize.review_item(item, candidates))
    return out


def resolve_item(principal: Principal | None, item_id: str, payload: Any) -> dict[str, Any]:
    """Link to an existing contact of the item's client, create a new contact, or dismiss; records who and when."""
    principal, state = enter(principal, UPDATE, (flags.QUEUE,))
    item = one_of_tenant(ReconciliationItem, principal.tenant, id=item_id)  # another tenant's id: 404 first
    body = json_object(payload)
    action = field(body, "action", str)
    if action not in ("link_existing", "create_new", "dismiss"):
        raise ValidationFailed("'action' must be link_existing, create_new or dismiss.")
    s = session()
    s.refresh(item, with_for_update=True)  # two reviewers resolving at once: the second sees the first's outcome
    if item.status != "open":
        raise Conflict("This item is already resolved.")
    contact_id: str | None = None
    if action == "link_existing":
        contact_id = str(field(body, "contact_id", (str, int)))
        found = state.adapter.get_contacts(principal.tenant, [contact_id])
        if not found or found[0].client_id != item.client_id:
            raise NotFound("That contact is not a contact of this item's client.")
    elif action == "create_new":
        new = new_contact(_queued_user(item), item.client_id)  # the same contact a sync would have created
        contact_id = state.adapter.create_contacts(principal.tenant, [new])[0]
    try:
        if contact_id is not None:
            _link(principal.tenant, item, contact_id)
        item.status = "dismissed" if action == "dismiss" else "resolved"
        item.resolution, item.resolved_contact_id = action, contact_id
        item.resolved_by, item.resolved_at = principal.user_id, utcnow()
        s.commit()
    except IntegrityError:
        s.rollback()
        raise Conflict("That contact is already linked to another Microsoft identity.") from None
    return serialize.review_item(item, [])


def _queued_user(item: ReconciliationItem) -> EntraUser:
    """The user as the sync stored it on the item (``entra_reconciliation_items.user``)."""
    user = item.user or {}
    return EntraUser(
        object_id=item.entra_object_id,
        user_principal_name=user.get("user_principal_name") or "",
        display_name=user.get("display_name") or "",
        mail=user.get("mail"),
        other_mails=tuple(user.get("other_mails") or ()),
        account_enabled=bool(user.get("account_enabled", True)),
        job_title=user.get("job_title"),
        mobile_phone=user.get("mobile_phone"),
        business_phones=tuple(user.get("business_phones") or ()),
    )


def _link(tenant: str, item: ReconciliationItem, contact_id: str) -> None:
    """Point the identity at the chosen contact (reusing its link row if one exists, e.g. from an old link)."""
    s = session()
    row = (
        s.execute(
            select(ContactLink).filter_by(
                tenant=tenant, entra_tenant_id=item.entra_tenant_id, entra_object_id=item.entra_object_id
            )
        )
        .scalars()
        .first()
    )
    if row is None:
        row = ContactLink(tenant=tenant, entra_tenant_id=item.entra_tenant_id, entra_object_id=item.entra_object_id)
        s.add(row)
    row.client_id, row.contact_id, row.active = item.client_id, contact_id, True
    user = _queued_user(item)
    row.upn, row.mail = user.user_principal_name or None, user.mail
    row.account_enabled, row.link_reason = user.account_enabled, "resolved"
    row.inactivated_by_sync, row.inactivation_reason, row.updated_at = False, None, utcnow()
    s.flush()
