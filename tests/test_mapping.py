"""Rules of the tenant-to-client mapping engine (DESIGN.md, "Mapping rules")."""

from __future__ import annotations

import pytest

from flask_entra.host import ClientRecord
from flask_entra.mapping import (
    Candidate,
    MappingThresholds,
    normalise_domain,
    normalise_name,
    normalise_names,
    suggest_mappings,
)
from flask_entra.providers.base import ManagedTenant


def tenant(name: str, *domains: str, tenant_id: str = "t1") -> ManagedTenant:
    initial = f"{tenant_id}.onmicrosoft.com"
    return ManagedTenant(tenant_id, name, domains[0] if domains else initial, (initial, *domains))


def suggest_one(tenant_record: ManagedTenant, clients: list[ClientRecord], **thresholds: float):
    return suggest_mappings([tenant_record], clients, MappingThresholds(**thresholds))[tenant_record.entra_tenant_id]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("contoso.com", "contoso.com"),
        ("https://www.Contoso.com/about?x=1#top", "contoso.com"),
        ("http://user:secret@contoso.com:8080/", "contoso.com"),
        ("CONTOSO.COM.", "contoso.com"),
        ("info@Contoso.co.uk", "contoso.co.uk"),
        ("mailto:bob@contoso.com", "contoso.com"),
        ("  www.contoso.com  ", "contoso.com"),
        ("www.müller.de", "xn--mller-kva.de"),
        ("", None),
        (None, None),
        ("localhost", None),
        ("not a domain.com", None),
        # The common shapes, which take a fast path, must agree with the full normalisation.
        ("https://contoso.com/contact", "contoso.com"),
        ("https://www.contoso.com", "contoso.com"),
        ("www.www.contoso.com", "www.contoso.com"),
        ("www.com", None),
        ("https://www.com/", None),
        ("http://contoso.com:8080", "contoso.com"),
        ("https://contoso.com/a@b.example", "contoso.com"),
    ],
)
def test_normalise_domain_accepts_bare_domains_urls_and_emails(raw: str | None, expected: str | None) -> None:
    assert normalise_domain(raw) == expected


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Contoso Ltd", "Contoso Limited"),
        ("The Contoso Group", "Contoso"),
        ("Smith & Jones, Inc.", "Smith and Jones"),
        ("Müller GmbH & Co. KG", "MULLER"),
        ("Société Générale S.A.", "Societe Generale"),
        ("McDonald’s Pty. Ltd.", "McDonalds"),
        ("I.B.M. Corp", "IBM"),
        ("株式会社サクラ", "サクラ株式会社"),
        ("ООО «Ромашка»", "Ромашка"),
        ("Straße AG", "Strasse"),
    ],
)
def test_normalise_name_makes_spellings_of_one_company_equal(first: str, second: str) -> None:
    assert normalise_name(first) == normalise_name(second) != ""


def test_normalise_name_keeps_a_name_made_only_of_legal_words() -> None:
    assert normalise_name("The Co") == "the co"
    assert normalise_name("Ltd.") == "ltd"


def test_normalise_names_equals_normalising_one_by_one_even_with_line_breaks() -> None:
    names = ["Contoso\nLtd", "Fabrikam, Inc.", "", "Ромашка ООО"]
    assert normalise_names(names) == [normalise_name(name) for name in names] == ["contoso", "fabrikam", "", "ромашка"]
    assert normalise_names([]) == []


def test_one_client_sharing_a_verified_domain_is_auto_matched_even_after_a_rename() -> None:
    clients = [ClientRecord("c1", "Contoso Ltd", ("https://www.contoso.com/",)), ClientRecord("c2", "Fabrikam")]

    suggestion = suggest_one(tenant("Totally Renamed Holdings", "contoso.com"), clients)

    assert suggestion.state == "auto_matched"
    assert suggestion.client_id == "c1"
    assert suggestion.candidates[0] == Candidate("c1", "Contoso Ltd", 100.0, "exact_domain")


def test_several_clients_sharing_the_domain_need_review_and_all_are_candidates() -> None:
    clients = [ClientRecord(f"c{i}", f"Clinic {i}", ("clinic.org",)) for i in range(7)]

    suggestion = suggest_one(tenant("Clinic", "clinic.org"), clients, limit=5)

    assert suggestion.state == "needs_review"
    assert suggestion.client_id is None
    assert {c.client_id for c in suggestion.candidates} == {f"c{i}" for i in range(7)}
    assert {c.reason for c in suggestion.candidates} == {"exact_domain"}


def test_a_contact_domain_match_is_a_candidate_never_automatic() -> None:
    clients = [ClientRecord("c1", "Northwind", contact_domains=("northwind.com",))]

    suggestion = suggest_one(tenant("Northwind", "northwind.com"), clients)

    assert suggestion.state == "needs_review"
    assert suggestion.candidates == (Candidate("c1", "Northwind", 100.0, "contact_domain"),)


def test_onmicrosoft_and_public_domains_never_match() -> None:
    clients = [
        ClientRecord("c1", "Alpha", ("alpha.onmicrosoft.com",), ("alpha.onmicrosoft.com",)),
        ClientRecord("c2", "Beta", ("gmail.com",), ("outlook.com", "hotmail.com")),
    ]
    tenants = [
        ManagedTenant("t1", "Zulu", "alpha.onmicrosoft.com", ("alpha.onmicrosoft.com",)),
        ManagedTenant("t2", "Yankee", "outlook.com", ("gmail.com", "outlook.com", "hotmail.com")),
    ]

    suggestions = suggest_mappings(tenants, clients)

    assert [(s.state, s.candidates) for s in suggestions.values()] == [("unmatched", ()), ("unmatched", ())]


def test_fuzzy_never_auto_maps_even_a_perfect_score() -> None:
    suggestion = suggest_one(tenant("Contoso Limited"), [ClientRecord("c1", "Contoso Ltd")])

    assert suggestion.state == "needs_review"
    assert suggestion.candidates == (Candidate("c1", "Contoso Ltd", 100.0, "fuzzy"),)


def test_fuzzy_candidates_are_capped_sorted_and_above_the_cutoff() -> None:
    clients = [ClientRecord(f"c{i}", f"Contoso Branch {i}") for i in range(10)] + [
        ClientRecord("exact", "Contoso Branch"),
        ClientRecord("far", "Fabrikam"),
    ]

    suggestion = suggest_one(tenant("Contoso Branch"), clients, limit=5, score_cutoff=80)

    assert len(suggestion.candidates) == 5
    assert suggestion.candidates[0].client_id == "exact"
    scores = [c.score for c in suggestion.candidates]
    assert scores == sorted(scores, reverse=True) and min(scores) >= 80
    assert "far" not in {c.client_id for c in suggestion.candidates}


def test_a_client_appears_once_with_its_strongest_reason() -> None:
    clients = [
        ClientRecord("c1", "Contoso", ("contoso.com",), ("contoso.com",)),
        ClientRecord("c2", "Contoso Pharma", contact_domains=("contoso.com",)),
    ]

    suggestion = suggest_one(tenant("Contoso", "contoso.com"), clients)

    assert suggestion.state == "auto_matched"
    assert [(c.client_id, c.reason) for c in suggestion.candidates] == [
        ("c1", "exact_domain"),
        ("c2", "contact_domain"),
    ]


def test_no_evidence_means_unmatched_and_every_tenant_gets_a_suggestion() -> None:
    tenants = [tenant("Wholly Unrelated", tenant_id="t1"), tenant("", tenant_id="t2")]

    suggestions = suggest_mappings(tenants, [ClientRecord("c1", "Fabrikam")])

    assert {key: (s.state, s.candidates) for key, s in suggestions.items()} == {
        "t1": ("unmatched", ()),
        "t2": ("unmatched", ()),
    }
    assert suggest_mappings([], [ClientRecord("c1", "Fabrikam")]) == {}
    assert suggest_mappings(tenants, [])["t1"].state == "unmatched"


def test_thresholds_come_from_the_extension_config() -> None:
    thresholds = MappingThresholds.from_config({"ENTRA_FUZZY_SCORE_CUTOFF": "82.5", "ENTRA_FUZZY_CANDIDATES": 3})

    assert thresholds == MappingThresholds(score_cutoff=82.5, limit=3)
    assert MappingThresholds.from_config({}) == MappingThresholds()
