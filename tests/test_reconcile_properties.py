"""Properties of the planner over random tenants, checked by applying plans to a small in-memory model.

``apply_plan`` below is a deliberately naive applier: it does exactly what each plan entry says, so what holds for it is
what the real applier (sync.py) must reproduce.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from random import Random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flask_entra.host import CONTACT_FIELDS, ContactRecord
from flask_entra.providers.base import EntraUser, SkippedRecord, UserListing
from flask_entra.reconcile import Identity, LinkState, LocalState, OtherClientContact, Plan, PlanSettings, plan_sync

ENTRA_TENANT = "tenant-a"
CLIENT = "client-a"
OBJECT_IDS = [f"u{n}" for n in range(7)]
CONTACT_IDS = [f"c{n}" for n in range(6)]
# Few addresses, so that users and contacts collide often; one service mailbox and one non-address.
ADDRESSES = ["ana@contoso.com", "ANA@contoso.com", "bob@contoso.com", "cy@contoso.com", "info@contoso.com", "nope"]
VALUES = [None, "", " ", "A", "B", "Ana Silva"]

PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

maybe_address = st.sampled_from([None, *ADDRESSES])
value = st.sampled_from(VALUES)

entra_users = st.builds(
    EntraUser,
    object_id=st.sampled_from(OBJECT_IDS),
    user_principal_name=st.sampled_from(
        ["p@contoso.onmicrosoft.com", "q@contoso.onmicrosoft.com", "x_f.com#EXT#@contoso.onmicrosoft.com", *ADDRESSES]
    ),
    display_name=st.sampled_from(["", "Ana Silva", "Bob"]),
    mail=maybe_address,
    other_mails=st.lists(st.sampled_from(ADDRESSES), max_size=1).map(tuple),
    given_name=value,
    surname=value,
    account_enabled=st.sampled_from([True, True, True, False]),
    job_title=value,
    mobile_phone=value,
    business_phones=st.lists(st.sampled_from(["", "+1 444", "+1 445"]), max_size=2).map(tuple),
    user_type=st.sampled_from(["Member", "Member", "Member", "Guest"]),
    licensed=st.sampled_from([True, True, False]),
)

plan_settings = st.builds(
    PlanSettings,
    field_toggles=st.frozensets(st.sampled_from(CONTACT_FIELDS)),
    skip_guests=st.booleans(),
    skip_unlicensed=st.booleans(),
    skip_no_email=st.booleans(),
    service_patterns=st.sampled_from([(), (r"^info@",)]),
    mass_inactivation_min=st.sampled_from([0, 0, 1, 5]),
    mass_inactivation_percent=st.sampled_from([0.0, 20.0, 100.0]),
    released=st.sampled_from([False, False, True]),
)


@st.composite
def local_states(draw: st.DrawFn) -> LocalState:
    """Contacts of the mapped client, links (at most one active per contact, as the database enforces), contacts linked
    from other Microsoft tenants, other clients' contacts and the review queue."""
    contacts = tuple(
        ContactRecord(
            id=contact_id,
            client_id=CLIENT,
            full_name=draw(st.sampled_from(["", "Ana Silva", "Someone"])),
            email=draw(maybe_address),
            phone=draw(value),
            mobile=draw(value),
            job_title=draw(value),
            is_inactive=draw(st.sampled_from([False, False, True])),
        )
        for contact_id in draw(st.lists(st.sampled_from(CONTACT_IDS), unique=True, max_size=len(CONTACT_IDS)))
    )
    linkable = [contact.id for contact in contacts] + ["c-gone"]
    linked_object_ids = draw(st.lists(st.sampled_from(OBJECT_IDS), unique=True, max_size=4))
    targets = draw(
        st.lists(st.sampled_from(linkable), min_size=len(linked_object_ids), max_size=len(linked_object_ids))
    )
    links, active_targets = [], set()
    for object_id, contact_id in zip(linked_object_ids, targets, strict=True):
        active = draw(st.sampled_from([True, True, False])) and contact_id not in active_targets
        active_targets.update({contact_id} if active else set())
        marked = draw(st.booleans())
        links.append(
            LinkState(
                object_id=object_id,
                contact_id=contact_id,
                client_id=CLIENT,
                active=active,
                account_enabled=draw(st.booleans()),
                upn=draw(maybe_address),
                mail=draw(maybe_address),
                inactivated_by_sync=marked,
                inactivation_reason="disabled" if marked else None,
            )
        )
    elsewhere = draw(st.frozensets(st.sampled_from(linkable), max_size=1)) - active_targets
    owners = draw(
        st.dictionaries(st.sampled_from(ADDRESSES), st.just((OtherClientContact("o1", "client-b"),)), max_size=1)
    )
    return LocalState(
        contacts=contacts,
        links=tuple(links),
        linked_contact_ids=frozenset(elsewhere | active_targets),
        other_client_contacts=owners,
        dismissed_object_ids=draw(st.frozensets(st.sampled_from(OBJECT_IDS), max_size=2)),
        open_review_object_ids=draw(st.frozensets(st.sampled_from(OBJECT_IDS), max_size=2)),
    )


@st.composite
def listings(draw: st.DrawFn) -> UserListing:
    """Mostly one record per identity, sometimes a repeated record (identical or not), a soft-deleted or delta-removed
    user, a record the provider rejected, or a listing that failed part-way."""
    users = draw(st.lists(entra_users, max_size=7, unique_by=lambda user: user.object_id))
    if users and draw(st.integers(0, 4)) == 0:
        repeated = draw(st.sampled_from(users))
        users.append(repeated if draw(st.booleans()) else replace(repeated, job_title="Changed"))
    removed = [replace(user, deleted=True) for user in draw(st.lists(entra_users, max_size=2))]
    if draw(st.integers(0, 2)):
        removed = []
    rejected = st.builds(SkippedRecord, st.just("bad"), st.sampled_from([None, *OBJECT_IDS]))
    return UserListing(
        users=users + removed[:1],
        deleted=removed[1:],
        skipped=draw(st.lists(rejected, max_size=1)) if draw(st.integers(0, 3)) == 0 else [],
        complete=draw(st.sampled_from([True, True, False])),
    )


def plan(listing: UserListing, state: LocalState, plan_settings: PlanSettings) -> Plan:
    return plan_sync(
        entra_tenant_id=ENTRA_TENANT, client_id=CLIENT, listing=listing, state=state, settings=plan_settings
    )


def apply_plan(state: LocalState, plan: Plan) -> LocalState:
    """Apply a plan to the in-memory model as the applier must: held inactivations are not applied."""
    contacts = {contact.id: contact for contact in state.contacts}
    links = {link.object_id: link for link in state.links}
    linked = set(state.linked_contact_ids)

    def bind(identity: Identity, contact_id: str) -> None:
        """Upsert on the identity key, as the link table's unique constraint makes the applier do."""
        assert contact_id not in linked, "a plan must never give a contact a second identity"
        links[identity.object_id] = LinkState(
            identity.object_id, contact_id, CLIENT, True, identity.account_enabled, identity.upn, identity.mail
        )
        linked.add(contact_id)

    for link in plan.links:
        bind(link.identity, link.contact_id)
    for create in plan.creates:
        contact_id = f"new-{create.identity.object_id}"
        contacts[contact_id] = ContactRecord(id=contact_id, **vars(create.contact))
        bind(create.identity, contact_id)
    for update in plan.updates:
        assert not {"id", "client_id"} & set(update.changes)
        contacts[update.contact_id] = replace(contacts[update.contact_id], **update.changes)
    for item in plan.inactivations:
        contacts[item.contact_id] = replace(contacts[item.contact_id], is_inactive=True)
        links[item.object_id] = replace(
            links[item.object_id], inactivated_by_sync=True, inactivation_reason=item.reason
        )
    for back in plan.reactivations:
        contacts[back.contact_id] = replace(contacts[back.contact_id], is_inactive=False)
        links[back.object_id] = replace(links[back.object_id], inactivated_by_sync=False, inactivation_reason=None)
    for refresh in plan.link_refreshes:
        identity = refresh.identity
        changes = {"upn": identity.upn, "mail": identity.mail, "account_enabled": identity.account_enabled}
        if refresh.clear_inactivation:
            changes |= {"inactivated_by_sync": False, "inactivation_reason": None}
        links[identity.object_id] = replace(links[identity.object_id], **changes)  # type: ignore[arg-type]
    return replace(
        state,
        contacts=tuple(contacts.values()),
        links=tuple(links.values()),
        linked_contact_ids=frozenset(linked),
        open_review_object_ids=state.open_review_object_ids | {review.object_id for review in plan.reviews},
    )


#: How one listed user may differ at the next sync (``None``: no longer listed; "keep" is weighted double).
CHANGES: dict[str, Callable[[EntraUser, st.DrawFn], EntraUser | None]] = {
    "keep": lambda user, draw: user,
    "drop": lambda user, draw: None,
    "disable": lambda user, draw: replace(user, account_enabled=False),
    "enable": lambda user, draw: replace(user, account_enabled=True, deleted=False),
    "readdress": lambda user, draw: replace(user, mail=draw(maybe_address)),
}


@st.composite
def next_listings(draw: st.DrawFn, previous: UserListing) -> UserListing:
    """What Entra might list at the next sync: users kept, dropped, disabled, enabled, re-addressed, deleted, added."""
    users, deleted = [], []
    for user in previous.users:
        change = draw(st.sampled_from(["keep", *CHANGES, "soft_delete"]))
        if change == "soft_delete":
            deleted.append(replace(user, deleted=True))
        elif (changed := CHANGES[change](user, draw)) is not None:
            users.append(changed)
    return UserListing(
        users=users + draw(st.lists(entra_users, max_size=2)),
        deleted=deleted,
        complete=draw(st.sampled_from([True, True, False])),
    )


def check_plan(
    result: Plan, listing: UserListing, state: LocalState, plan_settings: PlanSettings, order: Random
) -> None:
    """What must hold of any plan: independent of input order, counted exactly, cautious with incomplete listings."""
    shuffled = replace(listing, users=order.sample(listing.users, len(listing.users)), deleted=listing.deleted[::-1])
    reordered = replace(state, contacts=state.contacts[::-1], links=state.links[::-1])
    assert plan(shuffled, reordered, plan_settings) == result

    if not listing.complete:
        assert result.inactivations == () and result.held_inactivations == ()

    assert result.counters() == {
        "created": len(result.creates),
        "linked": len(result.links),
        "updated": len(result.updates),
        "inactivated": len(result.inactivations),
        "reactivated": len(result.reactivations),
        "ambiguous": len(result.reviews),
        "skipped": len(result.skips),
        "skipped_by_reason": dict(Counter(skip.reason for skip in result.skips)),
        "held": len(result.held_inactivations),
    }
    # Each identity gets one outcome at most; each contact is the target of one link at most.
    outcomes = [
        *(link.identity.object_id for link in result.links),
        *(create.identity.object_id for create in result.creates),
        *(review.object_id for review in result.reviews),
    ]
    assert len(outcomes) == len(set(outcomes))
    assert len({link.contact_id for link in result.links}) == len(result.links)
    # ... and no listed user is silently dropped: each is linked already, gets an outcome, or is skipped with a reason.
    listed = {user.object_id for user in listing.users if not user.deleted}
    already_linked = {link.object_id for link in state.links if link.active}
    skipped = {skip.object_id for skip in result.skips}
    assert listed <= already_linked | set(outcomes) | skipped


def check_applied(before: LocalState, after: LocalState, plan_settings: PlanSettings) -> None:
    """No contact deleted or moved, toggled-off fields untouched, no contact with two active links."""
    before_contacts = {contact.id: contact for contact in before.contacts}
    after_contacts = {contact.id: contact for contact in after.contacts}
    assert before_contacts.keys() <= after_contacts.keys()
    frozen_fields = ["client_id", *(name for name in CONTACT_FIELDS if name not in plan_settings.field_toggles)]
    for contact_id, old in before_contacts.items():
        new = after_contacts[contact_id]
        assert [getattr(new, name) for name in frozen_fields] == [getattr(old, name) for name in frozen_fields]
    active_targets = Counter(link.contact_id for link in after.links if link.active)
    assert max(active_targets.values(), default=0) <= 1
    assert set(active_targets) <= after.linked_contact_ids


@PROPERTY_SETTINGS
@given(state=local_states(), first_listing=listings(), plan_settings=plan_settings, data=st.data())
def test_successive_syncs_are_safe_exactly_counted_and_settle_to_an_empty_plan(
    state: LocalState, first_listing: UserListing, plan_settings: PlanSettings, data: st.DataObject
) -> None:
    second_listing = data.draw(next_listings(first_listing))
    order = data.draw(st.randoms(use_true_random=False))
    for listing in (first_listing, second_listing):
        result = plan(listing, state, plan_settings)
        check_plan(result, listing, state, plan_settings, order)
        after = apply_plan(state, result)
        check_applied(state, after, plan_settings)
        state = after

    # Planning again with unchanged inputs writes nothing; held inactivations stay held or are let through (the
    # guard's base grows with the links just made), never new ones.
    again = plan(second_listing, state, plan_settings)
    assert replace(again, inactivations=()).is_empty
    assert set(again.inactivations) | set(again.held_inactivations) == set(result.held_inactivations)
    assert plan(second_listing, state, plan_settings) == again
