"""Graph and CIPP user JSON become EntraUser, and hostile or malformed records are skipped with a reason."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from flask_entra.providers.advice import AADSTS_ADVICE, aadsts_code, advice_for_aadsts, advice_for_cipp
from flask_entra.providers.base import EntraUser, SkippedRecord
from flask_entra.providers.normalize import normalize_email, normalize_user

GRAPH_USER: dict[str, Any] = {
    "id": "6e7b768e-07e2-4810-8459-485f84f8f204",
    "userPrincipalName": "AdeleV@contoso.com",
    "mail": "Adele.Vance@Contoso.com",
    "displayName": "Adele Vance",
    "givenName": "Adele",
    "surname": "Vance",
    "accountEnabled": False,
    "jobTitle": "Retail Manager",
    "mobilePhone": "+1 425 555 0109",
    "businessPhones": ["+1 425 555 0100"],
    "otherMails": ["adele@personal.example", "not an email"],
    "proxyAddresses": [
        "SMTP:adele.vance@contoso.com",
        "smtp:av@contoso.com",
        "x500:/o=legacy",
        "SIP:adele@contoso.com",
    ],
    "userType": "Member",
    "assignedLicenses": [{"skuId": "c7df2760-2c81-4ef7-b578-5b5392b571df", "disabledPlans": []}],
}


def test_a_graph_user_is_normalised_with_every_field() -> None:
    user = normalize_user(GRAPH_USER)
    assert user == EntraUser(
        object_id="6e7b768e-07e2-4810-8459-485f84f8f204",
        user_principal_name="AdeleV@contoso.com",
        display_name="Adele Vance",
        mail="adele.vance@contoso.com",
        other_mails=("adele@personal.example", "av@contoso.com"),
        given_name="Adele",
        surname="Vance",
        account_enabled=False,
        job_title="Retail Manager",
        mobile_phone="+1 425 555 0109",
        business_phones=("+1 425 555 0100",),
        user_type="Member",
        licensed=True,
        deleted=False,
    )


def test_licensed_follows_assigned_licenses() -> None:
    unlicensed = normalize_user(GRAPH_USER | {"assignedLicenses": []})
    unknown = normalize_user({"id": "1", "userPrincipalName": "a@b.com"})
    assert isinstance(unlicensed, EntraUser) and not unlicensed.licensed
    assert isinstance(unknown, EntraUser) and unknown.licensed and unknown.account_enabled


def test_cipp_records_with_other_casing_and_extras_are_accepted() -> None:
    record = {
        "ID": "u1",
        "UserPrincipalName": "Bob@Fabrikam.com",
        "Mail": None,
        "DisplayName": "Bob",
        "accountEnabled": "False",
        "username": "Bob",
        "Aliases": "bob@x.com",
        "LicJoined": "E3",
        "primDomain": "fabrikam.com",
        "assignedLicenses": [],
        "onPremisesSyncEnabled": None,
    }
    user = normalize_user(record)
    assert isinstance(user, EntraUser)
    assert (user.object_id, user.user_principal_name, user.mail, user.account_enabled, user.licensed) == (
        "u1",
        "Bob@Fabrikam.com",
        None,
        False,
        False,
    )


def test_guests_are_recognised_even_without_user_type() -> None:
    user = normalize_user({"id": "g", "userPrincipalName": "vendor_fabrikam.com#EXT#@contoso.onmicrosoft.com"})
    assert isinstance(user, EntraUser) and user.user_type == "Guest"


def test_records_without_identity_are_skipped_with_a_reason() -> None:
    assert normalize_user(["not", "an", "object"]) == SkippedRecord(reason="record is not a JSON object")
    assert normalize_user({"userPrincipalName": "a@b.com"}) == SkippedRecord(reason="missing or invalid id")
    assert normalize_user({"id": 12, "userPrincipalName": "a@b.com"}).reason == "missing or invalid id"
    assert normalize_user({"id": "x" * 5000, "userPrincipalName": "a@b.com"}).reason == "missing or invalid id"
    skipped = normalize_user({"id": "u2", "userPrincipalName": None})
    assert skipped == SkippedRecord(reason="missing or invalid userPrincipalName", object_id="u2")
    odd = normalize_user({"id": "u3", "userPrincipalName": "a@b.com", "accountEnabled": "maybe"})
    assert odd == SkippedRecord(reason="accountEnabled is not a boolean", object_id="u3")


def test_wrong_types_and_huge_strings_in_optional_fields_are_dropped_or_bounded() -> None:
    user = normalize_user(
        GRAPH_USER
        | {
            "displayName": "A" * 100_000,
            "givenName": 42,
            "mail": "x" * 300 + "@contoso.com",
            "businessPhones": "+1 555",
            "otherMails": {"a": 1},
            "jobTitle": "Boss\x00\x07",
            "proxyAddresses": None,
            "userType": ["Member"],
        }
    )
    assert isinstance(user, EntraUser)
    assert len(user.display_name) == 256 and user.given_name is None and user.mail is None
    assert user.business_phones == ("+1 555",) and user.other_mails == () and user.job_title == "Boss"
    assert user.user_type == "Member"


def test_deleted_records_are_marked_deleted() -> None:
    record = {
        "id": "d1",
        "userPrincipalName": "d1alice@contoso.com",
        "mail": "alice@contoso.com",
        "deletedDateTime": "2026-01-02T03:04:05Z",
    }
    user = normalize_user(record, deleted=True)
    assert isinstance(user, EntraUser) and user.deleted and user.object_id == "d1"


def test_emails_are_lowercased_and_validated() -> None:
    assert normalize_email("  John.Doe@Example.COM ") == "john.doe@example.com"
    for bad in ("", "no-at-sign", "a@b", "a b@c.com", "a@-bad-.com", None, 5, "a@b.co\nx@y.com", "a@b.co\x00"):
        assert normalize_email(bad) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
user_keys = st.sampled_from(list(GRAPH_USER) + ["ID", "Mail", "deletedDateTime"])


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(user_keys, json_values, max_size=16) | json_values)
def test_no_json_input_crashes_the_normaliser(record: Any) -> None:
    result = normalize_user(record)
    assert isinstance(result, EntraUser | SkippedRecord)
    if isinstance(result, EntraUser):
        assert result.mail is None or result.mail == result.mail.lower()


def test_every_aadsts_code_of_the_contract_has_specific_advice() -> None:
    for code in (65001, 50020, 50177, 700082, 53003, 50076, 50079, 5000224, 900023, 90002, 7000215, 700016, 70011):
        assert code in AADSTS_ADVICE
    assert "reconnect" in advice_for_aadsts(700082).lower()
    assert "AADSTS12345" in advice_for_aadsts(12345)
    assert aadsts_code("AADSTS50020: User account from identity provider does not exist") == 50020
    assert aadsts_code("x", [700082, 1]) == 700082


def test_cipp_failure_texts_map_to_advice() -> None:
    assert "permission check" in (advice_for_cipp("Failed to retrieve tenants: forbidden") or "")
    assert "consent" in (advice_for_cipp("Could not get token: invalid_grant:AADSTS65001: no consent") or "")
    assert "readonly" in (advice_for_cipp("Access to this CIPP API endpoint is not allowed") or "")
    assert advice_for_cipp("something nobody has seen") is None
