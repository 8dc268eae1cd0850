"""Go's ``fmt`` renderings of decoded JSON values, as field errors print bad values.

k8s.io/apimachinery/pkg/util/validation/field ``Error.ErrorBody`` prints a bad
value with ``%v`` (int64, float64, bool), ``%q`` (strings) or ``%#v``
(maps and slices of an unstructured object, e.g. ``map[string]interface {}{"a":1}``);
a nil value prints as ``"null"``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


def quote(s: str) -> str:
    """Go ``%q`` / strconv.Quote for the characters manifests hold."""
    escapes = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r",
               "\a": "\\a", "\b": "\\b", "\f": "\\f", "\v": "\\v"}
    out = []
    for ch in s:
        if ch in escapes:
            out.append(escapes[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        elif not ch.isprintable():
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def float_v(value: float) -> str:
    """Go's ``%v`` for a float64: shortest digits, exponent form below 1e-4 or from 1e+06."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    exp10 = len(text) - 1 + int(exponent)
    prefix = "-" if sign else ""
    if exp10 < -4 or exp10 >= 6:  # strconv 'g' with the shortest precision decides with precision 6
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    return prefix + format(Decimal(text).scaleb(exp10 - len(text) + 1), "f")


def sharp_v(value: Any) -> str:
    """Go ``%#v`` of an unstructured JSON value (what a map or slice bad value prints as)."""
    if value is None:
        return "interface {}(nil)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float_v(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, list):
        return "[]interface {}{" + ", ".join(sharp_v(v) for v in value) + "}"
    if isinstance(value, dict):  # fmt sorts map keys
        return "map[string]interface {}{" + ", ".join(f"{quote(k)}:{sharp_v(v)}"
                                                      for k, v in sorted(value.items())) + "}"
    return str(value)


def bad_value(value: Any) -> str:
    """A bad value as ``field.Error.ErrorBody`` prints it: ``%#v``, but a JSON null as the string "null"."""
    return '"null"' if value is None else sharp_v(value)


def json_text(value: Any) -> str:
    """encoding/json's compact form (json.Marshal), e.g. enum values that are not strings."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
