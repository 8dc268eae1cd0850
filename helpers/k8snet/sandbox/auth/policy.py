"""The default ClusterRoles and ClusterRoleBindings, created as kube-apiserver and kubeadm create them.

kube-apiserver's ``rbac/bootstrap-roles`` post-start hook reconciles its bootstrap policy into every cluster at
start (plugin/pkg/auth/authorizer/rbac/bootstrappolicy); kubeadm then binds its admin group to
``cluster-admin``. The sandbox does the same from ``bootstrap-policy.yaml``: at bootstrap, and at every start into
a store made before RBAC was served (what is missing is created; what a learner changed is left alone).
"""

from __future__ import annotations

import functools
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import yaml

from ..apiserver import WriteOptions

if TYPE_CHECKING:
    from ..instance import Sandbox

Obj = dict[str, Any]

GROUP = "rbac.authorization.k8s.io"
BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
BOOTSTRAP_ANNOTATIONS = {"rbac.authorization.kubernetes.io/autoupdate": "true"}
ADMIN_GROUP = "kubeadm:cluster-admins"
"""The group of kubeadm's admin.conf user (kubernetes-admin), bound to cluster-admin by ``kubeadm:cluster-admins``."""


@functools.cache
def _document() -> dict[str, Any]:
    """The policy, read once a process (with libyaml where PyYAML has it: ten times faster, and it is read at
    every start)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load((files("k8snet.sandbox.auth") / "bootstrap-policy.yaml").read_text(), Loader=loader)  # noqa: S506


def _metadata(entry: Obj) -> Obj:
    meta: Obj = {"name": entry["name"]}
    if entry.get("manager", "kube-apiserver") == "kube-apiserver":
        meta["annotations"] = dict(BOOTSTRAP_ANNOTATIONS)
        meta["labels"] = {**BOOTSTRAP_LABELS, **(entry.get("labels") or {})}
    elif entry.get("labels"):
        meta["labels"] = dict(entry["labels"])
    return meta


def subject(text: str) -> Obj:
    """``Group system:masters``, ``User jane`` or ``ServiceAccount kube-system/coredns`` as an rbac/v1 Subject."""
    kind, _, name = text.partition(" ")
    if kind == "ServiceAccount":
        namespace, _, name = name.partition("/")
        return {"kind": kind, "name": name, "namespace": namespace}
    return {"apiGroup": GROUP, "kind": kind, "name": name}


def cluster_roles() -> list[tuple[str, Obj]]:
    """(field manager, ClusterRole) of every default role, in bootstrap order."""
    out = []
    for entry in _document()["clusterRoles"]:
        role: Obj = {"metadata": _metadata(entry)}
        if "aggregationRule" in entry:
            role["aggregationRule"] = entry["aggregationRule"]
        if entry.get("rules"):
            role["rules"] = entry["rules"]
        out.append((entry.get("manager", "kube-apiserver"), role))
    return out


def cluster_role_bindings() -> list[tuple[str, Obj]]:
    """(field manager, ClusterRoleBinding) of every default binding, in bootstrap order."""
    out = []
    for entry in _document()["clusterRoleBindings"]:
        binding: Obj = {"metadata": _metadata(entry),
                        "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": entry["role"]}}
        if entry["subjects"]:
            binding["subjects"] = [subject(s) for s in entry["subjects"]]
        out.append((entry.get("manager", "kube-apiserver"), binding))
    return out


def install(sb: Sandbox) -> None:
    """Create every default ClusterRole and ClusterRoleBinding the store does not hold (a fresh cluster, or a store
    from before the sandbox served RBAC); existing ones, changed or not, are left as they are."""
    for plural, objects in (("clusterroles", cluster_roles()), ("clusterrolebindings", cluster_role_bindings())):
        rt = sb.registry.lookup(GROUP, "v1", plural)
        assert rt is not None
        for manager, obj in objects:
            if sb.store.get(rt.group_resource, "", obj["metadata"]["name"]) is None:
                sb.api.create(rt, "", obj, WriteOptions(field_manager=manager))
