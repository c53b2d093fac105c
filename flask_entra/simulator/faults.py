"""Fault knobs: throttling, outages, latency, token lifetime, missing consent/GDAP, malformed records, failing pages.

Every random decision is derived from the seed and a per-rule counter (never from the wall clock), so a sequential test
sees the same faults on every run, and a parallel benchmark sees the same number of them.
"""

from __future__ import annotations

import dataclasses
import random
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

Listed = TypeVar("Listed")


@dataclass(frozen=True)
class FaultRule:
    """Answer requests whose path matches ``path`` (a regex searched in e.g. ``/graph/v1.0/users``) with a failure."""

    path: str = ".*"
    rate: float = 1.0
    retry_after: int | None = None
    #: Stop after this many failures (``None``: never stop).
    times: int | None = None

    @classmethod
    def parse(cls, value: dict[str, Any] | FaultRule) -> FaultRule:
        rule = value if isinstance(value, FaultRule) else cls(**value)
        re.compile(rule.path)
        return rule


@dataclass
class Faults:
    """The knob set; ``Faults.from_dict`` takes the same names the control API and ``--faults`` JSON use."""

    seed: int = 0
    #: HTTP 429 for matching paths, with ``Retry-After`` (seconds) when the rule sets it.
    throttle: list[FaultRule] = field(default_factory=list)
    #: HTTP 503 (``Retry-After`` when the rule sets it) for matching paths.
    unavailable: list[FaultRule] = field(default_factory=list)
    #: Every answer (the control API's aside) takes at least this long from request to response, the simulator's own
    #: work included, as the round trip to a distant service does.
    latency_ms: int = 0
    access_token_lifetime: int = 3599
    #: Customer tenant ids whose token requests fail with AADSTS65001 (app not consented).
    no_consent: list[str] = field(default_factory=list)
    #: Customer tenant ids whose token requests fail with AADSTS50020 (partner user has no GDAP access).
    no_gdap: list[str] = field(default_factory=list)
    #: Share of user records (Graph and CIPP listings) served broken: missing id, wrong types, bad email, huge strings,
    #: duplicate ids. Which records break depends only on the seed and the user id.
    malformed_rate: float = 0.0
    #: Tenant id -> number of pages of its users listing that succeed; later pages fail with ``fail_status``.
    fail_after_pages: dict[str, int] = field(default_factory=dict)
    fail_status: int = 503
    #: Customer tenant ids whose user listings (Graph live and deleted users, CIPP ListUsers) answer an empty list with
    #: success, as a CIPP instance can once the app's consent in that customer was revoked: every user seems to vanish.
    empty_listing: list[str] = field(default_factory=list)
    #: Authorize answers with this OAuth error (e.g. "access_denied") instead of the consent page.
    authorize_error: str | None = None
    #: CIPP ListTenants answers HTTP 200 with its failure row.
    cipp_list_tenants_failure: bool = False
    #: CIPP answers with v1.x key casing (CustomerID, DefaultdomainName, DisplayName).
    cipp_legacy_keys: bool = False

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Faults:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - names
        if unknown:
            raise ValueError(f"unknown fault knobs {sorted(unknown)}; known: {sorted(names)}")
        faults = cls(**values)
        faults.throttle = [FaultRule.parse(r) for r in faults.throttle]
        faults.unavailable = [FaultRule.parse(r) for r in faults.unavailable]
        if faults.fail_status not in (500, 502, 503, 504):
            raise ValueError("fail_status must be 500, 502, 503 or 504")
        return faults

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def merged(self, changes: dict[str, Any]) -> Faults:
        return Faults.from_dict({**self.to_dict(), **changes})


@dataclass(frozen=True)
class Injected:
    """A failure to answer instead of the real response."""

    status: int
    retry_after: int | None
    reason: str


class FaultEngine:
    """Decides, request by request, which configured fault fires."""

    def __init__(self, faults: Faults) -> None:
        self._lock = threading.Lock()
        self.faults = faults
        self._seen: dict[tuple[str, int], int] = {}
        self._fired: dict[tuple[str, int], int] = {}

    def configure(self, faults: Faults) -> None:
        with self._lock:
            self.faults = faults
            self._seen.clear()
            self._fired.clear()

    def injected(self, path: str) -> Injected | None:
        faults = self.faults
        for kind, status, rules in (("throttle", 429, faults.throttle), ("unavailable", 503, faults.unavailable)):
            for index, rule in enumerate(rules):
                if re.search(rule.path, path) and self._fires((kind, index), rule):
                    return Injected(status, rule.retry_after, kind)
        return None

    def _fires(self, key: tuple[str, int], rule: FaultRule) -> bool:
        with self._lock:
            count = self._seen.get(key, 0)
            self._seen[key] = count + 1
            if rule.times is not None and self._fired.get(key, 0) >= rule.times:
                return False
            fires = rule.rate >= 1 or random.Random(f"{self.faults.seed}:{key}:{count}").random() < rule.rate
            if fires:
                self._fired[key] = self._fired.get(key, 0) + 1
            return fires

    def page_fails(self, tenant_id: str, page: int) -> bool:
        limit = self.faults.fail_after_pages.get(tenant_id)
        return limit is not None and page >= limit

    def listed(self, users: Sequence[Listed], tenant_id: str) -> Sequence[Listed]:
        """The users a listing of the tenant shows: none under ``empty_listing``."""
        return () if tenant_id in self.faults.empty_listing else users

    def malform(self, records: list[dict[str, Any]], tenant_id: str) -> list[dict[str, Any]]:
        """Break a seeded share of the records (already shaped for output), as buggy or odd directories do."""
        rate = self.faults.malformed_rate
        if rate <= 0:
            return records
        broken: list[dict[str, Any]] = []
        for record in records:
            rng = random.Random(f"{self.faults.seed}:{tenant_id}:{record.get('id')}")
            if rng.random() >= rate:
                broken.append(record)
                continue
            record = dict(record)
            kind = rng.choice(("missing_id", "wrong_types", "bad_email", "huge_string", "duplicate_id"))
            if kind == "duplicate_id" and broken and "id" in broken[-1]:
                record["id"] = broken[-1]["id"]
            elif kind in ("missing_id", "duplicate_id"):
                record.pop("id", None)
            elif kind == "wrong_types":
                record.update({k: 1 for k in ("displayName", "userPrincipalName") if k in record})
                record.update({k: "yes" for k in ("accountEnabled",) if k in record})
                record.update({k: "+1 555 0100" for k in ("businessPhones", "otherMails") if k in record})
            elif kind == "bad_email":
                record.update({k: "not an email@@" for k in ("mail", "userPrincipalName") if k in record})
            else:
                record.update({k: "X" * 100_000 for k in ("displayName", "jobTitle") if k in record})
            broken.append(record)
        return broken
