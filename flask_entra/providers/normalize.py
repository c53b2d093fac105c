"""Graph and CIPP user JSON -> :class:`EntraUser`.

Input is untrusted: a field of the wrong type or an absurd length is dropped (optional fields) or the record is
skipped with a reason (identity fields), never a crash. Keys are matched case-insensitively because CIPP versions differ
in casing and add extras (``username``, ``Aliases``, ``LicJoined``, ...), which are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from flask_entra.providers.base import EntraUser, SkippedRecord, UserListing

MAX_ID_CHARS = 128
MAX_UPN_CHARS = 320
MAX_TEXT_CHARS = 256
MAX_PHONE_CHARS = 64
MAX_EMAIL_CHARS = 254
MAX_LIST_ITEMS = 100

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_EMAIL = re.compile(rf"[^@\s\x00-\x1f]{{1,64}}@{_LABEL}(?:\.{_LABEL})+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def normalize_email(value: object) -> str | None:
    """Lowercased address, or None when ``value`` is not a plausible email address."""
    if not isinstance(value, str):
        return None
    address = value.strip().lower()
    if len(address) > MAX_EMAIL_CHARS or not _EMAIL.fullmatch(address):
        return None
    return address


def _text(value: object, limit: int = MAX_TEXT_CHARS) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = (value if value.isprintable() else _CONTROL.sub("", value)).strip()
    return cleaned[:limit] or None


#: The user properties read, by their lower-cased names.
_PROPERTIES = frozenset(
    {
        "id",
        "userprincipalname",
        "mail",
        "othermails",
        "proxyaddresses",
        "displayname",
        "givenname",
        "surname",
        "accountenabled",
        "jobtitle",
        "mobilephone",
        "businessphones",
        "usertype",
        "assignedlicenses",
    }
)
#: Key spelling -> lower-cased property name, or "" for keys not read; remembered because a listing repeats the same
#: dozen spellings in every record. Bounded, since the keys come from outside.
_KEY_NAMES: dict[str, str] = {}
_KEY_NAMES_LIMIT = 4096


def _properties(record: Mapping[Any, Any]) -> dict[str, Any]:
    """The record's read properties by lower-cased name (the last spelling wins when two differ only in case)."""
    fields: dict[str, Any] = {}
    for key, value in record.items():
        name = _KEY_NAMES.get(key) if isinstance(key, str) else None
        if name is None:
            name = str(key).lower()
            name = name if name in _PROPERTIES else ""
            if isinstance(key, str) and len(_KEY_NAMES) < _KEY_NAMES_LIMIT:
                _KEY_NAMES[key] = name
        if name:
            fields[name] = value
    return fields


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [item for item in value[:MAX_LIST_ITEMS] if isinstance(item, str)]
    return []


def _flag(value: object, default: bool) -> bool | None:
    """A JSON boolean, tolerating CIPP's occasional "True"/"False" strings; None for anything else."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _other_mails(fields: Mapping[str, Any], primary: str | None) -> tuple[str, ...]:
    """``otherMails`` plus the SMTP ``proxyAddresses`` (aliases a contact may be filed under), primary excluded."""
    other_mails, proxies = fields.get("othermails"), fields.get("proxyaddresses")
    if not other_mails and not proxies:
        return ()
    candidates = _strings(other_mails)
    for proxy in _strings(proxies):
        scheme, _, address = proxy.partition(":")
        if scheme.lower() == "smtp":
            candidates.append(address)
    addresses: list[str] = []
    for candidate in candidates:
        address = normalize_email(candidate)
        if address and address != primary and address not in addresses:
            addresses.append(address)
    return tuple(addresses)


def normalize_user(record: object, *, deleted: bool = False) -> EntraUser | SkippedRecord:
    """One user record from Graph (``/users``, ``deletedItems``) or CIPP (``ListUsers``)."""
    if not isinstance(record, dict | Mapping):  # dict first: that is what JSON gives, and it is checked fastest
        return SkippedRecord(reason="record is not a JSON object")
    fields = _properties(record)
    object_id = fields.get("id")
    if (
        not isinstance(object_id, str)
        or not object_id.strip()
        or len(object_id) > MAX_ID_CHARS
        or _CONTROL.search(object_id)
    ):
        return SkippedRecord(reason="missing or invalid id")
    object_id = object_id.strip()
    upn = fields.get("userprincipalname")
    if not isinstance(upn, str) or not upn.strip() or len(upn) > MAX_UPN_CHARS or _CONTROL.search(upn):
        return SkippedRecord(reason="missing or invalid userPrincipalName", object_id=object_id)
    account_enabled = _flag(fields.get("accountenabled"), default=True)
    if account_enabled is None:
        return SkippedRecord(reason="accountEnabled is not a boolean", object_id=object_id)
    upn = upn.strip()
    mail = normalize_email(fields.get("mail"))
    licenses = fields.get("assignedlicenses")
    user_type = _text(fields.get("usertype"), 32) or ("Guest" if "#EXT#" in upn.upper() else "Member")
    return EntraUser(
        object_id=object_id,
        user_principal_name=upn,
        display_name=_text(fields.get("displayname")) or "",
        mail=mail,
        other_mails=_other_mails(fields, mail),
        given_name=_text(fields.get("givenname")),
        surname=_text(fields.get("surname")),
        account_enabled=account_enabled,
        job_title=_text(fields.get("jobtitle")),
        mobile_phone=_text(fields.get("mobilephone"), MAX_PHONE_CHARS),
        business_phones=tuple(
            phone for item in _strings(fields.get("businessphones")) if (phone := _text(item, MAX_PHONE_CHARS))
        ),
        user_type=user_type,
        # Unknown (not selected) counts as licensed so a missing field never filters a user out.
        licensed=bool(licenses) if isinstance(licenses, list) else True,
        deleted=deleted,
    )


def collect_users(records: Iterable[object], listing: UserListing, seen: set[str], *, deleted: bool = False) -> None:
    """Normalise a page into ``listing`` (``deleted`` or ``users``); ``seen`` holds the ids met so far in this source.

    An id listed again in an identical record is kept once. An id whose records disagree (one of them unusable, or two
    different) is trusted in none: taking either would guess which record is the user, so all are skipped.
    """
    target = listing.deleted if deleted else listing.users
    for record in records:
        result = normalize_user(record, deleted=deleted)
        object_id = result.object_id
        if isinstance(result, SkippedRecord):
            listing.skipped.append(result)
        elif object_id not in seen:
            target.append(result)
        else:
            listing.skipped.append(SkippedRecord(reason="duplicate id", object_id=object_id))
        if object_id is None:
            continue
        accepted = next((user for user in target if user.object_id == object_id), None) if object_id in seen else None
        if accepted is not None and accepted != result:
            target.remove(accepted)
            listing.skipped.append(SkippedRecord(reason="duplicate id", object_id=object_id))
        seen.add(object_id)
