"""Pure engine: suggest a PSA client for each discovered Microsoft tenant.

Evidence, strongest first: a verified domain of the tenant equal to one of the client's own domains (``exact_domain``),
the same domain among the client's contacts' email domains (``contact_domain``), a similar name (``fuzzy``). Only one
client holding the tenant's domain through its own domains auto-maps; everything else is a candidate for a human.
Thresholds and their measured precision/recall: docs/mapping.md.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from rapidfuzz import fuzz, process

from flask_entra.host import ClientRecord
from flask_entra.providers.base import ManagedTenant

SuggestionState = Literal["auto_matched", "needs_review", "unmatched"]
CandidateReason = Literal["exact_domain", "contact_domain", "fuzzy"]

#: The scorer of the fuzzy pass (chosen on tests/data/mapping_eval.json; see docs/mapping.md).
NAME_SCORER = fuzz.ratio
#: A contact-domain match is worth at least this score (it is never automatic, whatever its score).
CONTACT_DOMAIN_SCORE = 90.0
_REASON_RANK: dict[CandidateReason, int] = {"exact_domain": 0, "contact_domain": 1, "fuzzy": 2}
_Evidence = dict[int, tuple[CandidateReason, float]]  # client position -> why it is a candidate, and its score

#: Mailbox providers and other domains many unrelated organisations share: equality proves nothing.
PUBLIC_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "hotmail.co.uk", "live.com", "msn.com",
        "yahoo.com", "yahoo.co.uk", "ymail.com", "icloud.com", "me.com", "mac.com", "aol.com", "proton.me",
        "protonmail.com", "gmx.com", "gmx.de", "gmx.net", "web.de", "t-online.de", "mail.com", "zoho.com",
        "yandex.ru", "mail.ru", "qq.com", "163.com", "naver.com", "orange.fr", "free.fr", "btinternet.com",
        "bigpond.com", "comcast.net", "facebook.com", "linkedin.com", "wixsite.com", "godaddysites.com",
    }
)  # fmt: skip
_MICROSOFT_INITIAL_DOMAIN = "onmicrosoft.com"

# Legal forms, dropped from the end of a name ("Contoso Pty Ltd") and, for the forms written first, from its start
# ("ООО Ромашка"). Generic group words count as suffixes because "The X Group" and "X" are the same client to a human.
LEGAL_SUFFIXES = frozenset(
    {
        "inc", "incorporated", "ltd", "limited", "llc", "llp", "lp", "plc", "pllc", "gmbh", "mbh", "ag", "kg", "kgaa",
        "ohg", "ug", "ev", "se", "sa", "sas", "sarl", "sl", "srl", "spa", "sro", "bv", "nv", "oy", "oyj", "ab", "as",
        "asa", "aps", "pty", "pte", "co", "corp", "corporation", "company", "cie", "kk", "doo", "bhd", "sdn",
        "group", "holding", "holdings", "ooo", "ооо", "оао", "зао", "пао", "ао", "株",
    }
)  # fmt: skip
LEGAL_PREFIXES = frozenset({"ооо", "оао", "зао", "пао", "ао", "ип", "pt", "株"})
_TRAILING_NOISE = LEGAL_SUFFIXES | {"and"}  # "and" is left over from "Müller GmbH & Co. KG"
_CJK_LEGAL_FORMS = re.compile("股份有限公司|有限公司|株式会社|有限会社|合同会社|주식회사")
_DOT_BETWEEN_INITIALS = re.compile(r"\.(?=[^\W\d_]\b)(?<=\b[^\W\d_]\.)")  # "S.A." -> "SA.", "I.B.M." -> "IBM."
_COMBINING_ACCENTS = re.compile("[\u0300-\u036f]")
# Apostrophes vanish ("McDonald's" = "McDonalds"), "&" becomes "and", any other punctuation separates words. The ASCII
# part is a bytes.translate over the UTF-8 text (multi-byte sequences hold no ASCII byte), far faster than a regex.
_ASCII_SEPARATORS = bytes(b if b >= 128 or b == 10 or chr(b).isalnum() else 32 for b in range(256))
_OTHER_PUNCTUATION = re.compile(r"[^\w\s]|_")
# A lowercase host, bare or in an http(s) URL without user or port; "www." is dropped only when a domain follows it.
_PLAIN_HOST = re.compile(
    r"(?:https?://)?(?:www\.(?=[a-z0-9-]+\.)|(?!www\.))([a-z0-9-]+(?:\.[a-z0-9-]+)+)(?:[/?#].*)?", re.S
)


@dataclass(frozen=True)
class MappingThresholds:
    """Settings of the fuzzy pass (config: ``ENTRA_FUZZY_SCORE_CUTOFF``, ``ENTRA_FUZZY_CANDIDATES``)."""

    score_cutoff: float = 75.0
    limit: int = 5

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MappingThresholds:
        defaults = cls()
        return cls(
            score_cutoff=float(config.get("ENTRA_FUZZY_SCORE_CUTOFF", defaults.score_cutoff)),
            limit=int(config.get("ENTRA_FUZZY_CANDIDATES", defaults.limit)),
        )


# Slotted: a preview builds thousands of these, and without slots each carries a dict for the garbage collector to walk.
@dataclass(frozen=True, slots=True)
class Candidate:
    client_id: str
    client_name: str
    score: float
    reason: CandidateReason


@dataclass(frozen=True, slots=True)
class Suggestion:
    """What the preview shows for one Microsoft tenant; ``client_id`` is set only when auto-matched."""

    entra_tenant_id: str
    state: SuggestionState
    client_id: str | None
    candidates: tuple[Candidate, ...]


def normalise_domain(value: str | None) -> str | None:
    """The bare host of a domain, URL or email address, lowercased; None when nothing usable remains."""
    if value and (plain := _PLAIN_HOST.fullmatch(value)):  # most values: the steps below would change nothing else
        return plain[1]
    text = (value or "").strip().lower()
    if "://" in text:
        text = text.partition("://")[2]
    if "/" in text or "?" in text or "#" in text:
        text = text.replace("?", "/").replace("#", "/").partition("/")[0]
    # An email's local part or a URL's user goes before "@"; a port comes after ":".
    text = text.rpartition("@")[2].partition(":")[0].rstrip(".").removeprefix("www.")
    if not text.isascii():
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return text if "." in text and not text.startswith(".") and " " not in text else None


def is_matchable_domain(domain: str) -> bool:
    """False for Microsoft's initial domains and for domains shared by unrelated organisations."""
    initial = domain == _MICROSOFT_INITIAL_DOMAIN or domain.endswith("." + _MICROSOFT_INITIAL_DOMAIN)
    return not initial and domain not in PUBLIC_DOMAINS


def normalise_name(name: str) -> str:
    """A company name reduced to what distinguishes it: no case, accents, punctuation, legal form or leading "the"."""
    return normalise_names([name])[0]


def normalise_names(names: Sequence[str]) -> list[str]:
    """:func:`normalise_name` of each name. The character work runs once over all names joined: bulk runs are
    dominated by it otherwise."""
    if not names:
        return []
    text = "\n".join(names)
    if text.count("\n") != len(names) - 1:  # a name holding a line break would shift every line after it
        text = "\n".join(name.replace("\n", " ") for name in names)
    text = text.casefold()
    if not text.isascii():  # usually a few names: the Unicode work is skipped when there are none
        text = unicodedata.normalize("NFKD", text)
        text = unicodedata.normalize("NFC", _COMBINING_ACCENTS.sub("", text)).casefold()
        text = _CJK_LEGAL_FORMS.sub(" ", text).replace("’", "").replace("´", "")
    text = _DOT_BETWEEN_INITIALS.sub("", text).replace("&", " and ")
    text = text.encode().translate(_ASCII_SEPARATORS, b"'`").decode()
    if not text.isascii():
        text = _OTHER_PUNCTUATION.sub(" ", text)
    return [_without_affixes(line.split()) for line in text.split("\n")]


def _without_affixes(words: list[str]) -> str:
    start, end = 0, len(words)
    if start < end and words[0] == "the":
        start = 1
    while start < end and words[start] in LEGAL_PREFIXES:
        start += 1
    while end > start and words[end - 1] in _TRAILING_NOISE:
        end -= 1
    return " ".join(words[start:end] if end > start else words)


def _domain_index(values_by_client: Iterable[tuple[str, ...]], wanted: set[str]) -> dict[str, list[int]]:
    """Domain -> positions of the clients holding it. Only ``wanted`` domains (the tenants') are kept: every value
    must be normalised, but holding lists for tens of thousands of domains no tenant has costs more than that."""
    index: dict[str, list[int]] = {}
    for position, values in enumerate(values_by_client):
        for value in values:
            domain = normalise_domain(value)
            if domain is not None and domain in wanted:
                holders = index.setdefault(domain, [])
                if not holders or holders[-1] != position:
                    holders.append(position)
    return index


@dataclass(frozen=True)
class _FuzzyMatches:
    """The best client names of every tenant, flat: tenant ``t``'s are at ``[ends[t - 1]:ends[t]]``, best first."""

    ends: list[int]
    name_positions: list[int]
    scores: list[float]

    def of(self, tenant_position: int) -> zip[tuple[int, float]]:
        begin = self.ends[tenant_position - 1] if tenant_position else 0
        end = self.ends[tenant_position]
        return zip(self.name_positions[begin:end], self.scores[begin:end], strict=True)


def _fuzzy_matches(
    tenant_names: list[str], client_names: list[str], thresholds: MappingThresholds, workers: int
) -> _FuzzyMatches:
    """Per tenant, the best unique client names (index, score) at or above the cutoff, in one batch call."""
    if not tenant_names or not client_names:
        return _FuzzyMatches([0] * len(tenant_names), [], [])
    # Names are already normalised (once per name), hence processor=None; uint8 keeps the matrix at one byte a pair.
    matrix = process.cdist(
        tenant_names, client_names, scorer=NAME_SCORER, processor=None,
        score_cutoff=thresholds.score_cutoff, dtype=np.uint8, workers=workers,
    )  # fmt: skip
    flat_positions = _nonzero_positions(matrix.reshape(-1))
    scores = matrix.reshape(-1)[flat_positions]
    rows, columns = np.divmod(flat_positions, matrix.shape[1])
    # Best first within each row (positions are already grouped by row), then keep the first ``limit`` of each row.
    order = np.argsort(rows * 256 + (255 - scores), kind="stable")
    rows, columns, scores = rows[order], columns[order], scores[order]
    kept = np.arange(rows.size) - np.searchsorted(rows, rows) < thresholds.limit
    rows = rows[kept]
    return _FuzzyMatches(
        np.searchsorted(rows, np.arange(len(tenant_names)), side="right").tolist(),
        columns[kept].tolist(),
        scores[kept].astype(float).tolist(),
    )


def _nonzero_positions(flat: np.ndarray) -> np.ndarray:
    """``np.flatnonzero`` for a sparse uint8 vector, many times faster: scans it 8 bytes at a time first."""
    whole = flat.size // 8 * 8
    words = np.flatnonzero(flat[:whole].view(np.uint64) != 0)  # a bool mask takes numpy's fast path
    positions = (words[:, None] * 8 + np.arange(8)).reshape(-1)
    return np.concatenate((positions[flat[positions] != 0], np.flatnonzero(flat[whole:]) + whole))


def suggest_mappings(
    tenants: Sequence[ManagedTenant],
    clients: Sequence[ClientRecord],
    thresholds: MappingThresholds = MappingThresholds(),
    *,
    workers: int = -1,
) -> dict[str, Suggestion]:
    """A suggestion per tenant, keyed by ``entra_tenant_id``. Pure: reads nothing but its arguments."""
    first_holders: dict[str, int] = {}  # name -> the first client with it
    other_holders: dict[int, list[int]] = {}  # that client -> every client with its name, for the few names shared
    for position, name in enumerate(normalise_names([client.name for client in clients])):
        first = first_holders.setdefault(name, position)
        if first != position:
            other_holders.setdefault(first, [first]).append(position)
    first_holders.pop("", None)
    tenant_names = normalise_names([tenant.display_name for tenant in tenants])
    with ThreadPoolExecutor(max_workers=1) as pool:
        # cdist releases the GIL: the domain evidence is gathered on this thread meanwhile.
        fuzzy = pool.submit(_fuzzy_matches, tenant_names, list(first_holders), thresholds, workers)
        domain_evidence = _domain_evidence(tenants, clients)
        fuzzy_matches = fuzzy.result()

    name_holders = list(first_holders.values())
    suggestions: dict[str, Suggestion] = {}
    for tenant_position, tenant in enumerate(tenants):
        evidence, owner_count = domain_evidence.get(tenant_position, ({}, 0))
        for name_position, score in fuzzy_matches.of(tenant_position):
            first = name_holders[name_position]
            for position in other_holders.get(first, (first,)):
                if position not in evidence:
                    evidence[position] = ("fuzzy", score)
                elif evidence[position][0] == "contact_domain" and score > evidence[position][1]:
                    evidence[position] = ("contact_domain", score)  # the name says more than the contact domain
        suggestions[tenant.entra_tenant_id] = _suggestion(tenant, clients, evidence, owner_count, thresholds.limit)
    return suggestions


def _domain_evidence(
    tenants: Sequence[ManagedTenant], clients: Sequence[ClientRecord]
) -> dict[int, tuple[_Evidence, int]]:
    """By tenant position, for the tenants sharing a domain with clients: those clients, and how many own it."""
    domains_by_tenant = [_matchable_domains(tenant) for tenant in tenants]
    wanted = set().union(*domains_by_tenant)
    own_index = _domain_index((client.domains for client in clients), wanted)
    contact_index = _domain_index((client.contact_domains for client in clients), wanted)
    per_tenant: dict[int, tuple[_Evidence, int]] = {}
    for tenant_position, domains in enumerate(domains_by_tenant):
        evidence: _Evidence = {
            position: ("contact_domain", CONTACT_DOMAIN_SCORE)
            for domain in domains
            for position in contact_index.get(domain, ())
        }
        owners = {position for domain in domains for position in own_index.get(domain, ())}
        evidence.update(dict.fromkeys(owners, ("exact_domain", 100.0)))
        if evidence:
            per_tenant[tenant_position] = (evidence, len(owners))
    return per_tenant


def _matchable_domains(tenant: ManagedTenant) -> set[str]:
    return {
        domain
        for value in (tenant.default_domain, *tenant.verified_domains)
        if (domain := normalise_domain(value)) and is_matchable_domain(domain)
    }


def _suggestion(
    tenant: ManagedTenant,
    clients: Sequence[ClientRecord],
    evidence: _Evidence,
    owner_count: int,
    limit: int,
) -> Suggestion:
    ranked = sorted(evidence.items(), key=lambda item: (_REASON_RANK[item[1][0]], -item[1][1], clients[item[0]].name))
    # Every client sharing the tenant's domain is listed, even past the limit: the reviewer must see all of them.
    candidates = tuple(
        Candidate(clients[position].id, clients[position].name, score, reason)
        for position, (reason, score) in ranked[: max(limit, owner_count)]
    )
    if owner_count == 1:
        return Suggestion(tenant.entra_tenant_id, "auto_matched", candidates[0].client_id, candidates)
    return Suggestion(tenant.entra_tenant_id, "needs_review" if candidates else "unmatched", None, candidates)
