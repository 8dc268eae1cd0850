"""What lab 10's exercises share: the two clusters and their mesh, the starting manifests, who answered a request."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from ... import traffic
from ...cni import clustermesh, wiring
from ...traffic import PodRef, Request, TrafficResult
from .. import Hint, labs_folder

if TYPE_CHECKING:
    from ...cluster import Cluster

LAB = "lab-10-multi-cluster"
CLOUD, ONPREM = "cloud", "onprem"
MEMBERS = {ONPREM: "cilium"}
"""The member of the cluster set the lab also runs on, and its CNI plugin; the lab is loaded with ``cloud``
(``k8snet.connect("cloud", cni="cilium")``)."""
RTT_MS = 30.0
"""The round trip between the two clusters' networks, as lesson 09 sets it."""
MCS = "multicluster.x-k8s.io/v1alpha1"
SETTLE = 15.0
"""Seconds a check gives the clusters to catch up with a change (an annotation the nodes' load balancers read, an
export crossing the mesh, a scale) before it grades: a moment in the sandbox, a few seconds on kind."""
REQUESTS, DRILL_REQUESTS, EXPORT_REQUESTS = 20, 10, 6


def start_manifest(exercise: str, cluster: str) -> Path:
    """A starting-state manifest the learner can read: ``labs/lab-10-multi-cluster/start/<exercise>-<cluster>.yaml``."""
    return labs_folder() / LAB / "start" / f"{exercise}-{cluster}.yaml"


def start(cluster: Cluster, exercise: str, ns: str, kinds: tuple[str, ...] | None = None) -> None:
    """The cluster's starting manifest for the exercise (only its documents of ``kinds``, when given), its pods
    waited for."""
    docs = [d for d in yaml.safe_load_all(start_manifest(exercise, cluster.name).read_text()) if d]
    docs = [d for d in docs if kinds is None or d["kind"] in kinds]
    for obj in cluster.apply(docs, namespace=ns):
        if obj["kind"] == "Deployment":
            cluster.wait_ready(obj["metadata"]["name"], ns)
        elif obj["kind"] == "Pod":
            cluster.wait_pod_ready(obj["metadata"]["name"], ns)


def need_pair(cloud: Cluster, onprem: Cluster, exercise: str) -> None:
    for cluster, name in ((cloud, CLOUD), (onprem, ONPREM)):
        plugin = wiring.plugin(cluster)
        if plugin != "cilium" or cluster.name != name:
            raise RuntimeError(f"exercise {exercise} runs on two Cilium clusters named cloud and onprem, and "
                               f"{cluster.context} (CNI {plugin}) stands where {name} should: load the lab with "
                               "k8snet.connect('cloud', cni='cilium') and let it connect onprem itself")


def need_pods(cluster: Cluster, ns: str, *names: str) -> None:
    """The exercise's client pods, which the check sends its requests from, must still be there."""
    for name in names:
        if cluster.find("Pod", name, ns) is None:
            raise Hint(f'pod "{name}" is gone from {cluster.name}\'s namespace {ns}: the check sends its requests '
                       f"from it. Run lab.setup('{ns.removeprefix('lab10-')}') to start over.")


# -- the mesh every exercise stands on ----------------------------------------------------------------------------


def _connected(a: Cluster, b: Cluster) -> bool:
    return any(s["cluster"] == b.name and s.get("connected") for s in clustermesh.status(a))


def mcs_api_on(cluster: Cluster) -> bool:
    """What :func:`k8snet.cni.clustermesh.enable_mcs_api` does is done: MCS-API in cilium-config, CoreDNS serving
    ``clusterset.local`` and allowed to read ServiceImports."""
    config = (cluster.find("ConfigMap", "cilium-config", "kube-system") or {}).get("data") or {}
    corefile = ((cluster.find("ConfigMap", "coredns", "kube-system") or {}).get("data") or {}).get("Corefile", "")
    return (config.get(clustermesh.MCS_KEY) == "true"
            and f"multicluster {clustermesh.CLUSTERSET_DOMAIN}" in corefile
            and cluster.find("ClusterRole", clustermesh.COREDNS_ROLE, None, "rbac.authorization.k8s.io/v1")
            is not None)


def ensure_mesh(cloud: Cluster, onprem: Cluster) -> None:
    """Mesh the two clusters as lesson 09 does, leaving alone what is done already: ``clustermesh.connect`` and
    wait until both are connected, 30 ms of round trip, the MCS API on both (``clustermesh.enable_mcs_api``,
    which restarts CoreDNS: only where it is not on yet)."""
    if not (_connected(cloud, onprem) and _connected(onprem, cloud)):
        clustermesh.connect(cloud, onprem)
        clustermesh.wait_connected(cloud, onprem)
    if clustermesh.latency_ms(cloud, onprem) != RTT_MS:
        clustermesh.set_latency(cloud, onprem, RTT_MS)
    for cluster in (cloud, onprem):
        if not mcs_api_on(cluster):
            clustermesh.enable_mcs_api(cluster)


def need_mesh(cloud: Cluster, onprem: Cluster, ns: str) -> None:
    if _connected(cloud, onprem) and _connected(onprem, cloud):
        return
    seen = "; ".join(f"{s['cluster']}: {'connected' if s.get('connected') else s.get('error') or 'not connected'}"
                     for s in clustermesh.status(cloud)) or "no remote cluster"
    raise Hint(f"cloud and onprem are not meshed now (cloud's clustermesh status: {seen}): every exercise of this "
               f"lab stands on the Cluster Mesh. Run lab.setup('{ns.removeprefix('lab10-')}'), which meshes them "
               "again.")


# -- who answered -------------------------------------------------------------------------------------------------


def ready_pods(cluster: Cluster, ns: str, app: str) -> list[str]:
    """The pods labelled ``app`` that are Ready and not terminating."""
    out = []
    for pod in cluster.get("Pod", namespace=ns):
        meta, status = pod["metadata"], pod.get("status") or {}
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or [])
        if (meta.get("labels") or {}).get("app") == app and ready and not meta.get("deletionTimestamp"):
            out.append(meta["name"])
    return sorted(out)


def answered_by(run: TrafficResult, owners: dict[str, str]) -> dict[str, list[Request]]:
    """The run's requests by the cluster whose pod answered (``failed`` for those nobody answered)."""
    out: dict[str, list[Request]] = {}
    for r in run.requests:
        out.setdefault(owners.get(r.pod or "", "failed") if r.pod else "failed", []).append(r)
    return out


def median_ms(requests: list[Request]) -> str:
    return f"{statistics.median(r.latency_ms or 0.0 for r in requests):.0f} ms" if requests else "-"


def outcomes(requests: list[Request]) -> str:
    seen: dict[str, int] = {}
    for r in requests:
        seen[r.outcome] = seen.get(r.outcome, 0) + 1
    return ", ".join(f"{n} {what}" for what, n in seen.items())


def settled_run(cloud: Cluster, source: PodRef, url: str, n: int, done: Callable[[TrafficResult], bool],
                timeout: float) -> TrafficResult:
    """``n`` requests from ``source``, again until ``done`` says the run is what the change should give, for up to
    ``timeout`` seconds: every node's load balancer reads an annotation, an export crosses the mesh, a moment after
    the API has it. The last run."""
    deadline = time.monotonic() + timeout
    while True:
        run = traffic.send(cloud, source, url, n=n)
        if done(run) or time.monotonic() >= deadline:
            return run
        time.sleep(0.5)
