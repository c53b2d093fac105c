"""R6: our OpenAPI document against the running code, with schemathesis, logged in as acme's admin with every flag on.

The world is real (PostgreSQL, the simulator, a Temporal dev server with a worker, a Direct connection made through
the routes), so discovery and sync answer real 202s. Every operation gets generated valid (positive) and invalid
(negative) requests, and each is replayed with acme's real ids where the path has ids; no answer may be a 5xx and every
answer must match the document. Whatever a generated write breaks for the following cases (a disconnect, an unmap, a
flag turned off) is put back through the same routes, so each operation keeps being exercised at full depth.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode, checks
from schemathesis.schemas import APIOperation, BaseSchema
from sqlalchemy import select

from flask_entra.blueprints.openapi import openapi_path
from flask_entra.models import ReconciliationItem, SyncRun, TenantMapping
from flask_entra.simulator import DEFAULT_CIPP_CLIENT_SECRET
from flask_entra.state import get_state
from tests.plugins.api_world import API, ApiWorld
from tests.plugins.host import set_all_flags

FAST_EXAMPLES, LONG_EXAMPLES = 6, 60  # per operation and mode; the long run is `make reliability`
CONFORMANCE = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture(scope="module")
def schema(api_world: ApiWorld) -> BaseSchema:
    """The document as the admin fetches it, bound to the app so requests run in-process."""
    loaded = schemathesis.openapi.from_dict(api_world.api("GET", "/openapi.json"))
    loaded.app = api_world.app
    return loaded


@pytest.fixture(scope="module")
def acme_ids(api_world: ApiWorld) -> dict[str, str]:
    """Real ids of acme's objects; an open review item is added (the demo directory has no ambiguous user)."""
    with api_world.app.app_context():
        session = get_state().session
        mapping = session.execute(select(TenantMapping).filter_by(tenant="acme", active=True, state="mapped")).scalars()
        mapped = next(iter(mapping))
        run = session.execute(select(SyncRun).filter_by(tenant="acme")).scalars().first()
        assert run is not None
        item = ReconciliationItem(
            tenant="acme",
            entra_tenant_id=mapped.entra_tenant_id,
            entra_object_id="review-me",
            client_id=mapped.client_id or "",
            reason="multiple_candidates",
            user={"display_name": "Review Me", "mail": "review.me@example.test"},
        )
        session.add(item)
        session.commit()
        return {
            "entra_tenant_id": mapped.entra_tenant_id,
            "client_id": mapped.client_id or "",
            "run_id": run.id,
            "item_id": item.id,
            "key": "entra-integration-field-sync",
        }


def our_rules(app: Flask) -> set[tuple[str, str]]:
    return {
        (openapi_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("entra")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }


def test_every_route_of_ours_is_documented_and_nothing_else(api_world: ApiWorld) -> None:
    document = api_world.api("GET", "/openapi.json")
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert documented == our_rules(api_world.app)
    assert len(documented) >= 30
    for path, item in document["paths"].items():
        for method, operation in item.items():
            answers = set(operation["responses"])
            assert answers & {"200", "201", "202", "302"}, (method, path)
            if path.startswith("/api/"):
                assert {"401", "403", "501"} <= answers, (method, path)
            if method != "get":
                assert "400" in answers, (method, path)  # the CSRF refusal at least


def test_the_document_is_only_for_signed_in_readers(api_world: ApiWorld) -> None:
    assert api_world.call("GET", f"{API}/openapi.json", persona="anonymous").status_code == 401
    assert api_world.call("GET", f"{API}/openapi.json", persona="portal").status_code == 403
    assert api_world.call("GET", f"{API}/openapi.json", persona="tech").status_code == 200


class Exerciser:
    """Sends one generated case (and its real-id twin), validates the answers, repairs what it broke."""

    def __init__(self, world: ApiWorld, ids: dict[str, str], mode: GenerationMode) -> None:
        self.world, self.ids, self.mode = world, ids, mode
        self.admin = world.session("admin")
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.checks = CONFORMANCE + ([checks.negative_data_rejection] if mode == GenerationMode.NEGATIVE else [])

    def __call__(self, case: Any) -> None:
        if case.operation.path.endswith("/connect/cipp") and isinstance(case.body, dict):
            case.body["base_url"] = self.world.world.sim.cipp_base_url  # our simulator, never a generated host
        self.send(case)
        if case.path_parameters and self.mode == GenerationMode.POSITIVE:
            case.path_parameters = {name: self.ids[name] for name in case.path_parameters}
            self.send(case)

    def send(self, case: Any) -> None:
        response = case.call(session=self.admin.client, headers={"X-CSRFToken": self.admin.csrf})
        self.statuses[(case.operation.label, response.status_code)] += 1
        case.validate_response(response, checks=self.checks)
        if 200 <= response.status_code < 300 and case.method != "GET":
            self.repair(case.operation.path)

    def repair(self, path: str) -> None:
        if path.startswith("/api/v1/platform-feature-flags"):
            set_all_flags(self.world.app, True)
        elif path.endswith("/disconnect"):
            self.world.connect_cipp(DEFAULT_CIPP_CLIENT_SECRET)
        elif path.endswith("/unmap") or path.endswith("/mappings/confirm"):
            self.world.map_suggestions()


def run_operation(operation: APIOperation, mode: GenerationMode, examples: int, send: Callable[[Any], None]) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def exercise(case: Any) -> None:
        send(case)

    exercise()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
@pytest.mark.parametrize(
    "examples", [FAST_EXAMPLES, pytest.param(LONG_EXAMPLES, marks=pytest.mark.reliability)], ids=["fast", "long"]
)
def test_no_server_error_and_every_answer_matches_the_document(
    api_world: ApiWorld, schema: BaseSchema, acme_ids: dict[str, str], mode: GenerationMode, examples: int
) -> None:
    set_all_flags(api_world.app, True)
    exerciser = Exerciser(api_world, acme_ids, mode)
    operations = [result.ok() for result in schema.get_all_operations()]
    if mode == GenerationMode.NEGATIVE:  # only a body can be made invalid: every path id and query is a free string
        operations = [operation for operation in operations if "requestBody" in operation.definition.raw]
    failures = []
    for operation in operations:
        try:
            run_operation(operation, mode, examples, exerciser)
        except (Exception, BaseExceptionGroup) as exc:  # collected: one run reports every non-conforming operation
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
    by_status = Counter(status for (_, status), n in exerciser.statuses.items() for _ in range(n))
    report = {
        label: dict(sorted((s, n) for (lab, s), n in exerciser.statuses.items() if lab == label))
        for label in sorted({lab for lab, _ in exerciser.statuses})
    }
    print(f"R6 {mode.value}: {len(operations)} operations, {sum(by_status.values())} requests, {dict(by_status)}")
    for label, statuses in report.items():
        print(f"  {label}: {statuses}")
    assert not any(status >= 500 for status in by_status)
    if mode == GenerationMode.POSITIVE:
        accepted = {label for (label, status) in exerciser.statuses if status == 202}
        assert {f"POST {API}/sync", f"POST {API}/discovery"} <= accepted, "Temporal-backed starts never answered 202"
        assert any(re.search(r"\{run_id\}", label) for label, status in exerciser.statuses if status == 200)


def test_cipp_connect_refuses_a_tenant_id_that_cannot_be_in_a_url(api_world: ApiWorld) -> None:
    """Found by the schemathesis run above before the document constrained tenant_id: a control character."""
    credentials = api_world.world.sim.credentials
    before = api_world.api("GET", "")["connection"]
    response = api_world.call(
        "POST",
        f"{API}/connect/cipp",
        {
            "base_url": api_world.world.sim.cipp_base_url,
            "client_id": credentials.cipp_client_id,
            "client_secret": DEFAULT_CIPP_CLIENT_SECRET,
            "tenant_id": "tenant\x15id",
        },
    )
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"
    assert api_world.api("GET", "")["connection"] == before


@pytest.mark.parametrize("path", [f"{API}/clients?q=a%00b", f"{API}/sync/runs/a%00b"], ids=["query", "path"])
def test_a_nul_character_is_a_clear_400(api_world: ApiWorld, path: str) -> None:
    """Found by the long schemathesis run: ``q`` (and any id) holding U+0000 reached PostgreSQL as a 500."""
    response = api_world.call("GET", path)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"
