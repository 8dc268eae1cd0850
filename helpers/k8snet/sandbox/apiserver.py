"""The generic resource handler: create, read, update, patch, delete for every registered kind.

HTTP-free: the server translates requests into these calls, controllers make
the same calls, and every write goes through the same admission steps as
kube-apiserver (decode, default, per-kind strategy, validate, managed fields,
then the store). Errors are raised as :class:`~.errors.ApiError`.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from . import admission, customresources, defaults, errors, patch, strategies, validation
from . import apply as ssa
from .auth import escalation
from .clock import Clock, rfc3339
from .jsoncopy import clone
from .options import DeleteOptions, WriteOptions  # noqa: F401  (re-exported for the server and controllers)
from .randomness import Randomness
from .registry import Registry, ResourceType
from .schema import SchemaSet
from .selectors import parse_fields, parse_labels
from .store import Obj, Store, Unstorable

if TYPE_CHECKING:
    from .auth.rbac import Authorizer
    from .crds import CustomResourceDefinitions
    from .customresources import ServedVersion

CRD_RESOURCE = "customresourcedefinitions.apiextensions.k8s.io"
CRD_PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml")
"""What the CRD handler accepts for custom resources (customresource_handler.go supportedTypes)."""

GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
"""k8s.io/apiserver/pkg/storage/names: the alphabet of generateName suffixes."""

IMMORTAL_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
"""The NamespaceLifecycle admission plugin's immortal namespaces (plugin/pkg/admission/namespace/lifecycle):
deleting one is ``namespaces "default" is forbidden: this namespace may not be deleted``."""

SYSTEM_META = ("uid", "creationTimestamp", "resourceVersion", "generation", "deletionTimestamp",
               "deletionGracePeriodSeconds", "managedFields", "selfLink")


class Api:
    """Every API verb over one store, with the cluster's schemas, clock and random source."""

    def __init__(self, store: Store, registry: Registry, schemas: SchemaSet, clock: Clock, randomness: Randomness,
                 allocators: strategies.Allocators):
        self.store = store
        self.registry = registry
        self.schemas = schemas
        self.clock = clock
        self.randomness = randomness
        self.allocators = allocators
        self.crds: CustomResourceDefinitions | None = None
        """The CRD service (set by the Sandbox): custom resources' served versions and the CRD lifecycle."""
        self.authorizer: Authorizer | None = None
        """RBAC (set by the Sandbox), for the escalation checks on writes of roles and bindings."""
        self.webhooks: list[admission.Webhook] = []
        """The add-ons' admission webhooks (cert-manager's), called where kube-apiserver calls them."""

    # -- helpers --------------------------------------------------------------------

    def custom(self, rt: ResourceType) -> ServedVersion | None:
        """The served CRD version behind ``rt``, or None for built-in kinds."""
        return self.crds.lookup(rt) if self.crds is not None and rt.crd else None

    def view(self, rt: ResourceType, obj: Obj) -> Obj:
        """A stored object as ``rt``'s version serves it (custom objects: read-time defaults, apiVersion)."""
        sv = self.custom(rt)
        return customresources.view(sv, obj) if sv is not None else obj

    def schema_node(self, rt: ResourceType) -> dict | None:
        if rt.schema_name:
            return self.schemas.definitions.get(rt.schema_name)
        return self.schemas.for_kind(rt.group, rt.version, rt.kind)

    def now(self) -> str:
        return rfc3339(self.clock.now())

    def new_uid(self) -> str:
        """A fresh uid: seeded (runs repeat) from a stream of the store's current epoch, so a uid is never
        issued twice in a store's life, across restarts and resets (the garbage collector trusts uids)."""
        uids = self.randomness.stream(f"uids:{self.store.epoch}")
        return str(uuid.UUID(int=uids.getrandbits(128), version=4))

    def _require(self, rt: ResourceType, ns: str, name: str) -> Obj:
        obj = self.store.get(rt.group_resource, ns, name)
        if obj is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return obj

    def _check_namespace(self, rt: ResourceType, ns: str, creating: bool) -> None:
        if not rt.namespaced:
            return
        namespace = self.store.get("namespaces", "", ns)
        if namespace is None:
            raise errors.not_found("namespaces", "", ns)
        if creating and namespace["metadata"].get("deletionTimestamp"):
            raise errors.ApiError(f"{rt.plural} \"\" is forbidden: unable to create new content in namespace {ns} "
                                  f"because it is being terminated", 403, "Forbidden",
                                  {"kind": rt.plural, "causes": [{"reason": "NamespaceTerminating",
                                                                  "message": f"namespace {ns} is being terminated",
                                                                  "field": "metadata.namespace"}]})

    def _decode(self, rt: ResourceType, body: Any, ns: str, opts: WriteOptions) -> Obj:
        """Check the body is an object of this endpoint's kind and namespace, then the schema."""
        if not isinstance(body, dict):
            raise errors.bad_request(f"the body of the request was not a {rt.kind} object")
        api_version, kind = body.get("apiVersion"), body.get("kind")
        if kind and kind != rt.kind:
            raise errors.bad_request(f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})")
        if api_version and api_version != rt.api_version:
            raise errors.bad_request(f"the API version in the data ({api_version}) does not match the expected "
                                     f"API version ({rt.api_version})")
        obj = clone(body)
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request(f"{rt.kind} in version \"{rt.version}\" cannot be handled as a {rt.kind}: "
                                     "json: cannot unmarshal into Go struct field .metadata of type v1.ObjectMeta")
        if rt.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and body_ns != ns:
                raise errors.bad_request("the namespace of the provided object does not match the namespace sent "
                                         "on the request")
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        sv = self.custom(rt)
        if sv is not None:
            opts.warnings += customresources.decode(sv, obj, self.schemas, opts.field_validation)
            return obj
        node = self.schema_node(rt)
        if node is not None and not opts.checked:
            opts.warnings += validation.check_schema(obj, self.schemas, node, kind=rt.kind,
                                                     name=meta.get("name") or meta.get("generateName", ""),
                                                     group=rt.group, mode=opts.field_validation)
        return obj

    def _generate_name(self, rt: ResourceType, obj: Obj) -> None:
        meta = obj["metadata"]
        if meta.get("name") or not meta.get("generateName"):
            return
        prefix = meta["generateName"][:58]
        for _ in range(8):
            names = self.randomness.stream(f"generated-names:{prefix}")  # per prefix: independent of timing
            name = prefix + "".join(names.choice(GENERATE_ALPHABET) for _ in range(5))
            if self.store.get(rt.group_resource, meta.get("namespace", ""), name) is None:
                meta["name"] = name
                return
        meta["name"] = name

    def _managed(self, rt: ResourceType, old: Obj | None, new: Obj, opts: WriteOptions, subresource: str) -> Obj:
        node = self.schema_node(rt)
        manager = opts.field_manager or "unknown"
        return ssa.track_update(old, new, manager, self.schemas, node, self.now(), subresource)

    def _validate(self, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions, subresource: str) -> None:
        """Validation as the kind's strategy runs it: CRDs and custom objects by the apiextensions rules."""
        if opts.checked:
            return
        sv = self.custom(rt)
        if sv is None and (rt.group_resource != CRD_RESOURCE or self.crds is None):
            validation.validate(rt, obj, old, self.schemas, strategies.kind_validator(rt, subresource))
            return
        if sv is not None:
            causes, warnings = customresources.validate(sv, obj, old, subresource)
            warnings += strategies.sandbox_warnings(rt, subresource)
        else:
            assert self.crds is not None
            causes, warnings = self.crds.validate(obj, old, subresource, opts.compile_rules)
        opts.warnings += warnings
        if causes:
            raise errors.invalid(rt.kind, rt.group, obj["metadata"].get("name") or "", validation.dedupe(causes))

    def _review(self, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions,
                subresource: str) -> admission.Request:
        return admission.Request(self, rt, "CREATE" if old is None else "UPDATE", obj, old, subresource, opts.user)

    def _commit(self, rt: ResourceType, obj: Obj, old: Obj | None, opts: WriteOptions, subresource: str = "") -> Obj:
        if opts.user is not None and rt.group == escalation.GROUP and self.authorizer is not None:
            escalation.check(self.authorizer, opts.user, rt.plural, obj, old)  # policybased RBAC storage
        self._validate(rt, obj, old, opts, subresource)
        if opts.user is not None and self.authorizer is not None:  # validating admission, after validation
            strategies.admit(self.authorizer, rt, obj, old, opts.user, subresource)
        if self.webhooks:  # the validating webhooks run after the built-in validating admission plugins
            opts.warnings += admission.validate(self.webhooks, self._review(rt, obj, old, opts, subresource))
        if opts.dry_run:
            if old is None:
                obj["metadata"].pop("resourceVersion", None)
            return obj
        strategies.before_store(self, rt, obj, old)
        sv = self.custom(rt)
        if sv is not None:
            obj = customresources.to_storage(sv, obj)
        try:
            stored = self.store.put(rt.group_resource, obj)
        except Unstorable as exc:  # decoding admits only JSON values; this is the store's own guard
            raise errors.bad_request(f"the object cannot be stored as JSON: {exc}") from None
        if sv is not None:
            return customresources.view(sv, stored)
        if rt.group_resource == CRD_RESOURCE and self.crds is not None:
            self.crds.accept_names(self, stored)
        return stored

    # -- reads ----------------------------------------------------------------------

    def get(self, rt: ResourceType, ns: str, name: str) -> Obj:
        return self.view(rt, self._require(rt, ns, name))

    def list(self, rt: ResourceType, ns: str | None, label_selector: str | None = None,
             field_selector: str | None = None, limit: int = 0, cont: str | None = None) -> tuple[list[Obj], dict]:
        """Matching objects in key order, paginated with limit/continue like the apiserver."""
        labels = parse_labels(label_selector)
        fields = parse_fields(field_selector, rt.selectable_fields, rt.kind, rt.api_version)
        start_after: tuple[str, str] | None = None
        if cont:
            try:
                token = json.loads(base64.urlsafe_b64decode(cont + "=" * (-len(cont) % 4)))
                start_after = (token["ns"], token["name"])
            except (ValueError, KeyError, TypeError) as exc:
                raise errors.bad_request(f"continue key is not valid: {exc}") from exc
        items = []
        for obj in self.store.list(rt.group_resource, ns):
            meta = obj["metadata"]
            if start_after and (meta.get("namespace", ""), meta["name"]) <= start_after:
                continue
            if labels(meta.get("labels") or {}) and fields(obj):
                items.append(self.view(rt, obj))
        list_meta: dict[str, Any] = {"resourceVersion": str(self.store.rv)}
        if limit and len(items) > limit:
            last = items[limit - 1]["metadata"]
            token = {"v": "meta.k8s.io/v1", "rv": self.store.rv, "ns": last.get("namespace", ""),
                     "name": last["name"]}
            list_meta["continue"] = base64.urlsafe_b64encode(json.dumps(token).encode()).decode().rstrip("=")
            list_meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        return items, list_meta

    # -- writes ---------------------------------------------------------------------

    def create(self, rt: ResourceType, ns: str, body: Any, opts: WriteOptions | None = None) -> Obj:
        opts = opts or WriteOptions()
        obj = self._decode(rt, body, ns, opts)
        meta = obj["metadata"]
        self._generate_name(rt, obj)
        if not meta.get("name"):
            raise errors.invalid(rt.kind, rt.group, "", [errors.field_error(
                rt.kind, "name or generateName is required", "metadata.name", required=True)])
        if self.store.get(rt.group_resource, meta.get("namespace", ""), meta["name"]) is not None:
            raise errors.already_exists(rt.plural, rt.group, meta["name"])
        return self._create_prepared(rt, ns, obj, opts, None)

    def update(self, rt: ResourceType, ns: str, name: str, body: Any, opts: WriteOptions | None = None,
               subresource: str = "") -> Obj:
        """PUT: replace an object; a stale resourceVersion is a 409 Conflict."""
        opts = opts or WriteOptions()
        obj = self._decode(rt, body, ns, opts)
        meta = obj["metadata"]
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL "
                                     f"({name})")
        meta["name"] = name
        old = self.store.get(rt.group_resource, ns if rt.namespaced else "", name)
        if old is not None:
            old = self.view(rt, old)
        if old is None:
            if subresource or not strategies.allow_create_on_update(rt):
                raise errors.not_found(rt.plural, rt.group, name)
            return self.create(rt, ns, obj, opts)
        rv = meta.get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise errors.stale(rt.plural, rt.group, name)
        uid = meta.get("uid")
        if uid and uid != old["metadata"].get("uid"):  # a PUT's uid is a precondition (rest.defaultUpdatedObjectInfo)
            raise errors.conflict(rt.plural, rt.group, name, f"Precondition failed: UID in precondition: {uid}, "
                                  f"UID in object meta: {old['metadata'].get('uid')}")
        return self._replace(rt, old, obj, opts, subresource)

    def _replace(self, rt: ResourceType, old: Obj, obj: Obj, opts: WriteOptions, subresource: str,
                 managed: bool = True) -> Obj:
        """The shared tail of update and patch: carry system fields, strategy, validate, store."""
        meta, old_meta = obj["metadata"], old["metadata"]
        for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
            if k in old_meta:
                meta[k] = old_meta[k]
            else:
                meta.pop(k, None)
        if meta.get("namespace", "") != old_meta.get("namespace", "") and rt.namespaced:
            meta["namespace"] = old_meta.get("namespace", "")
        if subresource == "status":
            applied_fields = obj["metadata"].get("managedFields")
            obj = strategies.keep_spec(rt, obj, old)
            if not managed and applied_fields is not None:  # a server-side apply to /status records itself
                obj["metadata"]["managedFields"] = applied_fields
        elif subresource == "ephemeralcontainers":
            obj = strategies.keep_all_but_ephemeral(obj, old)
        elif subresource == "":
            obj = strategies.keep_status(rt, obj, old)
        defaults.apply_defaults(rt, obj)
        sv = self.custom(rt)
        if sv is not None:
            customresources.default(sv, obj)
        strategies.prepare_update(self, rt, obj, old, subresource)
        if self.webhooks:
            admission.mutate(self.webhooks, self._review(rt, obj, old, opts, subresource))
        if strategies.generation_changed(rt, obj, old) and "generation" in meta:
            meta["generation"] = old_meta["generation"] + 1
        if managed:
            obj = self._managed(rt, old, obj, opts, subresource)
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and strategies.deletes_when_finalized(rt):
            self._validate(rt, obj, old, opts, subresource)
            if opts.dry_run:
                return obj
            return self.view(rt, self.store.remove(rt.group_resource, meta.get("namespace", ""), meta["name"]) or obj)
        if obj == old:
            return old  # a no-op write does not bump the resourceVersion
        return self._commit(rt, obj, old, opts, subresource)

    def patch(self, rt: ResourceType, ns: str, name: str, patch_type: str, body: Any,
              opts: WriteOptions | None = None, subresource: str = "") -> Obj:
        """PATCH with JSON, merge, strategic merge or apply (server-side apply) semantics."""
        opts = opts or WriteOptions()
        key_ns = ns if rt.namespaced else ""
        old = self.store.get(rt.group_resource, key_ns, name)
        if old is not None:
            old = self.view(rt, old)
        node = self.schema_node(rt)
        if patch_type == "strategic" and rt.crd:  # handlers/patch.go: the CRD handler does not offer it
            raise errors.ApiError("the body of the request was in an unknown format - accepted media types include: "
                                  + ", ".join(CRD_PATCH_TYPES), 415, "UnsupportedMediaType")
        if patch_type == "apply":
            if not opts.field_manager:
                raise errors.invalid("PatchOptions", "meta.k8s.io", "", [errors.field_error(
                    "PatchOptions", "is required for apply patch", "fieldManager", required=True)])
            if not isinstance(body, dict):
                raise errors.bad_request("error decoding YAML: the apply body must be an object")
            applied = self._decode(rt, body, ns, opts)
            applied["metadata"]["name"] = applied["metadata"].get("name") or name
            if applied["metadata"]["name"] != name:
                raise errors.bad_request(f"the name of the object ({applied['metadata']['name']}) does not match "
                                         f"the name on the URL ({name})")
            if old is None:
                if subresource:
                    raise errors.not_found(rt.plural, rt.group, name)
                created = ssa.server_side_apply(None, applied, opts.field_manager, opts.force, self.schemas, node,
                                                self.now())
                managed_fields = created["metadata"].get("managedFields")
                return self._create_prepared(rt, ns, created, opts, managed_fields)
            merged = ssa.server_side_apply(clone(old), applied, opts.field_manager, opts.force,
                                           self.schemas, node, self.now(), subresource=subresource)
            return self._replace(rt, old, merged, opts, subresource, managed=False)
        if old is None:
            raise errors.not_found(rt.plural, rt.group, name)
        current = clone(old)
        if patch_type == "json":
            patched = patch.json_patch(current, body)
        elif patch_type == "merge":
            patched = patch.merge_patch(current, body)
        elif patch_type == "strategic":
            if node is None or not patch.strategic_supported(node):
                raise errors.ApiError("strategic merge patch format is not supported", 415, "UnsupportedMediaType")
            patched = patch.strategic_merge_patch(current, body, self.schemas, node)
        else:
            raise errors.unsupported_media_type(patch_type)
        if not isinstance(patched, dict):
            raise errors.bad_request("the patch produced something that is not an object")
        obj = self._decode(rt, patched, ns, opts)  # the patched object is decoded like a body (metadata's type)
        rv = obj["metadata"].get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise errors.stale(rt.plural, rt.group, name)
        obj["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        self._check_patched_identity(rt, old, obj, name)
        return self._replace(rt, old, obj, opts, subresource)

    @staticmethod
    def _check_patched_identity(rt: ResourceType, old: Obj, obj: Obj, name: str) -> None:
        """A patch may not rename an object or change its uid (handlers/patch.go checkName; ObjectMeta update
        validation: ``metadata.uid: Invalid value: ...: field is immutable``)."""
        meta = obj["metadata"]
        if meta.get("name", name) != name:
            raise errors.bad_request(f"the name of the object ({meta.get('name')}) does not match the name on the "
                                     f"URL ({name})")
        meta["name"] = name
        old_uid = old["metadata"].get("uid")
        if meta.get("uid", old_uid) != old_uid:
            raise errors.invalid(rt.kind, rt.group, name, [validation.immutable("metadata.uid", meta.get("uid"))])

    def _create_prepared(self, rt: ResourceType, ns: str, obj: Obj, opts: WriteOptions,
                         managed_fields: list | None) -> Obj:
        """The admission steps of every create; a server-side apply keeps the applier's managedFields."""
        meta = obj["metadata"]
        self._check_namespace(rt, ns, creating=True)
        for k in SYSTEM_META:
            meta.pop(k, None)
        meta["uid"] = self.new_uid()
        meta["creationTimestamp"] = self.now()
        if rt.kind in strategies.GENERATION_KINDS or rt.group not in strategies.BUILTIN_GROUPS:
            meta["generation"] = 1
        defaults.apply_defaults(rt, obj)
        sv = self.custom(rt)
        if sv is not None:
            customresources.default(sv, obj)
        strategies.prepare_create(self, rt, obj, opts.user)
        if self.webhooks:
            admission.mutate(self.webhooks, self._review(rt, obj, None, opts, ""))
        if managed_fields:
            meta["managedFields"] = managed_fields
        else:
            obj = self._managed(rt, None, obj, opts, "")
        try:
            return self._commit(rt, obj, None, opts)
        except BaseException:
            strategies.release(self, rt, obj)
            raise

    def delete(self, rt: ResourceType, ns: str, name: str, options: DeleteOptions | None = None) -> tuple[Obj, bool]:
        """Delete (or start deleting) an object; returns it and whether it is gone now."""
        options = options or DeleteOptions()
        key_ns = ns if rt.namespaced else ""
        old = self._require(rt, key_ns, name)
        if rt.group_resource == "namespaces" and name in IMMORTAL_NAMESPACES:
            raise errors.ApiError(f'namespaces "{name}" is forbidden: this namespace may not be deleted', 403,
                                  "Forbidden", {"name": name, "kind": "namespaces"})
        pre = options.preconditions
        if pre.get("uid") and pre["uid"] != old["metadata"].get("uid"):
            raise errors.conflict(rt.plural, rt.group, name, f"Precondition failed: UID in precondition: {pre['uid']}, "
                                  f"UID in object meta: {old['metadata'].get('uid')}")
        if pre.get("resourceVersion") and pre["resourceVersion"] != old["metadata"]["resourceVersion"]:
            raise errors.conflict(rt.plural, rt.group, name, "Precondition failed: ResourceVersion in precondition: "
                                  f"{pre['resourceVersion']}, ResourceVersion in object meta: "
                                  f"{old['metadata']['resourceVersion']}")
        if rt.group_resource == CRD_RESOURCE and self.crds is not None:
            return self.crds.delete(self, old, options)
        obj = clone(old)
        meta = obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        if options.propagation == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
        elif options.propagation == "Orphan" and "orphan" not in finalizers:
            finalizers.append("orphan")
        grace = strategies.grace_period(rt, obj, options.grace_period)
        if not finalizers and not grace and not strategies.needs_termination(rt, obj):
            if options.dry_run:
                return self.view(rt, old), True
            strategies.release(self, rt, old)
            gone = self.store.remove(rt.group_resource, key_ns, name)
            return self.view(rt, gone or old), True
        if meta.get("deletionTimestamp") and grace is not None:
            # A second delete may shorten the grace period (kubectl delete --now / --force), never extend it.
            current = meta.get("deletionGracePeriodSeconds")
            if current is not None and grace >= current:
                return self.view(rt, old), False
        meta["finalizers"] = finalizers
        if not finalizers:
            meta.pop("finalizers")
        deadline = self.clock.now() + timedelta(seconds=grace or 0)
        meta["deletionTimestamp"] = rfc3339(deadline)
        meta["deletionGracePeriodSeconds"] = grace or 0
        strategies.mark_terminating(rt, obj)
        if options.dry_run:
            return self.view(rt, obj), False
        return self.view(rt, self.store.put(rt.group_resource, obj)), False

    def delete_collection(self, rt: ResourceType, ns: str | None, label_selector: str | None,
                          field_selector: str | None, options: DeleteOptions) -> list[Obj]:
        items, _ = self.list(rt, ns, label_selector, field_selector)
        out = []
        for obj in list(items):
            meta = obj["metadata"]
            try:
                out.append(self.delete(rt, meta.get("namespace", ""), meta["name"], options)[0])
            except errors.ApiError as exc:
                if exc.code != 404:
                    raise
        return out
