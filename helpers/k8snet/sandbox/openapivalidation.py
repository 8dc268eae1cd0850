"""A custom object's values checked against its version's OpenAPI schema, worded as kube-apiserver words it.

A port of k8s.io/kube-openapi/pkg/validation/validate (the SchemaValidator the
apiextensions-apiserver builds for each CRD version: type, allOf/anyOf/oneOf/not,
string, format, number, slice, enum and object validators, in that order) and of
apiextensions-apiserver/pkg/apiserver/validation ``kubeOpenAPIResultToFieldErrors``,
which turns its results into field errors: ``spec.replicas: Invalid value:
"string": spec.replicas in body must be of type integer: "string"``,
``Unsupported value: "x": supported values: "a", "b"``, ``Required value``,
``Too long: may not be more than 5 bytes``, ``Too many: 4: must have at most 3 items``.

Schemas are the CRD's ``openAPIV3Schema`` as JSON. ``x-kubernetes-int-or-string``
allows ``integer,string`` (ConvertJSONSchemaPropsWithPostProcess); formats the
1.33 apiserver does not support are ignored (StripUnsupportedFormatsPostProcessor).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from . import gofmt
from .errors import Cause

Schema = dict[str, Any]

SUPPORTED_FORMATS = frozenset({
    "bsonobjectid", "uri", "email", "hostname", "ipv4", "ipv6", "cidr", "mac", "uuid", "uuid3", "uuid4", "uuid5",
    "isbn", "isbn10", "isbn13", "creditcard", "ssn", "hexcolor", "rgbcolor", "byte", "password", "date", "duration",
    "datetime",
})
"""apiextensions-apiserver/pkg/apiserver/validation/formats.go supportedVersionedFormats (names without '-')."""


@dataclass
class _Err:
    """One kube-openapi error: its code (how it becomes a field error), name (path), message and value."""

    code: str  # type, required, enum, toolong, maxitems, maxprops, other, composite
    name: str
    message: str
    value: Any = None
    valid: Any = None  # enum values, max length, max items


# --------------------------------------------------------------------------- types and formats


def json_type(value: Any) -> str:
    """kube-openapi schemaInfoForType: the OpenAPI type of a decoded JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def schema_types(s: Schema) -> list[str]:
    """The types a node allows, as the converted go-openapi schema lists them."""
    if s.get("x-kubernetes-int-or-string"):
        return ["integer", "string"]
    t = s.get("type")
    return [t] if isinstance(t, str) and t else []


def supported_format(s: Schema) -> str:
    """The node's format if the apiserver checks it, else "" (go-openapi normalizes by dropping '-')."""
    fmt = s.get("format") or ""
    return fmt if fmt.replace("-", "") in SUPPORTED_FORMATS else ""


_HOSTNAME = re.compile(r"^([a-zA-Z0-9\w]((-?[a-zA-Z0-9\w]{0,62})?)|([a-zA-Z0-9\w](([a-zA-Z0-9\-\w]{0,61}[a-zA-Z0-9\w])?)"
                       r"(\.)){1,}([a-zA-Z\w]){2,63})$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_MAC = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$|^([0-9A-Fa-f]{2}[:-]){7}[0-9A-Fa-f]{2}$|"
                  r"^([0-9A-Fa-f]{4}\.){2}[0-9A-Fa-f]{4}$")
_UUID = {"uuid": r"", "uuid3": "3", "uuid4": "4", "uuid5": "5"}
_DURATION = re.compile(r"^(\d+(\.\d+)?\s*(ns|us|µs|ms|s|m|h|d|w)\s*)+$|^[0-9]+\s*(ns|us|ms|s|m|h|d|w|nanoseconds?|"
                       r"microseconds?|milliseconds?|seconds?|minutes?|hours?|days?|weeks?)$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_HEXCOLOR = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_RGBCOLOR = re.compile(r"^rgb\(\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,"
                       r"\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*\)$")
_SSN = re.compile(r"^\d{3}[- ]?\d{2}[- ]?\d{4}$")
_BSON = re.compile(r"^[0-9a-fA-F]{24}$")


def format_ok(fmt: str, value: str) -> bool:
    """Whether ``value`` is valid for ``fmt`` (kube-openapi strfmt.Default's checkers, approximated in Python)."""
    name = fmt.replace("-", "")
    if name == "password":
        return True
    if name == "byte":
        try:
            base64.b64decode(value, validate=True)
            return True
        except (binascii.Error, ValueError):
            return False
    if name in ("ipv4", "ipv6"):
        try:
            ip = ipaddress.ip_address(value)
        except ValueError:
            return False
        return ip.version == (4 if name == "ipv4" else 6)
    if name == "cidr":
        try:
            ipaddress.ip_network(value, strict=False)
            return "/" in value
        except ValueError:
            return False
    if name in _UUID:
        try:
            u = uuid.UUID(value)
        except ValueError:
            return False
        return not _UUID[name] or str(u.version) == _UUID[name]
    if name == "date":
        try:
            datetime.strptime(value, "%Y-%m-%d")
            return True
        except ValueError:
            return False
    if name == "datetime":
        return bool(_DATE_TIME.match(value))
    if name == "duration":
        return bool(_DURATION.match(value))
    if name == "hostname":
        return bool(_HOSTNAME.match(value))
    if name == "email":
        return bool(_EMAIL.match(value))
    if name == "uri":
        return value.startswith("/") or bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", value))
    if name == "mac":
        return bool(_MAC.match(value))
    if name == "hexcolor":
        return bool(_HEXCOLOR.match(value))
    if name == "rgbcolor":
        return bool(_RGBCOLOR.match(value))
    if name == "ssn":
        return bool(_SSN.match(value))
    if name == "bsonobjectid":
        return bool(_BSON.match(value))
    if name in ("isbn", "isbn10", "isbn13", "creditcard"):
        digits = re.sub(r"[^0-9X]", "", value)
        return len(digits) in ({10} if name == "isbn10" else {13} if name == "isbn13" else {10, 13}) \
            if name != "creditcard" else 12 <= len(digits) <= 19
    return True


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


# --------------------------------------------------------------------------- the validators


def _in(name: str) -> str:
    return f"{name} in body"


def _child(path: str, key: str) -> str:
    """object_validator: ``o.Path + "." + name`` (the root's properties have no leading dot)."""
    return f"{path}.{key}" if path else key


class _Validator:
    """One pass of kube-openapi's SchemaValidator over a value."""

    def __init__(self) -> None:
        self.errors: list[_Err] = []

    def validate(self, value: Any, s: Schema, path: str) -> None:
        types = schema_types(s)
        fmt = supported_format(s)
        self.check_type(value, s, types, fmt, path)
        if value is None:
            self.check_enum(value, s, path)
            return
        self.check_props(value, s, path)
        if isinstance(value, str):
            self.check_string(value, s, path)
            if fmt and not format_ok(fmt, value):
                self.errors.append(_Err("type", path, f'{_in(path)} must be of type {fmt}: {gofmt.quote(value)}',
                                        value))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            self.check_number(value, s, path)
        if isinstance(value, list):
            self.check_slice(value, s, path)
        self.check_enum(value, s, path)
        if isinstance(value, dict):
            self.check_object(value, s, path)

    def check_type(self, value: Any, s: Schema, types: list[str], fmt: str, path: str) -> None:
        """type.go typeValidator."""
        if not types and not s.get("format"):
            return
        if value is None:
            if types and "null" not in types and not s.get("nullable"):
                self.errors.append(_Err("type", path, f'{_in(path)} must be of type {",".join(types)}: "null"',
                                        "null"))
            return
        actual = json_type(value)
        float_int = actual == "number" and float(value).is_integer() and "integer" in types
        int_float = actual == "integer" and "number" in types
        if not types and fmt:
            return
        if fmt and "number" not in types and "integer" not in types and actual in ("string", "array"):
            return
        if actual not in types and not float_int and not int_float:
            self.errors.append(_Err("type", path, f'{_in(path)} must be of type {",".join(types)}: '
                                                  f'{gofmt.quote(actual)}', actual))

    def check_props(self, value: Any, s: Schema, path: str) -> None:
        """schema_props.go: allOf, anyOf, oneOf and not (nested value validations)."""
        if s.get("anyOf"):
            results = [self.sub(value, alt, path) for alt in s["anyOf"]]
            if not any(not r for r in results):
                self.errors.append(_Err("composite", path, f"{gofmt.quote(path)} must validate at least one schema "
                                                           "(anyOf)"))
                self.errors.extend(min(results, key=len))
        if s.get("oneOf"):
            results = [self.sub(value, alt, path) for alt in s["oneOf"]]
            valid = sum(1 for r in results if not r)
            if valid != 1:
                extra = "Found none valid" if valid == 0 else f"Found {valid} valid alternatives"
                self.errors.append(_Err("composite", path, f"{gofmt.quote(path)} must validate one and only one "
                                                           f"schema (oneOf). {extra}"))
                if valid == 0:
                    self.errors.extend(min(results, key=len))
        if s.get("allOf"):
            failed = [r for r in (self.sub(value, alt, path) for alt in s["allOf"]) if r]
            if failed:
                self.errors.append(_Err("composite", path, f"{gofmt.quote(path)} must validate all the schemas "
                                                           "(allOf)"))
                for r in failed:
                    self.errors.extend(r)
        if isinstance(s.get("not"), dict) and not self.sub(value, s["not"], path):
            self.errors.append(_Err("composite", path, f"{gofmt.quote(path)} must not validate the schema (not)"))

    @staticmethod
    def sub(value: Any, s: Schema, path: str) -> list[_Err]:
        v = _Validator()
        v.validate(value, s, path)
        return v.errors

    def check_string(self, value: str, s: Schema, path: str) -> None:
        """validator.go stringValidator (lengths in runes)."""
        if s.get("maxLength") is not None and len(value) > s["maxLength"]:
            self.errors.append(_Err("toolong", path, f"{_in(path)} should be at most {s['maxLength']} chars long",
                                    value, s["maxLength"]))
        if s.get("minLength") is not None and len(value) < s["minLength"]:
            self.errors.append(_Err("other", path, f"{_in(path)} should be at least {s['minLength']} chars long",
                                    value))
        if s.get("pattern"):
            rx = _regex(s["pattern"])
            if rx is not None and not rx.search(value):
                self.errors.append(_Err("other", path, f"{_in(path)} should match '{s['pattern']}'", value))

    def check_number(self, value: int | float, s: Schema, path: str) -> None:
        """validator.go numberValidator: multipleOf, then minimum, then maximum."""
        def bound(limit: float) -> tuple[float, str]:
            if isinstance(value, int):  # MinimumNativeType: an integer compares with the truncated bound
                return int(limit), str(int(limit))
            return float(limit), gofmt.float_v(float(limit))

        if s.get("multipleOf"):
            factor = s["multipleOf"]
            if factor and (value / factor) != int(value / factor):
                self.errors.append(_Err("other", path, f"{_in(path)} should be a multiple of "
                                                       f"{gofmt.float_v(float(factor))}", value))
        if s.get("minimum") is not None:
            limit, text = bound(s["minimum"])
            exclusive = bool(s.get("exclusiveMinimum"))
            if value < limit or (exclusive and value == limit):
                word = "greater than" if exclusive else "greater than or equal to"
                self.errors.append(_Err("other", path, f"{_in(path)} should be {word} {text}", value))
        if s.get("maximum") is not None:
            limit, text = bound(s["maximum"])
            exclusive = bool(s.get("exclusiveMaximum"))
            if value > limit or (exclusive and value == limit):
                word = "less than" if exclusive else "less than or equal to"
                self.errors.append(_Err("other", path, f"{_in(path)} should be {word} {text}", value))

    def check_slice(self, value: list, s: Schema, path: str) -> None:
        """slice_validator.go: the items first, then minItems, maxItems, uniqueItems."""
        items = s.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                self.validate(item, items, f"{path}[{i}]")
        if s.get("minItems") is not None and len(value) < s["minItems"]:
            self.errors.append(_Err("other", path, f"{_in(path)} should have at least {s['minItems']} items",
                                    len(value)))
        if s.get("maxItems") is not None and len(value) > s["maxItems"]:
            self.errors.append(_Err("maxitems", path, f"{_in(path)} should have at most {s['maxItems']} items",
                                    len(value), s["maxItems"]))

    def check_enum(self, value: Any, s: Schema, path: str) -> None:
        """validator.go basicCommonValidator."""
        enum = s.get("enum")
        if enum and not any(_same(value, e) for e in enum):
            self.errors.append(_Err("enum", path, f"{_in(path)} should be one of {enum}", value, enum))

    def check_object(self, value: dict, s: Schema, path: str) -> None:
        """object_validator.go: property counts, additionalProperties, properties, then required."""
        props = s.get("properties") or {}
        extra = s.get("additionalProperties")
        if s.get("minProperties") is not None and len(value) < s["minProperties"]:
            self.errors.append(_Err("other", path, f"{_in(path)} should have at least {s['minProperties']} "
                                                   "properties", len(value)))
        if s.get("maxProperties") is not None and len(value) > s["maxProperties"]:
            self.errors.append(_Err("maxprops", path, f"{_in(path)} should have at most {s['maxProperties']} "
                                                      "properties", len(value), s["maxProperties"]))
        if extra is False:
            for key in value:
                if key not in props:
                    self.errors.append(_Err("other", path, f"{path}.{key} in body is a forbidden property", key))
        elif isinstance(extra, dict):
            for key, item in value.items():
                if key not in props:
                    self.validate(item, extra, f"{path}.{key}")
        for key, prop in props.items():
            if key in value:
                self.validate(value[key], prop, _child(path, key))
        for key in s.get("required") or []:
            if key not in value:
                self.errors.append(_Err("required", f"{path}.{key}", f"{path}.{key} in body is required"))


def _same(value: Any, candidate: Any) -> bool:
    """reflect.DeepEqual after converting to the enum value's type (a bool never equals a number)."""
    if isinstance(value, bool) or isinstance(candidate, bool):
        return isinstance(value, bool) and isinstance(candidate, bool) and value == candidate
    return value == candidate and (value is None) == (candidate is None)


# --------------------------------------------------------------------------- to field errors


def _field(prefix: str, name: str) -> str:
    """``fldPath.Child(strings.TrimPrefix(err.Name, "."))``; a nil path prints ``<nil>``."""
    name = name[1:] if name.startswith(".") else name
    if not name:
        return prefix or "<nil>"
    return f"{prefix}.{name}" if prefix else name


def _cause(err: _Err, prefix: str) -> Cause:
    """apiextensions validation.go kubeOpenAPIResultToFieldErrors."""
    where = _field(prefix, err.name)
    if err.code == "required":
        return Cause("FieldValueRequired", "Required value", where)
    if err.code == "enum":
        supported = ", ".join(gofmt.quote(e if isinstance(e, str) else gofmt.json_text(e)) for e in err.valid)
        return Cause("FieldValueNotSupported", f"Unsupported value: {gofmt.bad_value(err.value)}: supported values: "
                                               f"{supported}", where)
    if err.code == "toolong":
        return Cause("FieldValueTooLong", f"Too long: may not be more than {err.valid} bytes", where)
    if err.code in ("maxitems", "maxprops"):
        return Cause("FieldValueTooMany", f"Too many: {err.value}: must have at most {err.valid} items", where)
    if err.code == "composite":
        return Cause("FieldValueInvalid", f'Invalid value: "": {err.message}', prefix or "<nil>")
    value = "" if err.value is None else err.value
    kind = "FieldValueTypeInvalid" if err.code == "type" else "FieldValueInvalid"
    return Cause(kind, f"Invalid value: {gofmt.bad_value(value)}: {err.message}", where)


def validate(value: Any, schema: Schema | None, prefix: str = "") -> list[Cause]:
    """Validate ``value`` against ``schema``; field paths start at ``prefix`` (e.g. ``status`` or a default's path)."""
    if not schema:
        return []
    v = _Validator()
    v.validate(value, schema, "")
    return [_cause(e, prefix) for e in v.errors]
