"""Whether a kind cluster's agents are connected to their remote clusters: ``cilium-dbg status`` in each agent.

``cilium clustermesh status`` asks every cilium agent for its status (``determineStatusConnectivity`` in
cilium-cli/clustermesh/clustermesh.go) and calls a node connected to a cluster when the agent reports that remote
cluster ready. k8snet does the same through the exec API, with the agent's own CLI: ``cilium-dbg status
--all-clusters`` prints a ``ClusterMesh:`` section with one line per remote cluster and, under it, the etcd
connection, the remote configuration and the synchronization state (the example of cilium/cilium#32341;
#26788 added the details):

    ClusterMesh:            1/1 clusters ready, 0 global-services
       clustermesh1: ready, 2 nodes, 12 endpoints, 5 identities, 0 services, 0 failures (last: never)
       └  etcd: 1/1 connected, leases=0, lock leases=1, has-quorum=true: endpoint status checks are disabled, ID: …
       └  remote configuration: expected=true, retrieved=true, cluster-id=1, kvstoremesh=true, sync-canaries=true
       └  synchronization status: nodes=true, endpoints=true, identities=true, services=true

The parser reads that shape as agents since 1.12 print it (1.12's cluster lines have no endpoint count; the
header may say ``remote clusters``), keeps the lines under a cluster as its details, and says why a cluster is not
ready the way cilium-cli says it (``remoteClusterStatusToError``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import peers

if TYPE_CHECKING:
    from ...cluster import Cluster

COMMAND = ["cilium-dbg", "status", "--all-clusters"]
"""``--all-clusters``: every remote cluster with its details, not only those that are not ready (cmdref
cilium-dbg_status)."""
AGENT_SELECTOR = "k8s-app=cilium"
AGENT_CONTAINER = "cilium-agent"

_HEADER = re.compile(r"^ClusterMesh:\s+(?P<ready>\d+)/(?P<total>\d+) (?:remote )?clusters ready, "
                     r"(?P<global>\d+) global-services")
_CLUSTER = re.compile(r"^\s+(?P<name>[A-Za-z0-9][-A-Za-z0-9._]*): (?P<state>[a-z-]+), (?P<nodes>\d+) nodes, "
                      r"(?:(?P<endpoints>\d+) endpoints, )?(?P<identities>\d+) identities, (?P<services>\d+) services")
_DETAIL = re.compile(r"^\s+└\s+(?P<text>.*\S)\s*$")
_FLAGS = re.compile(r"(\w[\w-]*)=(\w+)")
_LATER_TOPICS = ("remote configuration", "synchronization status")


@dataclass
class Remote:
    """One remote cluster as one agent sees it."""

    name: str
    state: str
    nodes: int
    endpoints: int | None
    identities: int
    services: int
    details: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    def problem(self) -> str | None:
        """Why it is not ready, as cilium-cli's remoteClusterStatusToError puts it (None when ready)."""
        if self.ready:
            return None
        by_topic = {d.split(":", 1)[0]: d for d in self.details}
        config = dict(_FLAGS.findall(by_topic.get("remote configuration", "")))
        sync = dict(_FLAGS.findall(by_topic.get("synchronization status", "")))
        # the first line is the backend's own status: the etcd connection, or why there is none ("quorum check
        # failed …"), which cilium-cli reports first (status.Status when not connected)
        backend = next((d for d in self.details if not d.startswith(_LATER_TOPICS)), "")
        if backend and not re.match(r"etcd: (\d+)/\1 connected", backend):
            return backend
        if config.get("expected") == "true" and config.get("retrieved") == "false":
            return "remote cluster configuration required but not found"
        pending = [k for k in ("endpoints", "identities", "nodes", "services") if sync.get(k) == "false"]
        if pending:
            return f"synchronization in progress for {', '.join(pending)}"
        return self.details[0] if self.details else self.state


@dataclass
class AgentView:
    """An agent's ClusterMesh section."""

    ready: int
    total: int
    global_services: int
    clusters: dict[str, Remote]


def parse(text: str) -> AgentView | None:
    """The ``ClusterMesh:`` section of ``cilium-dbg status`` output (None when it has none)."""
    view: AgentView | None = None
    current: Remote | None = None
    for line in text.splitlines():
        if view is None:
            m = _HEADER.match(line)
            if m:
                view = AgentView(int(m["ready"]), int(m["total"]), int(m["global"]), {})
            continue
        if line and not line[0].isspace():
            break  # the next section
        m = _CLUSTER.match(line)
        if m:
            current = Remote(m["name"], m["state"], int(m["nodes"]),
                             int(m["endpoints"]) if m["endpoints"] is not None else None,
                             int(m["identities"]), int(m["services"]))
            view.clusters[current.name] = current
            continue
        d = _DETAIL.match(line)
        if d and current is not None:
            current.details.append(d["text"])
    return view


@dataclass
class Seen:
    """What the agents of one cluster say of one remote cluster."""

    configured: int = 0
    connected: int = 0
    errors: list[str] = field(default_factory=list)
    best: Remote | None = None


def summarize(views: dict[str, AgentView | str], expected: list[str]) -> list[dict[str, Any]]:
    """Per remote cluster, over all agents (``views``: per pod its parsed view, or why it could not be read):
    connected when every agent reports it ready, as ``cilium clustermesh status`` counts "N/N connected"; the first
    agent's reason otherwise. A remote the Secret configures but an agent does not list is "unknown status"
    (cilium-cli's words)."""
    names = sorted(set(expected) | {n for v in views.values() if isinstance(v, AgentView) for n in v.clusters})
    seen = {n: Seen() for n in names}
    for pod, view in sorted(views.items()):
        for name in names:
            s = seen[name]
            if isinstance(view, str):
                s.errors.append(f"{pod}: {view}")
                continue
            remote = view.clusters.get(name)
            if remote is None:
                s.errors.append(f"{pod}: unknown status")
                continue
            s.configured += 1
            if remote.ready:
                s.connected += 1
                s.best = s.best if s.best and s.best.ready else remote
            else:
                s.errors.append(f"{pod}: {remote.problem()}")
                s.best = s.best or remote
    total = len(views)
    out = []
    for name in names:
        s = seen[name]
        best = s.best
        out.append({"cluster": name, "connected": total > 0 and s.connected == total,
                    "error": None if total and s.connected == total else (s.errors[0] if s.errors
                                                                          else "no cilium agent answered"),
                    "endpoints": best.endpoints if best else None, "globalServices": best.services if best else None,
                    "nodes": best.nodes if best else None, "identities": best.identities if best else None,
                    "agents": {"total": total, "configured": s.configured, "connected": s.connected}})
    return out


def collect(cluster: Cluster, timeout: float = 60) -> list[dict[str, Any]]:
    """Run ``cilium-dbg status --all-clusters`` in every cilium agent of ``cluster`` and summarize (see
    :func:`summarize`); the remotes expected are those of the cluster's ``cilium-clustermesh`` Secret."""
    from ...traffic import PodRef, exec_in

    cm = cluster.find("ConfigMap", "cilium-config", peers.NAMESPACE)
    local = str(((cm or {}).get("data") or {}).get("cluster-name") or "default")
    expected = peers.configured(cluster.find("Secret", peers.SECRET, peers.NAMESPACE), local)
    pods = cluster.core.list_namespaced_pod(peers.NAMESPACE, label_selector=AGENT_SELECTOR).items
    views: dict[str, AgentView | str] = {}
    for pod in pods:
        name = pod.metadata.name
        if (pod.status.phase or "") != "Running":
            views[name] = f"the agent pod is {pod.status.phase or 'not running'}"
            continue
        try:
            out = exec_in(cluster, PodRef(peers.NAMESPACE, name, AGENT_CONTAINER), COMMAND, timeout=timeout)
        except Exception as exc:  # noqa: BLE001  (a pod going away mid-rollout: say so, look again later)
            views[name] = f"`{' '.join(COMMAND)}` could not run ({type(exc).__name__}: {exc})"
            continue
        view = parse(out.stdout)
        if out.exit_code != 0 or view is None:
            tail = (out.stderr or out.stdout).strip().splitlines()[-1:] or ["no ClusterMesh section"]
            views[name] = f"`{' '.join(COMMAND)}` answered exit {out.exit_code}: {tail[0]}"
            continue
        views[name] = view
    return summarize(views, expected)
