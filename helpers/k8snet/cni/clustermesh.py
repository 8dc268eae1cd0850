"""Cilium Cluster Mesh between two clusters of the set, from a notebook: connect, wait, look, set the distance.

:func:`connect` is ``cilium clustermesh connect --context A --destination-context B``: after the checks cilium-cli
makes (both clusters run Cilium, each with its own cluster name and a cluster ID of 1-255, pod CIDRs that do not
overlap: Documentation/network/clustermesh/clustermesh.rst "Prerequisites"), it adds each cluster to the other's
``kube-system/cilium-clustermesh`` Secret, one key named after the remote cluster, and the agents connect. It is
the same call for two sandboxes (which read the Secret, :mod:`k8snet.sandbox.clustermesh`) as for two kind
clusters, where the key points at the other cluster's real clustermesh-apiserver (installed by ``k8snet kind up
--name … --cni cilium``) and the agents also learn its address, as cilium-cli does it (:mod:`k8snet.kind.clustermesh`:
the Secret, the agents' hostAliases, ``cilium-dbg status`` for :func:`status`, netem for :func:`set_latency`). Both
clusters of a pair are on the same backend.

Example:
    >>> east, west = k8snet.connect("east", cni="cilium"), k8snet.connect("west", cni="cilium")
    >>> clustermesh.connect(east, west)
    >>> clustermesh.set_latency(east, west, 30)     # a cloud region and a data centre, 30 ms apart
    >>> clustermesh.wait_connected(east, west)
"""

from __future__ import annotations

import base64
import ipaddress
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..sandbox.clustermesh import config, latency

if TYPE_CHECKING:
    from ..cluster import Cluster

SECRET_NAMESPACE, SECRET = config.NAMESPACE, config.SECRET


@dataclass(frozen=True)
class Member:
    """What cilium-config says of one cluster: its Cilium name and ID, and the cluster's pod network."""

    cluster: Cluster
    name: str
    cluster_id: int
    pod_cidr: str


def member(cluster: Cluster) -> Member:
    """The cluster as Cluster Mesh sees it.

    Raises:
        RuntimeError: the cluster does not run Cilium (no ``kube-system/cilium-config``).
    """
    cm = cluster.find("ConfigMap", "cilium-config", "kube-system")
    if cm is None:
        raise RuntimeError(f"{cluster.context} does not run Cilium (no kube-system/cilium-config): Cluster Mesh is "
                           f"Cilium's; make the cluster with cni='cilium'")
    data = cm.get("data") or {}
    try:
        cluster_id = int(data.get("cluster-id") or 0)
    except ValueError:
        cluster_id = -1
    from .. import clusterset

    return Member(cluster, str(data.get("cluster-name") or "default"), cluster_id,
                  clusterset.shape(cluster.name).pod_cidr)


def check_pair(a: Member, b: Member) -> None:
    """What cilium-cli refuses before connecting two clusters.

    Raises:
        ValueError: an ID outside 1-255, the same name or ID twice, overlapping pod CIDRs.
    """
    for m in (a, b):
        if not 1 <= m.cluster_id <= 255:
            raise ValueError(f"{m.cluster.context}: cluster ID {m.cluster_id} is not in 1-255: Cluster Mesh needs "
                             "a unique cluster ID per cluster (cilium-config cluster-id)")
    if a.name == b.name:
        raise ValueError(f"{a.cluster.context} and {b.cluster.context} are both named {a.name!r}: each cluster of a "
                         "mesh needs its own name (cilium-config cluster-name)")
    if a.cluster_id == b.cluster_id:
        raise ValueError(f"{a.cluster.context} and {b.cluster.context} both have cluster ID {a.cluster_id}")
    if ipaddress.ip_network(a.pod_cidr).overlaps(ipaddress.ip_network(b.pod_cidr)):
        raise ValueError(f"pod CIDRs {a.pod_cidr} ({a.name}) and {b.pod_cidr} ({b.name}) overlap: Cluster Mesh "
                         "needs unique pod addresses across clusters")


def _patch(cluster: Cluster, remote: str, add: bool) -> None:
    value = base64.b64encode(config.entry(remote).encode()).decode() if add else None
    if cluster.find("Secret", SECRET, SECRET_NAMESPACE) is None:
        if not add:
            return
        cluster.core.create_namespaced_secret(SECRET_NAMESPACE, {
            "metadata": {"name": SECRET, "namespace": SECRET_NAMESPACE}, "data": {remote: value}})
        return
    cluster.core.patch_namespaced_secret(SECRET, SECRET_NAMESPACE, {"data": {remote: value}})


def _same_backend(a: Cluster, b: Cluster) -> str:
    """The pair's backend.

    Raises:
        ValueError: a sandbox and a kind cluster: neither can reach the other's network or clustermesh-apiserver.
    """
    if a.backend != b.backend:
        raise ValueError(f"{a.context} is a {a.backend} cluster and {b.context} a {b.backend} cluster: Cluster Mesh "
                         "joins clusters whose nodes reach each other, so both must be sandboxes or both kind")
    return a.backend


def connect(a: Cluster, b: Cluster) -> None:
    """Mesh two clusters, both ways (see the module's docstring).

    Raises:
        RuntimeError: a cluster without Cilium; on kind, also one without its clustermesh-apiserver.
        ValueError: what :func:`check_pair` refuses, or a sandbox paired with a kind cluster.
    """
    ma, mb = member(a), member(b)
    check_pair(ma, mb)
    if _same_backend(a, b) != "sandbox":
        from ..kind import clustermesh as kind_mesh

        kind_mesh.connect(a, b)
        return
    _patch(a, mb.name, True)
    _patch(b, ma.name, True)


def disconnect(a: Cluster, b: Cluster) -> None:
    """``cilium clustermesh disconnect``: remove each cluster from the other's Secret."""
    ma, mb = member(a), member(b)
    if _same_backend(a, b) != "sandbox":
        from ..kind import clustermesh as kind_mesh

        kind_mesh.disconnect(a, b)
        return
    _patch(a, mb.name, False)
    _patch(b, ma.name, False)


def status(cluster: Cluster) -> list[dict[str, Any]]:
    """Each remote cluster this one is configured for: connected or not (and why not), how many endpoints and
    global Services it shares (``cilium clustermesh status``). On kind, from ``cilium-dbg status`` in every
    agent: connected when all of them report the remote cluster ready."""
    if cluster.backend != "sandbox":
        from ..kind import clustermesh as kind_mesh

        return kind_mesh.status(cluster)
    return cluster._admin("GET", "clustermesh/status")["clusters"]


WAIT = {"sandbox": (30.0, 0.1), "kind": (600.0, 5.0)}
"""Per backend, how long :func:`wait_connected` waits by default and how often it looks: on kind the agents roll
out with the new hostAliases and then sync the remote state (cilium-cli's ``--wait-duration`` default is 15 min),
and each look runs ``cilium-dbg status`` in every agent."""


def wait_connected(a: Cluster, b: Cluster, timeout: float | None = None) -> None:
    """Wait until each cluster has the other's state (``cilium clustermesh status --wait``); ``timeout`` in seconds
    (None: the backend's default, :data:`WAIT`).

    Raises:
        TimeoutError: with what the last look said.
    """
    ma, mb = member(a), member(b)
    default, interval = WAIT.get(_same_backend(a, b), WAIT["kind"])
    timeout = default if timeout is None else timeout
    deadline = time.monotonic() + timeout
    while True:
        seen = {m.name: {s["cluster"]: s for s in status(m.cluster)} for m in (ma, mb)}
        pending = [f"{x.name} → {y.name}: " + (seen[x.name].get(y.name, {}).get("error") or "not connected yet")
                   for x, y in ((ma, mb), (mb, ma)) if not seen[x.name].get(y.name, {}).get("connected")]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise TimeoutError("Cluster Mesh not connected after "
                               f"{timeout:g} s: {'; '.join(pending)}")
        time.sleep(interval)


def set_latency(a: Cluster, b: Cluster, rtt_ms: float) -> None:
    """Put ``rtt_ms`` milliseconds of round trip between the two clusters' networks (0: none), for every
    connection from one to the other. On kind, ``tc qdisc … netem delay`` of half of it on every node of each, for
    what it sends to the other (:mod:`k8snet.kind.clustermesh.netem`)."""
    if _same_backend(a, b) != "sandbox":
        from ..kind import clustermesh as kind_mesh

        kind_mesh.set_latency(a, b, float(rtt_ms))
        return
    latency.set_rtt(a.name, b.name, float(rtt_ms))


def latency_ms(a: Cluster, b: Cluster) -> float:
    """The round trip set between two clusters (0 when none is)."""
    return latency.rtt_ms(a.name, b.name)


def owners(clusters: list[Cluster], namespace: str) -> dict[str, str]:
    """Which cluster each pod of ``namespace`` runs in (pod name → cluster name), to tell who answered a request
    (:func:`k8snet.plots.cluster_latency`). Two clusters' pods never share a name: their ReplicaSets' suffixes are
    drawn apart."""
    out: dict[str, str] = {}
    for cluster in clusters:
        for pod in cluster.core.list_namespaced_pod(namespace).items:
            out[pod.metadata.name] = cluster.name
    return out


# -- the Multi-Cluster Services API ----------------------------------------------------------------------------

MCS_KEY = "clustermesh-enable-mcs-api"
"""cilium-config's switch for the operator's MCS-API controllers (``helm --set clustermesh.mcsapi.enabled=true``)."""
COREDNS_IMAGE = "registry.k8s.io/coredns/coredns:v1.12.2"
"""The first CoreDNS whose kubernetes plugin has the ``multicluster`` option (kind 1.33 ships v1.12.0)."""
CLUSTERSET_DOMAIN = "clusterset.local"
COREDNS_ROLE = "coredns-mcsapi"


def clusterset_corefile(corefile: str, cluster_domain: str = "cluster.local",
                        clusterset_domain: str = CLUSTERSET_DOMAIN) -> str:
    """A Corefile that also serves ``clusterset.local``, as Cilium's guide edits it (and its CoreDNS
    auto-configuration, clustermesh-apiserver mcsapi-coredns-cfg updateCorefile, does): the clusterset domain after
    the cluster domain, and ``multicluster <clusterset domain>`` first in the kubernetes plugin's block. A Corefile
    that has it already is returned as it is."""
    import re

    if f"multicluster {clusterset_domain}" in corefile:
        return corefile
    corefile = corefile.replace(cluster_domain, f"{cluster_domain} {clusterset_domain}", 1)
    return re.sub(r"(?m)^(\s*)kubernetes(.*)\{", lambda m: f"{m[1]}kubernetes{m[2]}{{\n{m[1]}   multicluster "
                  f"{clusterset_domain}", corefile, count=1)


def enable_mcs_api(cluster: Cluster, timeout: float | None = None) -> None:
    """Turn on the Multi-Cluster Services API in a Cilium cluster, step by step as docs.cilium.io's "Multi-Cluster
    Services API" guide does it (Documentation/network/clustermesh/mcsapi.rst): MCS-API in cilium-config (then the
    operator restarts to read it); CoreDNS able to serve ``clusterset.local`` (v1.12.2, RBAC to list and watch
    ServiceImports, ``multicluster clusterset.local`` in its Corefile, then a restart). On kind, the first step is
    the whole of ``helm upgrade --set clustermesh.mcsapi.enabled=true`` (:mod:`k8snet.kind.clustermesh.mcsapi`: the
    operator installs the ServiceExport and ServiceImport CRDs, reads the mesh, and the clustermesh-apiserver exports);
    the sandbox serves those CRDs on every Cilium cluster. Nothing is changed twice: calling it again is harmless.
    ``timeout`` (seconds per wait) defaults to 120 on the sandbox, 600 on kind, where images are pulled.

    Raises:
        RuntimeError: the cluster does not run Cilium (on kind, also: it has no clustermesh-apiserver).
    """
    import datetime as dt

    member(cluster)
    timeout = timeout if timeout is not None else (600 if cluster.backend == "kind" else 120)
    if cluster.backend == "kind":
        from ..kind.clustermesh import mcsapi as kind_mcsapi

        kind_mcsapi.enable(cluster, timeout=timeout)
    cluster.core.patch_namespaced_config_map("cilium-config", "kube-system", {"data": {MCS_KEY: "true"}})
    cm = cluster.find("ConfigMap", "coredns", "kube-system")
    if cm is not None:
        corefile = (cm.get("data") or {}).get("Corefile", "")
        edited = clusterset_corefile(corefile)
        if edited != corefile:
            cluster.core.patch_namespaced_config_map("coredns", "kube-system", {"data": {"Corefile": edited}})
    cluster.apply([
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": COREDNS_ROLE},
         "rules": [{"apiGroups": ["multicluster.x-k8s.io"], "resources": ["serviceimports"],
                    "verbs": ["list", "watch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": COREDNS_ROLE},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": COREDNS_ROLE},
         "subjects": [{"kind": "ServiceAccount", "name": "coredns", "namespace": "kube-system"}]}])
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    restart = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": now}}}}}
    dns = cluster.apps.read_namespaced_deployment("coredns", "kube-system")
    patch = {"spec": {"template": {"metadata": restart["spec"]["template"]["metadata"],
                                   "spec": {"containers": [{"name": c.name, "image": COREDNS_IMAGE}
                                                           for c in dns.spec.template.spec.containers
                                                           if c.name == "coredns"]}}}}
    cluster.apps.patch_namespaced_deployment("coredns", "kube-system", patch)
    if cluster.find("Deployment", "cilium-operator", "kube-system", "apps/v1") is not None:
        cluster.apps.patch_namespaced_deployment("cilium-operator", "kube-system", restart)
        cluster.wait_ready("cilium-operator", "kube-system", timeout=timeout)
    cluster.wait_ready("coredns", "kube-system", timeout=timeout)

