"""Namespace lifecycle: default ServiceAccounts, and emptying a terminating namespace.

Follows pkg/controller/namespace/deletion: delete every namespaced object,
then remove the ``kubernetes`` finalizer through ``/finalize`` and the
namespace is gone. pkg/controller/serviceaccount creates ``default`` in each
namespace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..apiserver import DeleteOptions, WriteOptions
from ..errors import ApiError
from . import Controller, Key, same_key

if TYPE_CHECKING:
    from ..instance import Sandbox

MANAGER = "kube-controller-manager"
ROOT_CA = "kube-root-ca.crt"


def reconcile_namespace(sb: Sandbox, key: Key) -> float | None:
    ns_rt = sb.registry.lookup("", "v1", "namespaces")
    namespace = sb.store.get("namespaces", "", key[1])
    if namespace is None or ns_rt is None:
        return None
    name = key[1]
    if not namespace["metadata"].get("deletionTimestamp"):
        if getattr(sb, "karmada", False):  # the karmada-apiserver's controller manager runs neither the
            return None  # serviceaccount nor the root-ca-cert-publisher controller (sandbox/karmada)
        sa_rt = sb.registry.lookup("", "v1", "serviceaccounts")
        if sa_rt and sb.store.get(sa_rt.group_resource, name, "default") is None:
            sb.api.create(sa_rt, name, {"metadata": {"name": "default"}}, WriteOptions(field_manager=MANAGER))
        cm_rt = sb.registry.lookup("", "v1", "configmaps")
        if cm_rt and sb.store.get("configmaps", name, ROOT_CA) is None:
            # pkg/controller/certificates/rootcacertpublisher: the cluster CA in every namespace
            sb.api.create(cm_rt, name, {"metadata": {"name": ROOT_CA, "annotations": {
                "kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver "
                "when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other "
                "usage is guaranteed across distributions of Kubernetes clusters."}},
                "data": {"ca.crt": sb.ca_pem}}, WriteOptions(field_manager="kube-controller-manager"))
        return None
    remaining = 0
    for rt in sb.registry.types:
        if not rt.namespaced:
            continue
        for obj in sb.store.list(rt.group_resource, name):
            remaining += 1
            if obj["metadata"].get("deletionTimestamp"):
                continue
            try:
                sb.api.delete(rt, name, obj["metadata"]["name"], DeleteOptions(propagation="Background"))
            except ApiError as exc:
                if exc.code != 404:
                    raise
    if remaining:
        return 0.2  # pods terminate gracefully; look again
    obj = dict(namespace)
    obj["spec"] = {**(namespace.get("spec") or {}), "finalizers": []}
    sb.api.update(ns_rt, "", name, obj, WriteOptions(field_manager=MANAGER), "finalize")
    finalized = sb.store.get("namespaces", "", name)
    if finalized is not None and not finalized["metadata"].get("finalizers"):
        sb.store.remove("namespaces", "", name)
    return None


def namespace_of(sb: Sandbox, event) -> list[Key]:
    ns = event.obj["metadata"].get("namespace")
    terminating = ns and (sb.store.get("namespaces", "", ns) or {}).get("metadata", {}).get("deletionTimestamp")
    return [("", ns)] if terminating else []


def controller(sb: Sandbox) -> Controller:
    watches = {rt.group_resource: namespace_of for rt in sb.registry.types if rt.namespaced}
    watches["namespaces"] = same_key
    return Controller("namespace", reconcile_namespace, watches)
