"""Query parameters to options, parsed and validated as kube-apiserver does before any handler runs.

Parsing follows k8s.io/apimachinery/pkg/runtime/conversion.go (int64 with
strconv.ParseInt, so ``limit=null`` is ``strconv.ParseInt: parsing "null":
invalid syntax``; a bool is false only for ``false`` and ``0``), validation
follows apimachinery/pkg/apis/meta/v1/validation (ValidateCreateOptions,
ValidateUpdateOptions, ValidatePatchOptions, ValidateDeleteOptions): a 422
Invalid on ``CreateOptions.meta.k8s.io ""`` and its siblings.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import errors
from .validation import Cause, GoRaw, forbidden, go_quote, invalid_value, not_supported, required, too_long

INT64 = re.compile(r"[+-]?\d+")
FIELD_MANAGER_MAX_LENGTH = 128
FIELD_VALIDATION = ["", "Ignore", "Strict", "Warn"]
PROPAGATION = ["Foreground", "Background", "Orphan", "nil"]


@dataclass
class WriteOptions:
    """Query options of a write: dryRun, fieldManager, fieldValidation, force."""

    dry_run: bool = False
    field_manager: str = ""
    field_validation: str = "Strict"
    force: bool = False
    warnings: list[str] = field(default_factory=list)
    compile_rules: bool = True
    """Compile a CRD's CEL rules on create/update, as kube-apiserver does; False only for the sandbox's own CRD
    documents at start (tests/unit/test_crd_documents.py compiles every rule of them)."""
    user: Any = None
    """Who writes (an auth.users.UserInfo), for the checks that depend on it (RBAC escalation); None: the sandbox
    itself (its controllers and bootstrap)."""
    checked: bool = False
    """The body is the sandbox's own and known valid, so the request decoder's schema check and the kind's validation
    are not run again: the CRD documents it installs at start and Traefik's GatewayClass (the tests run both checks
    on them, tests/unit/test_crd_documents.py and test_startup.py; at each start they were most of a new sandbox's
    time to its first answer), and a stored CRD with the status the naming and establishing controllers add
    (crds.accept_names). Never for what a client sends."""


@dataclass
class DeleteOptions:
    """The DeleteOptions body and query parameters."""

    propagation: str | None = None
    grace_period: int | None = None
    preconditions: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False


def int64(query: Mapping[str, str], name: str) -> int | None:
    """An int64 parameter (None when absent), or the 400 strconv.ParseInt gives."""
    text = query.get(name)
    if text is None:
        return None
    if not INT64.fullmatch(text):
        raise errors.bad_request(f'strconv.ParseInt: parsing {go_quote(text)}: invalid syntax')
    value = int(text)
    if not -(1 << 63) <= value < 1 << 63:
        raise errors.bad_request(f'strconv.ParseInt: parsing {go_quote(text)}: value out of range')
    return value


def boolean(query: Mapping[str, str], name: str) -> bool | None:
    """A bool parameter (None when absent): only ``false`` and ``0`` are false (Convert_Slice_string_To_bool)."""
    text = query.get(name)
    if text is None:
        return None
    return text.lower() not in ("false", "0")


def dry_run(query: Any) -> list[str]:
    """Every ``dryRun`` value given (the parameter repeats)."""
    return list(query.getall("dryRun", [])) if hasattr(query, "getall") else (
        [query["dryRun"]] if "dryRun" in query else [])


def _go_string_slice(values: list[str]) -> GoRaw:
    return GoRaw("[]string{" + ", ".join(go_quote(v) for v in values) + "}")


def _dry_run_causes(values: list[str]) -> list[Cause]:
    if all(v == "All" for v in values):
        return []
    return [not_supported("dryRun", _go_string_slice(values), ["All"])]


def _field_manager_causes(manager: str) -> list[Cause]:
    causes = []
    if len(manager.encode()) > FIELD_MANAGER_MAX_LENGTH:
        causes.append(too_long("fieldManager", FIELD_MANAGER_MAX_LENGTH))
    for i, ch in enumerate(manager):
        if not _go_is_print(ch):
            causes.append(invalid_value("fieldManager", manager,
                                        f"invalid character {_go_unicode(ch)} (at position {i})"))
    return causes


def _go_is_print(ch: str) -> bool:
    """unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space."""
    return ch == " " or unicodedata.category(ch)[0] in "LMNPS"


def _go_unicode(ch: str) -> str:
    """Go's %#U: ``U+0007`` (and ``'x'`` after it when printable)."""
    return f"U+{ord(ch):04X}"


def validate_write(kind: str, query: Any, field_manager: str, patch_type: str | None = None) -> None:
    """ValidateCreateOptions / ValidateUpdateOptions / ValidatePatchOptions: 422 on ``<kind>.meta.k8s.io ""``."""
    causes: list[Cause] = []
    if patch_type is not None:
        if patch_type != "apply" and "force" in query:
            causes.append(forbidden("force", "may not be specified for non-apply patch"))
        if patch_type == "apply" and not field_manager:
            causes.append(required("fieldManager", "is required for apply patch"))
    causes += _field_manager_causes(field_manager)
    causes += _dry_run_causes(dry_run(query))
    validation = query.get("fieldValidation", "")
    if validation not in FIELD_VALIDATION:
        causes.append(not_supported("fieldValidation", validation, FIELD_VALIDATION))
    if causes:
        raise errors.invalid(kind, "meta.k8s.io", "", causes)


def validate_delete(propagation: str | None, orphan: bool | None, dry_run_values: list[str]) -> None:
    """ValidateDeleteOptions: 422 on ``DeleteOptions.meta.k8s.io ""``."""
    causes: list[Cause] = []
    if orphan is not None and propagation is not None:
        causes.append(invalid_value("propagationPolicy", propagation,
                                    "orphanDependents and deletionPropagation cannot be both set"))
    if propagation is not None and propagation not in PROPAGATION[:3]:
        causes.append(not_supported("propagationPolicy", propagation, PROPAGATION))
    causes += _dry_run_causes(dry_run_values)
    if causes:
        raise errors.invalid("DeleteOptions", "meta.k8s.io", "", causes)
