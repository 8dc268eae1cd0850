"""Cilium Cluster Mesh between kind clusters: the real components, set up as cilium-cli sets them up.

- :func:`enable` is ``cilium clustermesh enable --service-type NodePort``: the clustermesh-apiserver (etcd and the
  apiserver that fills it from the cluster's identities, endpoints, nodes and Services) from the rendered chart,
  ``manifests/clustermesh-apiserver.yaml``, with its certificates issued from the CA the whole cluster set shares
  (:mod:`.certs`). ``k8snet kind up --name east --cni cilium`` calls it, so a named Cilium member is ready to mesh.
- :func:`connect` is ``cilium clustermesh connect``: each cluster's ``cilium-clustermesh`` Secret and agents'
  hosts file learn the other (:mod:`.peers`); the agents then dial the other cluster's clustermesh-apiserver at
  one of its nodes on kind's docker network.
- :func:`status` is ``cilium clustermesh status``, from ``cilium-dbg status`` in every agent (:mod:`.agents`).
- :func:`set_latency` puts a round trip between two clusters with netem on their nodes (:mod:`.netem`).

:mod:`k8snet.cni.clustermesh` is the one entry point for notebooks (the same calls drive two sandboxes); it checks
the pair as cilium-cli does and comes here for kind clusters.
"""

from __future__ import annotations

import datetime as dt
import warnings
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml

from . import agents, certs, netem, peers

if TYPE_CHECKING:
    from ...cluster import Cluster

MANIFEST = "clustermesh-apiserver.yaml"
DEPLOYMENT = "clustermesh-apiserver"
NAMESPACE = certs.NAMESPACE
RESTARTED = "kubectl.kubernetes.io/restartedAt"
CA_MISMATCH = "Cilium CA certificates do not match between clusters. Multicluster features will be limited!"
"""cilium-cli's warning when the two clusters' CAs differ (ConnectWithHelm); it then connects with each cluster's
own certificates in the Secret."""


def objects() -> list[dict[str, Any]]:
    """The rendered clustermesh-apiserver objects (the header of the manifest says from which chart values)."""
    text = (resources.files("k8snet.kind") / "manifests" / MANIFEST).read_text()
    return [d for d in yaml.safe_load_all(text) if d]


def cilium_cluster(cluster: Cluster) -> tuple[str, int]:
    """The cluster's Cilium name and ID (cilium-config).

    Raises:
        RuntimeError: the cluster does not run Cilium.
        ValueError: the name is ``default`` or the ID 0 (or not 1-255): such a cluster cannot join a mesh, as
            cilium-cli warns on enable ("Cluster not configured for clustermesh") and refuses on connect.
    """
    cm = cluster.find("ConfigMap", "cilium-config", NAMESPACE)
    if cm is None:
        raise RuntimeError(f"{cluster.context} does not run Cilium (no {NAMESPACE}/cilium-config): Cluster Mesh is "
                           "Cilium's; make the cluster with `k8snet kind up --name <name> --cni cilium`")
    data = cm.get("data") or {}
    name = str(data.get("cluster-name") or "default")
    try:
        cluster_id = int(data.get("cluster-id") or 0)
    except ValueError:
        cluster_id = -1
    if name == "default" or not 1 <= cluster_id <= 255:
        raise ValueError(f"{cluster.context} is not configured for Cluster Mesh (cluster-name {name!r}, cluster-id "
                         f"{data.get('cluster-id')!r}): each member needs its own name and an ID of 1-255; the "
                         "workbook's own cluster keeps default/0, a named member (`k8snet kind up --name east --cni "
                         "cilium`) gets its name and slot")
    return name, cluster_id


def ensure_secrets(cluster: Cluster, name: str, ca: certs.Authority) -> list[str]:
    """Apply the four certificate Secrets that are missing or not from ``ca`` (kept when they are); returns the
    names of those (re)issued."""
    changed = []
    for obj in certs.secrets(name, ca):
        secret = obj["metadata"]["name"]
        if certs.issued_by(cluster.find("Secret", secret, NAMESPACE), ca, certs.expected_cn(secret, name)):
            continue
        cluster.apply([obj])
        changed.append(secret)
    return changed


def enable(cluster: Cluster, timeout: float = 600, ca: certs.Authority | None = None) -> list[str]:
    """Install the clustermesh-apiserver and its certificates, and wait until it is Ready; returns the Secrets it
    (re)issued. Idempotent: certificates already from the set's CA are kept; when some are reissued under a running
    clustermesh-apiserver it is restarted (``kubectl rollout restart``), as etcd reads its files at start.

    Raises:
        RuntimeError, ValueError: see :func:`cilium_cluster`.
        TimeoutError: the Deployment was not Ready in time.
    """
    name, _ = cilium_cluster(cluster)
    ca = ca or certs.shared_authority()
    running = cluster.find("Deployment", DEPLOYMENT, NAMESPACE, api_version="apps/v1") is not None
    changed = ensure_secrets(cluster, name, ca)
    cluster.apply(objects())
    if running and changed:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        cluster.apps.patch_namespaced_deployment(
            DEPLOYMENT, NAMESPACE, {"spec": {"template": {"metadata": {"annotations": {RESTARTED: stamp}}}}})
    cluster.wait_ready(DEPLOYMENT, NAMESPACE, timeout=timeout)
    return changed


def validate(a: peers.Access, b: peers.Access) -> None:
    """cilium-cli's validateInfoForConnect for a pair.

    Raises:
        ValueError: a default name or an ID outside 1-255, the same name or the same ID twice.
    """
    for side, ai in (("local", a), ("remote", b)):
        if ai.name == "default" or not 1 <= ai.cluster_id <= 255:
            raise ValueError(f"{side} cluster has the default name ({ai.name}) and/or an ID outside 1-255 "
                             f"({ai.cluster_id})")
    if a.name == b.name:
        raise ValueError(f"remote and local cluster have the same, non-unique name: {a.name}")
    if a.cluster_id == b.cluster_id:
        raise ValueError(f"remote and local cluster have the same, non-unique ID: {a.cluster_id}")


def connect(a: Cluster, b: Cluster) -> list[str]:
    """Mesh two kind clusters both ways; returns cilium-cli's warnings (also raised as :class:`RuntimeWarning`).

    Raises:
        RuntimeError: a cluster without Cilium or without its clustermesh-apiserver (:func:`peers.access`).
        ValueError: what :func:`validate` refuses.
    """
    ma, mb = peers.access(a), peers.access(b)
    validate(ma, mb)
    said = []
    own_tls = not certs.same_authority(ma.ca, mb.ca)
    if own_tls:
        said.append(CA_MISMATCH)
        warnings.warn(f"{a.context} and {b.context}: {CA_MISMATCH}", RuntimeWarning, stacklevel=2)
    peers.write(a, mb, own_tls)
    peers.write(b, ma, own_tls)
    return said


def disconnect(a: Cluster, b: Cluster) -> None:
    """``cilium clustermesh disconnect``: each cluster out of the other's Secret and agents' hosts file."""
    name_a, name_b = (str(((c.find("ConfigMap", "cilium-config", NAMESPACE) or {}).get("data") or {})
                          .get("cluster-name") or "default") for c in (a, b))
    peers.erase(a, name_b)
    peers.erase(b, name_a)


def status(cluster: Cluster) -> list[dict[str, Any]]:
    """Each remote cluster: connected when every agent reports it ready (see :mod:`.agents`)."""
    return agents.collect(cluster)


def set_latency(a: Cluster, b: Cluster, rtt_ms: float) -> dict[str, list[netem.Delay]]:
    """``rtt_ms`` of round trip between the two clusters' networks, with netem on their nodes (0: none)."""
    return netem.set_rtt(a.name, b.name, rtt_ms)


__all__ = ["agents", "certs", "connect", "disconnect", "enable", "netem", "objects", "peers", "set_latency",
           "status", "validate"]
