"""Custom objects: what kube-apiserver's CRD handler does to them on the way in and out.

One :class:`ServedVersion` per served CRD version (built by crds.py) carries the
facts the handler needs. The steps follow k8s.io/apiextensions-apiserver:

* decoding (apiserver/customresource_handler.go ``unstructuredSchemaCoercer``):
  metadata decoded as ObjectMeta, unknown fields pruned with ``unknown field
  "spec.foo"`` (a 400 with fieldValidation=Strict, a Warning with Warn), non-nullable
  nulls dropped; defaults are applied on every write and on every read from storage;
* validation (registry/customresource/strategy.go and validator.go): the OpenAPI
  schema, scale replicas paths, embedded resources, list-type uniqueness, then the
  CEL rules -- skipped, with upstream's "some validation rules were not checked"
  error, when the object already has type/required/enum/size errors;
* versions with conversion strategy None: stored in the storage version, served in
  the requested one by rewriting apiVersion (and pruning to that version's schema);
* the status subresource: /status validates only status; the scale subresource
  reads and writes the CRD's replicas paths.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import openapivalidation, structural, validation
from .errors import Cause, bad_request
from .jsoncopy import clone
from .registry import ResourceType, kube_aware_key
from .schema import SchemaSet

if TYPE_CHECKING:
    from . import celrules

Obj = dict[str, Any]
Schema = dict[str, Any]

MAX_INT32 = 2**31 - 1
BLOCKING = {"FieldValueNotSupported", "FieldValueRequired", "FieldValueTooLong", "FieldValueTooMany",
            "FieldValueTypeInvalid"}
"""strategy.go hasBlockingErr: these schema errors keep the CEL rules from running."""
NOT_CHECKED = Cause("FieldValueInvalid", 'Invalid value: "null": some validation rules were not checked because the '
                                         "object was invalid; correct the existing errors to complete validation",
                    "<nil>")


@dataclass
class ServedVersion:
    """One served version of a CRD, as the handler serves it."""

    crd: str
    uid: str
    rt: ResourceType
    schema: Schema | None
    storage_version: str
    storage_schema: Schema | None
    status: bool = False
    scale: dict[str, Any] | None = None
    columns: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """Warnings every request to this version answers with (a deprecated version's deprecationWarning)."""
    terminating: bool = False
    preserve_unknown: bool = False
    _rules: celrules.RuleSet | None = field(default=None, repr=False)

    @property
    def storage_api_version(self) -> str:
        return f"{self.rt.group}/{self.storage_version}"

    def rules(self) -> celrules.RuleSet | None:
        """The version's CEL rules, compiled on first use (a sandbox with many CRDs starts without compiling)."""
        if self._rules is None and self.schema is not None and _has_rules(self.schema):
            from . import celrules  # cel-python and lark: imported by the first CRD with rules, not at start

            self._rules = celrules.RuleSet(self.schema)
        return self._rules


def _has_rules(s: Any) -> bool:
    if isinstance(s, dict):
        return bool(s.get("x-kubernetes-validations")) or any(_has_rules(v) for v in s.values())
    if isinstance(s, list):
        return any(_has_rules(v) for v in s)
    return False


# --------------------------------------------------------------------------- decoding


def decode(sv: ServedVersion, obj: Obj, schemas: SchemaSet, mode: str) -> list[str]:
    """The decoding stage of a request body (or a patched object): metadata, pruning, nulls.

    Returns the ``unknown field`` warnings (Warn); raises 400 for Strict.
    """
    warnings = validation.check_object_meta(obj, schemas, kind=sv.rt.kind, mode=mode)
    if sv.preserve_unknown:
        return warnings
    unknown = structural.prune(obj, sv.schema, root=True)
    structural.prune_nulls(obj, sv.schema)
    problems = [f'unknown field "{p}"' for p in unknown]
    if problems and mode.lower() == "strict":
        version = sv.rt.version
        raise bad_request(f'{sv.rt.kind} in version "{version}" cannot be handled as a {sv.rt.kind}: '
                          "strict decoding error: " + ", ".join(problems))
    if mode.lower() == "warn":
        warnings += problems
    return warnings


def default(sv: ServedVersion, obj: Obj) -> None:
    """Apply the version's schema defaults (on create and update, after status handling)."""
    structural.default(obj, sv.schema)


# --------------------------------------------------------------------------- validation


def _nested_int(obj: Obj, path: str) -> tuple[Any, str | None]:
    """unstructured.NestedInt64 along a ``.a.b`` path: (value, error text)."""
    fields = path.lstrip(".").split(".")
    cur: Any = obj
    for name in fields:
        if not isinstance(cur, dict) or name not in cur:
            return 0, None
        cur = cur[name]
    if isinstance(cur, bool) or not isinstance(cur, int):
        return 0, (f"{'.' + '.'.join(fields)} accessor error: {_go_v(cur)} is of the type {_go_type(cur)}, "
                   "expected int64")
    return cur, None


def _go_v(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    return str(value)


def _go_type(value: Any) -> str:
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, dict):
        return "map[string]interface {}"
    return "<nil>" if value is None else type(value).__name__


def _replicas_errors(obj: Obj, path: str) -> list[Cause]:
    value, error = _nested_int(obj, path)
    if error:
        return [Cause("FieldValueInvalid", f"Invalid value: {value}: {error}", path)]
    if value < 0:
        return [Cause("FieldValueInvalid", f"Invalid value: {value}: should be a non-negative integer", path)]
    if value > MAX_INT32:
        return [Cause("FieldValueInvalid", f"Invalid value: {value}: should be less than or equal to {MAX_INT32}",
                      path)]
    return []


def _scale_errors(sv: ServedVersion, obj: Obj, spec: bool) -> list[Cause]:
    """validator.go ValidateScaleSpec / ValidateScaleStatus."""
    if sv.scale is None:
        return []
    errs: list[Cause] = []
    if spec:
        errs += _replicas_errors(obj, sv.scale.get("specReplicasPath") or ".spec.replicas")
    errs += _replicas_errors(obj, sv.scale.get("statusReplicasPath") or ".status.replicas")
    selector_path = sv.scale.get("labelSelectorPath")
    if selector_path:
        cur: Any = obj
        for name in selector_path.lstrip(".").split("."):
            cur = cur.get(name) if isinstance(cur, dict) else None
        if cur is not None and not isinstance(cur, str):
            errs.append(Cause("FieldValueInvalid", f'Invalid value: "": {selector_path} accessor error: {_go_v(cur)} '
                                                   f"is of the type {_go_type(cur)}, expected string", selector_path))
    return errs


def _meta_errors(meta: Obj, path: str) -> list[Cause]:
    """ValidateObjectMeta of an embedded resource (a missing name is fine there)."""
    meta = dict(meta)
    if not meta.get("name"):
        meta["name"] = "fakename"
    causes = validation.validate_object_meta(meta, bool(meta.get("namespace")), validation.is_dns1123_subdomain)
    return [Cause(c.type, c.message, path + c.field[len("metadata"):]) for c in causes
            if "neither a standard finalizer name" not in c.message]


def meta_causes(rt: ResourceType, obj: Obj, old: Obj | None) -> list[Cause]:
    """ObjectMeta validation as apimachinery runs it for custom objects (finalizer names only warn)."""
    return [c for c in validation.object_meta_causes(rt, obj, old)
            if "neither a standard finalizer name" not in c.message]


def validate(sv: ServedVersion, obj: Obj, old: Obj | None, subresource: str = "") -> tuple[list[Cause], list[str]]:
    """customResourceStrategy.Validate / ValidateUpdate, or statusStrategy.ValidateUpdate for ``/status``.

    Returns the field errors (in upstream's order) and warnings (finalizer names, CEL rules not enforced here).
    """
    errs: list[Cause] = meta_causes(sv.rt, obj, old)
    warnings: list[str] = []
    if subresource == "status":
        if "status" in obj:
            status_schema = ((sv.schema or {}).get("properties") or {}).get("status")
            errs += openapivalidation.validate(obj["status"], status_schema, "status")
        errs += _scale_errors(sv, obj, spec=False)
    else:
        errs += openapivalidation.validate(obj, sv.schema)
        errs += _scale_errors(sv, obj, spec=True)
        errs += structural.embedded_errors(obj, sv.schema, "", _meta_errors)
        warnings += finalizer_warnings(obj, old)
    if old is None or not structural.list_errors(old, sv.schema):
        errs += structural.list_errors(obj, sv.schema)
    rules = sv.rules()
    if rules is not None:
        if any(c.type in BLOCKING for c in errs):
            errs.append(NOT_CHECKED)
        else:
            outcome = rules.validate(obj, old)
            errs += outcome.causes
            warnings += outcome.warnings
    return errs, warnings


def finalizer_warnings(obj: Obj, old: Obj | None) -> list[str]:
    """strategy.go generateWarningsFromObj: finalizers added without a domain-qualified name."""
    new = set(((obj.get("metadata") or {}).get("finalizers")) or [])
    if old is not None:
        new -= set(((old.get("metadata") or {}).get("finalizers")) or [])
    out = []
    for name in sorted(new):
        for msg in validation.is_qualified_name(name):
            out.append(f'metadata.finalizers: "{name}": {msg}')
        if "/" not in name and name not in validation.STANDARD_FINALIZERS:
            hint = " including a path (/)" if "." in name else ""
            out.append(f'metadata.finalizers: "{name}": prefer a domain-qualified finalizer name{hint} to avoid '
                       "accidental conflicts with other finalizer writers")
    return out


# --------------------------------------------------------------------------- versions


def view(sv: ServedVersion, stored: Obj) -> Obj:
    """A stored object as this version serves it: read-time pruning and defaulting with the schema of the version
    it was stored in, then apiVersion rewritten (conversion strategy None) and pruned to this version's schema."""
    obj = clone(stored)
    stored_version = str(obj.get("apiVersion") or "").rsplit("/", 1)[-1]
    stored_schema = sv.storage_schema if stored_version == sv.storage_version else sv.schema
    if not sv.preserve_unknown:
        structural.prune(obj, stored_schema, root=True)
    structural.default(obj, stored_schema)
    if obj.get("apiVersion") != sv.rt.api_version:
        obj["apiVersion"] = sv.rt.api_version
        if not sv.preserve_unknown:
            structural.prune(obj, sv.schema, root=True)
    return obj


def to_storage(sv: ServedVersion, obj: Obj) -> Obj:
    """The object as it is stored: in the storage version (apiVersion rewritten, pruned to its schema)."""
    if obj.get("apiVersion") == sv.storage_api_version:
        return obj
    obj["apiVersion"] = sv.storage_api_version
    if not sv.preserve_unknown:
        structural.prune(obj, sv.storage_schema, root=True)
    return obj


# --------------------------------------------------------------------------- scale


def _path(obj: Obj, path: str) -> Any:
    cur: Any = obj
    for name in path.lstrip(".").split("."):
        cur = cur.get(name) if isinstance(cur, dict) else None
    return cur


def scale_of(sv: ServedVersion, obj: Obj) -> Obj:
    """etcd.go scaleFromCustomResource: the autoscaling/v1 Scale of a custom object."""
    assert sv.scale is not None
    meta = obj["metadata"]
    spec_replicas = _path(obj, sv.scale.get("specReplicasPath") or "")
    status_replicas = _path(obj, sv.scale.get("statusReplicasPath") or "")
    selector = _path(obj, sv.scale["labelSelectorPath"]) if sv.scale.get("labelSelectorPath") else ""
    status: Obj = {"replicas": status_replicas if isinstance(status_replicas, int) else 0}
    if selector:
        status["selector"] = selector
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                         if k in meta},
            "spec": {"replicas": spec_replicas if isinstance(spec_replicas, int) else 0},
            "status": status}


def set_replicas(sv: ServedVersion, obj: Obj, replicas: int) -> Obj:
    """The object with ``replicas`` at the CRD's specReplicasPath (scaleUpdatedObjectInfo.UpdatedObject)."""
    assert sv.scale is not None
    out = clone(obj)
    names = (sv.scale.get("specReplicasPath") or ".spec.replicas").lstrip(".").split(".")
    cur = out
    for name in names[:-1]:
        if not isinstance(cur.get(name), dict):
            cur[name] = {}
        cur = cur[name]
    cur[names[-1]] = replicas
    return out


def deprecation_warning(group: str, version: Obj, versions: list[Obj], kind: str) -> str:
    """customresource_handler.go defaultDeprecationWarning: ``<group>/<v> <Kind> is deprecated; use ...``."""
    name = version.get("name", "")
    msg = f"{group}/{name} {kind} is deprecated"
    newer = [v.get("name", "") for v in versions if v.get("served") and not v.get("deprecated")
             and kube_aware_key(name) > kube_aware_key(v.get("name", ""))]
    if newer:
        msg += f"; use {group}/{sorted(newer, key=kube_aware_key)[0]} {kind}"
    return msg


def selectable_fields(version: Obj) -> tuple[str, ...]:
    """A version's selectableFields as field selector labels (``.spec.color`` → ``spec.color``)."""
    return tuple(re.sub(r"^\.", "", str(f.get("jsonPath", ""))) for f in version.get("selectableFields") or []
                 if f.get("jsonPath"))
