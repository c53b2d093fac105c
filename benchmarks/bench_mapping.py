"""B1: tenant-to-client mapping of 2,000 Microsoft tenants against 20,000 PSA clients.

Target: the median of ``suggest_mappings`` is at most 2 s and at most 1.5x the floor, a bare ``rapidfuzz.process.cdist``
over the same normalised names with the same scorer and cutoff (the unavoidable part of the work).
Run: ``.venv/bin/python benchmarks/bench_mapping.py``.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Callable

import numpy as np
from rapidfuzz import process

from flask_entra.host import ClientRecord
from flask_entra.mapping import NAME_SCORER, MappingThresholds, normalise_name, normalise_names, suggest_mappings
from flask_entra.providers.base import ManagedTenant

TENANTS = 2_000
CLIENTS = 20_000
RUNS = 5
TARGET_SECONDS = 2.0
TARGET_RATIO = 1.5
SEED = 20240508

# fmt: off
_ONSETS = ["b", "br", "c", "d", "f", "g", "gr", "h", "k", "l", "m", "n", "p", "pr", "r", "s", "st", "t", "tr", "v", "z"]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "io"]
_CODAS = ["", "n", "r", "s", "x", "l", "m", "nt", "rk", "ss"]
_SURNAMES = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Wright",
             "Müller", "Schmidt", "Dubois", "Rossi", "García", "Nowak", "Jansen", "O'Brien", "Nguyen", "Kowalski"]
_PLACES = ["Northern", "Southern", "Coastal", "Metro", "Highland", "Riverside", "Capital", "Pacific", "Atlantic", "Valley"]
_TRADES = ["Plumbing", "Dental", "Logistics", "Accounting", "Legal", "Construction", "Pharma", "Engineering", "Consulting",
           "Bakery", "Motors", "Healthcare", "Properties", "Media", "Solutions", "Partners", "Labs", "Systems", "Foods"]
_FORMS = ["Ltd", "Limited", "Inc.", "LLC", "GmbH", "Pty Ltd", "Corp", "S.A.", "B.V.", "PLC", "", "", "", ""]
_TLDS = ["com", "co.uk", "de", "com.au", "net", "fr", "nl", "io"]
# fmt: on


def _brand(rng: random.Random) -> str:
    syllables = rng.randint(2, 3)
    return "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(syllables)).title()


def _company(rng: random.Random) -> tuple[str, str]:
    """A (name, domain) pair shaped like real small-business records."""
    style = rng.random()
    if style < 0.4:
        core = f"{_brand(rng)} {rng.choice(_TRADES)}"
    elif style < 0.7:
        core = f"{rng.choice(_SURNAMES)} & {rng.choice(_SURNAMES)} {rng.choice(_TRADES)}"
    elif style < 0.85:
        core = f"{rng.choice(_PLACES)} {_brand(rng)} {rng.choice(_TRADES)}"
    else:
        core = _brand(rng)
    name = f"{core} {rng.choice(_FORMS)}".strip()
    slug = "".join(ch for ch in normalise_name(core) if ch.isascii() and ch.isalnum())
    return name, f"{slug}{rng.randint(1, 999)}.{rng.choice(_TLDS)}"


def generate(seed: int = SEED) -> tuple[list[ManagedTenant], list[ClientRecord]]:
    """Clients with websites and contact domains; tenants of which about half share a domain or a name with a client."""
    rng = random.Random(seed)
    clients = []
    for number in range(CLIENTS):
        name, domain = _company(rng)
        website = rng.choice([domain, f"https://www.{domain}/", f"http://{domain}/contact", ""])
        clients.append(ClientRecord(f"c{number}", name, (website,) if website else (), (domain,)))
    tenants = []
    for number in range(TENANTS):
        kind = rng.random()
        tenant_id = f"00000000-0000-4000-8000-{number:012d}"
        if kind < 0.5:
            client = rng.choice(clients)
            domain = client.contact_domains[0]
            name = client.name if rng.random() < 0.7 else _company(rng)[0]  # some tenants were renamed
        elif kind < 0.75:
            name, domain = rng.choice(clients).name.replace("Ltd", "Limited"), None  # onmicrosoft-only, name match
        else:
            name, domain = _company(rng)
        initial = f"tenant{number}.onmicrosoft.com"
        verified = (initial, domain) if domain else (initial,)
        tenants.append(ManagedTenant(tenant_id, name, domain or initial, verified))
    return tenants, clients


def _interleaved_medians(first: Callable[[], object], second: Callable[[], object]) -> tuple[float, float]:
    """Median seconds of each, timed alternately so load from other processes weighs on both alike."""
    timings: tuple[list[float], list[float]] = ([], [])
    for _ in range(RUNS):
        for work, samples in zip((first, second), timings, strict=True):
            started = time.perf_counter()
            work()
            samples.append(time.perf_counter() - started)
    return statistics.median(timings[0]), statistics.median(timings[1])


def run() -> dict[str, object]:
    tenants, clients = generate()
    thresholds = MappingThresholds()
    tenant_names = normalise_names([tenant.display_name for tenant in tenants])
    client_names = normalise_names([client.name for client in clients])

    def floor() -> object:
        return process.cdist(
            tenant_names, client_names, scorer=NAME_SCORER, processor=None,
            score_cutoff=thresholds.score_cutoff, dtype=np.uint8, workers=-1,
        )  # fmt: skip

    suggestions = suggest_mappings(tenants, clients, thresholds)  # warm-up, and a sanity check of the output
    states = {state: sum(s.state == state for s in suggestions.values()) for state in ("auto_matched", "needs_review")}
    median, floor_median = _interleaved_medians(lambda: suggest_mappings(tenants, clients, thresholds), floor)
    ratio = median / floor_median
    return {
        "id": "B1",
        "what": f"suggest_mappings, {TENANTS} tenants x {CLIENTS} clients, median of {RUNS}",
        "median_s": round(median, 4),
        "floor_s": round(floor_median, 4),
        "ratio": round(ratio, 3),
        "target": f"<= {TARGET_SECONDS} s and <= {TARGET_RATIO}x floor",
        "met": median <= TARGET_SECONDS and ratio <= TARGET_RATIO,
        "scorer": NAME_SCORER.__name__,
        "score_cutoff": thresholds.score_cutoff,
        "states": states,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
