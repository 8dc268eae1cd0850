"""Hypothesis strategies for API request bodies, built from the sandbox's own OpenAPI v3 documents.

Mostly-valid objects reach deep paths (defaulting, validation, strategies, controllers, the store); the
mutations then aim at the decoder and the handlers: wrong types, odd text, deep or large values, non-JSON
YAML, NaN, duplicate keys, and every patch type.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

REF = "#/components/schemas/"
NAMES = st.from_regex(r"[a-z]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
ODD_TEXT = st.sampled_from(["", " ", "\u0000", "\ud7ff", "ǅ", "\u202e", "a" * 300, "../../etc", "${X}", "%s",
                            "true", "null", "1e999", "-0", "\U0001f600", "x:y", "a.b/c", "@", "\n"])
TEXT = st.one_of(NAMES, ODD_TEXT, st.text(max_size=12))
INTS = st.one_of(st.integers(-5, 70000), st.sampled_from([2**31, 2**63 - 1, -(2**63), 10**20]))
SCALARS = st.one_of(TEXT, INTS, st.booleans(), st.none(), st.floats(allow_nan=False, allow_infinity=False))


class Schemas:
    """One OpenAPI v3 document's component schemas, turned into strategies (bounded in depth)."""

    def __init__(self, document: dict[str, Any]):
        self.schemas = document.get("components", {}).get("schemas", {})

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        for _ in range(20):
            if "$ref" in node:
                node = self.schemas.get(node["$ref"][len(REF):], {})
            elif len(node.get("allOf") or []) == 1:
                node = {**{k: v for k, v in node.items() if k != "allOf"}, **node["allOf"][0]}
            else:
                return node
        return node

    def value(self, node: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
        node = self.resolve(node)
        if depth > 5:
            return SCALARS
        if node.get("x-kubernetes-int-or-string"):
            return st.one_of(INTS, NAMES, st.sampled_from(["80%", "http"]))
        kind = node.get("type")
        if kind == "object" or "properties" in node:
            props = node.get("properties") or {}
            if not props and isinstance(node.get("additionalProperties"), dict):
                return st.dictionaries(NAMES, self.value(node["additionalProperties"], depth + 1), max_size=3)
            if not props:
                return st.dictionaries(NAMES, SCALARS, max_size=2)
            keys = sorted(k for k in props if k not in ("status", "managedFields"))
            return st.fixed_dictionaries({}, optional={k: self.value(props[k], depth + 1) for k in keys})
        if kind == "array":
            return st.lists(self.value(node.get("items") or {}, depth + 1), max_size=3)
        if kind == "integer":
            return INTS
        if kind == "number":
            return st.one_of(INTS, st.floats(-1e6, 1e6))
        if kind == "boolean":
            return st.booleans()
        if kind == "string":
            enum = node.get("enum")
            if enum:
                return st.one_of(st.sampled_from(enum), TEXT)
            if node.get("format") == "byte":
                return st.sampled_from(["aGVsbG8=", "not base64", ""])
            if node.get("format") == "date-time":
                return st.sampled_from(["2024-01-01T00:00:00Z", "yesterday", ""])
            return TEXT
        return SCALARS

    def kind_object(self, schema_name: str, api_version: str, kind: str) -> st.SearchStrategy[dict[str, Any]]:
        """An object of one kind: generated fields, a valid name most of the time, the right apiVersion/kind."""
        base = self.value({"$ref": REF + schema_name})

        @st.composite
        def build(draw: st.DrawFn) -> dict[str, Any]:
            obj = draw(base)
            if not isinstance(obj, dict):
                obj = {}
            meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
            meta = {k: v for k, v in meta.items() if k in ("labels", "annotations", "finalizers", "generateName",
                                                              "ownerReferences") or draw(st.booleans())}
            meta["name"] = draw(st.one_of(NAMES, NAMES, NAMES, TEXT))
            meta.pop("namespace", None)
            obj["metadata"] = meta
            obj["apiVersion"], obj["kind"] = api_version, kind
            return obj

        return build()


def mutate(value: Any) -> st.SearchStrategy[Any]:
    """Replace one node of ``value`` by something of another type (or delete it)."""

    @st.composite
    def change(draw: st.DrawFn) -> Any:
        paths = list(_paths(value))
        if not paths:
            return draw(SCALARS)
        path = draw(st.sampled_from(paths))
        out = json.loads(json.dumps(value))
        node = out
        for step in path[:-1]:
            node = node[step]
        replacement = draw(st.one_of(SCALARS, st.lists(SCALARS, max_size=2), st.dictionaries(NAMES, SCALARS,
                                                                                               max_size=2)))
        node[path[-1]] = replacement
        return out

    return change()


def _paths(value: Any, prefix: tuple = ()) -> Any:
    if isinstance(value, dict):
        for k, v in value.items():
            yield (*prefix, k)
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield (*prefix, i)
            yield from _paths(v, (*prefix, i))


RAW_BODIES = [
    # non-JSON YAML values in free-form and typed fields
    ("application/yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y1}\ndata: {d: 2020-01-01}\n"),
    ("application/yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y2}\ndata: {d: !!binary aGk=}\n"),
    ("application/yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y3}\ndata: !!set {a, b}\n"),
    ("application/yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y4, labels: {1: 2}}\n"),
    ("application/yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y5}\ndata: {x: .nan}\n"),
    ("application/yaml", "a: &a [*a]\n"),
    ("application/yaml", "metadata: {name: y6}\n---\nmetadata: {name: y7}\n"),
    ("application/yaml", "- " * 3000 + "x\n"),
    ("application/yaml", "metadata: {name: y8, name: y9}\n"),
    ("application/json", '{"metadata": {"name": "j1"}, "data": {"x": NaN}}'),
    ("application/json", '{"metadata": {"name": "j2"}, "data": {"x": Infinity}}'),
    ("application/json", '{"metadata": {"name": "j3", "name": "j4"}}'),
    ("application/json", '{"metadata": {"name": "j5"}, "data": {"x": "\\udc00"}}'),
    ("application/json", "[" * 20000 + "]" * 20000),
    ("application/json", '{"metadata": []}'),
    ("application/json", '"just a string"'),
    ("application/json", "{"),
    ("application/json", "\xff\xfe"),
    ("application/json", '{"metadata": {"name": "j6", "labels": {"a": 1}}}'),
    ("application/vnd.kubernetes.protobuf", "k8s\x00garbage"),
    ("application/cbor", "\xa0"),
    ("text/plain", "hello"),
]
"""Hand-made bodies aimed at the decoder, sent to every create endpoint."""

QUERIES = st.sampled_from([
    "", "", "", "dryRun=All", "dryRun=all", "dryRun=Bogus", "fieldValidation=Warn", "fieldValidation=Ignore",
    "fieldValidation=Nope", "fieldManager=" + "m" * 200, "fieldManager=%07", "force=maybe", "limit=null",
    "limit=-5", "gracePeriodSeconds=abc", "gracePeriodSeconds=1e12", "gracePeriodSeconds=-1",
    "gracePeriodSeconds=99999999999999", "propagationPolicy=Sideways", "watch=1&timeoutSeconds=abc",
    "resourceVersion=abc", "watch=maybe&timeoutSeconds=1", "labelSelector=a%3D%3D%3Db", "fieldSelector=spec.nope%3Dx", "continue=%%%",
])
PATCH_TYPES = ["application/merge-patch+json", "application/json-patch+json",
               "application/strategic-merge-patch+json", "application/apply-patch+yaml"]
JSON_PATCHES = st.lists(st.fixed_dictionaries({
    "op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "bogus"]),
    "path": st.sampled_from(["/metadata/name", "/metadata/uid", "/metadata/labels/a", "/spec", "/data/x",
                             "/metadata/resourceVersion", "/spec/ports/0", "/spec/ports/-", "", "/", "/~2"]),
}, optional={"value": SCALARS, "from": st.sampled_from(["/metadata/labels", "/data", "/nope"])}), max_size=3)
