"""Copies of JSON data: what the API server stores, validates and returns is dicts, lists and scalars only.

``copy.deepcopy`` walks any Python object and keeps a memo of what it has seen; for JSON documents that is
wasted work, and the API server copies large ones on every write (a CRD's schema, several hundred kilobytes, is
copied half a dozen times as it is decoded, defaulted, validated, tracked in managedFields and stored): this
copy is about three times faster. Anything that is not JSON is handed to ``copy.deepcopy``.
"""

from __future__ import annotations

import copy
from typing import TypeVar

T = TypeVar("T")
_SCALARS = (str, int, float, bool, type(None))


def clone(obj: T) -> T:
    """A deep copy of ``obj``; shared sub-documents become separate copies (JSON has no references).

    A document that contains itself (YAML can say so: ``a: &a [*a]``) is copied by ``copy.deepcopy``, whose memo
    keeps the cycle, so it reaches the same validation as before.
    """
    try:
        return _clone(obj)
    except RecursionError:
        return copy.deepcopy(obj)


def _clone(obj: T) -> T:
    kind = type(obj)
    if kind is dict:
        return {k: v if type(v) in _SCALARS else _clone(v) for k, v in obj.items()}  # type: ignore[attr-defined,return-value]
    if kind is list:
        return [v if type(v) in _SCALARS else _clone(v) for v in obj]  # type: ignore[attr-defined,return-value]
    if kind in _SCALARS:
        return obj
    return copy.deepcopy(obj)
