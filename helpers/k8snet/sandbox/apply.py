"""Server-side apply and managedFields tracking, as pure functions on JSON objects.

Mirrors sigs.k8s.io/structured-merge-diff (typed/tofieldset.go, typed/compare.go,
typed/merge.go, typed/remove.go, merge/update.go, fieldpath/serialize*.go) and
the field manager chain of k8s.io/apimachinery/pkg/util/managedfields/internal
(fieldmanager.go, managedfields.go, stripmeta.go, managedfieldsupdater.go,
buildmanagerinfo.go, capmanagers.go, skipnonapplied.go, lastappliedmanager.go,
lastappliedupdater.go, versioncheck.go, conflict.go).

Field paths are tuples of path elements:

* ``("f", name)``  a struct field or map key, serialized ``f:<name>``;
* ``("k", ((key, value), ...))``  an item of a list-type map, ``k:{"port":80,"protocol":"TCP"}``;
* ``("v", value)``  an item of a list-type set, ``v:<json>``;
* ``("i", index)``  a list index, ``i:<n>`` (only read from stored managedFields).

Schema types follow k8s.io/kube-openapi/pkg/schemaconv: list relationships
from ``x-kubernetes-list-type`` or else the patch strategy/merge key, maps from
``x-kubernetes-map-type``; kinds without a schema (node None) are "deduced":
maps granular, lists atomic.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError, Cause, bad_request
from .jsoncopy import clone
from .schema import Node, SchemaSet, types_of

PathElement = tuple
Path = tuple
FieldSet = set

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
"""k8s.io/api/core/v1 LastAppliedConfigAnnotation."""

MAX_UPDATE_MANAGERS = 10
"""internal/fieldmanager.go DefaultMaxUpdateManagers."""

_MISSING: Any = object()

# internal/stripmeta.go: fields never owned by anyone.
_STRIP = {(("f", "apiVersion"),), (("f", "kind"),), (("f", "metadata"),)} | {
    (("f", "metadata"), ("f", name)) for name in (
        "name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName", "generation", "managedFields",
        "resourceVersion")}

# Defaults of list-map key fields that the upstream OpenAPI carries (+default markers) but the
# kubernetes-validate definitions lack; SMD fills missing keys from them (typed/helpers.go
# keyedAssociativeListItemToPathElement -> getAssociativeKeyDefault).
_KEY_DEFAULTS = {"protocol": "TCP"}


class TypedError(Exception):
    """The object does not fit its schema where SMD needs it to (e.g. list item without key)."""


# --------------------------------------------------------------------------- values & path elements


def _freeze(v: Any) -> Any:
    """A hashable form of a JSON value (integral floats become ints, like Go's int64 decoding)."""
    if isinstance(v, dict):
        return ("\0map", tuple(sorted((k, _freeze(x)) for k, x in v.items())))
    if isinstance(v, list):
        return ("\0list", tuple(_freeze(x) for x in v))
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _thaw(v: Any) -> Any:
    if isinstance(v, tuple) and v and v[0] == "\0map":
        return {k: _thaw(x) for k, x in v[1]}
    if isinstance(v, tuple) and v and v[0] == "\0list":
        return [_thaw(x) for x in v[1]]
    return v


def _value_order(v: Any) -> tuple:
    """value.Compare's total order: numbers, strings, bools, lists, maps, null."""
    if isinstance(v, bool):
        return (2, v)
    if isinstance(v, (int, float)):
        return (0, float(v))
    if isinstance(v, str):
        return (1, v)
    if isinstance(v, tuple) and v and v[0] == "\0list":
        return (3, tuple(_value_order(x) for x in v[1]))
    if isinstance(v, tuple) and v and v[0] == "\0map":
        return (4, tuple((k, _value_order(x)) for k, x in v[1]))
    return (5,)


_PE_RANK = {"f": 0, "k": 1, "v": 2, "i": 3}


def _pe_order(pe: PathElement) -> tuple:
    """fieldpath.PathElement.Compare: field names < keys < values < indexes."""
    kind, payload = pe
    if kind == "k":
        return (1, tuple((name, _value_order(v)) for name, v in payload))
    if kind == "v":
        return (2, _value_order(payload))
    return (_PE_RANK[kind], payload)


def go_json(v: Any, sort_keys: bool = False) -> str:
    """Compact JSON as Go's encoding/json writes it (HTML-safe escapes)."""
    text = json.dumps(v, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                    ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def serialize_pe(pe: PathElement) -> str:
    """fieldpath.SerializePathElement: ``f:name``, ``k:{...}``, ``v:<json>``, ``i:<n>``."""
    kind, payload = pe
    if kind == "f":
        return "f:" + payload
    if kind == "k":
        return "k:{" + ",".join(go_json(name) + ":" + go_json(_thaw(v)) for name, v in payload) + "}"
    if kind == "v":
        return "v:" + go_json(_thaw(payload))
    return f"i:{payload}"


def deserialize_pe(s: str) -> PathElement:
    """fieldpath.DeserializePathElement."""
    if len(s) < 2 or s[1] != ":":
        raise ValueError(f"invalid path element: {s}")
    kind, rest = s[0], s[2:]
    if kind == "f":
        return ("f", rest)
    if kind == "k":
        fields = json.loads(rest)
        if not isinstance(fields, dict):
            raise ValueError(f"invalid key path element: {s}")
        return ("k", tuple(sorted((k, _freeze(v)) for k, v in fields.items())))
    if kind == "v":
        return ("v", _freeze(json.loads(rest)))
    if kind == "i":
        return ("i", int(rest))
    raise ValueError("unknown path element type")


def _to_string(v: Any) -> str:
    """value.ToString: strings quoted (%q), numbers and bools as %v."""
    v = _thaw(v)
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ",".join(_to_string(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ";".join(f"{k}={_to_string(x)}" for k, x in v.items()) + "}"
    return str(v)


def path_string(path: Path) -> str:
    """fieldpath.Path.String: ``.spec.containers[name="app"].image``."""
    out = []
    for kind, payload in path:
        if kind == "f":
            out.append("." + payload)
        elif kind == "k":
            out.append("[" + ",".join(f"{name}={_to_string(v)}" for name, v in payload) + "]")
        elif kind == "v":
            out.append(f"[={_to_string(payload)}]")
        else:
            out.append(f"[{payload}]")
    return "".join(out)


def iterate(paths: Iterable[Path]) -> list[Path]:
    """Paths in fieldpath.Set.Iterate order: at each level members first, then children, each sorted."""
    paths = set(paths)

    def walk(prefix: Path, subset: set[Path]) -> list[Path]:
        members = sorted({p[0] for p in subset if len(p) == 1}, key=_pe_order)
        children = sorted({p[0] for p in subset if len(p) > 1}, key=_pe_order)
        out = [prefix + (pe,) for pe in members]
        for pe in children:
            out += walk(prefix + (pe,), {p[1:] for p in subset if len(p) > 1 and p[0] == pe})
        return out

    return walk((), paths)


def fields_to_json(paths: Iterable[Path]) -> dict:
    """Serialize a field set to the FieldsV1 object (fieldpath/serialize.go emitContentsV1).

    A path that is both owned itself and has owned children gets a ``".": {}`` entry.
    """
    tree: dict = {}
    for path in paths:
        node = tree
        for i, pe in enumerate(path):
            entry = node.setdefault(pe, [False, {}])
            if i == len(path) - 1:
                entry[0] = True
            node = entry[1]

    def emit(node: dict) -> dict:
        out: dict = {}
        for pe in sorted(node, key=_pe_order):
            member, children = node[pe]
            if children:
                inner: dict = {".": {}} if member else {}
                inner.update(emit(children))
                out[serialize_pe(pe)] = inner
            else:
                out[serialize_pe(pe)] = {}
        return out

    return emit(tree)


def fields_from_json(fields: dict, prefix: Path = ()) -> set[Path]:
    """Parse a FieldsV1 object into a field set (fieldpath/serialize.go readIterV1)."""
    out: set[Path] = set()
    for key, value in (fields or {}).items():
        if key == ".":
            if prefix:
                out.add(prefix)
            continue
        path = prefix + (deserialize_pe(key),)
        if not value:
            out.add(path)
        else:
            out |= fields_from_json(value, path)
    return out


# --------------------------------------------------------------------------- schema types


@dataclass
class _Type:
    kind: str  # "map", "list" or "scalar"
    atomic: bool = False
    fields: dict = field(default_factory=dict)  # struct properties
    elem: Node | None = None  # map values / list items (None: deduced)
    keys: list[str] = field(default_factory=list)  # list-map keys (empty for sets)
    deduced: bool = False


def _list_relationship(node: Node) -> tuple[bool, list[str]]:
    """schemaconv getListElementRelationship -> (atomic, keys)."""
    list_type = node.get("x-kubernetes-list-type")
    if list_type is not None:
        if list_type == "map":
            return False, list(node.get("x-kubernetes-list-map-keys") or [])
        return list_type != "set", []
    strategy = node.get("x-kubernetes-patch-strategy")
    if strategy in ("merge", "merge,retainKeys"):
        key = node.get("x-kubernetes-patch-merge-key")
        return False, [key] if key else []
    return True, []


class _Schema:
    """Resolves SMD types of schema nodes and values."""

    def __init__(self, schemas: SchemaSet, node: Node | None):
        self.schemas = schemas
        self.root = node

    def type_of(self, node: Node | None, value: Any) -> _Type:
        if node is not None:
            resolved = self.schemas.resolve(node)
            types = types_of(resolved)
            if "array" in types or "items" in resolved:
                atomic, keys = _list_relationship(resolved)
                return _Type("list", atomic=atomic, elem=resolved.get("items"), keys=keys)
            extra = resolved.get("additionalProperties")
            if "properties" in resolved or "object" in types or isinstance(extra, dict):
                return _Type("map", atomic=resolved.get("x-kubernetes-map-type") == "atomic",
                             fields=resolved.get("properties") or {},
                             elem=extra if isinstance(extra, dict) else None,
                             deduced=not resolved.get("properties") and not isinstance(extra, dict))
            if types or "oneOf" in resolved or resolved.get("x-kubernetes-int-or-string"):
                return _Type("scalar")
        # Deduced (typed/deduced.go): maps granular, lists atomic.
        if isinstance(value, dict):
            return _Type("map", deduced=True)
        if isinstance(value, list):
            return _Type("list", atomic=True, deduced=True)
        return _Type("scalar", deduced=True)

    @staticmethod
    def child(t: _Type, key: str) -> Node | None:
        return t.fields.get(key, t.elem)

    def item_pe(self, t: _Type, item: Any, index: int) -> PathElement:
        """typed/helpers.go listItemToPathElement."""
        if t.keys:
            if not isinstance(item, dict):
                raise TypedError(f"element {index}: associative list with keys may not have non-map elements")
            elem = self.schemas.resolve(t.elem) if t.elem else {}
            key = []
            for name in t.keys:
                if name in item:
                    key.append((name, _freeze(item[name])))
                    continue
                default = (elem.get("properties", {}).get(name) or {}).get("default", _KEY_DEFAULTS.get(name))
                if default is not None:
                    key.append((name, _freeze(default)))
            if not key:
                raise TypedError(f"element {index}: associative list with keys has an element that omits all key "
                                 f"fields {json.dumps(t.keys)} (and doesn't have default values for any key fields)")
            return ("k", tuple(sorted(key)))
        if isinstance(item, dict):
            raise TypedError(f"element {index}: associative list without keys has an element that's a map type")
        return ("v", _freeze(item))

    def index_items(self, t: _Type, items: list) -> tuple[list[PathElement], dict[PathElement, list]]:
        """PathElements in first-seen order and all items for each."""
        order: list[PathElement] = []
        seen: dict[PathElement, list] = {}
        for i, item in enumerate(items or []):
            pe = self.item_pe(t, item, i)
            if pe not in seen:
                order.append(pe)
                seen[pe] = []
            seen[pe].append(item)
        return order, seen

    def node_at(self, path: Path) -> tuple[Node | None, bool]:
        """The schema node at ``path`` and whether it exists in the schema (not deduced)."""
        node = self.root
        for kind, payload in path:
            if node is None:
                return None, False
            resolved = self.schemas.resolve(node)
            if kind == "f":
                extra = resolved.get("additionalProperties")
                node = (resolved.get("properties") or {}).get(payload) or (extra if isinstance(extra, dict) else None)
            else:
                node = resolved.get("items")
        return node, node is not None

    def ensure_named_fields(self, paths: set[Path]) -> set[Path]:
        """fieldpath.Set.EnsureNamedFieldsAreMembers: struct fields with owned children count as owned."""
        out = set(paths)
        cache: dict[Path, dict] = {}
        for path in paths:
            for i in range(1, len(path)):
                prefix = path[:i]
                if prefix in out or prefix[-1][0] != "f":
                    continue
                parent = prefix[:-1]
                if parent not in cache:
                    node, _ = self.node_at(parent)
                    cache[parent] = (self.schemas.resolve(node).get("properties") or {}) if node else {}
                if prefix[-1][1] in cache[parent]:
                    out.add(prefix)
        return out


# --------------------------------------------------------------------------- field sets, compare, merge, remove


def _to_set(s: _Schema, value: Any, node: Node | None, path: Path, out: set[Path]) -> None:
    """typed/tofieldset.go toFieldSetWalker."""
    t = s.type_of(node, value)
    if t.kind == "list" and (t.atomic or not isinstance(value, list)):
        if t.atomic:
            out.add(path)
        return
    if t.kind == "list":
        order, seen = s.index_items(t, value)
        for pe in order:
            if len(seen[pe]) == 1:
                _to_set(s, seen[pe][0], t.elem, path + (pe,), out)
            out.add(path + (pe,))
        return
    if t.kind == "map" and (t.atomic or not isinstance(value, dict)):
        if t.atomic:
            out.add(path)
        return
    if t.kind == "map":
        for key, v in value.items():
            child = path + (("f", key),)
            _to_set(s, v, s.child(t, key), child, out)
            if v is None or v == {} or key not in t.fields:
                out.add(child)
        return
    out.add(path)


def fieldset(obj: dict, schemas: SchemaSet, node: Node | None) -> set[Path]:
    """The fields ``obj`` sets (typed.TypedValue.ToFieldSet), as the Apply operation records them.

    Scalars, atomic lists/maps, list items, empty/null values and map keys that
    are not struct fields are members; struct fields with children are not.
    """
    out: set[Path] = set()
    _to_set(_Schema(schemas, node), obj, node, (), out)
    return out


@dataclass
class Comparison:
    """typed.Comparison: paths added, modified and removed going from lhs to rhs."""

    added: set[Path] = field(default_factory=set)
    modified: set[Path] = field(default_factory=set)
    removed: set[Path] = field(default_factory=set)


def _container(value: Any, kind: type) -> Any:
    return value if isinstance(value, kind) else None


def _compare(s: _Schema, lhs: Any, rhs: Any, node: Node | None, path: Path, c: Comparison) -> None:
    """typed/compare.go compareWalker (MISSING = absent, None = explicit null)."""
    t = s.type_of(node, rhs if rhs is not _MISSING else lhs)
    leaf = t.kind == "scalar"
    if t.kind == "list":
        left, right = _container(lhs, list), _container(rhs, list)
        fits = all(v is _MISSING or v is None or isinstance(v, list) for v in (lhs, rhs))
        leaf = t.atomic or not fits or (not left and not right)
        if not leaf:
            _compare_items(s, t, left or [], right or [], path, c)
    elif t.kind == "map":
        left, right = _container(lhs, dict), _container(rhs, dict)
        fits = all(v is _MISSING or v is None or isinstance(v, dict) for v in (lhs, rhs))
        leaf = t.atomic or not fits or (not left and not right)
        if not leaf:
            for key in list(left or {}) + [k for k in right or {} if k not in (left or {})]:
                _compare(s, (left or {}).get(key, _MISSING), (right or {}).get(key, _MISSING), s.child(t, key),
                         path + (("f", key),), c)
    if leaf:
        if lhs is _MISSING:
            c.added.add(path)
        elif rhs is _MISSING:
            c.removed.add(path)
        elif lhs != rhs:
            c.modified.add(path)
    elif lhs is _MISSING:
        c.added.add(path)
    elif rhs is _MISSING:
        c.removed.add(path)


def _compare_items(s: _Schema, t: _Type, left: list, right: list, path: Path, c: Comparison) -> None:
    """typed/compare.go visitListItems."""
    lorder, lseen = s.index_items(t, left)
    rorder, rseen = s.index_items(t, right)
    for pe in lorder + [pe for pe in rorder if pe not in lseen]:
        litems, ritems = lseen.get(pe, []), rseen.get(pe, [])
        if len(litems) <= 1 and len(ritems) <= 1:
            _compare(s, litems[0] if litems else _MISSING, ritems[0] if ritems else _MISSING, t.elem,
                     path + (pe,), c)
        elif len(litems) >= 2 and len(ritems) >= 2:
            if litems != ritems:
                c.modified.add(path + (pe,))
        elif len(litems) >= 2:
            if ritems:
                _compare(s, _MISSING, ritems[0], t.elem, path + (pe,), c)
            c.removed.add(path + (pe,))
        else:
            if litems:
                _compare(s, litems[0], _MISSING, t.elem, path + (pe,), c)
            c.added.add(path + (pe,))


def compare(lhs: dict | None, rhs: dict | None, schemas: SchemaSet, node: Node | None) -> Comparison:
    """typed.TypedValue.Compare: which fields differ between two versions of an object."""
    c = Comparison()
    _compare(_Schema(schemas, node), lhs if lhs is not None else {}, rhs if rhs is not None else {}, node, (), c)
    return c


def _merge(s: _Schema, lhs: Any, rhs: Any, node: Node | None) -> Any:
    """typed/merge.go mergingWalker with ruleKeepRHS: the applied value wins at leaves."""
    if rhs is _MISSING:
        return lhs
    if lhs is _MISSING:
        return _drop_nulls(clone(rhs))
    t = s.type_of(node, rhs)
    if t.kind == "map" and isinstance(lhs, dict) and isinstance(rhs, dict) and not t.atomic and (lhs or rhs):
        out = {}
        for key in list(lhs) + [k for k in rhs if k not in lhs]:
            merged = _merge(s, lhs.get(key, _MISSING), rhs.get(key, _MISSING), s.child(t, key))
            if merged is not None or key not in rhs:
                out[key] = merged
        return out
    if t.kind == "list" and isinstance(lhs, list) and isinstance(rhs, list) and not t.atomic and (lhs or rhs):
        return _merge_items(s, t, lhs, rhs)
    return clone(rhs)


def _drop_nulls(value: Any) -> Any:
    """Null members of applied values vanish when the typed result becomes an object again."""
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _merge_items(s: _Schema, t: _Type, lhs: list, rhs: list) -> list:
    """typed/merge.go visitListItems: keep live order, placing applied items in applied order."""
    rorder, rseen = s.index_items(t, rhs)
    lorder, lseen = s.index_items(t, lhs)
    shared = [pe for pe in rorder if pe in lseen]
    next_shared = shared.pop(0) if shared else None
    merged_rhs: set = set()
    out = []
    li = ri = 0
    while li < len(lorder) or ri < len(rorder):
        if li < len(lorder) and ri < len(rorder):
            pe = lorder[li]
            if pe == rorder[ri]:
                merged_rhs.add(pe)
                out.append(_merge(s, lseen[pe][0], rseen[pe][0], t.elem))
                li += 1
                ri += 1
                next_shared = shared.pop(0) if shared else None
                continue
            if pe in rseen and next_shared is not None and next_shared != pe:
                li += 1
                continue
        if li < len(lorder):
            pe = lorder[li]
            if pe not in rseen:
                out.append(lseen[pe][0])
                li += 1
                continue
            if pe in merged_rhs:
                li += 1
        if ri < len(rorder):
            pe = rorder[ri]
            merged_rhs.add(pe)
            out.append(_merge(s, lseen[pe][0] if pe in lseen else _MISSING, rseen[pe][0], t.elem))
            ri += 1
            if next_shared is not None and next_shared == pe:
                next_shared = shared.pop(0) if shared else None
    return out


def _remove(s: _Schema, value: Any, paths: set[Path], node: Node | None) -> Any:
    """typed/remove.go removingWalker: drop the given paths (and their subtrees); emptied containers vanish."""
    t = s.type_of(node, value)
    if t.kind == "map" and isinstance(value, dict) and not t.atomic:
        out = {}
        for key, v in value.items():
            pe = ("f", key)
            if (pe,) in paths:
                continue
            sub = {p[1:] for p in paths if len(p) > 1 and p[0] == pe}
            if sub:
                v = _remove(s, v, sub, s.child(t, key))
                if v is None:
                    continue
            out[key] = v
        return out or None
    if t.kind == "list" and isinstance(value, list) and not t.atomic:
        out_items = []
        for i, item in enumerate(value):
            pe = s.item_pe(t, item, i)
            if (pe,) in paths:
                continue
            sub = {p[1:] for p in paths if len(p) > 1 and p[0] == pe}
            out_items.append(_remove(s, item, sub, t.elem) if sub else item)
        return out_items or None
    return value


# --------------------------------------------------------------------------- managed fields


@dataclass
class ManagedEntry:
    """One metadata.managedFields entry (fieldpath.VersionedSet plus identity and time)."""

    manager: str
    operation: str
    api_version: str
    fields: set[Path]
    time: str | None = None
    subresource: str = ""

    @property
    def ident(self) -> tuple[str, str, str, str]:
        """internal/managedfields.go BuildManagerIdentifier: Apply entries ignore apiVersion."""
        version = "" if self.operation == "Apply" else self.api_version
        return (self.manager, self.operation, version, self.subresource)


Managers = dict[tuple[str, str, str, str], ManagedEntry]


def decode_managed_fields(entries: list | None) -> Managers:
    """internal/managedfields.go DecodeManagedFields (raises ValueError when invalid)."""
    out: Managers = {}
    for i, raw in enumerate(entries or []):
        if not isinstance(raw, dict):
            raise ValueError(f"invalid managed fields entry {i}")
        if raw.get("operation") not in ("Apply", "Update"):
            raise ValueError("operation must be `Apply` or `Update`")
        if not raw.get("apiVersion"):
            raise ValueError("apiVersion must not be empty")
        if not raw.get("fieldsType"):
            raise ValueError(f"missing fieldsType in managed fields entry {i}")
        if raw["fieldsType"] != "FieldsV1":
            raise ValueError(f'invalid fieldsType "{raw["fieldsType"]}" in managed fields entry {i}')
        entry = ManagedEntry(raw.get("manager", ""), raw["operation"], raw["apiVersion"],
                             fields_from_json(raw.get("fieldsV1") or {}), raw.get("time"), raw.get("subresource", ""))
        out[entry.ident] = entry
    return out


def _seconds(t: str | None) -> int:
    if not t:
        return 0
    return int(datetime.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp())


def encode_managed_fields(managers: Managers) -> list[dict]:
    """internal/managedfields.go encodeManagedFields + sortEncodedManagedFields.

    Sorted by operation, time (seconds), manager, apiVersion, subresource.
    """
    entries = sorted(managers.values(), key=lambda e: (e.operation, _seconds(e.time), e.manager, e.api_version,
                                                       e.subresource))
    out = []
    for e in entries:
        raw: dict[str, Any] = {"manager": e.manager, "operation": e.operation, "apiVersion": e.api_version}
        if e.time:
            raw["time"] = e.time
        raw["fieldsType"] = "FieldsV1"
        raw["fieldsV1"] = fields_to_json(e.fields)
        if e.subresource:
            raw["subresource"] = e.subresource
        out.append(raw)
    return out


def _print_manager(ident: tuple[str, str, str, str]) -> str:
    """internal/conflict.go printManager."""
    manager, operation, version, subresource = ident
    text = json.dumps(manager, ensure_ascii=False)
    if subresource:
        text += f" with subresource {json.dumps(subresource, ensure_ascii=False)}"
    if operation == "Update":
        text += f" using {version}"
    return text


def conflict_error(conflicts: dict[tuple, set[Path]]) -> ApiError:
    """internal/conflict.go NewConflictError: 409 Conflict with one FieldManagerConflict cause per path."""
    managers = sorted(conflicts, key=_ident_key)  # getConflictMessage sorts by manager identifier
    flat = [(ident, path) for ident in managers for path in iterate(conflicts[ident])]
    causes = [Cause("FieldManagerConflict", f"conflict with {_print_manager(ident)}", path_string(path))
              for ident, path in flat]
    if len(flat) == 1:
        ident, path = flat[0]
        message = f"Apply failed with 1 conflict: conflict with {_print_manager(ident)}: {path_string(path)}"
    else:
        lines = []
        for ident in managers:
            lines.append(f"conflicts with {_print_manager(ident)}:")
            lines += [f"- {path_string(p)}" for p in iterate(conflicts[ident])]
        message = f"Apply failed with {len(flat)} conflicts: " + "\n".join(lines)
    return ApiError(message, 409, "Conflict", {"causes": [c.to_dict() for c in causes]})


def _ident_key(ident: tuple) -> str:
    """The manager identifier string upstream sorts by (BuildManagerIdentifier's JSON)."""
    manager, operation, version, subresource = ident
    out = {"manager": manager, "operation": operation}
    if version:
        out["apiVersion"] = version
    if subresource:
        out["subresource"] = subresource
    return go_json(out)


class _Conflicts(Exception):
    def __init__(self, conflicts: dict[tuple, set[Path]]):
        super().__init__("conflicts")
        self.conflicts = conflicts


# --------------------------------------------------------------------------- the updater


@dataclass
class _Ctx:
    schema: _Schema
    reset: tuple[Path, ...]

    def filter(self, paths: set[Path]) -> set[Path]:
        """fieldpath ExcludeSetFilter of the reset fields (recursive)."""
        if not self.reset:
            return paths
        return {p for p in paths if not any(p[:len(r)] == r for r in self.reset)}

    def compare(self, lhs: dict, rhs: dict) -> Comparison:
        c = Comparison()
        _compare(self.schema, lhs, rhs, self.schema.root, (), c)
        return Comparison(self.filter(c.added), self.filter(c.modified), self.filter(c.removed))


def _update_managers(ctx: _Ctx, live: dict, new: dict, managers: Managers, workflow: tuple, force: bool
                     ) -> Comparison:
    """merge/update.go Updater.update: other managers lose changed (conflicting) and removed fields."""
    cmp = ctx.compare(live, new)
    changed = cmp.modified | cmp.added
    conflicts = {ident: e.fields & changed for ident, e in managers.items()
                 if ident != workflow and e.fields & changed}
    if conflicts and not force:
        raise _Conflicts(conflicts)
    for ident, entry in list(managers.items()):
        if ident == workflow:
            continue
        entry.fields = entry.fields - conflicts.get(ident, set()) - cmp.removed
        if not entry.fields:
            del managers[ident]
    return cmp


def _strip_meta(managers: Managers, ident: tuple) -> None:
    """internal/stripmeta.go: nobody owns apiVersion, kind, name, uid, resourceVersion, ..."""
    entry = managers.get(ident)
    if entry is not None:
        entry.fields = entry.fields - _STRIP
        if not entry.fields:
            del managers[ident]


def _cap_managers(managers: Managers) -> None:
    """internal/capmanagers.go: fold the oldest Update entries into "ancient-changes" past 10."""
    updaters = sorted((i for i, e in managers.items() if e.operation == "Update"),
                      key=lambda i: (_seconds(managers[i].time), _ident_key(i)))
    length = len(updaters)
    first_by_version: dict[str, tuple] = {}
    for ident in updaters:
        if length <= MAX_UPDATE_MANAGERS:
            break
        entry = managers[ident]
        bucket = ("ancient-changes", "Update", entry.api_version, "")
        if entry.api_version in first_by_version:
            if bucket not in managers:
                first = managers.pop(first_by_version[entry.api_version])
                managers[bucket] = ManagedEntry("ancient-changes", "Update", first.api_version, first.fields,
                                                first.time)
            managers[bucket].fields = managers[bucket].fields | entry.fields
            managers[bucket].time = entry.time
            del managers[ident]
            length -= 1
        else:
            first_by_version[entry.api_version] = ident


def _without_managed(obj: dict | None) -> dict:
    out = clone(obj) if obj else {}
    meta = out.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    return out


def _managed_left_out(obj: dict) -> dict:
    """``obj`` without its managedFields, for reading only (a comparison): a shallow copy, as copying a large
    object whole (a CRD's schema) on every write is what most of the write's time went to."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or "managedFields" not in meta:
        return obj
    return {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}


def _set_managed(obj: dict, managers: Managers) -> dict:
    encoded = encode_managed_fields(managers)
    meta = obj.setdefault("metadata", {})
    if encoded:
        meta["managedFields"] = encoded
    else:
        meta.pop("managedFields", None)
    return obj


# Optional struct fields that are Go values (not pointers) in the built-in types.
_VALUE_STRUCTS = {"metadata", "spec", "status", "strategy", "updateStrategy"}


def _zero_value(schemas: SchemaSet, node: Node | None, depth: int = 0) -> dict:
    """An approximation of the Go zero value of a built-in type, as the "old" object of a create.

    Upstream compares against ``objectCreater.New(kind)`` converted to
    unstructured, where non-pointer structs appear as ``{}`` and non-omitempty
    slices as null, so they are not "added" (and get no ``.`` entry).  The
    OpenAPI does not tell pointers from values; the common value structs
    (:data:`_VALUE_STRUCTS`) and required structs/lists are taken as values.
    """
    if node is None or depth > 8:
        return {}
    out: dict = {}
    resolved = schemas.resolve(node)
    props = resolved.get("properties") or {}
    required = set(resolved.get("required") or [])
    for name, child in props.items():
        child_resolved = schemas.resolve(child)
        is_struct = bool(child_resolved.get("properties")) and child_resolved.get("x-kubernetes-map-type") != "atomic"
        if is_struct and (name in _VALUE_STRUCTS or name in required):
            out[name] = _zero_value(schemas, child, depth + 1)
        elif name in required and "array" in types_of(child_resolved):
            out[name] = None
    return out


def _updated(ctx: _Ctx, live: dict, new: dict, managers: Managers, ident: tuple, version: str, now: str) -> None:
    """The Update chain below skipNonApplied: capManagers, buildManagerInfo, managedFieldsUpdater,
    stripMeta and Updater.Update, run for the synthetic "current-operation" manager then merged
    into ``ident`` (internal/managedfieldsupdater.go)."""
    workflow = ("current-operation", "Update", version, "")
    cmp = _update_managers(ctx, live, new, managers, workflow, True)
    owned = cmp.modified | cmp.added
    managers[workflow] = ManagedEntry(workflow[0], "Update", version, owned)
    _strip_meta(managers, workflow)
    current = managers.pop(workflow, None)
    if current is not None:
        previous = managers.get(ident)
        fields = current.fields | (previous.fields if previous else set())
        managers[ident] = ManagedEntry(ident[0], "Update", version, fields, now, ident[3])
    _cap_managers(managers)


def _default_reset(schemas: SchemaSet, node: Node | None, subresource: str) -> tuple[Path, ...]:
    """Fields the registry strategy resets, excluded from ownership (GetResetFields)."""
    props = (schemas.resolve(node).get("properties") or {}) if node is not None else {}
    if subresource == "" and "status" in props:
        return ((("f", "status"),),)
    if subresource == "status":
        return ((("f", "spec"),), (("f", "metadata"), ("f", "labels")))
    return ()


def _reset_paths(reset_fields: Iterable[Iterable[str]] | None, schemas: SchemaSet, node: Node | None,
                 subresource: str) -> tuple[Path, ...]:
    if reset_fields is None:
        return _default_reset(schemas, node, subresource)
    return tuple(tuple(("f", name) for name in names) for names in reset_fields)


def _is_reset(managed: list | None) -> bool:
    """internal/fieldmanager.go isResetManagedFields: ``[]`` or ``[{}]`` clears managedFields."""
    if managed is None:
        return False
    return len(managed) == 0 or (len(managed) == 1 and managed[0] == {})


def _meta(obj: dict | None) -> dict:
    meta = (obj or {}).get("metadata")
    return meta if isinstance(meta, dict) else {}


def track_update(old: dict | None, new: dict, manager: str, schemas: SchemaSet, node: Node | None, now: str,
                 subresource: str = "", *, reset_fields: Iterable[Iterable[str]] | None = None) -> dict:
    """Record a non-apply write (create, update, patch) in ``new``'s managedFields.

    internal/fieldmanager.go FieldManager.UpdateNoErrors: the manager (operation
    "Update", one entry per manager/apiVersion/subresource) gains the fields it
    added or changed, every manager loses fields that changed or disappeared.
    On create (``old`` None) the manager owns the whole object. managedFields
    sent in ``new`` replace the live ones (``[]`` clears them) except on
    subresources; an existing object without managedFields is not tracked
    (skipnonapplied.go).

    Args:
        old: the live object, None on create.
        new: the object about to be stored (not modified).
        manager: the fieldManager option or the user agent ("unknown" if empty).
        schemas: schema set of ``node``.
        node: the kind's root schema node (None: deduced, like schemaless CRDs).
        now: RFC 3339 timestamp recorded as the entry's time.
        subresource: "" or e.g. "status", "scale".
        reset_fields: top-level field paths (tuples of names) excluded from
            ownership; default: ``status`` on the main resource when the kind
            has one, ``spec`` and ``metadata.labels`` on ``status``.

    Returns:
        A copy of ``new`` with metadata.managedFields set.
    """
    result = clone(new)
    sent = _meta(new).get("managedFields")
    try:
        if subresource:
            managers = decode_managed_fields(_meta(old).get("managedFields"))
        elif _is_reset(sent):
            managers = {}
        else:
            managers = decode_managed_fields(sent) if sent else {}
            if not managers:
                managers = decode_managed_fields(_meta(old).get("managedFields"))
    except ValueError:
        managers = {}
    if isinstance(result.get("metadata"), dict):
        result["metadata"].pop("managedFields", None)
    if not managers and old is not None and _meta(old).get("uid"):
        return result
    version = new.get("apiVersion") or (old or {}).get("apiVersion") or ""
    ident = (manager or "unknown", "Update", version, subresource)
    ctx = _Ctx(_Schema(schemas, node), _reset_paths(reset_fields, schemas, node, subresource))
    live = _managed_left_out(old) if old is not None else _zero_value(schemas, node)
    try:
        _updated(ctx, live, result, managers, ident, version, now)  # result has no managedFields (popped above)
    except TypedError:
        # UpdateNoErrors: keep the live managedFields rather than fail the write.
        if _meta(old).get("managedFields"):
            result.setdefault("metadata", {})["managedFields"] = clone(_meta(old)["managedFields"])
        return result
    return _set_managed(result, managers)


def _gvk_string(api_version: str, kind: str) -> str:
    """schema.GroupVersionKind.String(): ``apps/v1, Kind=Deployment``, ``/v1, Kind=Pod``."""
    group, _, version = api_version.rpartition("/")
    return f"{group}/{version}, Kind={kind}"


def _check_applied(applied: Any, api_version: str, kind: str) -> None:
    if not isinstance(applied, dict):
        raise bad_request("error decoding patch: the apply configuration must be an object")
    got_version, got_kind = applied.get("apiVersion") or "", applied.get("kind") or ""
    if not isinstance(got_version, str) or not isinstance(got_kind, str) or (got_version, got_kind) != (
            api_version, kind):
        # internal/versioncheck.go
        raise bad_request(f"invalid object type: {_gvk_string(str(got_version), str(got_kind))}")
    if _meta(applied).get("managedFields") is not None:
        # internal/structuredmerge.go Apply
        raise bad_request("metadata.managedFields must be nil")


def _allowed_from_last_applied(ctx: _Ctx, live: dict, version: str) -> set[Path] | None:
    """internal/lastappliedmanager.go allowedConflictsFromLastApplied.

    Fields kubectl client-side apply recorded in the last-applied annotation and
    still holding those values may be taken over by ``kubectl apply --server-side``.
    """
    raw = (_meta(live).get("annotations") or {}).get(LAST_APPLIED)
    if not raw:
        return None
    try:
        last = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(last, dict) or last.get("apiVersion") != version:
        return None
    owned = set()
    _to_set(ctx.schema, last, ctx.schema.root, (), owned)
    cmp = Comparison()
    _compare(ctx.schema, last, live, ctx.schema.root, (), cmp)
    return owned - cmp.modified - cmp.added - cmp.removed


def _apply_once(ctx: _Ctx, live: dict, applied: dict, managers: Managers, ident: tuple, version: str,
                force: bool, now: str) -> tuple[dict, bool]:
    """skipNonApplied + merge/update.go Updater.Apply (merge, own, prune, resolve conflicts)."""
    if not managers:
        # skipnonapplied.go: fields of an untracked object go to "before-first-apply".
        _updated(ctx, _zero_value(ctx.schema.schemas, ctx.schema.root), live, managers,
                 ("before-first-apply", "Update", version, ""), version, now)
    merged = _merge(ctx.schema, live, applied, ctx.schema.root)
    last = managers.get(ident)
    managers[ident] = ManagedEntry(ident[0], "Apply", version, ctx.filter(_fieldset(ctx, applied)),
                                   last.time if last else None, ident[3])
    if last is not None and last.fields:
        # Updater.prune: drop what this manager applied before, no longer applies, and nobody owns.
        owned: set[Path] = set()
        for entry in managers.values():
            owned |= entry.fields
        stale = ctx.schema.ensure_named_fields(last.fields) - ctx.schema.ensure_named_fields(owned)
        if stale:
            merged = _remove(ctx.schema, merged, stale, ctx.schema.root) or {}
    _update_managers(ctx, live, merged, managers, ident, force)
    return merged, merged != live


def _fieldset(ctx: _Ctx, obj: dict) -> set[Path]:
    out: set[Path] = set()
    _to_set(ctx.schema, obj, ctx.schema.root, (), out)
    return out


def server_side_apply(live: dict | None, applied: dict, manager: str, force: bool, schemas: SchemaSet,
                      node: Node | None, now: str, *, subresource: str = "",
                      reset_fields: Iterable[Iterable[str]] | None = None, api_version: str | None = None,
                      kind: str | None = None) -> dict:
    """Server-side apply ``applied`` (the decoded apply-patch body) onto ``live``.

    internal/fieldmanager.go FieldManager.Apply: the configuration is merged
    into the live object (applied values win, list-type maps/sets merge by key,
    atomic lists and maps are replaced); the manager's "Apply" entry becomes the
    fields the configuration sets; fields it applied before but dropped are
    removed unless another manager owns them; fields owned by other managers
    whose values change are conflicts (409) unless ``force``, which moves them
    to the applier.

    Args:
        live: the current object, or None when apply creates it.
        applied: the apply configuration (needs apiVersion and kind).
        manager: the fieldManager query option (required upstream for apply).
        force: the force query option.
        schemas: schema set of ``node``.
        node: the kind's root schema node (None: deduced).
        now: RFC 3339 timestamp for the entry's time (not bumped on a no-op).
        subresource: "" or the subresource applied to.
        reset_fields: as for :func:`track_update`.
        api_version: expected apiVersion (default: live's, else the schema's GVK).
        kind: expected kind (default likewise).

    Returns:
        The new object with metadata.managedFields set (the live object with
        updated managedFields when nothing changed).

    Raises:
        ApiError: 400 for a wrong apiVersion/kind or managedFields in the
            configuration; 409 Conflict listing the conflicting fields.
    """
    gvks = (node or {}).get("x-kubernetes-group-version-kind") or []
    if api_version is None:
        api_version = (live or {}).get("apiVersion") or (
            f"{gvks[0]['group']}/{gvks[0]['version']}".lstrip("/") if gvks else applied.get("apiVersion", ""))
    if kind is None:
        kind = (live or {}).get("kind") or (gvks[0]["kind"] if gvks else applied.get("kind", ""))
    _check_applied(applied, api_version, kind)
    try:
        original = decode_managed_fields(_meta(live).get("managedFields"))
    except ValueError as e:
        raise ApiError(f"failed to decode managed fields: {e}", 500, "InternalError") from e
    live_obj = _without_managed(live)
    ident = (manager, "Apply", "", subresource)
    ctx = _Ctx(_Schema(schemas, node), _reset_paths(reset_fields, schemas, node, subresource))

    def attempt(force_: bool) -> tuple[dict, bool, Managers]:
        managers = clone(original)
        merged, changed = _apply_once(ctx, live_obj, applied, managers, ident, api_version, force_, now)
        return merged, changed, managers

    try:
        try:
            merged, changed, managers = attempt(force)
        except _Conflicts as c:
            allowed = _allowed_from_last_applied(ctx, live_obj, api_version) if manager == "kubectl" else None
            if allowed is None:
                raise
            remaining = {i: paths - allowed for i, paths in c.conflicts.items() if paths - allowed}
            if remaining:
                raise _Conflicts(remaining) from None
            merged, changed, managers = attempt(True)
    except _Conflicts as c:
        raise conflict_error(c.conflicts) from None
    except TypedError as e:
        # structuredmerge.go returns this as a plain error, which reaches clients as a 500; it is always the
        # applied object's fault (a list item without its key, a value of the wrong type), so the sandbox
        # answers it as the 400 BadRequest it is, with upstream's message
        raise ApiError(f"failed to create typed patch object ({_meta(applied).get('namespace', '')}/"
                       f"{_meta(applied).get('name', '')}; {_gvk_string(api_version, kind)}): {e}", 400,
                       "BadRequest") from e
    _strip_meta(managers, ident)
    if changed:
        if ident in managers:
            managers[ident].time = now
        result = merged
    else:
        result = live_obj
    annotations = _meta(result).get("annotations") or {}
    if manager == "kubectl" and annotations.get(LAST_APPLIED):
        # internal/lastappliedupdater.go: keep client-side apply's annotation in step.
        config = clone(applied)
        (_meta(config).get("annotations") or {}).pop(LAST_APPLIED, None)
        annotations[LAST_APPLIED] = go_json(config, sort_keys=True) + "\n"
    return _set_managed(result, managers)
