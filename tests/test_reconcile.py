"""Worked examples of every reconciliation rule of DESIGN.md: what one sync plans for one Microsoft tenant."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

import pytest

from flask_entra.errors import ValidationFailed
from flask_entra.host import CONTACT_FIELDS, ContactRecord, NewContact
from flask_entra.providers.base import EntraUser, SkippedRecord, UserListing
from flask_entra.reconcile import (
    Identity,
    Inactivation,
    LinkRefresh,
    LinkState,
    LocalState,
    OtherClientContact,
    Plan,
    PlanSettings,
    Reactivation,
    Skip,
    plan_sync,
)

ENTRA_TENANT = "9f3c0a4e-0000-4000-8000-00000000aaaa"
CLIENT = "client-contoso"
OTHER_CLIENT = "client-fabrikam"
ALL_FIELDS = frozenset(CONTACT_FIELDS)


def user(object_id: str, mail: str | None = None, **fields: object) -> EntraUser:
    fields.setdefault("user_principal_name", mail or f"{object_id}@contoso.onmicrosoft.com")
    fields.setdefault("display_name", f"Person {object_id}")
    return EntraUser(object_id=object_id, mail=mail, **fields)  # type: ignore[arg-type]


def contact(contact_id: str, email: str | None = None, **fields: object) -> ContactRecord:
    fields.setdefault("client_id", CLIENT)
    return ContactRecord(id=contact_id, email=email, **fields)  # type: ignore[arg-type]


def link_for(entra_user: EntraUser, contact_id: str, **fields: object) -> LinkState:
    """A link row in step with the user (what the last sync recorded)."""
    return LinkState(
        object_id=entra_user.object_id,
        contact_id=contact_id,
        client_id=CLIENT,
        upn=entra_user.user_principal_name,
        mail=entra_user.mail,
        account_enabled=entra_user.account_enabled,
        **fields,  # type: ignore[arg-type]
    )


def in_step_contact(contact_id: str, entra_user: EntraUser, **fields: object) -> ContactRecord:
    """The contact a previous sync created from this user (whatever today's filters say)."""
    unfiltered = PlanSettings(skip_guests=False, skip_no_email=False, service_patterns=())
    created = plan_for([replace(entra_user, account_enabled=True)], settings=unfiltered).creates[0].contact
    values: dict[str, object] = {name: getattr(created, name) for name in CONTACT_FIELDS if name != "email"}
    return contact(contact_id, created.email, **{**values, **fields})


def plan_for(
    users: Iterable[EntraUser] = (),
    contacts: Iterable[ContactRecord] = (),
    links: Iterable[LinkState] = (),
    *,
    deleted: Iterable[EntraUser] = (),
    skipped: Iterable[SkippedRecord] = (),
    complete: bool = True,
    settings: PlanSettings | None = None,
    linked_elsewhere: Iterable[str] = (),
    other_clients: Mapping[str, tuple[OtherClientContact, ...]] | None = None,
    dismissed: Iterable[str] = (),
    open_reviews: Iterable[str] = (),
) -> Plan:
    links = tuple(links)
    state = LocalState(
        contacts=tuple(contacts),
        links=links,
        linked_contact_ids=frozenset(linked_elsewhere) | {link.contact_id for link in links if link.active},
        other_client_contacts=other_clients or {},
        dismissed_object_ids=frozenset(dismissed),
        open_review_object_ids=frozenset(open_reviews),
    )
    listing = UserListing(users=list(users), deleted=list(deleted), skipped=list(skipped), complete=complete)
    return plan_sync(
        entra_tenant_id=ENTRA_TENANT,
        client_id=CLIENT,
        listing=listing,
        state=state,
        settings=settings or PlanSettings(),
    )


def only(plan: Plan, **expected_counts: int) -> None:
    """The plan holds exactly the named counts and nothing else."""
    counters = plan.counters()
    actual = {key: value for key, value in counters.items() if key != "skipped_by_reason" and value}
    assert actual == {key: value for key, value in expected_counts.items() if value}


# -- linking and creating ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "entra_user",
    [
        user("u1", "Ana.Silva@Contoso.com"),
        user("u1", None, user_principal_name="ana.silva@contoso.com"),
        user("u1", "asilva@contoso.com", other_mails=("ANA.SILVA@contoso.com",)),
    ],
    ids=["mail-case-insensitive", "upn", "other-mails"],
)
def test_unlinked_user_with_one_matching_contact_is_linked_to_it(entra_user: EntraUser) -> None:
    plan = plan_for([entra_user], [contact("c1", "ana.silva@contoso.com")])

    only(plan, linked=1)
    (link,) = plan.links
    assert (link.identity.object_id, link.contact_id, link.reason) == ("u1", "c1", "email_match")
    assert link.identity == Identity("u1", entra_user.user_principal_name, entra_user.mail, True)


def test_user_with_no_matching_contact_gets_a_new_contact_with_every_field() -> None:
    entra_user = user(
        "u1",
        "ana@contoso.com",
        display_name="Ana Silva",
        job_title="CFO",
        mobile_phone="+1 555 0100",
        business_phones=(" ", "+1 444 0100"),
    )

    plan = plan_for([entra_user], [contact("c1", "someone.else@contoso.com")])

    only(plan, created=1)
    (create,) = plan.creates
    assert create.reason == "created"
    assert create.identity.object_id == "u1"
    assert create.contact == NewContact(
        client_id=CLIENT,
        full_name="Ana Silva",
        email="ana@contoso.com",
        phone="+1 444 0100",
        mobile="+1 555 0100",
        job_title="CFO",
    )


@pytest.mark.parametrize(
    ("fields", "name", "email"),
    [
        ({"display_name": " ", "given_name": "Ana", "surname": "Silva"}, "Ana Silva", "ana@contoso.com"),
        ({"display_name": "", "given_name": None, "surname": "Silva"}, "Silva", "ana@contoso.com"),
        ({"display_name": ""}, "ana", "ana@contoso.com"),
    ],
)
def test_created_contact_name_falls_back_to_given_and_surname_then_upn(
    fields: dict[str, object], name: str, email: str
) -> None:
    # A member without a mailbox has no ``mail``: the UPN is the address.
    plan = plan_for([user("u1", None, user_principal_name="ana@contoso.com", **fields)])

    assert (plan.creates[0].contact.full_name, plan.creates[0].contact.email) == (name, email)


def test_name_only_similarity_never_links() -> None:
    plan = plan_for(
        [user("u1", "ana@contoso.com", display_name="Ana Silva")],
        [contact("c1", "ana.silva@gmail.com", full_name="Ana Silva")],
    )

    only(plan, created=1)


def test_contacts_of_other_clients_are_never_link_candidates() -> None:
    plan = plan_for([user("u1", "ana@contoso.com")], [contact("c9", "ana@contoso.com", client_id=OTHER_CLIENT)])

    only(plan, created=1)


# -- review queue -----------------------------------------------------------------------------------------------------


def test_several_candidates_go_to_review_and_nothing_is_written() -> None:
    entra_user = user("u1", "ana@contoso.com", other_mails=("a.silva@contoso.com",))

    plan = plan_for([entra_user], [contact("c2", "A.Silva@contoso.com"), contact("c1", "ana@contoso.com")])

    only(plan, ambiguous=1)
    (review,) = plan.reviews
    assert (review.object_id, review.reason, review.candidate_contact_ids) == (
        "u1",
        "multiple_candidates",
        ("c1", "c2"),
    )
    assert review.user == entra_user


def test_only_candidate_linked_to_another_identity_goes_to_review() -> None:
    plan = plan_for([user("u1", "ana@contoso.com")], [contact("c1", "ana@contoso.com")], linked_elsewhere=["c1"])

    only(plan, ambiguous=1)
    assert (plan.reviews[0].reason, plan.reviews[0].candidate_contact_ids) == ("candidate_linked_elsewhere", ("c1",))


def test_address_owned_by_another_clients_contact_goes_to_review() -> None:
    owners = {"ANA@contoso.com": (OtherClientContact("c9", OTHER_CLIENT),)}

    plan = plan_for([user("u1", "ana@contoso.com")], other_clients=owners)

    only(plan, ambiguous=1)
    review = plan.reviews[0]
    assert (review.reason, review.candidate_contact_ids) == ("email_owned_by_other_client", ())
    assert review.other_client_contacts == (("c9", OTHER_CLIENT),)


def test_address_owner_list_entries_of_the_mapped_client_itself_are_not_conflicts() -> None:
    owners = {"ana@contoso.com": (OtherClientContact("c1", CLIENT),)}

    plan = plan_for([user("u1", "ana@contoso.com")], [contact("c1", "ana@contoso.com")], other_clients=owners)

    only(plan, linked=1)


def test_two_users_competing_for_one_contact_both_go_to_review() -> None:
    plan = plan_for(
        [user("u1", "ana@contoso.com"), user("u2", "asilva@contoso.com", other_mails=("ana@contoso.com",))],
        [contact("c1", "ana@contoso.com")],
    )

    only(plan, ambiguous=2)
    assert [(r.object_id, r.reason, r.candidate_contact_ids) for r in plan.reviews] == [
        ("u1", "competing_identities", ("c1",)),
        ("u2", "competing_identities", ("c1",)),
    ]


def test_two_users_that_would_create_contacts_with_one_address_both_go_to_review() -> None:
    plan = plan_for([user("u1", "ana@contoso.com"), user("u2", "ana2@contoso.com", other_mails=("ana@contoso.com",))])

    only(plan, ambiguous=2)
    assert {review.reason for review in plan.reviews} == {"competing_identities"}


def test_dismissed_identity_is_not_queued_again() -> None:
    plan = plan_for(
        [user("u1", "ana@contoso.com")],
        [contact("c1", "ana@contoso.com"), contact("c2", "ana@contoso.com")],
        dismissed=["u1"],
    )

    only(plan, skipped=1)
    assert plan.skips == (Skip("u1", "dismissed"),)


def test_identity_with_an_open_review_item_is_not_queued_twice() -> None:
    plan = plan_for(
        [user("u1", "ana@contoso.com")],
        [contact("c1", "ana@contoso.com"), contact("c2", "ana@contoso.com")],
        open_reviews=["u1"],
    )

    only(plan, skipped=1)
    assert plan.skips == (Skip("u1", "review_open"),)


# -- linked identities ------------------------------------------------------------------------------------------------


def test_existing_link_wins_over_email_logic_when_the_users_address_changes() -> None:
    before = user("u1", "ana@contoso.com")
    after = user("u1", "ana.silva@contoso.com")

    plan = plan_for(
        [after], [in_step_contact("c1", before), contact("c2", "ana.silva@contoso.com")], [link_for(before, "c1")]
    )

    only(plan)  # only the link's record of the identity changes
    assert plan.link_refreshes == (LinkRefresh(Identity("u1", "ana.silva@contoso.com", "ana.silva@contoso.com", True)),)
    assert not plan.is_empty


def test_resync_with_no_upstream_change_plans_nothing_even_with_every_toggle_on() -> None:
    users = [user(f"u{n}", f"p{n}@contoso.com", job_title="Engineer", mobile_phone=f"+1 555 {n}") for n in range(3)]
    contacts = [in_step_contact(f"c{n}", u) for n, u in enumerate(users)]

    plan = plan_for(
        users,
        contacts,
        [link_for(u, f"c{n}") for n, u in enumerate(users)],
        settings=PlanSettings(field_toggles=ALL_FIELDS),
    )

    assert plan.is_empty
    only(plan)


def test_toggled_off_fields_never_change_and_toggled_on_fields_change_only_when_different() -> None:
    entra_user = user("u1", "ana@contoso.com", display_name="Ana Silva", job_title="CFO", mobile_phone="+1 555 0100")
    stale = contact("c1", "ANA@contoso.com", full_name="Ana S.", job_title="Accountant", mobile="+1 555 0100")
    links = [link_for(entra_user, "c1")]

    assert plan_for([entra_user], [stale], links).is_empty  # every toggle is off by default

    plan = plan_for(
        [entra_user], [stale], links, settings=PlanSettings(field_toggles=frozenset({"job_title", "email", "mobile"}))
    )

    only(plan, updated=1)
    assert plan.updates[0].contact_id == "c1"
    assert dict(plan.updates[0].changes) == {"job_title": "CFO"}  # email differs only in case; mobile is equal


def test_blank_upstream_values_never_blank_a_contact_field() -> None:
    entra_user = user("u1", "ana@contoso.com", display_name="  ", job_title="", mobile_phone=None, business_phones=())
    kept = contact("c1", "ana@contoso.com", full_name="Ana Silva", job_title="CFO", mobile="+1 555", phone="+1 444")

    plan = plan_for([entra_user], [kept], [link_for(entra_user, "c1")], settings=PlanSettings(field_toggles=ALL_FIELDS))

    assert plan.updates == ()


def test_newly_linked_contact_gets_its_toggled_on_fields_in_the_same_plan() -> None:
    plan = plan_for(
        [user("u1", "ana@contoso.com", job_title="CFO")],
        [contact("c1", "ana@contoso.com", job_title="Accountant", full_name="Ana")],
        settings=PlanSettings(field_toggles=frozenset({"job_title"})),
    )

    only(plan, linked=1, updated=1)
    assert dict(plan.updates[0].changes) == {"job_title": "CFO"}


def test_link_whose_contact_no_longer_exists_is_reported_and_left_alone() -> None:
    entra_user = user("u1", "ana@contoso.com")

    plan = plan_for([entra_user], [contact("c2", "ana@contoso.com")], [link_for(entra_user, "c1")])

    only(plan, skipped=1)
    assert plan.skips == (Skip("u1", "linked_contact_missing"),)


def test_identity_with_an_inactive_link_is_matched_again_by_email() -> None:
    entra_user = user("u1", "ana@contoso.com")

    plan = plan_for([entra_user], [contact("c2", "ana@contoso.com")], [link_for(entra_user, "c1", active=False)])

    only(plan, linked=1)
    assert plan.links[0].contact_id == "c2"


# -- inactivation and reactivation ------------------------------------------------------------------------------------


def test_disabled_user_without_a_link_is_skipped_not_linked_nor_created() -> None:
    plan = plan_for([user("u1", "ana@contoso.com", account_enabled=False)], [contact("c1", "ana@contoso.com")])

    only(plan, skipped=1)
    assert plan.skips == (Skip("u1", "disabled"),)


def test_disabled_linked_user_inactivates_its_contact_with_the_reason() -> None:
    was = user("u1", "ana@contoso.com")
    now = user("u1", "ana@contoso.com", account_enabled=False)

    plan = plan_for([now], [in_step_contact("c1", was)], [link_for(was, "c1")])

    only(plan, inactivated=1)
    assert plan.inactivations == (Inactivation("c1", "u1", "disabled"),)
    assert plan.link_refreshes == (LinkRefresh(Identity("u1", "ana@contoso.com", "ana@contoso.com", False)),)


def test_contact_already_inactive_is_not_inactivated_again() -> None:
    now = user("u1", "ana@contoso.com", account_enabled=False)

    plan = plan_for([now], [in_step_contact("c1", now, is_inactive=True)], [link_for(now, "c1")])

    assert plan.is_empty


@pytest.mark.parametrize("how", ["soft_deleted", "delta_removed"])
def test_deleted_linked_user_inactivates_its_contact(how: str) -> None:
    was = user("u1", "ana@contoso.com")
    gone = user("u1", "u1ana@contoso.com", deleted=True)
    listing = {"deleted": [gone]} if how == "soft_deleted" else {"users": [gone]}

    plan = plan_for(contacts=[in_step_contact("c1", was)], links=[link_for(was, "c1")], **listing)  # type: ignore[arg-type]

    only(plan, inactivated=1)
    assert plan.inactivations == (Inactivation("c1", "u1", "deleted"),)


def test_user_both_live_and_soft_deleted_counts_as_live() -> None:
    was = user("u1", "ana@contoso.com")

    plan = plan_for([was], [in_step_contact("c1", was)], [link_for(was, "c1")], deleted=[user("u1", "x@contoso.com")])

    assert plan.is_empty


def test_linked_user_absent_from_a_complete_listing_inactivates_its_contact() -> None:
    was = user("u1", "ana@contoso.com")

    plan = plan_for([user("u2", "bob@contoso.com")], [in_step_contact("c1", was)], [link_for(was, "c1")])

    assert plan.inactivations == (Inactivation("c1", "u1", "absent"),)
    only(plan, inactivated=1, created=1)


def test_incomplete_listing_inactivates_nothing_not_even_disabled_users() -> None:
    absent, disabled = user("u1", "ana@contoso.com"), user("u2", "bob@contoso.com")
    contacts = [in_step_contact("c1", absent), in_step_contact("c2", disabled)]
    now_disabled = user("u2", "bob@contoso.com", account_enabled=False)

    plan = plan_for(
        [now_disabled, user("u3", "cy@contoso.com")],
        contacts,
        [link_for(absent, "c1"), link_for(disabled, "c2")],
        deleted=[absent],
        complete=False,
    )

    assert plan.inactivations == () and plan.held_inactivations == ()
    assert not plan.listing_complete
    only(plan, created=1)  # what is safe still applies, and the link records the disabled state
    assert plan.link_refreshes[0].identity.account_enabled is False


def test_record_the_provider_rejected_without_an_id_blocks_absence_but_not_disabled() -> None:
    absent, disabled = user("u1", "ana@contoso.com"), user("u2", "bob@contoso.com")
    contacts = [in_step_contact("c1", absent), in_step_contact("c2", disabled)]

    plan = plan_for(
        [user("u2", "bob@contoso.com", account_enabled=False)],
        contacts,
        [link_for(absent, "c1"), link_for(disabled, "c2")],
        skipped=[SkippedRecord("record is not a JSON object")],
    )

    assert plan.inactivations == (Inactivation("c2", "u2", "disabled"),)
    assert plan.skips == (Skip(None, "malformed", "record is not a JSON object"),)


def test_record_rejected_with_an_id_counts_as_present() -> None:
    was = user("u1", "ana@contoso.com")

    plan = plan_for(
        [],
        [in_step_contact("c1", was)],
        [link_for(was, "c1")],
        skipped=[SkippedRecord("missing or invalid userPrincipalName", object_id="u1")],
    )

    assert plan.is_empty
    assert plan.counters()["skipped_by_reason"] == {"malformed": 1}


def test_user_enabled_again_reactivates_a_contact_the_sync_inactivated() -> None:
    disabled = user("u1", "ana@contoso.com", account_enabled=False)
    link = link_for(disabled, "c1", inactivated_by_sync=True, inactivation_reason="disabled")

    plan = plan_for([user("u1", "ana@contoso.com")], [in_step_contact("c1", disabled, is_inactive=True)], [link])

    only(plan, reactivated=1)
    assert plan.reactivations == (Reactivation("c1", "u1"),)


def test_user_enabled_again_never_reactivates_a_contact_someone_else_inactivated() -> None:
    entra_user = user("u1", "ana@contoso.com")

    plan = plan_for([entra_user], [in_step_contact("c1", entra_user, is_inactive=True)], [link_for(entra_user, "c1")])

    assert plan.is_empty


def test_contact_reactivated_by_hand_is_not_inactivated_again_and_its_marker_clears_on_enable() -> None:
    disabled = user("u1", "ana@contoso.com", account_enabled=False)
    link = link_for(disabled, "c1", inactivated_by_sync=True, inactivation_reason="disabled")
    reactivated_by_hand = in_step_contact("c1", disabled)

    assert plan_for([disabled], [reactivated_by_hand], [link]).is_empty

    plan = plan_for([user("u1", "ana@contoso.com")], [reactivated_by_hand], [link])
    assert plan.reactivations == ()
    assert plan.link_refreshes == (
        LinkRefresh(Identity("u1", "ana@contoso.com", "ana@contoso.com", True), clear_inactivation=True),
    )


# -- mass-inactivation guard ------------------------------------------------------------------------------------------


def _tenant_losing(count: int, of: int, *, settings: PlanSettings | None = None) -> Plan:
    users = [user(f"u{n:02d}", f"p{n}@contoso.com") for n in range(of)]
    contacts = [in_step_contact(f"c{n:02d}", u) for n, u in enumerate(users)]
    links = [link_for(u, f"c{n:02d}") for n, u in enumerate(users)]
    return plan_for([*users[count:], user("new", "new@contoso.com")], contacts, links, settings=settings)


def test_guard_holds_inactivations_above_both_thresholds_and_the_rest_still_applies() -> None:
    plan = _tenant_losing(6, 10)

    assert plan.held and plan.inactivations == ()
    assert [item.contact_id for item in plan.held_inactivations] == [f"c{n:02d}" for n in range(6)]
    only(plan, created=1, held=6)


@pytest.mark.parametrize(("count", "of"), [(5, 10), (6, 30), (6, 40)])
def test_guard_lets_inactivations_through_at_or_below_either_threshold(count: int, of: int) -> None:
    plan = _tenant_losing(count, of)

    assert not plan.held and len(plan.inactivations) == count


def test_released_hold_applies_the_inactivations() -> None:
    plan = _tenant_losing(6, 10, settings=PlanSettings(released=True))

    assert not plan.held and len(plan.inactivations) == 6


def test_guard_thresholds_are_settings() -> None:
    assert not _tenant_losing(6, 10, settings=PlanSettings(mass_inactivation_min=6)).held
    assert _tenant_losing(2, 10, settings=PlanSettings(mass_inactivation_min=1, mass_inactivation_percent=10)).held


# -- filters ----------------------------------------------------------------------------------------------------------


GUEST = user(
    "g1",
    "vendor@fabrikam.com",
    user_principal_name="vendor_fabrikam.com#EXT#@contoso.onmicrosoft.com",
    user_type="Guest",
)


@pytest.mark.parametrize(
    ("entra_user", "settings", "reason"),
    [
        (GUEST, PlanSettings(), "guest"),
        (user("u1", "ana@contoso.com", licensed=False), PlanSettings(skip_unlicensed=True), "unlicensed"),
        (user("u1", None, user_principal_name="not-an-address"), PlanSettings(), "no_email"),
        (user("u1", "Info@contoso.com"), PlanSettings(), "service_account"),
        (user("u1", None, user_principal_name="NoReply@contoso.com"), PlanSettings(), "service_account"),
        (user("u1", "lobby@contoso.com"), PlanSettings(custom_patterns=(r"^lobby@",)), "pattern"),
    ],
)
def test_filters_skip_unlinked_users_with_a_reason(entra_user: EntraUser, settings: PlanSettings, reason: str) -> None:
    plan = plan_for([entra_user], settings=settings)

    only(plan, skipped=1)
    assert plan.skips == (Skip(entra_user.object_id, reason),)  # type: ignore[arg-type]
    assert plan.counters()["skipped_by_reason"] == {reason: 1}


def test_filters_can_be_turned_off() -> None:
    settings = PlanSettings(skip_guests=False, skip_no_email=False, service_patterns=())
    users = [
        GUEST,
        user("u1", "info@contoso.com"),
        user("u2", None, user_principal_name="not-an-address", display_name=""),
    ]

    plan = plan_for(
        users,
        settings=settings,
    )

    only(plan, created=3)
    by_id = {create.identity.object_id: create.contact for create in plan.creates}
    assert (by_id["g1"].email, by_id["g1"].full_name) == ("vendor@fabrikam.com", f"Person {GUEST.object_id}")
    assert (by_id["u2"].email, by_id["u2"].full_name) == (None, "not-an-address")


def test_unlicensed_users_are_kept_by_default() -> None:
    only(plan_for([user("u1", "ana@contoso.com", licensed=False)]), created=1)


def test_filters_do_not_touch_identities_already_linked() -> None:
    entra_user = user("u1", "info@contoso.com", job_title="Front desk")
    stale = in_step_contact("c1", entra_user, job_title=None)

    plan = plan_for(
        [entra_user],
        [stale],
        [link_for(entra_user, "c1")],
        settings=PlanSettings(field_toggles=frozenset({"job_title"})),
    )

    only(plan, updated=1)


# -- listing quality and determinism ----------------------------------------------------------------------------------


def test_identical_duplicate_records_collapse_to_one() -> None:
    entra_user = user("u1", "ana@contoso.com")

    only(plan_for([entra_user, user("u1", "ana@contoso.com")]), created=1)


def test_conflicting_duplicate_records_write_nothing_and_do_not_count_as_absent_or_deleted() -> None:
    was = user("u1", "ana@contoso.com")
    twins = [user("u1", "ana@contoso.com", account_enabled=False), user("u1", "ana@contoso.com", job_title="CFO")]

    plan = plan_for(
        twins,
        [in_step_contact("c1", was)],
        [link_for(was, "c1")],
        deleted=[was],
        settings=PlanSettings(field_toggles=ALL_FIELDS),
    )

    only(plan, skipped=1)
    assert plan.skips == (Skip("u1", "duplicate"),)


def test_plan_is_the_same_whatever_the_listing_order() -> None:
    users = [user("u3", "a@contoso.com"), user("u1", "b@contoso.com"), user("u2", "a@contoso.com"), GUEST]
    contacts = [contact("c1", "b@contoso.com"), contact("c2", "a@contoso.com")]

    assert plan_for(users, contacts) == plan_for(reversed(users), reversed(contacts))


def test_counters_describe_the_plan_exactly() -> None:
    linked = user("u1", "ana@contoso.com")
    plan = plan_for(
        [
            user("u2", "bob@contoso.com"),
            user("u3", "cy@contoso.com"),
            GUEST,
            user("u4", "dd@contoso.com", account_enabled=False),
        ],
        [in_step_contact("c1", linked), contact("c3", "cy@contoso.com")],
        [link_for(linked, "c1")],
    )

    assert plan.counters() == {
        "created": 1,
        "linked": 1,
        "updated": 0,
        "inactivated": 1,
        "reactivated": 0,
        "ambiguous": 0,
        "skipped": 2,
        "skipped_by_reason": {"disabled": 1, "guest": 1},
        "held": 0,
    }


# -- settings ---------------------------------------------------------------------------------------------------------


def test_settings_reject_unknown_toggles_bad_patterns_and_unknown_filters() -> None:
    with pytest.raises(ValidationFailed, match="Unknown field toggle"):
        PlanSettings(field_toggles=frozenset({"salary"}))
    with pytest.raises(ValidationFailed, match="Invalid user filter pattern"):
        PlanSettings(custom_patterns=("(unclosed",))
    with pytest.raises(ValidationFailed, match="Unknown user filter"):
        PlanSettings.from_stored({}, {"skip_robots": True})


def test_settings_from_stored_json_columns() -> None:
    settings = PlanSettings.from_stored(
        {"job_title": True, "phone": False},
        {"skip_unlicensed": True, "custom_patterns": ["^lobby@"]},
        mass_inactivation_min=10,
        mass_inactivation_percent=50.0,
    )

    assert settings == PlanSettings(
        field_toggles=frozenset({"job_title"}),
        skip_unlicensed=True,
        custom_patterns=("^lobby@",),
        mass_inactivation_min=10,
        mass_inactivation_percent=50.0,
    )
    assert PlanSettings().field_toggles == frozenset()  # every toggle is off by default
