"""JSON Schema pieces of the OpenAPI document: the bodies our routes read and the answers they give.

Each schema says exactly what the serializers in ``actions/`` produce; ``tests/test_openapi.py`` holds them to it.
"""

from __future__ import annotations

from typing import Any

from ..actions.settings import MAX_INTERVAL, MIN_INTERVAL
from ..flags import ENTRA_FLAGS
from ..host import CONTACT_FIELDS

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
BOOLEAN: Schema = {"type": "boolean"}
TIMESTAMP: Schema = {"type": ["string", "null"], "format": "date-time"}
#: Host ids are strings in our answers; a JSON body may give a client or contact id as a number too.
ID_IN: Schema = {"type": ["string", "integer"]}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(required: dict[str, Schema], optional: dict[str, Schema] | None = None, *, closed: bool = False) -> Schema:
    """An object with ``required`` and ``optional`` properties; ``closed`` when the route refuses unknown keys."""
    out: Schema = {"type": "object", "properties": {**required, **(optional or {})}, "required": list(required)}
    if closed:
        out["additionalProperties"] = False
    return out


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable_string() -> Schema:
    return {"type": ["string", "null"]}


COUNTERS: Schema = {
    "type": "object",
    "description": "created, linked, updated, inactivated, reactivated, ambiguous, skipped (by reason), ...",
    "additionalProperties": {"anyOf": [INTEGER, {"type": "object", "additionalProperties": INTEGER}]},
}

SETTINGS_FILTERS: Schema = obj(
    {},
    {
        "skip_guests": BOOLEAN,
        "skip_unlicensed": BOOLEAN,
        "skip_service_accounts": BOOLEAN,
        "custom_patterns": array({"type": "string", "maxLength": 200, "format": "regex"}),
    },
    closed=True,
)
MASS_INACTIVATION: Schema = obj(
    {}, {"min_count": {"type": "integer", "minimum": 0}, "percent": {"type": "number", "minimum": 0, "maximum": 100}}
)
FIELD_TOGGLES: Schema = obj({}, dict.fromkeys(CONTACT_FIELDS, BOOLEAN), closed=True)

COMPONENTS: dict[str, Schema] = {
    "Error": obj({"error": STRING, "message": STRING}),
    "Connection": obj(
        {
            "id": STRING,
            "type": {"enum": ["direct", "cipp"]},
            "status": STRING,
            "partner_tenant_id": nullable_string(),
            "cipp_base_url": nullable_string(),
            "last_validated_at": TIMESTAMP,
            "last_error": nullable_string(),
            "connected_at": TIMESTAMP,
        }
    ),
    "Mapping": obj(
        {
            "state": {"enum": ["mapped", "skipped"]},
            "client_id": nullable_string(),
            "client_name": nullable_string(),
            "reason": nullable_string(),
            "confidence": {"type": ["number", "null"]},
            "decided_by": nullable_string(),
            "decided_at": TIMESTAMP,
        }
    ),
    "ManagedTenant": obj(
        {
            "entra_tenant_id": STRING,
            "display_name": STRING,
            "default_domain": nullable_string(),
            "verified_domains": array(STRING),
            "user_count": {"type": ["integer", "null"]},
            "gdap_relationship_end": TIMESTAMP,
            "first_seen_at": TIMESTAMP,
            "last_seen_at": TIMESTAMP,
            "missing": BOOLEAN,
            "missing_since": TIMESTAMP,
            "mapping": nullable(ref("Mapping")),
        }
    ),
    "Candidate": obj({"client_id": STRING, "client_name": STRING, "score": {"type": "number"}, "reason": STRING}),
    "PreviewTenant": {
        "allOf": [
            ref("ManagedTenant"),
            obj(
                {
                    "state": {"enum": ["auto_matched", "needs_review", "unmatched", "mapped", "skipped"]},
                    "candidates": array(ref("Candidate")),
                },
                {"suggested_client_id": nullable_string()},
            ),
        ]
    },
    "Settings": obj(
        {
            "enabled": BOOLEAN,
            "interval_minutes": INTEGER,
            "filters": SETTINGS_FILTERS,
            "mass_inactivation": obj({"min_count": INTEGER, "percent": {"type": "number"}}),
        },
        {"field_toggles": FIELD_TOGGLES},
    ),
    "RunTenant": obj(
        {
            "entra_tenant_id": STRING,
            "client_id": nullable_string(),
            "status": STRING,
            "counters": COUNTERS,
            "held": BOOLEAN,
            "held_inactivations": INTEGER,
            "error": nullable_string(),
            "started_at": TIMESTAMP,
            "finished_at": TIMESTAMP,
        }
    ),
    "Run": obj(
        {
            "run_id": STRING,
            "kind": {"enum": ["initial", "all", "client", "scheduled"]},
            "client_id": nullable_string(),
            "dry_run": BOOLEAN,
            "workflow_id": nullable_string(),
            "status": {"enum": ["queued", "running", "completed", "partial", "failed"]},
            "requested_by": nullable_string(),
            "counters": COUNTERS,
            "tenants_total": INTEGER,
            "tenants_done": INTEGER,
            "error": nullable_string(),
            "created_at": TIMESTAMP,
            "started_at": TIMESTAMP,
            "finished_at": TIMESTAMP,
        },
        {"tenants": array(ref("RunTenant"))},
    ),
    "Started": obj({"run_id": STRING, "workflow_id": STRING}),
    "ReviewCandidate": obj(
        {
            "contact_id": STRING,
            "full_name": nullable_string(),
            "email": nullable_string(),
            "client_id": STRING,
            "is_inactive": BOOLEAN,
        }
    ),
    "ReviewItem": obj(
        {
            "item_id": STRING,
            "entra_tenant_id": STRING,
            "entra_object_id": STRING,
            "client_id": STRING,
            "user": {"type": "object"},
            "reason": STRING,
            "candidates": array(ref("ReviewCandidate")),
            "status": {"enum": ["open", "resolved", "dismissed"]},
            "resolution": nullable_string(),
            "resolved_contact_id": nullable_string(),
            "resolved_by": nullable_string(),
            "resolved_at": TIMESTAMP,
            "created_at": TIMESTAMP,
        }
    ),
    "Flag": obj({"key": STRING, "description": STRING, "enabled": BOOLEAN, "tenant_ids": array(STRING)}),
}

STATUS = obj(
    {
        "connection": nullable(ref("Connection")),
        "counts": obj(dict.fromkeys(("discovered", "mapped", "skipped", "needs_review", "open_review_items"), INTEGER)),
        "settings": ref("Settings"),
        "last_run": nullable(ref("Run")),
        "surfaces": obj(dict.fromkeys(ENTRA_FLAGS, BOOLEAN)),
    }
)
DISCOVERY = obj(
    {"status": {"enum": ["none", "running", "completed", "failed"]}},
    {
        "result": obj(dict.fromkeys(("discovered", "added", "updated", "missing", "returned"), INTEGER)),
        "error": STRING,
    },
)
PREVIEW = obj(
    {
        "tenants": array(ref("PreviewTenant")),
        "summary": obj(dict.fromkeys(("auto_matched", "needs_review", "unmatched", "mapped", "skipped"), INTEGER)),
    }
)
HISTORY_ENTRY = {
    "allOf": [ref("Mapping"), obj({"active": BOOLEAN, "ended_at": TIMESTAMP, "ended_by": nullable_string()})]
}
CLIENT_HIT = obj({"client_id": STRING, "client_name": STRING, "domains": array(STRING)})
CONNECTED = obj({"connected": {"const": True}, "type": {"enum": ["direct", "cipp"]}})

# -- request bodies -------------------------------------------------------------------------------------------------

NON_EMPTY: Schema = {"type": "string", "minLength": 1, "pattern": r"\S"}
#: A GUID or a domain name: Entra tenant and application ids end up in token URLs and scopes.
DIRECTORY_ID: Schema = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9.-]{0,253}$"}
CIPP_BODY = obj(
    {
        "base_url": {"type": "string", "format": "uri", "pattern": "^https?://[^/]"},
        "client_id": DIRECTORY_ID,
        "client_secret": NON_EMPTY,
        "tenant_id": DIRECTORY_ID,
    }
)
DECISION = {
    "oneOf": [
        obj({"entra_tenant_id": STRING, "action": {"const": "map"}, "client_id": ID_IN}),
        obj({"entra_tenant_id": STRING, "action": {"const": "skip"}}),
    ]
}
CONFIRM_BODY = obj({"decisions": array(DECISION)}, {"start_initial_sync": BOOLEAN})
CONFIRMED = obj({"mapped": INTEGER, "skipped": INTEGER, "run": nullable(ref("Started"))})
SYNC_BODY = {
    "oneOf": [
        obj({"scope": {"enum": ["initial", "all"]}}, {"dry_run": BOOLEAN}),
        obj({"scope": {"const": "client"}, "client_id": ID_IN}, {"dry_run": BOOLEAN}),
    ]
}
RELEASED = obj({"entra_tenant_id": STRING, "released": INTEGER, "skipped": INTEGER})


def keep_when_null(schema: Schema) -> Schema:
    """A partial update: every optional property may be left out or given as null, both keeping the stored value."""
    props = {
        name: nullable(keep_when_null(p) if p.get("type") == "object" else p)
        for name, p in schema["properties"].items()
    }
    return {**schema, "properties": props}


SETTINGS_BODY = obj(
    {},
    {
        **keep_when_null(
            obj(
                {},
                {
                    "enabled": BOOLEAN,
                    "interval_minutes": {"type": "integer", "minimum": MIN_INTERVAL, "maximum": MAX_INTERVAL},
                    "filters": SETTINGS_FILTERS,
                    "mass_inactivation": MASS_INACTIVATION,
                },
            )
        )["properties"],
        "field_toggles": keep_when_null(FIELD_TOGGLES),
    },
)
RESOLVE_BODY = {
    "oneOf": [
        obj({"action": {"const": "link_existing"}, "contact_id": ID_IN}),
        obj({"action": {"enum": ["create_new", "dismiss"]}}),
    ]
}
FLAG_CREATE_BODY = {
    "oneOf": [
        obj({"__action": {"const": "ensure_entra_flags"}}),
        {  # any '__action' makes it the first kind, whatever else the body holds
            **obj(
                {"key": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,99}$"}},
                {"description": STRING, "enabled": BOOLEAN},
            ),
            "not": {"required": ["__action"]},
        },
    ]
}
FLAG_ENABLED_BODY = obj({"enabled": BOOLEAN})
FLAG_TENANTS_BODY = obj({"tenant_ids": array(NON_EMPTY)})
