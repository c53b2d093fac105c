"""The simulator's directory: a partner tenant, its customer tenants, their domains, GDAP relationships and users.

JSON file format (``format: 1``)::

    {
      "format": 1,
      "partner": TENANT,
      "customers": [TENANT + {
          "appConsent": true,          # the multi-tenant app is consented in this customer (else AADSTS65001)
          "cippExcluded": false,       # CIPP lists the tenant with "Excluded": true
          "legacyContract": true,      # listed by GET /v1.0/contracts (DAP era); GDAP-only customers are not
          "relationships": [{"id", "displayName", "status", "createdDateTime", "activatedDateTime", "endDateTime",
                             "duration", "autoExtendDuration", "accessDetails": {"unifiedRoles": [{"roleDefinitionId"}]}}]
      }]
    }
    TENANT = {"tenantId", "displayName", "domains": [{"id", "isDefault", "isInitial", "isVerified"}], "users": [USER]}
    USER = Graph v1.0 user properties (see USER_PROPERTIES); "deletedDateTime" set means soft-deleted.

Missing user properties are filled with Graph's empty values on load. Every mutation bumps a sequence number per user
so ``users/delta`` can answer "what changed since"; hard-deleted users leave a tombstone for delta's ``@removed``.
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
#: Every user property the simulator stores and can return (all checked against Graph's v1.0 schema by the tests).
USER_PROPERTIES = (
    "id",
    "userPrincipalName",
    "displayName",
    "givenName",
    "surname",
    "mail",
    "otherMails",
    "proxyAddresses",
    "businessPhones",
    "mobilePhone",
    "jobTitle",
    "department",
    "companyName",
    "officeLocation",
    "preferredLanguage",
    "usageLocation",
    "accountEnabled",
    "userType",
    "assignedLicenses",
    "createdDateTime",
    "deletedDateTime",
    "onPremisesSyncEnabled",
)
#: What Graph returns for a user when the request has no $select.
DEFAULT_USER_SELECT = (
    "id",
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
)
_LIST_PROPERTIES = frozenset({"otherMails", "proxyAddresses", "businessPhones", "assignedLicenses"})
#: Licences the generator hands out, by skuId (stable ids derived from the names); CIPP shows their names.
SKU_NAMES = {
    str(uuid.uuid5(uuid.NAMESPACE_URL, f"flask-entra-sim/sku/{name}")): name
    for name in (
        "Microsoft 365 Business Premium",
        "Microsoft 365 Business Standard",
        "Microsoft 365 Business Basic",
        "Exchange Online (Plan 1)",
    )
}
LIVE_RELATIONSHIP_STATUSES = frozenset({"active", "expiring"})
_USER_PROPERTY_SET = frozenset(USER_PROPERTIES)
_EMPTY_USER: dict[str, Any] = {name: None for name in USER_PROPERTIES} | {"accountEnabled": True, "userType": "Member"}


class DatasetError(ValueError):
    """A dataset file or a mutation that does not fit the format (the message names the offending item)."""


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def complete_user(user: dict[str, Any]) -> dict[str, Any]:
    """A copy of the user with every stored property present (Graph answers null or [] for unset ones)."""
    unknown = user.keys() - _USER_PROPERTY_SET
    if unknown:
        raise DatasetError(f"user {user.get('id')!r} has properties the simulator does not know: {sorted(unknown)}")
    full: dict[str, Any] = dict(_EMPTY_USER)
    full.update(user)
    for name in _LIST_PROPERTIES:  # copied so mutations never reach the caller's document (items are flat)
        value = full[name]
        full[name] = [dict(item) if isinstance(item, dict) else item for item in value] if value is not None else []
    full["createdDateTime"] = full["createdDateTime"] or now_iso()
    if not full["id"] or not full["userPrincipalName"]:
        raise DatasetError(f"every user needs an id and a userPrincipalName: {user!r}")
    return full


class Dataset:
    """The directory, safe to read and mutate from the server's request threads."""

    def __init__(self, document: dict[str, Any]) -> None:
        if document.get("format") != FORMAT_VERSION:
            raise DatasetError(f"dataset format must be {FORMAT_VERSION}, got {document.get('format')!r}")
        self.lock = threading.RLock()
        self.partner: dict[str, Any] = self._copy_tenant(document["partner"])
        self.customers: list[dict[str, Any]] = [self._copy_tenant(c) for c in document.get("customers", [])]
        self.sequence = 0
        self.user_sequence: dict[str, int] = {}
        self.tombstones: dict[str, list[tuple[str, int]]] = {}
        self._rendered: dict[Hashable, tuple[int, list[str]]] = {}
        self._tenants = {t["tenantId"].lower(): t for t in [self.partner, *self.customers]}
        for customer in self.customers:
            customer.setdefault("appConsent", True)
            customer.setdefault("cippExcluded", False)
            customer.setdefault("legacyContract", False)
            customer.setdefault("relationships", [])

    @staticmethod
    def _copy_tenant(tenant: dict[str, Any]) -> dict[str, Any]:
        """A private copy (users completed), so the caller's document stays untouched."""
        copied = {k: copy.deepcopy(v) for k, v in tenant.items() if k != "users"}
        copied.setdefault("domains", [])
        copied["users"] = [complete_user(u) for u in tenant.get("users", [])]
        return copied

    @classmethod
    def from_file(cls, path: Path | str) -> Dataset:
        try:
            return cls(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError, KeyError) as exc:
            raise DatasetError(f"cannot read simulator dataset {path}: {exc}") from exc

    def to_document(self) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy({"format": FORMAT_VERSION, "partner": self.partner, "customers": self.customers})

    def save(self, path: Path | str) -> None:
        Path(path).write_text(json.dumps(self.to_document(), indent=1), encoding="utf-8")

    # --- lookups ----------------------------------------------------------------------------------------------------
    @property
    def partner_id(self) -> str:
        return str(self.partner["tenantId"])

    def tenant(self, reference: str) -> dict[str, Any] | None:
        """A tenant by id or by any of its domains (case-insensitive), as authorities and CIPP filters allow."""
        key = reference.lower()
        if key in self._tenants:
            return self._tenants[key]
        return next((t for t in self._tenants.values() if any(d["id"].lower() == key for d in t["domains"])), None)

    def is_customer(self, tenant: dict[str, Any]) -> bool:
        return tenant is not self.partner

    def default_domain(self, tenant: dict[str, Any]) -> str:
        return str(next((d["id"] for d in tenant["domains"] if d.get("isDefault")), tenant["domains"][0]["id"]))

    def initial_domain(self, tenant: dict[str, Any]) -> str:
        return next((d["id"] for d in tenant["domains"] if d.get("isInitial")), self.default_domain(tenant))

    def live_users(self, tenant: dict[str, Any]) -> list[dict[str, Any]]:
        with self.lock:
            return [u for u in tenant["users"] if not u["deletedDateTime"]]

    def deleted_users(self, tenant: dict[str, Any]) -> list[dict[str, Any]]:
        with self.lock:
            return [u for u in tenant["users"] if u["deletedDateTime"]]

    def rendered_users(
        self, tenant: dict[str, Any], *, deleted: bool, key: Hashable, render: Callable[[dict[str, Any]], str]
    ) -> list[str]:
        """The tenant's live (or soft-deleted) users as ``render`` texts them, kept until the directory next changes.

        Re-shaping and re-encoding 999 users for every page cost the simulator more than the latency it simulates, so
        a listing's speed measured against it would have been the simulator's. ``key`` names the rendering.
        """
        cache_key = (tenant["tenantId"], deleted, key)
        with self.lock:
            cached = self._rendered.get(cache_key)
            if cached is None or cached[0] != self.sequence:
                users = self.deleted_users(tenant) if deleted else self.live_users(tenant)
                cached = (self.sequence, [render(user) for user in users])
                self._rendered[cache_key] = cached
            return cached[1]

    def find_user(self, tenant: dict[str, Any], user_id: str) -> dict[str, Any]:
        user: dict[str, Any] | None = next((u for u in tenant["users"] if u["id"] == user_id), None)
        if user is None:
            raise DatasetError(f"tenant {tenant['tenantId']} has no user {user_id}")
        return user

    def gdap_active(self, tenant: dict[str, Any], at: datetime | None = None) -> bool:
        """Whether the partner holds a live GDAP relationship with this customer now."""
        moment = at or datetime.now(UTC)
        return any(
            r.get("status") in LIVE_RELATIONSHIP_STATUSES and (parse_iso(r.get("endDateTime")) or moment) >= moment
            for r in tenant.get("relationships", [])
        )

    def changes_since(self, tenant: dict[str, Any], since: int) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
        """(live users changed after ``since``, [(id, "changed"|"deleted")] removed after it) for users/delta."""
        with self.lock:
            changed = [u for u in tenant["users"] if self.user_sequence.get(u["id"], 0) > since]
            removed = [(u["id"], "changed") for u in changed if u["deletedDateTime"]]
            removed += [(uid, "deleted") for uid, seq in self.tombstones.get(tenant["tenantId"], []) if seq > since]
            return [u for u in changed if not u["deletedDateTime"]], removed

    # --- mutations (the control API's) -------------------------------------------------------------------------------
    def _touch(self, user_id: str) -> None:
        self.sequence += 1
        self.user_sequence[user_id] = self.sequence

    def add_user(self, tenant: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            fields = {"id": str(uuid.uuid4()), **fields}
            if any(u["id"] == fields["id"] for u in tenant["users"]):
                raise DatasetError(f"user id {fields['id']} already exists")
            user = complete_user(fields)
            tenant["users"].append(user)
            self._touch(user["id"])
            return copy.deepcopy(user)

    def update_user(self, tenant: dict[str, Any], user_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            user = self.find_user(tenant, user_id)
            updated = complete_user({**user, **fields, "id": user_id})
            user.update(updated)
            self._touch(user_id)
            return copy.deepcopy(user)

    def soft_delete_user(self, tenant: dict[str, Any], user_id: str) -> dict[str, Any]:
        """Move the user to deleted items; like Entra, prefix the UPN with the object id (without dashes)."""
        with self.lock:
            user = self.find_user(tenant, user_id)
            if not user["deletedDateTime"]:
                user["userPrincipalName"] = user_id.replace("-", "") + user["userPrincipalName"]
                user["deletedDateTime"] = now_iso()
                self._touch(user_id)
            return copy.deepcopy(user)

    def restore_user(self, tenant: dict[str, Any], user_id: str) -> dict[str, Any]:
        with self.lock:
            user = self.find_user(tenant, user_id)
            if user["deletedDateTime"]:
                user["userPrincipalName"] = user["userPrincipalName"].removeprefix(user_id.replace("-", ""))
                user["deletedDateTime"] = None
                self._touch(user_id)
            return copy.deepcopy(user)

    def hard_delete_user(self, tenant: dict[str, Any], user_id: str) -> None:
        with self.lock:
            user = self.find_user(tenant, user_id)
            tenant["users"].remove(user)
            self.sequence += 1
            self.tombstones.setdefault(tenant["tenantId"], []).append((user_id, self.sequence))
            self.user_sequence.pop(user_id, None)

    def update_tenant(self, tenant: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
        """Change displayName, appConsent, cippExcluded, legacyContract, or set every relationship's ``gdapStatus``."""
        allowed = {"displayName", "appConsent", "cippExcluded", "legacyContract", "gdapStatus"}
        if set(fields) - allowed:
            raise DatasetError(f"tenant fields that can change: {sorted(allowed)}; got {sorted(fields)}")
        with self.lock:
            status = fields.pop("gdapStatus", None)
            tenant.update(fields)
            for relationship in tenant.get("relationships", []) if status else []:
                relationship["status"] = status
            return {k: v for k, v in copy.deepcopy(tenant).items() if k != "users"}
