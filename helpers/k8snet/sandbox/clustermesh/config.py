"""Which clusters a member is meshed with: the ``cilium-clustermesh`` Secret, as cilium-cli writes it.

``cilium clustermesh connect --context A --destination-context B`` patches the Secret ``kube-system/cilium-clustermesh``
in both clusters: one key per remote cluster, named after it, holding the etcd client configuration of that
cluster's clustermesh-apiserver, plus the key's TLS files (``<name>.etcd-client.crt``, ``.key``, ``-ca.crt``)
(cilium-cli clustermesh/clustermesh.go). Every agent mounts the Secret at ``/var/lib/cilium/clustermesh/`` and
connects to each cluster it names (pkg/clustermesh: one file, one remote cluster); deleting a key disconnects.

The sandbox reads the same Secret: a key without a dot names a remote member, which the sandbox finds by name
among the running members of the set (``k8snet sandbox up --name``) and reads through that member's own API, where
Cilium reads the member's etcd. So the way to mesh two sandboxes is the way to mesh two kind clusters: write the
Secret (:func:`k8snet.cni.clustermesh.connect` does it in both clusters, as cilium-cli does).
"""

from __future__ import annotations

from typing import Any

NAMESPACE, SECRET = "kube-system", "cilium-clustermesh"
MOUNT = "/var/lib/cilium/clustermesh"
"""Where the agents mount the Secret (the cilium DaemonSet's ``clustermesh-secrets`` volume)."""
PORT = 2379
"""The clustermesh-apiserver's etcd port."""


def entry(name: str) -> str:
    """The value cilium-cli writes under a remote cluster's key: its etcd endpoint and client credentials."""
    return (f"endpoints:\n- https://{name}.mesh.cilium.io:{PORT}\n"
            f"trusted-ca-file: {MOUNT}/{name}.etcd-client-ca.crt\n"
            f"key-file: {MOUNT}/{name}.etcd-client.key\n"
            f"cert-file: {MOUNT}/{name}.etcd-client.crt\n")


def remote_names(secret: dict[str, Any] | None) -> list[str]:
    """The remote clusters a ``cilium-clustermesh`` Secret names (its keys without a dot), sorted."""
    data = (secret or {}).get("data") or {}
    return sorted(k for k in data if "." not in k)
