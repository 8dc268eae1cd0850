"""Upstream OpenAPI schemas, as shipped by ``kubernetes-validate``.

One source for validation, patch semantics (merge keys, list types) and the
OpenAPI documents served to kubectl: the definitions are never hand-copied.
Custom resources (cert-manager, Traefik) add their definitions through
:meth:`SchemaSet.add`, in the same JSON-schema shape.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path
from typing import Any

KUBERNETES_VERSION = "1.33"
"""The minor version the sandbox reports and behaves like (kind v0.29.0's default node image)."""

REF_PREFIX = "#/$defs/"

Node = dict[str, Any]


class SchemaSet:
    """Named JSON-schema definitions with $ref resolution and GVK lookup."""

    def __init__(self, definitions: dict[str, Node]):
        self.definitions: dict[str, Node] = dict(definitions)
        self._by_gvk: dict[tuple[str, str, str], str] = {}
        for name, node in self.definitions.items():
            self._index(name, node)

    def _index(self, name: str, node: Node) -> None:
        for gvk in node.get("x-kubernetes-group-version-kind", []) or []:
            self._by_gvk[(gvk["group"], gvk["version"], gvk["kind"])] = name

    def add(self, definitions: dict[str, Node]) -> None:
        """Register extra definitions (custom resources) under their names."""
        for name, node in definitions.items():
            self.definitions[name] = node
            self._index(name, node)

    def remove(self, names: list[str]) -> None:
        """Forget definitions (a deleted CRD's kinds) and their GVK index entries."""
        for name in names:
            self.definitions.pop(name, None)
        self._by_gvk = {gvk: n for gvk, n in self._by_gvk.items() if n not in names}

    def name_for(self, group: str, version: str, kind: str) -> str | None:
        """The definition name for a group/version/kind, e.g. ``io.k8s.api.core.v1.Service``."""
        return self._by_gvk.get((group, version, kind))

    def for_kind(self, group: str, version: str, kind: str) -> Node | None:
        """The root schema node of a kind, or None when the kind has no schema."""
        name = self.name_for(group, version, kind)
        return self.definitions[name] if name else None

    def resolve(self, node: Node | None) -> Node:
        """Follow ``$ref`` (keeping the referring node's extensions) to a concrete node."""
        if not node:
            return {}
        seen = 0
        while "$ref" in node:
            target = self.definitions.get(node["$ref"][len(REF_PREFIX):], {})
            extras = {k: v for k, v in node.items() if k.startswith("x-kubernetes")}
            node = {**target, **extras} if extras else target
            seen += 1
            if seen > 32:
                raise ValueError("schema $ref cycle")
        return node

    def child(self, node: Node | None, key: str) -> Node | None:
        """The schema of property ``key`` of an object node (or its map values)."""
        node = self.resolve(node)
        props = node.get("properties")
        if props and key in props:
            return props[key]
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            return extra
        return None

    def items(self, node: Node | None) -> Node | None:
        """The schema of the elements of an array node."""
        return self.resolve(node).get("items")


def types_of(node: Node) -> set[str]:
    """The JSON types a node allows (``null`` dropped), empty when unconstrained."""
    if "oneOf" in node:
        out: set[str] = set()
        for alt in node["oneOf"]:
            out |= types_of(alt)
        return out
    t = node.get("type")
    if isinstance(t, str):
        return {t}
    if isinstance(t, list):
        return {x for x in t if x != "null"}
    return set()


def is_int_or_string(node: Node) -> bool:
    return node.get("x-kubernetes-int-or-string") is True or types_of(node) in ({"string", "integer"}, {"string", "number"})


def patch_merge_key(node: Node) -> str | None:
    return node.get("x-kubernetes-patch-merge-key")


def patch_strategies(node: Node) -> set[str]:
    value = node.get("x-kubernetes-patch-strategy") or ""
    return {s for s in value.split(",") if s}


def list_type(node: Node) -> str:
    return node.get("x-kubernetes-list-type") or "atomic"


def list_map_keys(node: Node) -> list[str]:
    return list(node.get("x-kubernetes-list-map-keys") or [])


def map_type(node: Node) -> str:
    return node.get("x-kubernetes-map-type") or "granular"


@functools.lru_cache(maxsize=4)
def upstream_definitions(minor: str = KUBERNETES_VERSION) -> dict[str, Node]:
    """Load the upstream definitions of one Kubernetes minor version (cached, read-only)."""
    return json.loads((schema_dir(minor) / "_definitions.json").read_bytes())["$defs"]


def schema_dir(minor: str = KUBERNETES_VERSION) -> Path:
    """The package's schema folder, found without importing kubernetes_validate (its import is slow)."""
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("kubernetes-validate is not installed: pip install -e . installs it")
    return Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema" / f"v{minor}.0-local"


def upstream(minor: str = KUBERNETES_VERSION) -> SchemaSet:
    """A fresh SchemaSet of the upstream definitions (callers may add CRDs to it)."""
    return SchemaSet(upstream_definitions(minor))
