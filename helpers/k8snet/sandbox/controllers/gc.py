"""Garbage collection by ownerReferences: background, foreground and orphan deletion.

Follows pkg/controller/garbagecollector: a dependent whose owners are all
gone is deleted; an owner deleted in the foreground waits (finalizer
``foregroundDeletion``) until its blocking dependents are gone; ``orphan``
strips the owner reference from dependents before the owner goes.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from ..apiserver import DeleteOptions, WriteOptions
from ..errors import ApiError
from ..store import Event
from . import ANY_RESOURCE, Controller, Key

if TYPE_CHECKING:
    from ..instance import Sandbox

MANAGER = "kube-controller-manager"


def dependents(sb: Sandbox, namespace: str, uid: str) -> list[tuple]:
    """(type, object, the ownerReference naming ``uid``) for every dependent of an owner.

    An owner is its uid *and* its namespace: a namespaced owner's dependents live in its own namespace
    ("Cross-namespace owner references are disallowed by design. ... A namespaced owner must exist in the
    same namespace as the dependent", kubernetes.io/docs/concepts/overview/working-with-objects/owners-dependents;
    pkg/controller/garbagecollector/graph_builder.go keys owners by uid and namespace). A cluster-scoped owner
    (namespace "") may have dependents anywhere.
    """
    out = []
    # one pass per stored resource: a CRD serves several versions of the same objects
    for resource in dict.fromkeys(t.group_resource for t in sb.registry.types):
        for obj in sb.store.owned_by(resource, uid):
            if namespace and obj["metadata"].get("namespace", "") != namespace:
                continue
            for ref in obj["metadata"].get("ownerReferences") or []:
                if ref.get("uid") == uid:
                    out.append((_rt_for(sb, resource, obj), obj, ref))
    return out


def reconcile_owner(sb: Sandbox, key: Key) -> float | None:
    """Key: (namespace, "<group_resource>/<name>/<uid>") of an owner that changed or went away."""
    namespace, rest = key
    resource, name, uid = rest.split("/", 2)
    owner = sb.store.get(resource, namespace, name)
    if owner is not None and owner["metadata"].get("uid") != uid:
        owner = None
    deps = dependents(sb, namespace, uid)
    if owner is None:
        for rt, obj, _ in deps:
            others = [r for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
            alive = [r for r in others if _exists(sb, obj, r)]
            try:
                if not alive and not obj["metadata"].get("deletionTimestamp"):
                    sb.api.delete(rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"],
                                  DeleteOptions(propagation="Background"))
                elif alive:
                    _set_refs(sb, rt, obj, others)
            except ApiError as exc:
                if exc.code != 404:
                    raise
        return None
    finalizers = owner["metadata"].get("finalizers") or []
    if not owner["metadata"].get("deletionTimestamp"):
        return None
    rt_owner = _rt_for(sb, resource, owner)
    if "orphan" in finalizers:
        for rt, obj, _ in deps:
            _set_refs(sb, rt, obj, [r for r in obj["metadata"]["ownerReferences"] if r.get("uid") != uid])
        _drop_finalizer(sb, rt_owner, owner, "orphan")
    elif "foregroundDeletion" in finalizers:
        blocking = []
        for rt, obj, ref in deps:
            if not obj["metadata"].get("deletionTimestamp"):
                sb.api.delete(rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"],
                              DeleteOptions(propagation="Foreground"))
            if ref.get("blockOwnerDeletion"):
                blocking.append(obj)
        if not blocking:
            _drop_finalizer(sb, rt_owner, owner, "foregroundDeletion")
        else:
            return 0.2
    return None


def _exists(sb: Sandbox, obj: dict, ref: dict) -> bool:
    for rt in sb.registry.types:
        if rt.kind == ref.get("kind") and rt.api_version == ref.get("apiVersion"):
            ns = obj["metadata"].get("namespace", "") if rt.namespaced else ""
            found = sb.store.get(rt.group_resource, ns, ref["name"])
            return found is not None and found["metadata"].get("uid") == ref.get("uid")
    return False


def _rt_for(sb: Sandbox, resource: str, obj: dict | None = None):
    """The type serving ``resource``; of a CRD's versions, the one the object is stored in."""
    found = [rt for rt in sb.registry.types if rt.group_resource == resource]
    if not found:
        raise KeyError(resource)
    return next((rt for rt in found if obj is not None and rt.api_version == obj.get("apiVersion")), found[0])


def _set_refs(sb: Sandbox, rt, obj: dict, refs: list) -> None:
    new = copy.deepcopy(obj)
    if refs:
        new["metadata"]["ownerReferences"] = refs
    else:
        new["metadata"].pop("ownerReferences", None)
    sb.api.update(rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"], new,
                  WriteOptions(field_manager=MANAGER))


def _drop_finalizer(sb: Sandbox, rt, owner: dict, finalizer: str) -> None:
    new = copy.deepcopy(owner)
    new["metadata"]["finalizers"] = [f for f in owner["metadata"].get("finalizers") or [] if f != finalizer]
    sb.api.update(rt, owner["metadata"].get("namespace", ""), owner["metadata"]["name"], new,
                  WriteOptions(field_manager=MANAGER))


def owners_of(sb: Sandbox, event: Event) -> list[Key]:
    """Owners to look at: a deleted or terminating object, and the owners of a changed dependent."""
    meta = event.obj["metadata"]
    keys = []
    if event.type == "DELETED" or meta.get("deletionTimestamp"):
        keys.append((meta.get("namespace", ""), f"{event.resource}/{meta['name']}/{meta.get('uid')}"))
    if event.type == "DELETED":
        for ref in meta.get("ownerReferences") or []:
            for rt in sb.registry.types:
                if rt.kind == ref.get("kind") and rt.api_version == ref.get("apiVersion"):
                    ns = meta.get("namespace", "") if rt.namespaced else ""
                    keys.append((ns, f"{rt.group_resource}/{ref['name']}/{ref.get('uid')}"))
    return keys


def controller(sb: Sandbox) -> Controller:
    watches = {rt.group_resource: owners_of for rt in sb.registry.types}
    watches[ANY_RESOURCE] = owners_of  # custom resources, whose CRDs come and go
    return Controller("garbage-collector", reconcile_owner, watches)
