"""A seeded generator of realistic simulator datasets (same seed, same dataset), for tests and benchmarks."""

from __future__ import annotations

import random
import re
import uuid
from typing import Any

from flask_entra.simulator.dataset import FORMAT_VERSION, SKU_NAMES
from flask_entra.simulator.settings import DEFAULT_PARTNER_TENANT_ID

#: Microsoft's fictitious companies first (they line up with typical PSA demo clients), then generated names.
KNOWN_COMPANIES = (
    "Contoso Ltd",
    "Fabrikam, Inc.",
    "Northwind Traders",
    "Tailspin Toys",
    "Wide World Importers",
    "Adventure Works Cycles",
    "Litware Inc",
    "Proseware Inc",
    "Woodgrove Bank",
    "Alpine Ski House",
    "Coho Winery",
    "Lucerne Publishing",
    "Trey Research",
    "Fourth Coffee",
    "Wingtip Toys",
    "Blue Yonder Airlines",
    "Humongous Insurance",
    "Consolidated Messenger",
    "Southridge Video",
    "Relecloud",
    "VanArsdel Ltd",
    "Graphic Design Institute",
    "Margie's Travel",
    "Best For You Organics",
    "A. Datum Corporation",
)
_NAME_PARTS = (
    (
        "Blue",
        "Harbor",
        "Summit",
        "Cedar",
        "Silver",
        "Granite",
        "Maple",
        "Pioneer",
        "Crescent",
        "Evergreen",
        "Falcon",
        "Lakeside",
        "Northstar",
        "Oakridge",
        "Redwood",
        "Riverbend",
        "Sterling",
        "Willow",
        "Ironwood",
        "Bright",
    ),
    (
        "Logistics",
        "Dental",
        "Legal",
        "Builders",
        "Accounting",
        "Engineering",
        "Foods",
        "Health",
        "Media",
        "Motors",
        "Partners",
        "Realty",
        "Systems",
        "Studios",
        "Supply",
        "Ventures",
        "Labs",
        "Clinic",
        "Freight",
        "Energy",
    ),
    ("Ltd", "LLC", "Inc.", "GmbH", "Pty Ltd", "Co.", "", "Corp", "", "Limited"),
)
_LEGAL_SUFFIXES = re.compile(r"[\s,]+(ltd|llc|inc|gmbh|pty|co|corp|corporation|limited)\.?$", re.IGNORECASE)
_FIRST_NAMES = (
    "Adele",
    "Alex",
    "Allan",
    "Diego",
    "Grady",
    "Henrietta",
    "Isaiah",
    "Johanna",
    "Joni",
    "Lee",
    "Lidia",
    "Lynne",
    "Megan",
    "Miriam",
    "Nestor",
    "Patti",
    "Pradeep",
    "Priya",
    "Sofia",
    "Tomás",
    "Yuki",
    "Zoë",
    "Aiko",
    "Björn",
    "Chen",
    "Fatima",
    "Kwame",
    "Olga",
    "Rafael",
    "Siobhan",
)
_LAST_NAMES = (
    "Vance",
    "Wilber",
    "Deyoung",
    "Gomez",
    "Archie",
    "Cerrato",
    "Langer",
    "Lauer",
    "Sherman",
    "Gu",
    "Holloway",
    "Robbins",
    "Bowen",
    "Bowden",
    "Wilkins",
    "Fernandez",
    "Gupta",
    "Patel",
    "O'Brien",
    "Müller",
    "Tanaka",
    "Nakamura",
    "Okafor",
    "Ivanova",
    "Silva",
    "Murphy",
    "Kowalski",
    "Andersson",
    "Haddad",
    "Nguyen",
)
_JOB_TITLES = (
    "Office Manager",
    "Accountant",
    "Sales Representative",
    "Marketing Manager",
    "Engineer",
    "Receptionist",
    "Director",
    "CEO",
    "IT Coordinator",
    "Project Manager",
    "Consultant",
    "Warehouse Lead",
    None,
)
_DEPARTMENTS = ("Sales", "Finance", "Operations", "Marketing", "Engineering", "Administration", None)
_SKUS = tuple(SKU_NAMES)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", _LEGAL_SUFFIXES.sub("", name).lower().replace("&", "and"))


def _company_names(count: int, rng: random.Random) -> list[str]:
    names = list(KNOWN_COMPANIES[:count])
    seen = {_slug(n) for n in names}
    while len(names) < count:
        first, second, suffix = (rng.choice(part) for part in _NAME_PARTS)
        name = f"{first} {second} {suffix}".strip()
        if _slug(name) not in seen:
            seen.add(_slug(name))
            names.append(name)
    return names


def _domains(slug: str, custom: bool) -> list[dict[str, Any]]:
    initial = {"id": f"{slug[:27]}.onmicrosoft.com", "isDefault": not custom, "isInitial": True, "isVerified": True}
    if not custom:
        return [initial]
    return [{"id": f"{slug}.com", "isDefault": True, "isInitial": False, "isVerified": True}, initial]


def _person(rng: random.Random, domain: str, taken: set[str]) -> tuple[str, str, str]:
    given, surname = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
    local = re.sub(r"[^a-z0-9.]", "", f"{given}.{surname}".lower()) or "user"
    candidate, number = local, 1
    while candidate in taken:
        number += 1
        candidate = f"{local}{number}"
    taken.add(candidate)
    return given, surname, f"{candidate}@{domain}"


def _user(rng: random.Random, tenant_domains: list[dict[str, Any]], taken: set[str], index: int) -> dict[str, Any]:
    """One user; the mix (guests, disabled, deleted, no mail, shared mailbox) follows what MSPs meet in real tenants."""
    domain = tenant_domains[0]["id"]
    initial = next(d["id"] for d in tenant_domains if d["isInitial"])
    if index == 0:  # a shared mailbox: sign-in blocked, no licence, a role address
        taken.add("info")
        return {
            "id": _uuid(rng),
            "userPrincipalName": f"info@{domain}",
            "displayName": "Info",
            "mail": f"info@{domain}",
            "accountEnabled": False,
            "proxyAddresses": [f"SMTP:info@{domain}"],
            "createdDateTime": "2018-01-02T09:00:00Z",
        }
    given, surname, upn = _person(rng, domain, taken)
    user: dict[str, Any] = {
        "id": _uuid(rng),
        "userPrincipalName": upn,
        "displayName": f"{given} {surname}",
        "givenName": given,
        "surname": surname,
        "mail": upn,
        "proxyAddresses": [f"SMTP:{upn}"],
        "jobTitle": rng.choice(_JOB_TITLES),
        "department": rng.choice(_DEPARTMENTS),
        "usageLocation": "US",
        "createdDateTime": f"20{rng.randint(18, 24)}-0{rng.randint(1, 9)}-1"
        f"{rng.randint(0, 9)}T09:{rng.randint(10, 59)}:00Z",
    }
    roll = rng.random()
    if roll < 0.05:  # a guest from a vendor
        vendor_mail = upn.replace(f"@{domain}", "@vendor-partners.example")
        user.update(
            userType="Guest",
            mail=vendor_mail,
            proxyAddresses=[f"SMTP:{vendor_mail}"],
            jobTitle=None,
            userPrincipalName=vendor_mail.replace("@", "_") + f"#EXT#@{initial}",
        )
        return user
    if roll < 0.15:  # UPN only, no mailbox
        user.update(mail=None, proxyAddresses=[])
    if rng.random() < 0.2:
        user["otherMails"] = [f"{given.lower()}.{surname.lower()}.{index}@personal-mail.example"]
    if rng.random() < 0.6:
        user["businessPhones"] = [f"+1 425 555 {rng.randint(100, 9999):04d}"]
    if rng.random() < 0.4:
        user["mobilePhone"] = f"+1 206 555 {rng.randint(100, 9999):04d}"
    if rng.random() < 0.9:
        user["assignedLicenses"] = [{"skuId": rng.choice(_SKUS), "disabledPlans": []}]
    if rng.random() < 0.05:
        user["accountEnabled"] = False
    if rng.random() < 0.03:  # soft-deleted: sits in deleted items for 30 days, UPN prefixed with the object id
        user["deletedDateTime"] = "2025-01-15T08:00:00Z"
        user["userPrincipalName"] = user["id"].replace("-", "") + upn
    return user


def _relationships(rng: random.Random, name: str, slug: str, index: int) -> list[dict[str, Any]]:
    roles = [
        {"roleDefinitionId": "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"},  # Directory Readers
        {"roleDefinitionId": "f2ef992c-3afb-46b9-b7cf-a126ee74c451"},
    ]  # Global Reader
    active = {
        "id": f"{_uuid(rng)}-{_uuid(rng)}",
        "displayName": f"GDAP_{slug[:20]}_{index}",
        "status": "active",
        "createdDateTime": "2024-03-01T10:00:00Z",
        "activatedDateTime": "2024-03-02T10:00:00Z",
        "endDateTime": f"20{rng.randint(30, 32)}-03-02T10:00:00Z",
        "duration": "P730D",
        "autoExtendDuration": "P180D",
        "accessDetails": {"unifiedRoles": roles},
    }
    relationships = [active]
    if index % 3 == 0:  # Microsoft-led transition relationships, which CIPP ignores
        relationships.append(
            {
                **active,
                "id": f"{_uuid(rng)}-{_uuid(rng)}",
                "displayName": f"MLT_{_uuid(rng)[:8]}",
                "autoExtendDuration": "PT0S",
            }
        )
    if index % 4 == 1:  # an expired earlier relationship
        relationships.append(
            {
                **active,
                "id": f"{_uuid(rng)}-{_uuid(rng)}",
                "displayName": f"Old GDAP {name}"[:50],
                "status": "expired",
                "endDateTime": "2024-02-28T10:00:00Z",
                "autoExtendDuration": "PT0S",
            }
        )
    return relationships


def generate_dataset(
    tenants: int, users_per_tenant: int, seed: int = 0, partner_tenant_id: str = DEFAULT_PARTNER_TENANT_ID
) -> dict[str, Any]:
    """A dataset document (see dataset.py for the format) with ``tenants`` customers of ``users_per_tenant`` users."""
    rng = random.Random(seed)
    partner_domains = _domains("acmeitservices", custom=True)
    taken: set[str] = set()
    partner_users = [_user(rng, partner_domains, taken, index) for index in range(1, 4)]
    partner_users[0].update(
        jobTitle="Partner Administrator", accountEnabled=True, userType="Member", deletedDateTime=None
    )
    partner = {
        "tenantId": partner_tenant_id,
        "displayName": "Acme IT Services",
        "domains": partner_domains,
        "users": partner_users,
    }
    customers = []
    for index, name in enumerate(_company_names(tenants, rng)):
        slug = _slug(name) or f"tenant{index}"
        domains = _domains(slug, custom=index % 4 != 3)  # a quarter only have the onmicrosoft.com domain
        taken = set()
        customers.append(
            {
                "tenantId": _uuid(rng),
                "displayName": name,
                "domains": domains,
                "users": [_user(rng, domains, taken, u) for u in range(users_per_tenant)],
                "appConsent": True,
                "cippExcluded": tenants >= 3 and index == tenants - 1,
                "legacyContract": index % 2 == 0,
                "relationships": _relationships(rng, name, slug, index),
            }
        )
    return {"format": FORMAT_VERSION, "partner": partner, "customers": customers}
