"""CustomResourceDefinitions: turning stored CRDs into served resources, and back.

The sandbox's stand-in for apiextensions-apiserver's controllers and CRD registry
(k8s.io/apiextensions-apiserver/pkg/registry/customresourcedefinition and
pkg/controller/{status,establish,finalizer}):

* defaults and status on write (strategy.go PrepareForCreate/PrepareForUpdate,
  apis/apiextensions/v1/defaults.go); validation is crdvalidation.py;
* names and conditions (naming_controller.go, establishing_controller.go): after
  each committed write the apiserver itself (field manager ``kube-apiserver``,
  subresource status) sets ``status.acceptedNames`` and the conditions
  NamesAccepted (``NoConflicts``, or ``PluralConflict`` ... with ``"x" is already in
  use``) and Established (``InitialNamesAccepted``) -- synchronously, in the same
  request, so a CRD is usable the moment its write returns (upstream's controllers
  take milliseconds to seconds);
* serving: a store listener keeps the Registry (one ResourceType per served
  version), the SchemaSet (the OpenAPI definition kubectl explain and apply read)
  and the :class:`~.customresources.ServedVersion` table equal to the stored CRDs,
  at start-up, on every change and after a reset: memory equals disk;
* deletion (etcd.go Delete, crd_finalizer.go): the first delete marks the CRD
  Terminating with the ``customresourcecleanup.apiextensions.k8s.io`` finalizer and
  deletes every instance *in the same request*; when all are gone the CRD goes too.
  Instances held by their own finalizers keep the CRD Terminating
  (InstanceDeletionInProgress) until the CRD controller sees them gone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import crdvalidation, customresources, errors, structural, validation
from .customresources import ServedVersion
from .jsoncopy import clone
from .openapi import API_VERSION_DESC, KIND_DESC
from .options import DeleteOptions, WriteOptions
from .registry import CRD_VERBS, TERMINATING_CRD_VERBS, Registry, ResourceType
from .schema import SchemaSet
from .store import Event, Store

if TYPE_CHECKING:
    from .apiserver import Api

Obj = dict[str, Any]
Schema = dict[str, Any]

GROUP = "apiextensions.k8s.io"
CRD_RESOURCE = f"customresourcedefinitions.{GROUP}"
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
OBJECT_META_REF = "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
METADATA_DESC = ("Standard object's metadata. More info: "
                 "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata")
EMBEDDED_API_VERSION_DESC = ("apiVersion defines the versioned schema of this representation of an object. More info: "
                             "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md"
                             "#resources")
EMBEDDED_KIND_DESC = ("kind is a string value representing the type of this object. In CamelCase. More info: "
                      "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds")


# --------------------------------------------------------------------------- conditions


def condition(crd: Obj, ctype: str) -> Obj | None:
    for c in (crd.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def is_true(crd: Obj, ctype: str) -> bool:
    c = condition(crd, ctype)
    return c is not None and c.get("status") == "True"


def set_condition(crd: Obj, new: Obj, now: str) -> None:
    """apihelpers.SetCRDCondition: replace the condition of that type; its time moves only when its status does."""
    conditions = crd.setdefault("status", {}).setdefault("conditions", [])
    for c in conditions:
        if c.get("type") == new["type"]:
            if c.get("status") != new["status"] or not c.get("lastTransitionTime"):
                c["lastTransitionTime"] = now
            c["status"], c["reason"], c["message"] = new["status"], new.get("reason", ""), new.get("message", "")
            return
    conditions.append({"type": new["type"], "status": new["status"], "lastTransitionTime": now,
                       "reason": new.get("reason", ""), "message": new.get("message", "")})


# --------------------------------------------------------------------------- status on write


def storage_version(crd: Obj) -> str:
    for v in (crd.get("spec") or {}).get("versions") or []:
        if v.get("storage"):
            return str(v.get("name") or "")
    return ""


def _add_stored_version(crd: Obj) -> None:
    stored = crd.setdefault("status", {}).setdefault("storedVersions", [])
    version = storage_version(crd)
    if version and version not in stored:
        stored.append(version)


def prepare_create(crd: Obj) -> None:
    """strategy.go PrepareForCreate: the status starts empty but for the storage version (defaults.py has
    defaulted the spec)."""
    crd["status"] = {"acceptedNames": {"plural": "", "kind": ""}, "storedVersions": []}
    _add_stored_version(crd)


def prepare_update(crd: Obj, old: Obj) -> None:
    """strategy.go PrepareForUpdate: a new storage version joins storedVersions (the handler has already kept the
    old status on a main-resource write)."""
    _add_stored_version(crd)


# --------------------------------------------------------------------------- the OpenAPI definition


def definition_name(group: str, version: str, kind: str) -> str:
    """The component name apiextensions publishes a CRD kind under: reversed group, version, kind."""
    return ".".join([*reversed(group.split(".")), version, kind])


def _unfold(s: Any) -> None:
    """schema.Unfold: an int-or-string node gains ``anyOf: [{type: integer}, {type: string}]``."""
    if not isinstance(s, dict):
        return
    if s.get("x-kubernetes-int-or-string") and "anyOf" not in s and not structural.is_int_or_string_all_of(s):
        if s.get("allOf") is not None:
            s["allOf"] = [{"anyOf": [{"type": "integer"}, {"type": "string"}]}, *s["allOf"]]
        else:
            s["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    for prop in (s.get("properties") or {}).values():
        _unfold(prop)
    for name in ("items", "additionalProperties"):
        _unfold(s.get(name))


def _embedded_properties(s: Any) -> None:
    """builder.go addEmbeddedProperties: an embedded resource publishes apiVersion, kind and ObjectMeta."""
    if not isinstance(s, dict):
        return
    for prop in (s.get("properties") or {}).values():
        _embedded_properties(prop)
    for name in ("items", "additionalProperties"):
        _embedded_properties(s.get(name))
    if s.get("x-kubernetes-embedded-resource"):
        props = s.setdefault("properties", {})
        props["apiVersion"] = {"type": "string", "description": EMBEDDED_API_VERSION_DESC}
        props["kind"] = {"type": "string", "description": EMBEDDED_KIND_DESC}
        props["metadata"] = {"$ref": OBJECT_META_REF, "description": METADATA_DESC}
        required = list(s.get("required") or [])
        s["required"] = required + [k for k in ("kind", "apiVersion") if k not in required]


def definition(group: str, version: str, kind: str, schema: Schema | None) -> Schema:
    """builder.go buildKubeNative (v3): the version's schema, unfolded, with TypeMeta and ObjectMeta and its GVK."""
    node = clone(schema) if schema else {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    _unfold(node)
    _embedded_properties(node)
    props = node.setdefault("properties", {})
    props["metadata"] = {"$ref": OBJECT_META_REF, "description": METADATA_DESC}
    props["apiVersion"] = {"type": "string", "description": API_VERSION_DESC}
    props["kind"] = {"type": "string", "description": KIND_DESC}
    node["x-kubernetes-group-version-kind"] = [{"group": group, "kind": kind, "version": version}]
    return node


# --------------------------------------------------------------------------- the service


class CustomResourceDefinitions:
    """The CRDs a sandbox serves: its registry entries, schema definitions and served-version table."""

    def __init__(self, store: Store, registry: Registry, schemas: SchemaSet):
        self.store = store
        self.registry = registry
        self.schemas = schemas
        self.served: dict[tuple[str, str, str], ServedVersion] = {}
        self._definitions: dict[str, list[str]] = {}  # CRD name → its SchemaSet definition names
        store.subscribe(self.on_event)
        self.rebuild()

    # -- memory follows the store ------------------------------------------------------

    def rebuild(self) -> None:
        """Serve exactly the stored CRDs (start-up, reset)."""
        for name in list(self._definitions):
            self.forget(name)
        for crd in self.store.list(CRD_RESOURCE):
            self.sync(crd)

    def on_event(self, event: Event) -> None:
        if event.resource != CRD_RESOURCE:
            return
        if event.type == "DELETED":
            self.forget(event.obj["metadata"]["name"])
        else:
            self.sync(event.obj)

    def forget(self, name: str) -> None:
        self.registry.remove_crd(name)
        self.schemas.remove(self._definitions.pop(name, []))
        self.served = {k: sv for k, sv in self.served.items() if sv.crd != name}

    def sync(self, crd: Obj) -> None:
        """Serve each served version of an Established CRD, under its accepted names (the crdHandler and the
        DiscoveryController serve only Established CRDs)."""
        name = crd["metadata"]["name"]
        self.forget(name)
        if not is_true(crd, "Established"):
            return
        spec = crd.get("spec") or {}
        accepted = (crd.get("status") or {}).get("acceptedNames") or {}
        group = spec.get("group", "")
        terminating = is_true(crd, "Terminating")
        storage = storage_version(crd)
        versions = spec.get("versions") or []
        storage_schema = crdvalidation.schema_of(crd, storage)
        names: list[str] = []
        for v in versions:
            if not v.get("served"):
                continue
            subs = v.get("subresources") or {}
            rt = ResourceType(group, v["name"], accepted.get("plural", ""), accepted.get("kind", ""),
                              namespaced=spec.get("scope") == "Namespaced",
                              short_names=tuple(accepted.get("shortNames") or ()),
                              categories=tuple(accepted.get("categories") or ()),
                              verbs=TERMINATING_CRD_VERBS if terminating else CRD_VERBS,
                              subresources=tuple(s for s in ("status", "scale") if subs.get(s) is not None),
                              field_selectors=customresources.selectable_fields(v),
                              crd=name, singular_name=accepted.get("singular", ""), storage_version=storage)
            schema = ((v.get("schema") or {}).get("openAPIV3Schema")) or None
            warnings = []
            if v.get("deprecated"):
                warnings.append(v.get("deprecationWarning") or customresources.deprecation_warning(
                    group, v, versions, accepted.get("kind", "")))
            self.registry.add(rt)
            def_name = definition_name(group, v["name"], rt.kind)
            self.schemas.add({def_name: definition(group, v["name"], rt.kind, schema)})
            names.append(def_name)
            self.served[(group, v["name"], rt.plural)] = ServedVersion(
                crd=name, uid=crd["metadata"].get("uid", ""), rt=rt, schema=schema, storage_version=storage,
                storage_schema=storage_schema, status=subs.get("status") is not None, scale=subs.get("scale"),
                columns=list(v.get("additionalPrinterColumns") or []), warnings=warnings, terminating=terminating,
                preserve_unknown=bool(spec.get("preserveUnknownFields")))
        self._definitions[name] = names

    def lookup(self, rt: ResourceType) -> ServedVersion | None:
        """The served version behind a registered custom resource type (None for built-in kinds)."""
        if not rt.crd:
            return None
        return self.served.get((rt.group, rt.version, rt.plural))

    # -- validation -----------------------------------------------------------------------

    def validate(self, crd: Obj, old: Obj | None, subresource: str,
                 compile_rules: bool = True) -> tuple[list[errors.Cause], list[str]]:
        """ValidateCustomResourceDefinition(Update); a /status write checks only metadata (ValidateUpdate...Status)."""
        if subresource == "status" and old is not None:
            return validation.validate_object_meta_update(crd.get("metadata") or {}, old.get("metadata") or {}), []
        return crdvalidation.validate(crd, old, is_true(old or {}, "Established"), compile_rules)

    # -- names and conditions ---------------------------------------------------------------

    def _used_names(self, crd: Obj) -> tuple[set[str], set[str]]:
        """naming_controller.go getAcceptedNamesForGroup: resource and kind names other CRDs (and the sandbox's
        built-in registrations) hold in the CRD's group."""
        group = (crd.get("spec") or {}).get("group", "")
        resources: set[str] = set()
        kinds: set[str] = set()
        me = crd["metadata"]["name"]
        for other in self.store.list(CRD_RESOURCE):
            if other["metadata"]["name"] == me or (other.get("spec") or {}).get("group") != group:
                continue
            accepted = (other.get("status") or {}).get("acceptedNames") or {}
            resources |= {accepted.get("plural", ""), accepted.get("singular", ""),
                          *(accepted.get("shortNames") or [])}
            kinds |= {accepted.get("kind", ""), accepted.get("listKind", "")}
        for rt in self.registry.types:
            if rt.group == group and not rt.crd:
                resources |= {rt.plural, rt.singular, *rt.short_names}
                kinds |= {rt.kind, rt.list_kind}
        resources.discard("")
        kinds.discard("")
        return resources, kinds

    def names_and_conditions(self, crd: Obj) -> tuple[Obj, Obj, Obj]:
        """calculateNamesAndConditions, with the establishing controller's step folded in."""
        resources, kinds = self._used_names(crd)
        requested = (crd.get("spec") or {}).get("names") or {}
        accepted = (crd.get("status") or {}).get("acceptedNames") or {}
        new = dict(accepted)
        cond: Obj = {"type": "NamesAccepted", "status": "Unknown"}

        def check(name: str, was: str, used: set[str], reason: str) -> bool:
            if name == was or name not in used:
                return True
            cond.update(status="False", reason=reason, message=f'"{name}" is already in use')
            return False

        for field_name, reason, used in (("plural", "PluralConflict", resources),
                                         ("singular", "SingularConflict", resources)):
            if check(requested.get(field_name, ""), accepted.get(field_name, ""), used, reason):
                new[field_name] = requested.get(field_name, "")
        if list(requested.get("shortNames") or []) != list(accepted.get("shortNames") or []):
            mine = set(accepted.get("shortNames") or [])
            taken = [s for s in requested.get("shortNames") or [] if s not in mine and s in resources]
            if taken:
                messages = [f'"{s}" is already in use' for s in taken]
                cond.update(status="False", reason="ShortNamesConflict",
                            message=messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]")
            else:
                new["shortNames"] = list(requested.get("shortNames") or [])
        for field_name, reason in (("kind", "KindConflict"), ("listKind", "ListKindConflict")):
            if check(requested.get(field_name, ""), accepted.get(field_name, ""), kinds, reason):
                new[field_name] = requested.get(field_name, "")
        if requested.get("categories"):
            new["categories"] = list(requested["categories"])
        else:
            new.pop("categories", None)
        if not new.get("shortNames"):
            new.pop("shortNames", None)
        if cond["status"] == "Unknown":
            cond.update(status="True", reason="NoConflicts", message="no conflicts found")
        established = condition(crd, "Established")
        if established is None or established.get("status") != "True":
            if cond["status"] == "True":  # establishing_controller.go
                established = {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                               "message": "the initial names have been accepted"}
            elif established is None:
                established = {"type": "Established", "status": "False", "reason": "NotAccepted",
                               "message": "not all names are accepted"}
        return _ordered_names(new), cond, dict(established)

    def accept_names(self, api: Api, crd: Obj) -> Obj:
        """After a committed CRD write: the status the naming and establishing controllers would write, written
        by ``kube-apiserver`` through the status subresource. Returns the CRD as stored."""
        if crd["metadata"].get("deletionTimestamp"):
            return crd
        names, named, established = self.names_and_conditions(crd)
        now = api.now()
        updated = clone(crd)
        updated.setdefault("status", {})["acceptedNames"] = names
        set_condition(updated, named, now)
        set_condition(updated, established, now)
        if updated.get("status") == crd.get("status"):
            return crd
        status = updated["status"]  # CustomResourceDefinitionStatus's field order
        updated["status"] = {k: status[k] for k in ("conditions", "acceptedNames", "storedVersions") if k in status}
        rt = self.registry.lookup(GROUP, "v1", "customresourcedefinitions")
        return api.update(rt, "", crd["metadata"]["name"], updated,  # the stored CRD, and a status made here
                          WriteOptions(field_manager="kube-apiserver", checked=True), "status")

    # -- deletion ----------------------------------------------------------------------------

    def delete(self, api: Api, crd: Obj, options: DeleteOptions) -> tuple[Obj, bool]:
        """etcd.go Delete: mark the CRD Terminating (finalizer, deletionTimestamp, condition), then remove its
        instances and the CRD at once when nothing holds them (crd_finalizer.go, run inline)."""
        obj = clone(crd)
        meta = obj["metadata"]
        now = api.now()
        if not meta.get("deletionTimestamp"):
            meta["deletionTimestamp"] = now
            meta["deletionGracePeriodSeconds"] = 0
            if CLEANUP_FINALIZER not in (meta.get("finalizers") or []):
                meta["finalizers"] = [*(meta.get("finalizers") or []), CLEANUP_FINALIZER]
            set_condition(obj, {"type": "Terminating", "status": "True", "reason": "InstanceDeletionPending",
                                "message": "CustomResourceDefinition marked for deletion; CustomResource deletion "
                                           "will begin soon"}, now)
        if options.dry_run:
            return obj, False
        marked = self.store.put(CRD_RESOURCE, obj) if obj != crd else crd
        answer = clone(marked)
        return answer, self.finalize(api, meta["name"])

    def finalize(self, api: Api, name: str) -> bool:
        """crd_finalizer.go sync: delete every instance; once none remain, drop the finalizer (and so the CRD)."""
        crd = self.store.get(CRD_RESOURCE, "", name)
        if crd is None:
            return True
        if not crd["metadata"].get("deletionTimestamp") or CLEANUP_FINALIZER not in (
                crd["metadata"].get("finalizers") or []):
            return False
        spec = crd.get("spec") or {}
        resource = f"{spec.get('names', {}).get('plural', '')}.{spec.get('group', '')}"
        rt = next((t for t in self.registry.types if t.crd == name), None)
        if rt is not None:
            for obj in list(self.store.list(resource)):
                if obj["metadata"].get("deletionTimestamp"):
                    continue
                try:
                    api.delete(rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"], DeleteOptions())
                except errors.ApiError as exc:
                    if exc.code != 404:
                        raise
        now = api.now()
        updated = clone(crd)
        if self.store.count(resource):
            set_condition(updated, {"type": "Terminating", "status": "True", "reason": "InstanceDeletionInProgress",
                                    "message": "CustomResource deletion is in progress"}, now)
            if updated != crd:
                self.store.put(CRD_RESOURCE, updated)
            return False
        finalizers = [f for f in updated["metadata"].get("finalizers") or [] if f != CLEANUP_FINALIZER]
        if finalizers:  # someone else's finalizer holds the CRD itself
            updated["metadata"]["finalizers"] = finalizers
            reason = ("InstanceDeletionCompleted", "removed all instances") if rt is not None else \
                ("NeverEstablished", "resource was never established")
            set_condition(updated, {"type": "Terminating", "status": "False", "reason": reason[0],
                                    "message": reason[1]}, now)
            self.store.put(CRD_RESOURCE, updated)
            return False
        self.store.remove(CRD_RESOURCE, "", name)
        return True

    def terminating(self) -> list[str]:
        """Names of CRDs waiting for instances to go (what the CRD controller retries)."""
        return [c["metadata"]["name"] for c in self.store.list(CRD_RESOURCE)
                if c["metadata"].get("deletionTimestamp") and CLEANUP_FINALIZER in (c["metadata"].get("finalizers")
                                                                                    or [])]


def _ordered_names(names: Obj) -> Obj:
    """CustomResourceDefinitionNames in the Go struct's field order (plural, singular, shortNames, kind, listKind,
    categories), empty optional fields left out as omitempty does."""
    out: Obj = {}
    for k in ("plural", "singular", "shortNames", "kind", "listKind", "categories"):
        if k in names and (names[k] or k in ("plural", "kind")):
            out[k] = names[k]
    return out


__all__ = ["CRD_RESOURCE", "CustomResourceDefinitions", "definition", "prepare_create", "prepare_update"]
