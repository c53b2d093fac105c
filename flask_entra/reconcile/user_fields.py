"""How an Entra user's properties become contact values and match keys."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from flask_entra.host import ContactRecord, NewContact
from flask_entra.providers.base import EntraUser

GUEST_UPN_MARKER = "#ext#"
_ONE_AT_NO_SPACE = re.compile(r"[^@\s]+@[^@\s]+")


def _clean(value: str | None) -> str | None:
    """A blank upstream value is no value: it must never overwrite a contact field."""
    return (value.strip() or None) if value else None


def is_usable_address(value: str | None) -> bool:
    """One ``@`` between non-empty parts, no whitespace, and not a guest UPN (``..#EXT#@tenant.onmicrosoft.com``)."""
    return (
        value is not None
        and _ONE_AT_NO_SPACE.fullmatch(value) is not None
        and ("#" not in value or GUEST_UPN_MARKER not in value.lower())
    )


def is_guest(user: EntraUser) -> bool:
    return user.user_type.lower() == "guest" or GUEST_UPN_MARKER in user.user_principal_name.lower()


def primary_email(user: EntraUser) -> str | None:
    """``mail`` when set, else the UPN (members often have no ``mail``), else nothing."""
    mail = (user.mail or "").strip()
    if is_usable_address(mail):
        return mail
    upn = user.user_principal_name.strip()
    return upn if is_usable_address(upn) else None


def match_addresses(user: EntraUser) -> frozenset[str]:
    """Every lowercased address that may identify the user's contact: mail, UPN and otherMails."""
    raw = (user.mail, user.user_principal_name, *user.other_mails)
    return frozenset(address.lower() for value in raw if is_usable_address(address := (_clean(value) or "")))


def entra_name(user: EntraUser) -> str | None:
    """displayName, else given name + surname; ``None`` when Entra has no name (the UPN is no name to sync)."""
    display = user.display_name.strip()
    if display:
        return display
    return " ".join(part for part in (_clean(user.given_name), _clean(user.surname)) if part) or None


def full_name(user: EntraUser) -> str:
    """The name of a created contact: Entra's name, else the UPN's local part (a contact always has a name)."""
    name = entra_name(user)
    if name:
        return name
    local = user.user_principal_name.partition("@")[0]
    marker = local.lower().find(GUEST_UPN_MARKER)
    return (local[:marker] if marker >= 0 else local).strip() or user.object_id


def first_business_phone(user: EntraUser) -> str | None:
    for phone in user.business_phones:
        if phone := phone.strip():
            return phone
    return None


#: How each contact field is read from a user; ``None`` where Entra has nothing.
FIELD_VALUES: dict[str, Callable[[EntraUser], str | None]] = {
    "full_name": entra_name,
    "email": primary_email,
    "phone": first_business_phone,
    "mobile": lambda user: (user.mobile_phone or "").strip() or None,
    "job_title": lambda user: (user.job_title or "").strip() or None,
}


def new_contact(user: EntraUser, client_id: str) -> NewContact:
    """A created contact gets every field the user has."""
    value_of = {name: read(user) for name, read in FIELD_VALUES.items()}
    return NewContact(
        client_id=client_id,
        full_name=full_name(user),
        email=value_of["email"],
        phone=value_of["phone"],
        mobile=value_of["mobile"],
        job_title=value_of["job_title"],
    )


def field_changes(contact: ContactRecord, user: EntraUser, toggles: Sequence[str]) -> dict[str, Any]:
    """Toggled-on fields whose Entra value is set and differs (email compared case-insensitively)."""
    changes: dict[str, Any] = {}
    for name in toggles:
        value = FIELD_VALUES[name](user)
        if value is None:
            continue
        current = getattr(contact, name)
        if current != value and (name != "email" or (current or "").lower() != value.lower()):
            changes[name] = value
    return changes
