"""API errors, one class per HTTP status the API server answers with.

Raised by the store, validation, patching and handlers; the HTTP layer turns
them into a ``Status`` object exactly as kube-apiserver shapes it
(k8s.io/apimachinery/pkg/api/errors).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Cause:
    """One field-level cause of an error (``StatusCause``)."""

    type: str
    message: str
    field: str = ""

    def to_dict(self) -> dict[str, str]:
        out = {"reason": self.type, "message": self.message}
        if self.field:
            out["field"] = self.field
        return out


@dataclass
class ApiError(Exception):
    """An error with the HTTP code, reason and message of a kube-apiserver Status."""

    message: str
    code: int = 500
    reason: str = "InternalError"
    details: dict[str, Any] = field(default_factory=dict)
    keep_details: bool = False
    """Send ``details`` even when empty (a 403 for a non-resource path has ``"details":{}``)."""

    def __str__(self) -> str:
        return self.message

    def status(self) -> dict[str, Any]:
        """The ``Status`` body sent to clients."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details or self.keep_details:  # metav1.Status's order: ..., reason, details, code (kept by the encoder)
            body["details"] = self.details
        body["code"] = self.code
        return body


def _details(kind: str, name: str, group: str = "", causes: list[Cause] | None = None) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "group": group, "kind": kind}  # StatusDetails's field order
    if causes:
        details["causes"] = [c.to_dict() for c in causes]
    return {k: v for k, v in details.items() if v != ""}


def qualified(resource: str, group: str) -> str:
    """``deployments.apps`` style resource name used in messages."""
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, group: str, name: str) -> ApiError:
    return ApiError(f'{qualified(resource, group)} "{name}" not found', 404, "NotFound", _details(resource, name, group))


def already_exists(resource: str, group: str, name: str) -> ApiError:
    return ApiError(f'{qualified(resource, group)} "{name}" already exists', 409, "AlreadyExists",
                    _details(resource, name, group))


def conflict(resource: str, group: str, name: str, why: str) -> ApiError:
    return ApiError(f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": {why}', 409, "Conflict",
                    _details(resource, name, group))


def stale(resource: str, group: str, name: str) -> ApiError:
    return conflict(resource, group, name,
                    "the object has been modified; please apply your changes to the latest version and try again")


def invalid(kind: str, group: str, name: str, causes: list[Cause]) -> ApiError:
    """422 Invalid: ``Service "bad" is invalid: spec.ports[0].port: Invalid value: 0: ...``."""
    parts = [f"{c.field}: {c.message}" if c.field else c.message for c in causes]
    summary = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    qualified_kind = f"{kind}.{group}" if group else kind
    return ApiError(f'{qualified_kind} "{name}" is invalid: {summary}', 422, "Invalid",
                    _details(kind, name, group, causes))


def bad_request(message: str, causes: list[Cause] | None = None) -> ApiError:
    details = {"causes": [c.to_dict() for c in causes]} if causes else {}
    return ApiError(message, 400, "BadRequest", details)


def unauthorized() -> ApiError:
    return ApiError("Unauthorized", 401, "Unauthorized")


def forbidden(message: str) -> ApiError:
    return ApiError(message, 403, "Forbidden")


def method_not_allowed(message: str) -> ApiError:
    return ApiError(message, 405, "MethodNotAllowed")


def gone(message: str) -> ApiError:
    return ApiError(message, 410, "Expired")


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(f'the body of the request was in an unknown format - accepted media types include: '
                    f'application/json-patch+json, application/merge-patch+json, '
                    f'application/apply-patch+yaml, application/strategic-merge-patch+json '
                    f'(got "{content_type}")', 415, "UnsupportedMediaType")


def not_acceptable(message: str) -> ApiError:
    return ApiError(message, 406, "NotAcceptable")


def field_error(kind: str, detail: str, path: str, value: Any = None, *, required: bool = False,
                not_supported: list[str] | None = None, forbidden_: bool = False, duplicate: bool = False,
                immutable: bool = False) -> Cause:
    """Build a field Cause worded as k8s.io/apimachinery/pkg/util/validation/field does."""
    if required:
        return Cause("FieldValueRequired", "Required value" + (f": {detail}" if detail else ""), path)
    if forbidden_:
        return Cause("FieldValueForbidden", "Forbidden" + (f": {detail}" if detail else ""), path)
    if duplicate:
        return Cause("FieldValueDuplicate", f"Duplicate value: {_fmt(value)}", path)
    if not_supported is not None:
        options = ", ".join(f'"{o}"' for o in not_supported)
        return Cause("FieldValueNotSupported", f"Unsupported value: {_fmt(value)}: supported values: {options}", path)
    if immutable:
        return Cause("FieldValueInvalid", f"Invalid value: {_fmt(value)}: field is immutable", path)
    return Cause("FieldValueInvalid", f"Invalid value: {_fmt(value)}" + (f": {detail}" if detail else ""), path)


def _fmt(value: Any) -> str:
    """Format a value the way field.Error does (%q for strings, %v otherwise)."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return "{...}" if isinstance(value, dict) else "[...]"
    return str(value)
