"""OData plumbing shared by the Graph endpoints: errors, $select, $top, opaque skip/delta tokens and nextLinks."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import Response, jsonify, request

Item = TypeVar("Item")


class GraphHTTPError(Exception):
    """Raised inside a Graph view; the blueprint turns it into Graph's error body."""

    def __init__(self, status: int, code: str, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after


def graph_error_response(status: int, code: str, message: str, retry_after: int | None = None) -> Response:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    response = jsonify(
        {
            "error": {
                "code": code,
                "message": message,
                "innerError": {
                    "date": now,
                    "request-id": str(uuid.uuid4()),
                    "client-request-id": request.headers.get("client-request-id", str(uuid.uuid4())),
                },
            }
        }
    )
    response.status_code = status
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def query() -> dict[str, str]:
    """Query parameters with system option names lower-cased (Graph v1.0 accepts ``$skipToken`` and ``$skiptoken``)."""
    return {(k.lower() if k.startswith("$") else k): v for k, v in request.args.items()}


def page_size(default: int, maximum: int) -> int:
    raw = query().get("$top")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise GraphHTTPError(
            400,
            "Request_UnsupportedQuery",
            f"Invalid page size specified: '{raw}'. Must be between 1 and {maximum} inclusive.",
        )
    return int(raw)


def selection(default: Sequence[str], available: Iterable[str], type_name: str) -> list[str]:
    """The properties to return: exactly $select (unknown names are a 400, like Graph) or the type's default set."""
    raw = query().get("$select")
    if not raw:
        return list(default)
    names = [n.strip() for n in raw.split(",") if n.strip()]
    known = set(available)
    for name in names:
        if name not in known:
            raise GraphHTTPError(400, "BadRequest", f"Could not find a property named '{name}' on type '{type_name}'.")
    return list(dict.fromkeys(names))


def shape(record: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    return {name: record.get(name) for name in names}


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def page_response(envelope: dict[str, Any], encoded_items: Sequence[str]) -> Response:
    """The envelope (``@odata.context`` at least) then ``value`` of already-encoded items, in Graph's key order."""
    head = compact_json(envelope)[:-1]
    return Response(f'{head},"value":[{",".join(encoded_items)}]}}', mimetype="application/json")


def encode_token(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_token(value: str) -> dict[str, Any] | None:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (binascii.Error, ValueError):
        return None
    return decoded if isinstance(decoded, dict) else None


def skip_state() -> dict[str, Any]:
    """The paging position carried by $skiptoken (offset ``o``, page number ``p``, plus endpoint-specific keys)."""
    raw = query().get("$skiptoken")
    if raw is None:
        return {"o": 0, "p": 0}
    decoded = decode_token(raw)
    if decoded is None or not isinstance(decoded.get("o"), int) or not isinstance(decoded.get("p"), int):
        raise GraphHTTPError(
            400,
            "Directory_ExpiredPageToken",
            "The specified page token value has expired and can no longer be included in your request.",
        )
    return decoded


def link_with(**replacements: str) -> str:
    """This request's absolute URL with paging parameters replaced (opaque to clients, as Graph's links are)."""
    params = {k: v for k, v in request.args.items() if k.lower() not in ("$skiptoken", "$deltatoken")}
    params.update(replacements)
    return f"{request.base_url}?{urlencode(params)}"


def context_url(fragment: str) -> str:
    return f"{request.url_root}graph/v1.0/$metadata#{fragment}"


def collection_page(
    items: Sequence[Item], fragment: str, default_size: int, max_size: int
) -> tuple[dict[str, Any], Sequence[Item]]:
    """(the answer envelope with nextLink if more remain, this page's items) for a plain paged collection."""
    size = page_size(default_size, max_size)
    position = skip_state()
    offset, page = position["o"], position["p"]
    body: dict[str, Any] = {"@odata.context": context_url(fragment)}
    if offset + size < len(items):
        body["@odata.nextLink"] = link_with(**{"$skiptoken": encode_token({"o": offset + size, "p": page + 1})})
    return body, items[offset : offset + size]
