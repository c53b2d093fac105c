"""A small reader of Microsoft Graph's published v1.0 CSDL metadata, to prove that requests and payloads exist.

A PSA once shipped a Graph call to a path that does not exist, tested only against its own emulator. Everything our
adapter sends and everything our simulator serves is therefore checked here against Microsoft's schema:

    from tests import graphschema
    graphschema.check_request("/v1.0/users", {"$select": "id,mail", "$top": "999"})  # -> [] or a list of problems
    graphschema.resolve_path("/v1.0/directory/deletedItems/microsoft.graph.user")      # -> "microsoft.graph.user"
    graphschema.check_properties("user", ["id", "mail"])                               # -> []
    graphschema.check_json("user", {"id": "1", "accountEnabled": "yes"})               # -> ["user.accountEnabled: ..."]
    graphschema.check_response("/v1.0/users", body)                                    # every item of body["value"]

The module-level functions use the committed trimmed copy ``tests/graph/v1.0-metadata-trimmed.xml`` (built from the full
file by ``tests/graph/trim_metadata.py``); ``GraphSchema.load(path)`` reads any CSDL file, the full one included.
"""

from __future__ import annotations

import functools
import gzip
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

TRIMMED_METADATA = Path(__file__).parent / "graph" / "v1.0-metadata-trimmed.xml"
NAMESPACE = "microsoft.graph"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
SYSTEM_QUERY_OPTIONS = frozenset(
    {
        "$select",
        "$filter",
        "$top",
        "$skip",
        "$skiptoken",
        "$deltatoken",
        "$count",
        "$orderby",
        "$expand",
        "$search",
        "$format",
    }
)
_SEGMENT = re.compile(r"^(?P<name>[A-Za-z_][\w.]*|\$count)(?:\((?P<args>[^)]*)\))?$")
_ARGUMENT = re.compile(r"\s*(\w+)\s*=\s*('(?:[^']|'')*'|[^,]+)\s*(?:,|$)")
_FILTER_PROPERTY = re.compile(r"(?<![\w'/.$])([A-Za-z_]\w*)(?:/\w+)?\s+(?:eq|ne|gt|ge|lt|le|in)\s")
_FILTER_FUNCTION = re.compile(r"\b(?:startswith|endswith|contains)\(\s*([A-Za-z_]\w*)")
_PRIMITIVE_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "Edm.String": (str,),
    "Edm.Guid": (str,),
    "Edm.DateTimeOffset": (str,),
    "Edm.Duration": (str,),
    "Edm.Date": (str,),
    "Edm.Binary": (str,),
    "Edm.Boolean": (bool,),
    "Edm.Int32": (int,),
    "Edm.Int64": (int,),
    "Edm.Double": (int, float),
}


class GraphSchemaError(ValueError):
    """A request path that does not exist in the schema."""


@dataclass(frozen=True)
class StructuredType:
    name: str  # qualified, e.g. microsoft.graph.user
    kind: str  # "entity" or "complex"
    base: str | None
    properties: dict[str, str]
    navigation: dict[str, str]
    abstract: bool = False
    open_type: bool = False


@dataclass(frozen=True)
class BoundFunction:
    name: str
    binding: str  # e.g. Collection(microsoft.graph.user)
    parameters: dict[str, str]
    returns: str


@dataclass
class Resolution:
    """Where a path lands: the type (``Collection(...)`` for sets) and every type and function crossed on the way."""

    type: str
    types_seen: set[str] = field(default_factory=set)
    functions_seen: set[tuple[str, str]] = field(default_factory=set)

    @property
    def item_type(self) -> str:
        return element_type(self.type)


def element_type(type_ref: str) -> str:
    return type_ref[len("Collection(") : -1] if type_ref.startswith("Collection(") else type_ref


def _qualify(type_ref: str, aliases: Mapping[str, str]) -> str:
    if type_ref.startswith("Collection("):
        return f"Collection({_qualify(element_type(type_ref), aliases)})"
    namespace, _, local = type_ref.rpartition(".")
    return f"{aliases.get(namespace, namespace)}.{local}" if namespace else type_ref


@dataclass
class GraphSchema:
    types: dict[str, StructuredType]
    enums: dict[str, list[str]]
    functions: list[BoundFunction]
    entity_sets: dict[str, str]
    singletons: dict[str, str]

    @classmethod
    def load(cls, path: Path | str) -> GraphSchema:
        schema = cls({}, {}, [], {}, {})
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "rb") as source:
            root = ET.parse(source).getroot()
        for schema_element in root.iter(f"{EDM}Schema"):
            namespace = schema_element.get("Namespace", "")
            aliases = {schema_element.get("Alias", namespace): namespace, "graph": NAMESPACE}
            schema._read_schema(schema_element, namespace, aliases)
        return schema

    def _read_schema(self, element: ET.Element, namespace: str, aliases: dict[str, str]) -> None:
        for child in element:
            tag = child.tag.removeprefix(EDM)
            name = f"{namespace}.{child.get('Name')}"
            if tag in ("EntityType", "ComplexType"):
                base = child.get("BaseType")
                self.types[name] = StructuredType(
                    name=name,
                    kind="entity" if tag == "EntityType" else "complex",
                    base=_qualify(base, aliases) if base else None,
                    properties={
                        p.get("Name", ""): _qualify(p.get("Type", ""), aliases) for p in child.iter(f"{EDM}Property")
                    },
                    navigation={
                        p.get("Name", ""): _qualify(p.get("Type", ""), aliases)
                        for p in child.iter(f"{EDM}NavigationProperty")
                    },
                    abstract=child.get("Abstract") == "true",
                    open_type=child.get("OpenType") == "true",
                )
            elif tag == "EnumType":
                self.enums[name] = [m.get("Name", "") for m in child.iter(f"{EDM}Member")]
            elif tag == "Function" and child.get("IsBound") == "true":
                parameters = [
                    (p.get("Name", ""), _qualify(p.get("Type", ""), aliases)) for p in child.iter(f"{EDM}Parameter")
                ]
                return_type = child.find(f"{EDM}ReturnType")
                self.functions.append(
                    BoundFunction(
                        name=f"{namespace}.{child.get('Name')}",
                        binding=parameters[0][1],
                        parameters=dict(parameters[1:]),
                        returns=_qualify(return_type.get("Type", "") if return_type is not None else "", aliases),
                    )
                )
            elif tag == "EntityContainer":
                for item in child:
                    item_tag = item.tag.removeprefix(EDM)
                    if item_tag == "EntitySet":
                        self.entity_sets[item.get("Name", "")] = _qualify(
                            f"Collection({item.get('EntityType')})", aliases
                        )
                    elif item_tag == "Singleton":
                        self.singletons[item.get("Name", "")] = _qualify(item.get("Type", ""), aliases)

    # --- types ---------------------------------------------------------------------------------------------------
    def qualified(self, type_name: str) -> str:
        return type_name if "." in type_name else f"{NAMESPACE}.{type_name}"

    def lineage(self, type_name: str) -> list[StructuredType]:
        """The type and its base types, most derived first."""
        chain: list[StructuredType] = []
        current: str | None = self.qualified(type_name)
        while current:
            if current not in self.types:
                raise GraphSchemaError(f"type {current} is not in this schema")
            chain.append(self.types[current])
            current = self.types[current].base
        return chain

    def all_properties(self, type_name: str) -> dict[str, str]:
        merged: dict[str, str] = {}
        for structured in reversed(self.lineage(type_name)):
            merged.update(structured.properties)
        return merged

    def all_navigation(self, type_name: str) -> dict[str, str]:
        merged: dict[str, str] = {}
        for structured in reversed(self.lineage(type_name)):
            merged.update(structured.navigation)
        return merged

    def is_derived_from(self, type_name: str, base: str) -> bool:
        return any(t.name == self.qualified(base) for t in self.lineage(type_name))

    # --- paths -----------------------------------------------------------------------------------------------------
    def resolve_path(self, path: str) -> Resolution:
        """Walk a ``/v1.0/...`` path segment by segment; raise GraphSchemaError at the first one that does not exist."""
        url_path = urlsplit(path).path
        _, marker, rest = url_path.partition("/v1.0/")
        if not marker:
            found = re.search(r"/(beta|v[\d.]+)/", url_path)
            raise GraphSchemaError(f"only Graph v1.0 paths are allowed, not {found.group(1) if found else url_path!r}")
        segments = [s for s in rest.split("/") if s]
        if not segments:
            raise GraphSchemaError("no resource after /v1.0/")
        first = _SEGMENT.match(segments[0])
        head = first.group("name") if first else segments[0]
        if head in self.entity_sets:
            current = self.entity_sets[head]
            if first and first.group("args"):
                current = element_type(current)  # users('id')
        elif head in self.singletons:
            current = self.singletons[head]
        else:
            raise GraphSchemaError(f"unknown top-level segment {head!r}")
        resolution = Resolution(current, {element_type(current)})
        for segment in segments[1:]:
            current = self._step(resolution, current, segment)
            resolution.type = current
            resolution.types_seen.add(element_type(current))
        if not resolution.item_type.startswith("Edm."):
            self.lineage(resolution.item_type)  # the landing type must be known
        return resolution

    def _step(self, resolution: Resolution, current: str, segment: str) -> str:
        match = _SEGMENT.match(segment)
        is_collection = current.startswith("Collection(")
        item = element_type(current)
        if match is None:
            if is_collection:
                return item  # a key segment: users/{id}
            raise GraphSchemaError(f"malformed segment {segment!r}")
        name, args = match.group("name"), match.group("args")
        if name == "$count":
            if not is_collection:
                raise GraphSchemaError("$count needs a collection")
            return "Edm.Int32"
        function = self._function(current, name)
        if function is not None:
            resolution.functions_seen.add((function.name, function.binding))
            given = {m.group(1) for m in _ARGUMENT.finditer(args or "")}
            unknown = given - set(function.parameters)
            missing = set(function.parameters) - given
            if unknown or missing:
                raise GraphSchemaError(f"{name}: parameters {sorted(given)} do not match {sorted(function.parameters)}")
            return function.returns
        if "." in name and self.qualified(name) in self.types:  # a type cast
            if not self.is_derived_from(name, item):
                raise GraphSchemaError(f"{name} does not derive from {item}")
            resolution.types_seen.update(t.name for t in self.lineage(name))
            return f"Collection({name})" if is_collection else name
        if is_collection:
            if args is not None:
                raise GraphSchemaError(f"unknown function {name!r} bound to {current}")
            return item  # a key segment
        navigation = self.all_navigation(item)
        if name in navigation:
            return navigation[name]
        if name in self.all_properties(item):
            return self.all_properties(item)[name]
        raise GraphSchemaError(f"unknown segment {name!r} on {item}")

    def _function(self, binding: str, name: str) -> BoundFunction | None:
        """The function bound to the most derived type in the binding's lineage (delta exists on many types)."""
        qualified_name = f"{NAMESPACE}.{name.removeprefix(f'{NAMESPACE}.')}"
        collection = binding.startswith("Collection(")
        for structured in self.lineage(element_type(binding)):
            candidate = f"Collection({structured.name})" if collection else structured.name
            for function in self.functions:
                if function.name == qualified_name and function.binding == candidate:
                    return function
        return None

    # --- checks ----------------------------------------------------------------------------------------------------
    def check_request(self, path: str, query: Mapping[str, str] | None = None) -> list[str]:
        """Problems with a GET request: unknown segments, query options, selected or filtered properties."""
        params = dict(parse_qsl(urlsplit(path).query, keep_blank_values=True))
        params.update(query or {})
        try:
            resolution = self.resolve_path(path)
        except GraphSchemaError as exc:
            return [str(exc)]
        problems: list[str] = []
        item = resolution.item_type
        structured = item in self.types
        for key, value in params.items():
            option = key.lower()
            if not key.startswith("$"):
                problems.append(f"unknown query parameter {key!r} (not a system query option)")
            elif option not in SYSTEM_QUERY_OPTIONS:
                problems.append(f"unknown system query option {key!r}")
            elif option == "$select" and structured:
                problems += self.check_properties(item, [n.strip() for n in value.split(",") if n.strip()])
            elif option in ("$filter", "$orderby") and structured:
                names = {m.group(1) for m in _FILTER_PROPERTY.finditer(value + " ")}
                names |= {m.group(1) for m in _FILTER_FUNCTION.finditer(value)}
                if option == "$orderby":
                    names = {part.split()[0].split("/")[0] for part in value.split(",") if part.strip()}
                problems += self.check_properties(item, names)
            elif option == "$top" and not value.isdigit():
                problems.append(f"$top must be a non-negative integer, got {value!r}")
        return problems

    def check_properties(self, type_name: str, names: Iterable[str]) -> list[str]:
        """Names that are neither a property nor a navigation property of the type or its base types."""
        try:
            known = self.all_properties(type_name) | self.all_navigation(type_name)
        except GraphSchemaError as exc:
            return [str(exc)]
        local = self.qualified(type_name).rpartition(".")[2]
        return [f"{local} has no property {name!r}" for name in names if name not in known]

    def check_json(self, type_name: str, value: Any, where: str = "") -> list[str]:
        """Problems with a JSON object of the type: unknown properties and values of the wrong JSON type, recursively."""
        if not isinstance(value, dict):
            return [f"{where or type_name}: expected an object, got {type(value).__name__}"]
        cast = value.get("@odata.type")
        if isinstance(cast, str) and cast.startswith("#"):
            type_name = cast[1:]
        where = where or self.qualified(type_name).rpartition(".")[2]
        problems = self.check_properties(type_name, [k for k in value if not k.startswith("@")])
        if problems:
            return problems
        declared = self.all_properties(type_name)
        for name, item in value.items():
            if name in declared and item is not None:
                problems += self._check_value(declared[name], item, f"{where}.{name}")
        return problems

    def _check_value(self, type_ref: str, value: Any, where: str) -> list[str]:
        if type_ref.startswith("Collection("):
            if not isinstance(value, list):
                return [f"{where}: expected an array, got {type(value).__name__}"]
            return [
                p
                for index, v in enumerate(value)
                for p in self._check_value(element_type(type_ref), v, f"{where}[{index}]")
            ]
        if type_ref in self.types:
            return self.check_json(type_ref, value, where)
        if type_ref in self.enums:
            return [] if value in self.enums[type_ref] else [f"{where}: {value!r} is not a member of {type_ref}"]
        expected = _PRIMITIVE_PYTHON_TYPES.get(type_ref)
        if expected and (not isinstance(value, expected) or (bool not in expected and isinstance(value, bool))):
            return [f"{where}: expected {type_ref}, got {type(value).__name__}"]
        return []

    def check_response(self, path: str, body: Mapping[str, Any]) -> list[str]:
        """Check a GET answer: each item of a collection's ``value`` (or the single object) against the path's type."""
        try:
            resolution = self.resolve_path(path)
        except GraphSchemaError as exc:
            return [str(exc)]
        if resolution.type.startswith("Collection("):
            items = body.get("value")
            if not isinstance(items, list):
                return [f"{path}: a collection answer needs a 'value' array"]
            return [p for item in items for p in self.check_json(resolution.item_type, item)]
        return self.check_json(resolution.item_type, {k: v for k, v in body.items() if not k.startswith("@")})


@functools.cache
def trimmed_schema() -> GraphSchema:
    return GraphSchema.load(TRIMMED_METADATA)


def resolve_path(path: str) -> str:
    """The qualified entity or complex type a path lands on (collections give their item type)."""
    return trimmed_schema().resolve_path(path).item_type


def check_request(path: str, query: Mapping[str, str] | None = None) -> list[str]:
    return trimmed_schema().check_request(path, query)


def check_properties(type_name: str, names: Iterable[str]) -> list[str]:
    return trimmed_schema().check_properties(type_name, names)


def check_json(type_name: str, value: Any) -> list[str]:
    return trimmed_schema().check_json(type_name, value)


def check_response(path: str, body: Mapping[str, Any]) -> list[str]:
    return trimmed_schema().check_response(path, body)
