"""Precision and recall of the mapping engine on the labelled set tests/data/mapping_eval.json.

Run with ``-s`` to see the figures and the cutoff table (docs/mapping.md quotes them). Definitions:
- auto precision: auto-matches to the expected client / all auto-matches (must be 100%: a wrong automatic mapping
  would sync one customer's staff into another customer's contacts);
- auto recall: auto-matches to the expected client / cases labelled ``auto_matched``;
- top-5 recall: cases whose expected client is among the candidates / cases with an expected client;
- candidate precision: candidate lists holding the expected client / non-empty candidate lists (noise shown to admins);
- state accuracy: cases whose state equals the labelled ideal state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from flask_entra.host import ClientRecord
from flask_entra.mapping import MappingThresholds, suggest_mappings
from flask_entra.providers.base import ManagedTenant

EVAL_SET = Path(__file__).parent / "data" / "mapping_eval.json"
TABLE_CUTOFFS = (50.0, 60.0, 65.0, 70.0, 75.0, 80.0, 85.0, 90.0, 95.0)


@dataclass(frozen=True)
class Figures:
    cutoff: float
    auto_precision: float
    auto_recall: float
    top5_recall: float
    candidate_precision: float
    state_accuracy: float

    def row(self) -> str:
        return (
            f"| {self.cutoff:g} | {self.auto_precision:.1%} | {self.auto_recall:.1%} | {self.top5_recall:.1%} "
            f"| {self.candidate_precision:.1%} | {self.state_accuracy:.1%} |"
        )


def load_eval_set() -> tuple[list[dict], list[ManagedTenant], list[ClientRecord]]:
    document = json.loads(EVAL_SET.read_text(encoding="utf-8"))
    clients = [
        ClientRecord(c["id"], c["name"], tuple(c["domains"]), tuple(c["contact_domains"])) for c in document["clients"]
    ]
    tenants = [
        ManagedTenant(t["entra_tenant_id"], t["display_name"], t["default_domain"], tuple(t["verified_domains"]))
        for t in (case["tenant"] for case in document["cases"])
    ]
    return document["cases"], tenants, clients


def evaluate(thresholds: MappingThresholds) -> Figures:
    cases, tenants, clients = load_eval_set()
    suggestions = suggest_mappings(tenants, clients, thresholds)
    autos = correct_autos = labelled_autos = found_autos = 0
    with_client = in_top5 = lists = useful_lists = right_state = 0
    for case in cases:
        suggestion = suggestions[case["tenant"]["entra_tenant_id"]]
        expected = case["expected_client_id"]
        offered = {candidate.client_id for candidate in suggestion.candidates}
        if suggestion.state == "auto_matched":
            autos += 1
            correct_autos += suggestion.client_id == expected
        if case["expected_state"] == "auto_matched":
            labelled_autos += 1
            found_autos += suggestion.state == "auto_matched" and suggestion.client_id == expected
        if expected is not None:
            with_client += 1
            in_top5 += expected in offered
        if offered:
            lists += 1
            useful_lists += expected in offered
        right_state += suggestion.state == case["expected_state"]
    return Figures(
        cutoff=thresholds.score_cutoff,
        auto_precision=correct_autos / autos,
        auto_recall=found_autos / labelled_autos,
        top5_recall=in_top5 / with_client,
        candidate_precision=useful_lists / lists,
        state_accuracy=right_state / len(cases),
    )


def test_the_eval_set_is_large_and_covers_the_hard_cases() -> None:
    cases, _, clients = load_eval_set()
    kinds = {case["kind"] for case in cases}

    assert len(cases) >= 200 and len(clients) >= 200
    assert {"renamed_tenant", "shared_domain", "contact_domain", "accents_scripts", "acronym", "decoy"} <= kinds
    assert {case["expected_state"] for case in cases} == {"auto_matched", "needs_review", "unmatched"}


def test_default_thresholds_auto_match_only_correctly_and_find_most_clients() -> None:
    figures = evaluate(MappingThresholds())
    print(f"\nmapping eval at the default cutoff: {figures}")

    # Floors are the figures measured when the defaults were chosen (docs/mapping.md), less a small margin.
    assert figures.auto_precision == 1.0, figures
    assert figures.auto_recall >= 0.98, figures
    assert figures.top5_recall >= 0.95, figures
    assert figures.candidate_precision >= 0.95, figures
    assert figures.state_accuracy >= 0.93, figures


def test_no_cutoff_ever_makes_a_wrong_automatic_mapping() -> None:
    table = [evaluate(MappingThresholds(score_cutoff=cutoff)) for cutoff in TABLE_CUTOFFS]
    print("\n| cutoff | auto precision | auto recall | top-5 recall | candidate precision | state accuracy |")
    print("|---|---|---|---|---|---|")
    print("\n".join(figures.row() for figures in table))

    assert all(figures.auto_precision == 1.0 for figures in table), table
    # A lower cutoff offers more candidates: recall cannot fall when the cutoff falls.
    recalls = [figures.top5_recall for figures in table]
    assert recalls == sorted(recalls, reverse=True), table
