"""Guards applied to every route and every action, in DESIGN.md's order.

1. edition (handled at registration: community apps have no Entra surfaces), 2. not logged in (401), 3. client-portal
user (403), 4. the surface's feature flag off for this tenant (404), 5. missing permission (403), 6. tenant scoping (each
action filters by ``principal.tenant``; another tenant's id is 404). Writes need a CSRF token.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from flask import request
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from . import flags as flag_names
from .errors import ClientPortalDenied, NotAuthenticated, NotFound, PermissionDenied
from .host import READ, UPDATE, Principal
from .state import get_state

P = ParamSpec("P")
R = TypeVar("R")

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADERS = ("X-CSRFToken", "X-CSRF-Token")


@dataclass(frozen=True)
class Guard:
    """What a surface requires; attached to each view as ``view.entra_guard`` so tests can enumerate every route."""

    permission: str
    flags: tuple[str, ...] = (flag_names.UI,)
    page: bool = False


def authorize(principal: Principal | None, *, permission: str, flags: Iterable[str] = (flag_names.UI,)) -> Principal:
    """Apply rules 2-5 to ``principal``; return it when everything passes."""
    if principal is None:
        raise NotAuthenticated("Sign in first.")
    if principal.is_client_portal:
        raise ClientPortalDenied("Client-portal users cannot use this.")
    service = get_state().flags
    for flag in flags:
        if not service.is_enabled(flag, tenant=principal.tenant, user_id=principal.user_id):
            raise NotFound("Not found.")
    if not principal.can(permission):
        raise PermissionDenied(f"This needs the {permission} permission.")
    return principal


def flag_on(principal: Principal, flag: str) -> bool:
    """For template sections inside an already-authorised surface (for example the CIPP option)."""
    return get_state().flags.is_enabled(flag, tenant=principal.tenant, user_id=principal.user_id)


def can_view(principal: Principal | None, *, permission: str = READ, flags: Iterable[str] = (flag_names.UI,)) -> bool:
    """Rules 2-5 as a boolean, for macros that render nothing when the answer is no."""
    try:
        authorize(principal, permission=permission, flags=flags)
    except (NotAuthenticated, ClientPortalDenied, NotFound, PermissionDenied):
        return False
    return True


def check_csrf() -> None:
    """Refuse a write without a valid CSRF token (form field ``csrf_token`` or the ``X-CSRFToken`` header)."""
    if request.method not in WRITE_METHODS:
        return
    token = request.form.get("csrf_token") or next(
        (request.headers[h] for h in CSRF_HEADERS if h in request.headers), None
    )
    try:
        validate_csrf(token)
    except ValidationError as exc:
        raise CSRFError(str(exc)) from None


def guarded(
    *, permission: str = READ, flags: tuple[str, ...] = (flag_names.UI,), page: bool = False
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Decorate a view: authorise the current principal and pass it as the first argument."""
    guard = Guard(permission=permission, flags=flags, page=page)

    def decorate(view: Callable[..., R]) -> Callable[..., R]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> R:
            principal = authorize(get_state().load_principal(), permission=permission, flags=flags)
            return view(principal, *args, **kwargs)

        wrapper.entra_guard = guard  # type: ignore[attr-defined]
        return wrapper

    return decorate


__all__ = ["READ", "UPDATE", "Guard", "authorize", "can_view", "check_csrf", "flag_on", "guarded"]
