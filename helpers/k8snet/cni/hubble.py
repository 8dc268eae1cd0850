"""Hubble's flows, read the same way on both backends: ``hubble observe`` run inside each Cilium agent pod.

The cilium image ships the hubble CLI, and inside an agent pod it reads that node's Hubble server (its local
socket), so ``kubectl exec -n kube-system ds/cilium -- hubble observe`` works on kind as it does in the sandbox,
whose agent image emulates the command. Hubble Relay, which merges every node's flows, is not deployed
(``hubble.relay.enabled`` is the chart's default false, kind/manifests/cilium.yaml) and its gRPC would need
``cilium hubble port-forward``; so :func:`observe` runs ``hubble observe -o jsonpb`` in every agent pod, one per
node, and merges the flows by time. Each flow is parsed from its JSON (api/v1/flow/flow.proto field names).

Example:
    >>> from k8snet.cni import hubble
    >>> hubble.observe(cluster, namespace="cilium-test", verdict="DROPPED", last=5)
    TIME              SOURCE                  DESTINATION           TYPE           VERDICT  SUMMARY
    Dec  6 03:39:38…  cilium-test/client      cilium-test/echo:8080  Policy denied  DROPPED  TCP Flags: SYN
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..table import Table
from ..traffic import PodRef, exec_many

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..cluster import Cluster

AGENT_SELECTOR = "k8s-app=cilium"
DROP_REASONS = {"POLICY_DENIED": "Policy denied"}


@dataclass
class Flow:
    """One flow as ``hubble observe -o jsonpb`` reports it."""

    time: str
    node: str
    verdict: str
    type: str  # to-endpoint, to-overlay, to-stack, Policy denied, http-request, http-response, dns-request proxy
    source: str  # namespace/pod or the IP
    destination: str
    source_identity: int
    destination_identity: int
    source_port: int
    destination_port: int
    drop_reason: str = ""
    summary: str = ""
    source_labels: list[str] = field(default_factory=list)
    destination_labels: list[str] = field(default_factory=list)
    http: dict[str, Any] = field(default_factory=dict)  # method, url, code (L7 flows)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


def parse(line: str) -> Flow | None:
    """One line of ``hubble observe -o jsonpb`` (None for a line that is not a flow)."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    f = data.get("flow")
    if not f:
        return None
    src, dst = f.get("source") or {}, f.get("destination") or {}
    ip = f.get("IP") or {}
    l4 = next(iter((f.get("l4") or {}).values()), {})
    l7 = f.get("l7") or {}
    reason = DROP_REASONS.get(f.get("drop_reason_desc", ""), f.get("drop_reason_desc", ""))
    if l7.get("dns"):  # hubble's printer: "dns-request proxy" (with the DNS record's observation source)
        kind = f"dns-{str(l7.get('type', '')).lower()} {l7['dns'].get('observation_source', '')}".rstrip()
    elif l7:
        kind = f"http-{str(l7.get('type', '')).lower()}"
    elif f.get("verdict") == "DROPPED":
        kind = reason
    else:
        kind = str(f.get("trace_observation_point", "")).lower().replace("_", "-")

    def name(peer: dict[str, Any], address: str, names: list[str] | None) -> str:
        """printer.Hostname: the pod, else the DNS names the endpoint resolved to the address, else the address."""
        return f"{peer['namespace']}/{peer['pod_name']}" if peer.get("pod_name") else (",".join(names or []) or address)

    return Flow(f.get("time", ""), f.get("node_name", ""), f.get("verdict", ""), kind,
                name(src, ip.get("source", ""), f.get("source_names")),
                name(dst, ip.get("destination", ""), f.get("destination_names")), int(src.get("identity") or 0),
                int(dst.get("identity") or 0), int(l4.get("source_port") or 0), int(l4.get("destination_port") or 0),
                reason, f.get("Summary", ""), list(src.get("labels") or []), list(dst.get("labels") or []),
                dict(l7.get("http") or {}), f)


def _args(pod: str | None, namespace: str | None, verdict: str | None, port: int | None, last: int | None,
          extra: list[str]) -> list[str]:
    args = ["hubble", "observe", "-o", "jsonpb"]
    args += ["--last", str(last)] if last is not None else ["--all"]
    if pod:
        args += ["--pod", pod if "/" in pod or not namespace else f"{namespace}/{pod}"]
    elif namespace:
        args += ["--namespace", namespace]
    if verdict:
        args += ["--verdict", verdict.upper()]
    if port is not None:
        args += ["--port", str(port)]
    return args + list(extra)


def flows(cluster: Cluster, pod: str | None = None, namespace: str | None = None, verdict: str | None = None,
          port: int | None = None, last: int | None = 20, extra: list[str] | None = None,
          timeout: float = 30) -> list[Flow]:
    """The flows of every node's Hubble that pass the filters, oldest first (``last``: at most that many per
    node, then the newest ``last`` of them all; None: every flow the nodes keep)."""
    agents = cluster.core.list_namespaced_pod("kube-system", label_selector=AGENT_SELECTOR).items
    agents = [p for p in agents if p.status.phase == "Running"]
    if not agents:
        raise RuntimeError("no Cilium agent pod runs in kube-system (label k8s-app=cilium): is this cluster "
                           "running Cilium? (k8snet sandbox up --cni cilium, or k8snet kind up --cni cilium)")
    command = _args(pod, namespace, verdict, port, last, extra or [])
    jobs = [(PodRef("kube-system", p.metadata.name, "cilium-agent"), command) for p in agents]
    out: list[Flow] = []
    for agent, result in zip(agents, exec_many(cluster, jobs, timeout=timeout), strict=True):
        if result.exit_code != 0:
            raise RuntimeError(f"hubble observe in {agent.metadata.name} failed: {result.stderr.strip()}")
        out += [f for f in map(parse, result.stdout.splitlines()) if f is not None]
    out.sort(key=lambda f: f.time)
    return out[-last:] if last else out


def observe(cluster: Cluster, pod: str | None = None, namespace: str | None = None, verdict: str | None = None,
            port: int | None = None, last: int | None = 20) -> Table:
    """``hubble observe`` across the cluster's nodes, as a table: time, source, destination, type, verdict and
    the drop reason or L7 summary."""
    rows = []
    for f in flows(cluster, pod, namespace, verdict, port, last):
        stamp = f.time[11:23] if len(f.time) >= 23 else f.time
        src = f"{f.source}:{f.source_port}" if f.source_port else f.source
        dst = f"{f.destination}:{f.destination_port}" if f.destination_port else f.destination
        rows.append([stamp, f.node, f"{src} ({f.source_identity})", f"{dst} ({f.destination_identity})", f.type,
                     f.verdict, f.summary])
    return Table(["TIME", "NODE", "SOURCE (IDENTITY)", "DESTINATION (IDENTITY)", "TYPE", "VERDICT", "SUMMARY"],
                 rows, caption=f"hubble observe on every node ({len(rows)} flows)")


@dataclass
class Edge:
    source: str
    destination: str
    port: int
    forwarded: int = 0
    dropped: int = 0


def edges(found: list[Flow]) -> list[Edge]:
    """Source → destination:port with its forwarded and dropped connection attempts (L3/L4 flows; a connection
    seen on two nodes counts once, at its destination's node or where it was dropped)."""
    counts: Counter[tuple[str, str, int, str]] = Counter()
    for f in found:
        if f.http or f.type == "to-overlay":
            continue
        counts[(f.source, f.destination, f.destination_port, f.verdict)] += 1
    out: dict[tuple[str, str, int], Edge] = {}
    for (src, dst, port, verdict), n in sorted(counts.items()):
        edge = out.setdefault((src, dst, port), Edge(src, dst, port))
        if verdict == "DROPPED":
            edge.dropped += n
        else:
            edge.forwarded += n
    return list(out.values())


def service_map(cluster: Cluster, namespace: str | None = None, last: int | None = None,
                backend: str = "") -> Figure:
    """The picture of who talked to whom and what the policy dropped (:func:`k8snet.plots.service_map`)."""
    from ..plots import service_map as draw

    return draw(edges(flows(cluster, namespace=namespace, last=last)), backend=backend)


def when(flow: Flow) -> datetime:
    return datetime.fromisoformat(flow.time.replace("Z", "+00:00"))
