"""The three PATCH body types of the API server, as pure functions on JSON objects.

* RFC 6902 JSON patch (``application/json-patch+json``), mirroring
  gopkg.in/evanphx/json-patch.v4 (patch.go) that kube-apiserver uses;
* RFC 7386 JSON merge patch (``application/merge-patch+json``), mirroring
  json-patch.v4 merge.go;
* strategic merge patch (``application/strategic-merge-patch+json``), mirroring
  k8s.io/apimachinery/pkg/util/strategicpatch/patch.go (the apply half:
  ``StrategicMergeMapPatch`` -> ``mergeMap``), with patch metadata read from the
  upstream OpenAPI schemas instead of Go struct tags.

Server-side apply (``application/apply-patch+yaml``) lives in :mod:`apply`.

Errors are raised as :class:`ApiError` shaped like
k8s.io/apiserver/pkg/endpoints/handlers/patch.go shapes them.
"""

from __future__ import annotations

import decimal
import enum
import json
import math
import re
from typing import Any

from . import schema as schemas_mod
from .errors import ApiError, bad_request
from .jsoncopy import clone
from .schema import Node, SchemaSet

# --------------------------------------------------------------------------- patch types


class PatchType(enum.StrEnum):
    """Content types a PATCH request may carry (k8s.io/apimachinery/pkg/types/patch.go)."""

    JSON = "application/json-patch+json"
    MERGE = "application/merge-patch+json"
    STRATEGIC = "application/strategic-merge-patch+json"
    APPLY = "application/apply-patch+yaml"


PATCH_TYPES: dict[str, PatchType] = {p.value: p for p in PatchType}
"""Content type -> PatchType."""


def patch_type(content_type: str | None) -> PatchType | None:
    """The PatchType of a Content-Type header (parameters such as ``; charset=`` dropped), or None.

    Upstream (handlers/patch.go PatchResource) cuts the header at the first ``;``
    and compares the rest exactly.
    """
    if not content_type:
        return None
    idx = content_type.find(";")
    if idx > 0:
        content_type = content_type[:idx]
    return PATCH_TYPES.get(content_type)


# --------------------------------------------------------------------------- shared errors

MAX_JSON_PATCH_OPERATIONS = 10000
"""handlers/patch.go maxJSONPatchOperations."""

UNPROCESSABLE_MESSAGE = "the server rejected our request due to an error in our request"


def unprocessable() -> ApiError:
    """``errors.NewGenericServerResponse(422, "", GroupResource{}, "", msg, 0, false)``.

    NewGenericServerResponse (k8s.io/apimachinery/pkg/api/errors/errors.go) drops
    the server message for 422 and uses a fixed one, so kubectl prints
    ``The request is invalid: the server rejected our request due to an error in our request``.
    """
    return ApiError(UNPROCESSABLE_MESSAGE, 422, "Invalid")


def _go_type_name(v: Any) -> str:
    """The Go type json.Unmarshal gives ``v`` (as reflect.Type prints it)."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "[]interface {}"
    return "map[string]interface {}"


def _json_kind(v: Any) -> str:
    """The JSON kind name encoding/json uses in ``cannot unmarshal X into ...`` errors."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def _go_float(f: float) -> str:
    """Format a float64 like Go's ``%v``: shortest digits, exponent form when exp < -4 or exp >= 6."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "0"
    d = decimal.Decimal(repr(f)).normalize()
    sign, digits, exponent = d.as_tuple()
    exp = len(digits) + int(exponent) - 1
    if exp < -4 or exp >= 6:
        text = "".join(map(str, digits))
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{'-' if sign else ''}{mantissa}e{'+' if exp >= 0 else '-'}{abs(exp):02d}"
    return format(d, "f")


def gofmt(v: Any) -> str:
    """Format a decoded JSON value like Go's ``%v`` (used inside upstream error messages)."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return _go_float(float(v))
    if isinstance(v, str):
        return v
    if isinstance(v, list):
        return "[" + " ".join(gofmt(x) for x in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{gofmt(v[k])}" for k in sorted(v)) + "]"
    return str(v)


# --------------------------------------------------------------------------- RFC 6902


class JsonPatchError(Exception):
    """A json-patch.v4 error; the handler turns any of them into a fixed 422."""


_INDEX = re.compile(r"[+-]?[0-9]+")


def _atoi(key: str) -> int:
    """strconv.Atoi: an optional sign and decimal digits only."""
    if not _INDEX.fullmatch(key):
        raise JsonPatchError(f'strconv.Atoi: parsing "{key}": invalid syntax')
    return int(key)


def _decode_key(part: str) -> str:
    """RFC 6901 unescaping: ``~1`` -> ``/`` then ``~0`` -> ``~`` (single pass, like strings.NewReplacer)."""
    return re.sub(r"~[01]", lambda m: "/" if m.group(0) == "~1" else "~", part)


def _get(con: dict | list, key: str) -> Any:
    """container.get: a missing object key is None (not an error); a bad array index is."""
    if isinstance(con, dict):
        return con.get(key)
    idx = _atoi(key)
    if idx < 0:
        if idx < -len(con):
            raise JsonPatchError(f"Unable to access invalid index: {idx}: invalid index referenced")
        idx += len(con)
    if idx >= len(con):
        raise JsonPatchError(f"Unable to access invalid index: {idx}: invalid index referenced")
    return con[idx]


def _find(doc: Any, path: str) -> tuple[dict | list, str] | None:
    """json-patch.v4 findObject: the parent container of ``path`` and the last (decoded) token.

    Like upstream, the first token is ignored (so a path must start with ``/``
    to mean what it says) and any missing, null or scalar intermediate yields None.
    """
    split = path.split("/")
    if len(split) < 2:
        return None
    cur = doc
    for part in split[1:-1]:
        try:
            nxt = _get(cur, _decode_key(part))
        except JsonPatchError:
            return None
        if not isinstance(nxt, (dict, list)):
            return None
        cur = nxt
    return cur, _decode_key(split[-1])


def _add(con: dict | list, key: str, val: Any) -> None:
    if isinstance(con, dict):
        con[key] = val
        return
    if key == "-":
        con.append(val)
        return
    try:
        idx = _atoi(key)
    except JsonPatchError as e:
        raise JsonPatchError(f"value was not a proper array index: '{key}': {e}") from None
    size = len(con) + 1
    if idx >= size:
        raise JsonPatchError(f"Unable to access invalid index: {idx}: invalid index referenced")
    if idx < 0:
        if idx < -size:
            raise JsonPatchError(f"Unable to access invalid index: {idx}: invalid index referenced")
        idx += size
    con.insert(idx, val)


def _remove(con: dict | list, key: str) -> None:
    if isinstance(con, dict):
        if key not in con:
            raise JsonPatchError(f"Unable to remove nonexistent key: {key}: missing value")
        del con[key]
        return
    idx = _atoi(key)
    if idx >= len(con):
        raise JsonPatchError(f"Unable to access invalid index: {idx}: invalid index referenced")
    if idx < 0:
        if idx < -len(con):
            raise JsonPatchError(f"Unable to access invalid index: {idx}: invalid index referenced")
        idx += len(con)
    del con[idx]


def _set(con: dict | list, key: str, val: Any) -> None:
    if isinstance(con, dict):
        con[key] = val
        return
    idx = _atoi(key)
    if idx < 0:
        idx += len(con)
    con[idx] = val


def _canonical(v: Any) -> str:
    return json.dumps(v, sort_keys=True, separators=(",", ":"))


def _op_string(op: dict, field: str) -> str:
    value = op.get(field)
    if not isinstance(value, str):
        what = "path" if field == "path" else "from"
        raise JsonPatchError(f"operation missing {what} field: missing value")
    return value


def _apply_op(doc: Any, op: dict) -> Any:
    """Apply one operation (mutating ``doc``); returns the document (replaced when path is "")."""
    kind = op.get("op") if isinstance(op.get("op"), str) else "unknown"
    if kind not in ("add", "remove", "replace", "move", "test", "copy"):
        raise JsonPatchError(f"Unexpected kind: {kind}")
    path = _op_string(op, "path")
    value = clone(op.get("value"))
    if kind == "replace" and path == "":
        if not isinstance(value, (dict, list)):
            raise JsonPatchError("replace operation value must be object or array")
        return value
    if kind == "test" and path == "":
        if _canonical(doc) != _canonical(value):
            raise JsonPatchError(f"testing value {path} failed: test failed")
        return doc
    if kind in ("move", "copy"):
        src = _op_string(op, "from")
        found = _find(doc, src)
        if found is None:
            raise JsonPatchError(f"{kind} operation does not apply: doc is missing from path: {src}: missing value")
        value = _get(*found)
        if kind == "move":
            _remove(*found)
        else:
            value = clone(value)
    found = _find(doc, path)
    if found is None:
        raise JsonPatchError(f'{kind} operation does not apply: doc is missing path: "{path}": missing value')
    con, key = found
    if kind in ("add", "move", "copy"):
        _add(con, key, value)
    elif kind == "remove":
        _remove(con, key)
    elif kind == "replace":
        _get(con, key)  # bounds check for arrays; objects accept a missing key (json-patch.v4 quirk)
        _set(con, key, value)
    else:  # test
        current = _get(con, key)
        if current is None:
            # A missing key and an explicit null are the same lazyNode(nil) upstream.
            if "value" in op and op["value"] is not None:
                raise JsonPatchError(f"testing value {path} failed: test failed")
        elif "value" not in op or _canonical(current) != _canonical(value):
            raise JsonPatchError(f"testing value {path} failed: test failed")
    return doc


def json_patch(obj: dict, ops: Any) -> dict:
    """Apply an RFC 6902 patch to a copy of ``obj``.

    Mirrors handlers/patch.go jsonPatcher.applyJSPatch: an undecodable patch is
    400 BadRequest, more than 10000 operations 413, any failure while applying
    (failed test, missing path, bad index, unknown op) the generic 422.

    Args:
        obj: the current object (not modified).
        ops: the decoded patch body (a JSON array of operations; null means no-op).

    Returns:
        The patched object.
    """
    if ops is None:
        return clone(obj)
    if not isinstance(ops, list):
        raise bad_request(f"json: cannot unmarshal {_json_kind(ops)} into Go value of type jsonpatch.Patch")
    for op in ops:
        if op is not None and not isinstance(op, dict):
            raise bad_request(f"json: cannot unmarshal {_json_kind(op)} into Go value of type jsonpatch.Operation")
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        raise ApiError(f"Request entity too large: The allowed maximum operations in a JSON patch is "
                       f"{MAX_JSON_PATCH_OPERATIONS}, got {len(ops)}", 413, "RequestEntityTooLarge")
    doc: Any = clone(obj)
    try:
        for op in ops:
            doc = _apply_op(doc, op or {})
    except JsonPatchError as e:
        raise unprocessable() from e
    if not isinstance(doc, dict):
        # Decoding the patched document into the object fails upstream (422 Invalid on field "patch").
        raise unprocessable()
    return doc


# --------------------------------------------------------------------------- RFC 7386


def _prune_nulls(v: Any) -> None:
    """json-patch.v4 pruneNulls: drop null object members recursively (array elements are kept)."""
    if isinstance(v, dict):
        for k in [k for k, x in v.items() if x is None]:
            del v[k]
        for x in v.values():
            _prune_nulls(x)
    elif isinstance(v, list):
        for x in v:
            if x is not None:
                _prune_nulls(x)


def _merge_docs(cur: Any, patch: Any) -> Any:
    """json-patch.v4 merge(): objects merge member-wise, anything else is replaced."""
    if not isinstance(cur, dict):
        _prune_nulls(patch)
        return patch
    if not isinstance(patch, dict):
        return patch
    for k, v in patch.items():
        if v is None:
            cur.pop(k, None)
        elif cur.get(k) is None:
            _prune_nulls(v)
            cur[k] = v
        else:
            cur[k] = _merge_docs(cur[k], v)
    return cur


def merge_patch(obj: dict, patch: Any) -> dict:
    """Apply an RFC 7386 JSON merge patch to a copy of ``obj`` (null deletes a member).

    Mirrors jsonpatch.MergePatch as called by handlers/patch.go: a null or scalar
    patch is ``400 Invalid JSON Patch``; an array replaces the whole document,
    which then fails to decode as an object (422).
    """
    if patch is None or not isinstance(patch, (dict, list)):
        raise bad_request("Invalid JSON Patch")
    if isinstance(patch, list):
        raise unprocessable()
    return _merge_docs(clone(obj), clone(patch))


# --------------------------------------------------------------------------- strategic merge patch

DIRECTIVE = "$patch"
DELETE = "delete"
REPLACE = "replace"
MERGE = "merge"
RETAIN_KEYS_STRATEGY = "retainKeys"
RETAIN_KEYS = "$retainKeys"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"
SET_ELEMENT_ORDER = "$setElementOrder"

# k8s.io/apimachinery/pkg/util/mergepatch/errors.go
ERR_BAD_JSON_DOC = "invalid JSON document"
ERR_NO_LIST_OF_LISTS = "lists of lists are not supported"
ERR_BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
ERR_BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
ERR_BAD_SET_ELEMENT_ORDER = "invalid patch format of setElementOrder list"
ERR_NOT_MATCH_RETAIN_KEYS = "patch content doesn't match retainKeys list"
ERR_UNSUPPORTED_SMP = "strategic merge patch format is not supported"

_BAD_REQUEST_ERRORS = {ERR_BAD_JSON_DOC, ERR_BAD_PRIMITIVE_LIST, ERR_BAD_RETAIN_KEYS, ERR_BAD_SET_ELEMENT_ORDER,
                       ERR_UNSUPPORTED_SMP}
_UNPROCESSABLE_ERRORS = {ERR_NO_LIST_OF_LISTS, ERR_NOT_MATCH_RETAIN_KEYS}


class StrategicPatchError(Exception):
    """An error of the strategicpatch package, worded like upstream."""


def _interpret(err: StrategicPatchError) -> ApiError:
    """handlers/patch.go interpretStrategicMergePatchError.

    Sentinel errors map to 400/422. Any other error reaches the client unwrapped upstream, which
    responsewriters.ErrorToAPIStatus turns into a 500 with an empty reason; every one of them is a patch the
    client got wrong (a null list item, a missing merge key), so the sandbox answers it as the 400 BadRequest
    it is, with upstream's message: a learner's typo must never look like a server fault.
    """
    msg = str(err)
    if msg in _UNPROCESSABLE_ERRORS:
        return unprocessable()
    return bad_request(msg)


def _err_bad_arg_type(expected: str, actual: Any) -> StrategicPatchError:
    return StrategicPatchError(f"expected a {expected}, but received a {_go_type_name(actual)}")


def _err_no_merge_key(m: dict, key: str) -> StrategicPatchError:
    return StrategicPatchError(f"map: {gofmt(m)} does not contain declared merge key: {key}")


_BUILTIN_GVKS: set[tuple[str, str, str]] | None = None


def strategic_supported(node: Node | None) -> bool:
    """Whether a kind accepts strategic merge patches.

    Upstream only built-in types (Go structs with patch tags) support it; for
    custom resources the CRD handler leaves the content type out of its
    accepted list, so the PATCH handler answers 415 UnsupportedMediaType
    (handlers/patch.go PatchResource; apiextensions-apiserver crdHandler).
    A kind is built in when its group/version/kind is one of the upstream
    definitions.
    """
    global _BUILTIN_GVKS
    if node is None:
        return False
    if _BUILTIN_GVKS is None:
        _BUILTIN_GVKS = {(g["group"], g["version"], g["kind"])
                         for d in schemas_mod.upstream_definitions().values()
                         for g in d.get("x-kubernetes-group-version-kind", []) or []}
    gvks = node.get("x-kubernetes-group-version-kind") or []
    return bool(gvks) and all((g["group"], g["version"], g["kind"]) in _BUILTIN_GVKS for g in gvks)


class _Meta:
    """LookupPatchMeta over a SchemaSet (strategicpatch/meta.go PatchMetaFromOpenAPIV3 in spirit)."""

    def __init__(self, schemas: SchemaSet, node: Node | None):
        self.schemas = schemas
        self.node = node

    def _field(self, key: str) -> tuple[Node | None, list[str], str]:
        child = self.schemas.child(self.node, key) if self.node is not None else None
        if child is None:
            return None, [], ""
        strategies = [s for s in (child.get("x-kubernetes-patch-strategy") or "").split(",") if s]
        return child, strategies, child.get("x-kubernetes-patch-merge-key") or ""

    def for_struct(self, key: str) -> tuple[_Meta, list[str], str]:
        child, strategies, merge_key = self._field(key)
        return _Meta(self.schemas, self.schemas.resolve(child) if child else None), strategies, merge_key

    def for_slice(self, key: str) -> tuple[_Meta, list[str], str]:
        child, strategies, merge_key = self._field(key)
        items = self.schemas.items(child) if child else None
        return _Meta(self.schemas, self.schemas.resolve(items) if items else None), strategies, merge_key


def _extract_retain_keys_strategy(strategies: list[str]) -> str:
    """strategicpatch extractRetainKeysPatchStrategy: the non-retainKeys strategy."""
    if len(strategies) == 0:
        return ""
    if len(strategies) == 1:
        return "" if strategies[0] == RETAIN_KEYS_STRATEGY else strategies[0]
    if len(strategies) == 2 and RETAIN_KEYS_STRATEGY in strategies:
        return strategies[1] if strategies[0] == RETAIN_KEYS_STRATEGY else strategies[0]
    raise StrategicPatchError(f"unexpected patch strategy: {gofmt(strategies)}")


def _kind(v: Any) -> str:
    """reflect.TypeOf(v) for a json.Unmarshal'd value, as a short name."""
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "slice"
    return "map"


def _go_eq(a: Any, b: Any) -> bool:
    """Go interface equality on decoded JSON scalars (a bool never equals a number)."""
    return _kind(a) == _kind(b) and a == b


def _remove_directives(obj: Any) -> tuple[Any, bool]:
    """strategicpatch removeDirectives: strip ``$patch`` maps; False when ``obj`` itself is one."""
    if isinstance(obj, dict):
        if DIRECTIVE in obj:
            return None, False
        for k in list(obj):
            v, keep = _remove_directives(obj[k])
            if keep:
                obj[k] = v
            else:
                del obj[k]
        return obj, True
    if isinstance(obj, list):
        out = []
        for v in obj:
            nv, keep = _remove_directives(v)
            if keep:
                out.append(nv)
        return out, True
    return obj, True


def _discard_nulls(v: Any) -> None:
    """strategicpatch discardNullValuesFromPatch."""
    if isinstance(v, dict):
        for k in list(v):
            if v[k] is None:
                del v[k]
            else:
                _discard_nulls(v[k])
    elif isinstance(v, list):
        for x in v:
            _discard_nulls(x)


def _extract_key(s: str, prefix: str) -> str:
    parts = s.split("/", 1)
    if len(parts) <= 1 or parts[0] != prefix:
        if prefix == DELETE_FROM_PRIMITIVE_LIST:
            raise StrategicPatchError(ERR_BAD_PRIMITIVE_LIST)
        raise StrategicPatchError(ERR_BAD_SET_ELEMENT_ORDER)
    return parts[1]


def _slice_element_type(*slices: list) -> str:
    """strategicpatch sliceElementType: all elements must share one type (not a list)."""
    prev = None
    for s in slices:
        for v in s or []:
            cur = _kind(v)
            if prev is None:
                prev = cur
                if prev == "slice":
                    raise StrategicPatchError(ERR_NO_LIST_OF_LISTS)
            elif prev != cur:
                raise StrategicPatchError(f"list element types are not identical: {gofmt([s or [] for s in slices])}")
    if prev is None:
        raise StrategicPatchError("no elements in any of the given slices")
    return prev


def _merge_value(item: Any, merge_key: str, kind: str) -> Any:
    if kind == "map":
        return item.get(merge_key) if isinstance(item, dict) else None
    return item


def _index(items: list, value: Any, merge_key: str, kind: str) -> int:
    """strategicpatch index(): position of ``value`` in ``items`` by merge key (maps) or value."""
    wanted = _merge_value(value, merge_key, kind)
    for i, v in enumerate(items):
        if _go_eq(wanted, _merge_value(v, merge_key, kind)):
            return i
    return -1


def _validate_merge_key_in_lists(merge_key: str, *lists: list) -> None:
    for items in lists:
        for item in items or []:
            if not isinstance(item, dict):
                raise _err_bad_arg_type("map[string]interface {}", item)
            if merge_key not in item:
                raise _err_no_merge_key(item, merge_key)


def _extract_to_delete_items(items: list) -> tuple[list, list]:
    keep, delete = [], []
    for v in items:
        if not isinstance(v, dict):
            raise _err_bad_arg_type("map[string]interface {}", v)
        (delete if v.get(DIRECTIVE) == DELETE else keep).append(v)
    return keep, delete


def _normalize_slice_order(to_sort: list, order: list, merge_key: str, kind: str) -> list:
    """strategicpatch normalizeSliceOrder: stable sort by position in ``order``, deletions last.

    Upstream's comparator (sort.SliceStable) answers "less" whenever either
    element is missing from ``order``; when all are present it is an ordinary
    order (any stable sort agrees), otherwise the result depends on Go's
    insertion sort, which is replayed here (exact for up to 20 elements).
    """
    to_delete: list = []
    if kind == "map":
        _validate_merge_key_in_lists(merge_key, to_sort, order)
        to_sort, to_delete = _extract_to_delete_items(to_sort)
    positions = [_index(order, v, merge_key, kind) for v in to_sort]
    if all(p >= 0 for p in positions):
        ranked = sorted(range(len(to_sort)), key=lambda i: positions[i])
        result = [to_sort[i] for i in ranked]
    else:
        result = list(to_sort)
        pos = list(positions)
        for i in range(1, len(result)):
            j = i
            while j > 0 and (pos[j] < 0 or pos[j - 1] < 0 or pos[j] < pos[j - 1]):
                result[j], result[j - 1] = result[j - 1], result[j]
                pos[j], pos[j - 1] = pos[j - 1], pos[j]
                j -= 1
    return result + to_delete


def _merge_sorted_slice(left: list, right: list, server_order: list, merge_key: str, kind: str) -> list:
    """strategicpatch mergeSortedSlice: interleave server-only items (left) into patch items (right)."""
    out = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li = _index(server_order, left[i], merge_key, kind)
            ri = _index(server_order, right[j], merge_key, kind)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


def _normalize_element_order(patch: list, server_only: list, patch_order: list, server_order: list,
                             merge_key: str, kind: str) -> list:
    """strategicpatch normalizeElementOrder: patch order wins, server-only items keep live order."""
    patch = _normalize_slice_order(patch, patch_order, merge_key, kind)
    server_only = _normalize_slice_order(server_only, server_order, merge_key, kind)
    return _merge_sorted_slice(server_only, patch, server_order, merge_key, kind)


def _find_map(items: list, key: str, value: Any) -> tuple[dict | None, int]:
    """strategicpatch findMapInSliceBasedOnKeyValue."""
    for i, v in enumerate(items):
        if not isinstance(v, dict):
            raise StrategicPatchError(f"value for key {i} is not a map")
        if key in v and _go_eq(v[key], value):
            return v, i
    return None, -1


def _partition_primitives(items: list, by: list) -> tuple[list, list]:
    inside = [v for v in items if any(_go_eq(v, b) for b in by)]
    outside = [v for v in items if not any(_go_eq(v, b) for b in by)]
    return inside, outside


def _partition_maps(items: list, by: list, merge_key: str) -> tuple[list, list]:
    inside, outside = [], []
    for v in items:
        if not isinstance(v, dict):
            raise _err_bad_arg_type("map[string]interface {}", v)
        if merge_key not in v:
            raise _err_no_merge_key(v, merge_key)
        found, _ = _find_map(by, merge_key, v[merge_key])
        (inside if found is not None else outside).append(v)
    return inside, outside


def _partition(items: list, by: list, merge_key: str) -> tuple[list, list]:
    return _partition_maps(items, by, merge_key) if merge_key else _partition_primitives(items, by)


def _dedupe_scalars(s: list) -> list:
    """strategicpatch deduplicateScalars (its "clever" swap-with-last algorithm, order included)."""
    s = list(s)
    length = len(s) - 1
    i = 0
    while i < length:
        j = i + 1
        while j <= length:
            if _go_eq(s[i], s[j]):
                s[j] = s[length]
                s = s[:length]
                length -= 1
                j -= 1
            j += 1
        i += 1
    return s


def _merge_slice_with_special_elements(original: list, patch: list, merge_key: str) -> tuple[list, list | None]:
    """strategicpatch mergeSliceWithSpecialElements: honour ``$patch`` items in a list of maps."""
    plain = []
    replace = False
    for v in patch:
        if DIRECTIVE not in v:
            plain.append(v)
            continue
        directive = v[DIRECTIVE]
        if directive == DELETE:
            if merge_key not in v:
                raise _err_no_merge_key(v, merge_key)
            original = [o for o in original if not (isinstance(o, dict) and merge_key in o
                                                    and _go_eq(o[merge_key], v[merge_key]))]
        elif directive == REPLACE:
            replace = True
        elif directive == MERGE:
            raise StrategicPatchError("merging lists cannot yet be specified in the patch")
        else:
            raise StrategicPatchError(f"unknown patch type: {gofmt(directive)} in map: {gofmt(v)}")
    if replace:
        return plain, None
    return original, plain


def _merge_slice(original: list, patch: list, meta: _Meta, merge_key: str, is_delete_list: bool) -> list:
    """strategicpatch mergeSlice: merge by merge key (maps) or union (primitives), then order."""
    if not original and not patch:
        return original
    kind = _slice_element_type(original, patch)
    if kind != "map":
        if is_delete_list:
            return [v for v in original if not any(_go_eq(v, d) for d in patch)]
        merged = _dedupe_scalars(list(original) + list(patch))
    else:
        if not merge_key:
            raise StrategicPatchError("cannot merge lists without merge key for struct")
        original, maybe_patch = _merge_slice_with_special_elements(original, patch, merge_key)
        patch = maybe_patch or []
        merged = list(original)
        for v in patch:
            if merge_key not in v:
                raise _err_no_merge_key(v, merge_key)
            found, idx = _find_map(merged, merge_key, v[merge_key])
            if found is not None:
                merged[idx] = _merge_map(found, v, meta)
            else:
                merged.append(v)
    patch_items, server_only = _partition(merged, patch, merge_key)
    return _normalize_element_order(patch_items, server_only, patch, original, merge_key, kind)


def _merge_slice_handler(original: Any, patch: Any, meta: _Meta, strategy: str, merge_key: str,
                         is_delete_list: bool) -> list:
    if not isinstance(original, list):
        raise _err_bad_arg_type("[]interface {}", original)
    if not isinstance(patch, list):
        raise _err_bad_arg_type("[]interface {}", patch)
    if strategy == MERGE or is_delete_list:
        return _merge_slice(original, patch, meta, merge_key, is_delete_list)
    return patch


def _merge_map_handler(original: Any, patch: Any, meta: _Meta, strategy: str) -> dict:
    if strategy != REPLACE:
        return _merge_map(original, patch, meta)
    return patch


def _apply_retain_keys(original: dict, patch: dict) -> None:
    """strategicpatch applyRetainKeysDirective (MergeParallelList): drop live keys not retained."""
    if RETAIN_KEYS not in patch:
        return
    retain = patch.pop(RETAIN_KEYS)
    if not isinstance(retain, list):
        raise StrategicPatchError(ERR_BAD_RETAIN_KEYS)
    for k, v in patch.items():
        if v is None or k.startswith(DELETE_FROM_PRIMITIVE_LIST) or k.startswith(SET_ELEMENT_ORDER):
            continue
        if k not in retain:
            raise StrategicPatchError(ERR_BAD_RETAIN_KEYS)
    for k in [k for k in original if k not in retain]:
        del original[k]


def _validate_set_order(patch_list: list | None, order: list, merge_key: str) -> None:
    """strategicpatch validatePatchWithSetOrderList: patch items must follow the order list."""
    if not order or not patch_list:
        return
    items = _extract_to_delete_items(patch_list)[0] if merge_key else patch_list
    pi = si = 0
    while pi < len(items) and si < len(order):
        if isinstance(items[pi], dict) and DIRECTIVE in items[pi]:
            pi += 1
            continue
        if merge_key:
            left, right = items[pi], order[si]
            if not isinstance(left, dict):
                raise _err_bad_arg_type("map[string]interface {}", left)
            if not isinstance(right, dict):
                raise _err_bad_arg_type("map[string]interface {}", right)
            if merge_key not in left:
                raise _err_no_merge_key(left, merge_key)
            if merge_key not in right:
                raise _err_no_merge_key(right, merge_key)
            equal = _go_eq(left[merge_key], right[merge_key])
        else:
            equal = _go_eq(items[pi], order[si])
        if equal:
            pi += 1
        si += 1
    if pi < len(items) and si >= len(order):
        raise StrategicPatchError(f"The order in patch list:\n{gofmt(patch_list)}\n doesn't match "
                                  f"{SET_ELEMENT_ORDER} list:\n{gofmt(order)}\n")


def _merge_set_element_order(original: dict, patch: dict, meta: _Meta) -> None:
    """strategicpatch mergePatchIntoOriginal: merge each ``$setElementOrder/<field>`` list with its field.

    Precedence of order: $setElementOrder > patch list > live list. Processed
    fields are removed from ``patch``.
    """
    for key in [k for k in patch if k.startswith(SET_ELEMENT_ORDER)]:
        order = patch.pop(key)
        if not isinstance(order, list):
            raise _err_bad_arg_type("[]interface {}", order)
        field = _extract_key(key, SET_ELEMENT_ORDER)
        found_original, found_patch = field in original, field in patch
        original_list = original.get(field)
        patch_list = patch.get(field)
        if found_original and not isinstance(original_list, list):
            raise _err_bad_arg_type("[]interface {}", original_list)
        if found_patch and not isinstance(patch_list, list):
            raise _err_bad_arg_type("[]interface {}", patch_list)
        sub, strategies, merge_key = meta.for_slice(field)
        strategy = _extract_retain_keys_strategy(strategies)
        _validate_set_order(patch_list, order, merge_key)
        if found_original and found_patch:
            merged = _merge_slice_handler(original_list, patch_list, sub, strategy, merge_key, False)
        elif found_original:
            merged = original_list
        elif found_patch:
            merged = _remove_directives(patch_list)[0]
        else:
            continue
        patch_items, server_only = _partition(merged, order, merge_key)
        kind = _slice_element_type(original_list or [], patch_list or [])
        original[field] = _normalize_element_order(patch_items, server_only, order, original_list or [],
                                                   merge_key, kind)
        patch.pop(field, None)


def _take_patch_value(original: dict, key: str, value: Any) -> None:
    _discard_nulls(value)
    value, keep = _remove_directives(value)
    if keep:
        original[key] = value
    else:
        original.pop(key, None)


def _merge_map(original: Any, patch: Any, meta: _Meta) -> dict:
    """strategicpatch mergeMap with the options of StrategicMergeMapPatch.

    (MergeParallelList and IgnoreUnmatchedNulls both true.) Mutates and
    returns ``original``.
    """
    if not isinstance(original, dict) and original is not None:
        raise _err_bad_arg_type("map[string]interface {}", original)
    if not isinstance(patch, dict):
        raise _err_bad_arg_type("map[string]interface {}", patch)
    if DIRECTIVE in patch:
        directive = patch[DIRECTIVE]
        if directive == REPLACE:
            del patch[DIRECTIVE]
            return patch
        if directive == DELETE:
            return {}
        raise StrategicPatchError(f"unknown patch type: {gofmt(directive)} in map: {gofmt(patch)}")
    if original is None:
        original = {}
    _apply_retain_keys(original, patch)
    _merge_set_element_order(original, patch, meta)
    for key, patch_v in patch.items():
        is_delete_list = key.startswith(DELETE_FROM_PRIMITIVE_LIST)
        if is_delete_list:
            key = _extract_key(key, DELETE_FROM_PRIMITIVE_LIST)
        if patch_v is None:
            original.pop(key, None)
            continue
        if key not in original or _kind(original[key]) != _kind(patch_v):
            if not is_delete_list:
                _take_patch_value(original, key, patch_v)
            continue
        current = original[key]
        if isinstance(current, dict):
            sub, strategies, _ = meta.for_struct(key)
            original[key] = _merge_map_handler(current, patch_v, sub, _extract_retain_keys_strategy(strategies))
        elif isinstance(current, list):
            sub, strategies, merge_key = meta.for_slice(key)
            original[key] = _merge_slice_handler(current, patch_v, sub, _extract_retain_keys_strategy(strategies),
                                                 merge_key, is_delete_list)
        else:
            value, keep = _remove_directives(patch_v)
            if keep:
                original[key] = value
            else:
                original.pop(key, None)
    return original


def strategic_merge_patch(obj: dict, patch: Any, schemas: SchemaSet, node: Node | None) -> dict:
    """Apply a strategic merge patch to a copy of ``obj``.

    Semantics of strategicpatch.StrategicMergeMapPatch: maps merge recursively,
    null deletes, lists whose field has patch strategy ``merge`` merge by
    ``x-kubernetes-patch-merge-key`` (lists of primitives are unioned), other
    lists and ``replace``-strategy maps are replaced; directives ``$patch``,
    ``$retainKeys``, ``$deleteFromPrimitiveList/<f>`` and ``$setElementOrder/<f>``.

    Args:
        obj: the current object (not modified).
        patch: the decoded patch body.
        schemas: the schema set ``node`` belongs to.
        node: the root schema node of the kind; None (no schema) is refused
            like upstream refuses custom resources (see :func:`strategic_supported`).

    Returns:
        The patched object.
    """
    if node is None:
        raise bad_request(ERR_UNSUPPORTED_SMP)
    if patch is None:
        return clone(obj)
    if not isinstance(patch, dict):
        raise bad_request(f"error decoding patch: json: cannot unmarshal {_json_kind(patch)} into Go value of type "
                          f"map[string]interface {{}}")
    try:
        return _merge_map(clone(obj), clone(patch), _Meta(schemas, schemas.resolve(node)))
    except StrategicPatchError as e:
        raise _interpret(e) from e
