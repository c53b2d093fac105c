"""Helpers shared by the actions: guarded entry, tenant-scoped queries and payload checks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import flags
from ..errors import NotFound, ValidationFailed
from ..host import Principal
from ..models import EntraBase
from ..security import authorize
from ..state import EntraState, get_state

M = TypeVar("M", bound=EntraBase)
T = TypeVar("T")


def enter(
    principal: Principal | None, permission: str, extra_flags: Iterable[str] = ()
) -> tuple[Principal, EntraState]:
    """Every action starts here: rules 2-5 before anything is read or written."""
    checked = authorize(principal, permission=permission, flags=(flags.UI, *extra_flags))
    return checked, get_state()


def session() -> Session:
    return get_state().session


def one_of_tenant(model: type[M], tenant: str, **keys: Any) -> M:
    """The row of ``model`` with ``keys`` in ``tenant``, or 404 (another tenant's id looks exactly like a missing one)."""
    stmt = select(model).filter_by(tenant=tenant, **keys)
    row = session().execute(stmt).scalars().first()
    if row is None:
        raise NotFound("Not found.")
    return row


def field(
    payload: Mapping[str, Any],
    name: str,
    kind: type[T] | tuple[type, ...],
    *,
    required: bool = True,
    default: Any = None,
) -> Any:
    """Read one typed field of a JSON payload; a wrong type is a clear 400 (bools are not ints here)."""
    if name not in payload or payload[name] is None:
        if required:
            raise ValidationFailed(f"'{name}' is required.")
        return default
    value = payload[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise ValidationFailed(f"'{name}' has the wrong type.")
    if not isinstance(value, kinds):
        raise ValidationFailed(f"'{name}' has the wrong type.")
    return value


def json_object(payload: Any) -> Mapping[str, Any]:
    if not isinstance(payload, Mapping):
        raise ValidationFailed("The request body must be a JSON object.")
    return payload
