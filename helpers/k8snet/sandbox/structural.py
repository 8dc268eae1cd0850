"""Structural schemas: the checks a CRD's schema must pass, and what the apiserver does with one.

Ports of k8s.io/apiextensions-apiserver/pkg/apiserver/schema:

* :func:`structural_errors` -- ``NewStructural`` and ``ValidateStructural``: every
  node specifies its type, nested value validations (allOf/anyOf/oneOf/not)
  only restrict, and the root ``metadata`` names nothing but name and generateName;
* :func:`prune` -- pruning/algorithm.go: unknown fields are dropped (and their
  paths reported, for ``unknown field "spec.foo"``) unless
  ``x-kubernetes-preserve-unknown-fields`` keeps them;
* :func:`prune_nulls` and :func:`default` -- defaulting/prunenulls.go and algorithm.go;
* :func:`list_errors` -- listtype/validation.go: ``x-kubernetes-list-type`` set and
  map items are unique (``Duplicate value``);
* :func:`embedded_errors` -- objectmeta/validation.go: an
  ``x-kubernetes-embedded-resource`` needs apiVersion, kind and valid metadata.

Schemas are the CRD's ``openAPIV3Schema`` as plain JSON (dicts), never rewritten.
"""

from __future__ import annotations

import json
import re
from typing import Any

from . import gofmt
from .errors import Cause
from .jsoncopy import clone

Schema = dict[str, Any]

META_FIELDS = ("apiVersion", "kind", "metadata")
"""pruning/algorithm.go metaFields: kept at a resource's root, handled by the ObjectMeta coercion."""

_NESTED_FORBIDDEN_GENERICS = (("type", "must be empty to be structural"),
                              ("default", "must be undefined to be structural"),
                              ("title", "must be empty to be structural"),
                              ("description", "must be empty to be structural"))
_NESTED_FORBIDDEN_EXTENSIONS = (("x-kubernetes-preserve-unknown-fields", "must be false to be structural"),
                                ("x-kubernetes-embedded-resource", "must be false to be structural"),
                                ("x-kubernetes-int-or-string", "must be false to be structural"),
                                ("x-kubernetes-list-map-keys", "must be empty to be structural"),
                                ("x-kubernetes-list-type", "must be undefined to be structural"),
                                ("x-kubernetes-map-type", "must be undefined to be structural"),
                                ("x-kubernetes-validations", "must be empty to be structural"))
_INT_OR_STRING_ANY_OF = [{"type": "integer"}, {"type": "string"}]


# --------------------------------------------------------------------------- field paths (field.Path)


def child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def key(path: str, name: str) -> str:
    return f"{path}[{name}]"


def required(path: str, detail: str = "") -> Cause:
    return Cause("FieldValueRequired", "Required value" + (f": {detail}" if detail else ""), path)


def forbidden(path: str, detail: str) -> Cause:
    return Cause("FieldValueForbidden", f"Forbidden: {detail}", path)


def invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause("FieldValueInvalid", f"Invalid value: {gofmt.bad_value(value)}: {detail}", path)


def duplicate(path: str, value: Any) -> Cause:
    return Cause("FieldValueDuplicate", f"Duplicate value: {gofmt.bad_value(value)}", path)


# --------------------------------------------------------------------------- structural checks


def is_int_or_string_any_of(s: Schema) -> bool:
    return s.get("anyOf") == _INT_OR_STRING_ANY_OF


def is_int_or_string_all_of(s: Schema) -> bool:
    all_of = s.get("allOf") or []
    return bool(all_of) and isinstance(all_of[0], dict) and all_of[0].get("anyOf") == _INT_OR_STRING_ANY_OF


def structural_errors(s: Schema, path: str) -> list[Cause]:
    """schema/validation.go ValidateStructural (invariants, then completeness), sorted by message as upstream."""
    errs = _invariants(s, "root", path) + _completeness(s, s, path, path)
    return sorted(errs, key=lambda c: f"{c.field}: {c.message}")


def _invariants(s: Schema | None, level: str, path: str) -> list[Cause]:
    if not isinstance(s, dict):
        return []
    errs: list[Cause] = []
    t = s.get("type") or ""
    if t == "array" and not isinstance(s.get("items"), dict):
        errs.append(required(child(path, "items"), "must be specified"))
    errs += _invariants(s.get("items"), "item", child(path, "items"))
    for name, prop in (s.get("properties") or {}).items():
        errs += _invariants(prop, "field", key(child(path, "properties"), name))
    extra = s.get("additionalProperties")
    if extra is not None:
        if level == "root":
            errs.append(forbidden(child(path, "additionalProperties"), "must not be used at the root"))
        if isinstance(extra, dict):
            errs += _invariants(extra, "field", child(path, "additionalProperties"))
    int_or_string = bool(s.get("x-kubernetes-int-or-string"))
    preserve = bool(s.get("x-kubernetes-preserve-unknown-fields"))
    embedded = bool(s.get("x-kubernetes-embedded-resource"))
    if int_or_string and preserve:
        errs.append(Cause("FieldValueInvalid", "Invalid value: true: must be false if x-kubernetes-int-or-string is "
                                               "true", child(path, "x-kubernetes-preserve-unknown-fields")))
    if int_or_string and embedded:
        errs.append(Cause("FieldValueInvalid", "Invalid value: true: must be false if x-kubernetes-int-or-string is "
                                               "true", child(path, "x-kubernetes-embedded-resource")))
    errs += _value_validation(s, is_int_or_string_any_of(s), is_int_or_string_all_of(s), path)
    check_metadata = level == "root" or embedded
    if embedded and t != "object":
        if not t:
            errs.append(required(child(path, "type"), "must be object if x-kubernetes-embedded-resource is true"))
        else:
            errs.append(invalid(child(path, "type"), t, "must be object if x-kubernetes-embedded-resource is true"))
    elif not t and not int_or_string and not preserve:
        detail = {"root": "must not be empty at the root", "item": "must not be empty for specified array items",
                  "field": "must not be empty for specified object fields"}[level]
        errs.append(required(child(path, "type"), detail))
    if embedded and extra is not None:
        errs.append(forbidden(child(path, "additionalProperties"),
                              "must not be used if x-kubernetes-embedded-resource is set"))
    if level == "root" and t and t != "object":
        errs.append(invalid(child(path, "type"), t, "must be object at the root"))
    props = s.get("properties") or {}
    for name in ("kind", "apiVersion"):
        if name in props and check_metadata and (props[name] or {}).get("type") != "string":
            errs.append(invalid(child(key(child(path, "properties"), name), "type"), (props[name] or {}).get("type", ""),
                                "must be string"))
    if "metadata" in props:
        errs += _metadata_invariants(props["metadata"] or {}, check_metadata, level,
                                     key(child(path, "properties"), "metadata"))
    if embedded and not preserve and not props:
        errs.append(required(child(path, "properties"), "must not be empty if x-kubernetes-embedded-resource is true "
                                                        "without x-kubernetes-preserve-unknown-fields"))
    return errs


def _metadata_invariants(s: Schema, check_metadata: bool, level: str, path: str) -> list[Cause]:
    errs: list[Cause] = []
    if check_metadata and s.get("type") != "object":
        errs.append(invalid(child(path, "type"), s.get("type", ""), "must be object"))
    if level == "root":
        rest = {k: v for k, v in s.items() if k not in ("type", "default", "properties")}
        props = set(s.get("properties") or {})
        if rest or not props <= {"name", "generateName"}:
            errs.append(forbidden(path, "must not specify anything other than name and generateName, but metadata is "
                                        "implicitly specified"))
    return errs


def _value_validation(s: Schema, skip_any_of: bool, skip_first_all_of_any_of: bool, path: str) -> list[Cause]:
    """validateValueValidation: what allOf/anyOf/oneOf/not may say, and the pattern compiles."""
    errs: list[Cause] = []
    if not skip_any_of:
        for i, alt in enumerate(s.get("anyOf") or []):
            errs += _nested(alt, f"{child(path, 'anyOf')}[{i}]")
    for i, alt in enumerate(s.get("allOf") or []):  # ValidateStructural: AllowNestedXValidations is false
        skip = skip_first_all_of_any_of and i == 0
        errs += _nested(alt, f"{child(path, 'allOf')}[{i}]", skip_any_of=skip)
    for i, alt in enumerate(s.get("oneOf") or []):
        errs += _nested(alt, f"{child(path, 'oneOf')}[{i}]")
    if isinstance(s.get("not"), dict):
        errs += _nested(s["not"], child(path, "not"))
    pattern = s.get("pattern")
    if pattern:
        try:
            re.compile(pattern)
        except re.error as exc:
            errs.append(invalid(child(path, "pattern"), pattern,
                                f"must be a valid regular expression, but isn't: error parsing regexp: {exc}"))
    return errs


def _nested(v: Any, path: str, skip_any_of: bool = False) -> list[Cause]:
    """validateNestedValueValidation: a nested node only restricts values; it declares nothing."""
    if not isinstance(v, dict):
        return []
    errs = _value_validation(v, skip_any_of, False, path)
    if isinstance(v.get("items"), dict):
        errs += _nested(v["items"], child(path, "items"))
    for name, prop in (v.get("properties") or {}).items():
        errs += _nested(prop, key(child(path, "properties"), name))
    for field_name, detail in _NESTED_FORBIDDEN_GENERICS:
        if v.get(field_name) not in (None, ""):
            errs.append(forbidden(child(path, field_name), detail))
    if v.get("additionalProperties") is not None:
        errs.append(forbidden(child(path, "additionalProperties"), "must be undefined to be structural"))
    if v.get("nullable"):
        errs.append(forbidden(child(path, "nullable"), "must be false to be structural"))
    for field_name, detail in _NESTED_FORBIDDEN_EXTENSIONS:
        if v.get(field_name):
            errs.append(forbidden(child(path, field_name), detail))
    if "metadata" in (v.get("properties") or {}):
        errs.append(forbidden(key(child(path, "properties"), "metadata"), "must not be specified in a nested context"))
    return errs


def _completeness(s: Schema | None, v: Schema, s_path: str, v_path: str) -> list[Cause]:
    """complete.go: every property a nested value validation names exists in the structural node."""
    errs: list[Cause] = []
    for name in ("allOf", "anyOf", "oneOf"):
        for i, alt in enumerate(v.get(name) or []):
            errs += _nested_completeness(s, alt, s_path, f"{child(v_path, name)}[{i}]")
    if isinstance(v.get("not"), dict):
        errs += _nested_completeness(s, v["not"], s_path, child(v_path, "not"))
    return errs


def _nested_completeness(s: Schema | None, v: Any, s_path: str, v_path: str) -> list[Cause]:
    if not isinstance(v, dict):
        return []
    if s is None:
        return [required(s_path, f"because it is defined in {v_path}")]
    errs = _completeness(s, v, s_path, v_path)
    if isinstance(v.get("items"), dict):
        errs += _nested_completeness(s.get("items") if isinstance(s.get("items"), dict) else None, v["items"],
                                     child(s_path, "items"), child(v_path, "items"))
    props = s.get("properties") or {}
    for name, prop in (v.get("properties") or {}).items():
        if name not in props:
            errs.append(required(key(child(s_path, "properties"), name),
                                 f"because it is defined in {key(child(v_path, 'properties'), name)}"))
        else:
            errs += _nested_completeness(props[name], prop, key(child(s_path, "properties"), name),
                                         key(child(v_path, "properties"), name))
    return errs


# --------------------------------------------------------------------------- pruning, nulls, defaults


def _extra_schema(s: Schema) -> tuple[bool, Schema | None]:
    """(has additionalProperties, its schema): ``false`` and ``true`` carry no schema, as StructuralOrBool."""
    extra = s.get("additionalProperties")
    if extra is None:
        return False, None
    return True, extra if isinstance(extra, dict) else None


def prune(obj: Any, s: Schema | None, root: bool = True) -> list[str]:
    """Drop the fields the schema does not specify; return their paths, sorted (PruneWithOptions)."""
    if root:
        s = dict(s or {})
        s["x-kubernetes-embedded-resource"] = True
    unknown: list[str] = []
    _prune(obj, s, "", unknown)
    return sorted(unknown)


def _join(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def _prune(x: Any, s: Schema | None, parent: str, unknown: list[str]) -> None:
    if s is not None and s.get("x-kubernetes-preserve-unknown-fields"):
        _skip_prune(x, s, parent, unknown)
        return
    if isinstance(x, dict):
        if s is None:
            for k in list(x):
                unknown.append(_join(parent, k))
                del x[k]
            return
        props = s.get("properties") or {}
        has_extra, extra = _extra_schema(s)
        for k in list(x):
            if s.get("x-kubernetes-embedded-resource") and k in META_FIELDS:
                continue
            if k in props:
                _prune(x[k], props[k], _join(parent, k), unknown)
            elif has_extra:
                _prune(x[k], extra, _join(parent, k), unknown)
            else:
                if k not in META_FIELDS or parent:
                    unknown.append(_join(parent, k))
                del x[k]
    elif isinstance(x, list):
        items = s.get("items") if s is not None and isinstance(s.get("items"), dict) else None
        for i, v in enumerate(x):
            _prune(v, items, f"{parent}[{i}]", unknown)


def _skip_prune(x: Any, s: Schema, parent: str, unknown: list[str]) -> None:
    if isinstance(x, dict):
        props = s.get("properties") or {}
        has_extra, extra = _extra_schema(s)
        for k in list(x):
            if s.get("x-kubernetes-embedded-resource") and k in META_FIELDS:
                continue
            if k in props:
                _prune(x[k], props[k], _join(parent, k), unknown)
            elif has_extra:
                _prune(x[k], extra, _join(parent, k), unknown)
    elif isinstance(x, list):
        items = s.get("items")
        if isinstance(items, dict):
            for i, v in enumerate(x):
                _skip_prune(v, items, f"{parent}[{i}]", unknown)


def _field_schema(name: str, s: Schema | None) -> Schema | None:
    if s is None:
        return None
    props = s.get("properties") or {}
    if name in props:
        return props[name]
    extra = s.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def prune_nulls(x: Any, s: Schema | None) -> None:
    """PruneNonNullableNullsWithoutDefaults: a null where the schema allows none and has no default goes away."""
    if isinstance(x, dict):
        for k in list(x):
            sub = _field_schema(k, s)
            if x[k] is None and sub is not None and not sub.get("nullable") and "default" not in sub:
                del x[k]
            else:
                prune_nulls(x[k], sub)
    elif isinstance(x, list):
        items = s.get("items") if s is not None and isinstance(s.get("items"), dict) else None
        for v in x:
            prune_nulls(v, items)


def default(x: Any, s: Schema | None) -> None:
    """defaulting/algorithm.go Default: missing (or non-nullable null) fields get a deep copy of their default."""
    if s is None:
        return
    if isinstance(x, dict):
        props = s.get("properties") or {}
        for k, prop in props.items():
            if not isinstance(prop, dict) or prop.get("default") is None:
                continue
            if k not in x or (x[k] is None and not prop.get("nullable")):
                x[k] = clone(prop["default"])
        extra = s.get("additionalProperties")
        for k in list(x):
            if k in props:
                default(x[k], props[k])
            elif isinstance(extra, dict):
                if x[k] is None and not extra.get("nullable") and extra.get("default") is not None:
                    x[k] = clone(extra["default"])
                default(x[k], extra)
    elif isinstance(x, list):
        items = s.get("items")
        if isinstance(items, dict):
            for i in range(len(x)):
                if x[i] is None and not items.get("nullable") and items.get("default") is not None:
                    x[i] = clone(items["default"])
                default(x[i], items)


def has_defaults(s: Any) -> bool:
    """Whether any node of a schema declares a default."""
    if isinstance(s, dict):
        return "default" in s or any(has_defaults(v) for k, v in s.items() if k not in ("default", "enum", "example",
                                                                                            "x-kubernetes-validations"))
    if isinstance(s, list):
        return any(has_defaults(v) for v in s)
    return False


# --------------------------------------------------------------------------- list types


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def list_errors(obj: Any, s: Schema | None, path: str = "") -> list[Cause]:
    """ValidateListSetsAndMaps: set items and map keys must be unique (``Duplicate value``)."""
    if s is None or not isinstance(obj, dict):
        return []
    errs: list[Cause] = []
    extra = s.get("additionalProperties")
    if isinstance(extra, dict):
        for k, v in obj.items():
            errs += _list_value(v, extra, key(path, k))
    props = s.get("properties") or {}
    for k, v in obj.items():
        if k in props:
            errs += _list_value(v, props[k], child(path, k))
    return errs


def _list_value(obj: Any, s: Schema, path: str) -> list[Cause]:
    if isinstance(obj, list):
        return _list_array(obj, s, path)
    if isinstance(obj, dict):
        return list_errors(obj, s, path)
    return []


def _non_unique(items: list) -> list[int]:
    """validateListSet: the index of each value's second occurrence."""
    seen: dict[str, int] = {}
    out = []
    for i, x in enumerate(items):
        k = _canonical(x)
        seen[k] = seen.get(k, 0) + 1
        if seen[k] == 2:
            out.append(i)
    return out


def _list_array(obj: list, s: Schema, path: str) -> list[Cause]:
    errs: list[Cause] = []
    list_type = s.get("x-kubernetes-list-type")
    if list_type == "set":
        errs += [duplicate(f"{path}[{i}]", obj[i]) for i in _non_unique(obj)]
    elif list_type == "map":
        errs += _list_map(obj, s, path)
    items = s.get("items")
    if isinstance(items, dict):
        for i, item in enumerate(obj):
            errs += _list_value(item, items, f"{path}[{i}]")
    return errs


def _list_map(obj: list, s: Schema, path: str) -> list[Cause]:
    for i, x in enumerate(obj):
        if x is not None and not isinstance(x, dict):
            return [invalid(f"{path}[{i}]", x, "must be an object for an array of list-type map")]
    if len(obj) <= 1:
        return []
    keys_fields = list(s.get("x-kubernetes-list-map-keys") or [])
    keys = []
    for x in obj:
        x = x or {}
        keys.append({k: x[k] for k in keys_fields if k in x})
    if len(keys_fields) == 1:
        name = keys_fields[0]
        return [duplicate(f"{path}[{i}]", keys[i] if name in keys[i] else {}) for i in _non_unique(keys)]
    return [duplicate(f"{path}[{i}]", keys[i]) for i in _non_unique(keys)]


# --------------------------------------------------------------------------- embedded resources


def embedded_errors(obj: Any, s: Schema | None, path: str, meta_errors: Any) -> list[Cause]:
    """objectmeta/validation.go Validate: each x-kubernetes-embedded-resource value is an object with a type.

    ``meta_errors(meta, path)`` checks an embedded object's metadata as ValidateObjectMeta does.
    """
    if s is None:
        return []
    errs: list[Cause] = []
    if isinstance(obj, dict):
        if s.get("x-kubernetes-embedded-resource"):
            errs += _embedded(obj, path, meta_errors)
        props = s.get("properties") or {}
        extra = s.get("additionalProperties")
        for k, v in obj.items():
            if k in props:
                errs += embedded_errors(v, props[k], child(path, k), meta_errors)
            elif isinstance(extra, dict):
                errs += embedded_errors(v, extra, key(path, k), meta_errors)
    elif isinstance(obj, list):
        items = s.get("items")
        if isinstance(items, dict):
            for i, v in enumerate(obj):
                errs += embedded_errors(v, items, f"{path}[{i}]", meta_errors)
    return errs


def _embedded(x: dict, path: str, meta_errors: Any) -> list[Cause]:
    errs: list[Cause] = []
    if "apiVersion" not in x:
        errs.append(required(child(path, "apiVersion"), "must not be empty"))
    if "kind" not in x:
        errs.append(required(child(path, "kind"), "must not be empty"))
    for k, v in x.items():
        if k == "apiVersion":
            if not isinstance(v, str):
                errs.append(invalid(child(path, "apiVersion"), v, "must be a string"))
            elif not v:
                errs.append(invalid(child(path, "apiVersion"), v, "must not be empty"))
            elif v.count("/") > 1:
                errs.append(invalid(child(path, "apiVersion"), v, f"unexpected GroupVersion string: {v}"))
        elif k == "kind":
            if not isinstance(v, str):
                errs.append(invalid(child(path, "kind"), v, "must be a string"))
            elif not v:
                errs.append(invalid(child(path, "kind"), v, "must not be empty"))
            elif not re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", v.lower()) or len(v) > 63:
                errs.append(invalid(child(path, "kind"), v, "may have mixed case, but should otherwise match: a "
                                    "DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
                                    "with an alphabetic character, and end with an alphanumeric character (e.g. "
                                    "'my-name',  or 'abc-123', regex used for validation is "
                                    "'[a-z]([-a-z0-9]*[a-z0-9])?')"))
        elif k == "metadata":
            if not isinstance(v, dict):
                errs.append(invalid(child(path, "metadata"), v, "invalid metadata: expected object"))
            else:
                errs += meta_errors(v, child(path, "metadata"))
    return errs
