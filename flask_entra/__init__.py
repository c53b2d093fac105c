"""flask-entra: Microsoft Entra integration for MSP PSAs built on Flask."""

from __future__ import annotations

from .errors import EntraError
from .extension import Entra
from .host import ClientRecord, ContactRecord, ContactUpdate, HostAdapter, NewContact, Principal

__all__ = [
    "ClientRecord",
    "ContactRecord",
    "ContactUpdate",
    "Entra",
    "EntraError",
    "HostAdapter",
    "NewContact",
    "Principal",
]
