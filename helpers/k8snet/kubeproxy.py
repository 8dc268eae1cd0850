"""kube-proxy's rules on a node, read the way an administrator reads them.

A privileged pod on the node's network runs ``iptables-save -t nat`` (what ``kubectl debug node/NAME
--profile=sysadmin --image=nicolaka/netshoot`` does by hand), so the same code reads a kind node's real rules
and the sandbox's, which it generates from the tables its data plane routes with.

kube-proxy writes its rules a moment after an EndpointSlice changes, and at most once per ``minSyncPeriod``
(1 s on kind), so right after pods become ready (or start terminating) new connections may still follow the old
rules. :func:`wait_synced` waits until the rules on a client's node list exactly the endpoints the API says
are in use, which is when traffic from that client sees the change.

Example:
    >>> rules = kubeproxy.node_rules(cluster, "k8snet-worker")
    >>> print(kubeproxy.service_rules(rules, "lesson02", "web"))
    >>> kubeproxy.wait_synced(cluster, client, "lesson02", "web")  # before sending traffic after a change
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .cluster import Cluster
from .kind.versions import NETSHOOT_IMAGE as IMAGE
from .traffic import PodRef, endpoints_of, exec_in


@contextmanager
def reader(cluster: Cluster, node: str, namespace: str = "default", timeout: float = 60) -> Iterator[PodRef]:
    """A short-lived privileged pod on ``node``'s network to run iptables in, deleted afterwards (it only
    sleeps, so it needs no grace period to stop)."""
    name = f"iptables-{node}"[:55] + f"-{int(time.time() * 1000) % 100000}"
    cluster.apply({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"k8snet/role": "node-reader"}},
        "spec": {"nodeName": node, "hostNetwork": True, "restartPolicy": "Never",
                 "tolerations": [{"operator": "Exists"}], "terminationGracePeriodSeconds": 0,
                 "containers": [{"name": "reader", "image": IMAGE, "command": ["sleep", "600"],
                                 "securityContext": {"privileged": True}}]}}, namespace=namespace)
    try:
        cluster.wait_pod_ready(name, namespace, timeout=timeout)
        yield PodRef(namespace, name, "reader")
    finally:
        cluster.delete("Pod", name, namespace)


def saved_rules(cluster: Cluster, pod: PodRef, table: str = "nat", timeout: float = 60) -> str:
    """``iptables-save -t TABLE`` in a :func:`reader` pod (every table with ``table=""``)."""
    out = exec_in(cluster, pod, ["iptables-save", *(["-t", table] if table else [])], timeout=timeout)
    if out.exit_code:
        raise RuntimeError(f"iptables-save in {pod} failed: {out.stderr.strip()}")
    return out.stdout


def node_rules(cluster: Cluster, node: str, table: str = "nat", namespace: str = "default",
               timeout: float = 60) -> str:
    """``iptables-save -t TABLE`` on ``node``, from a short-lived privileged host-network pod."""
    with reader(cluster, node, namespace, timeout) as pod:
        return saved_rules(cluster, pod, table, timeout)


def in_use(endpoints: list[dict]) -> set[str]:
    """The addresses kube-proxy sends new connections to: the ready endpoints, or, when none is ready, the
    serving terminating ones (pkg/proxy/topology.go CategorizeEndpoints)."""
    ready = {e["address"] for e in endpoints if e["ready"]}
    return ready or {e["address"] for e in endpoints if e["serving"] and e["terminating"]}


def written_as(spec, endpoints: set[str]) -> dict[str, object]:
    """What kube-proxy's rules for a Service with ``spec`` (the client's V1ServiceSpec) and these endpoints in
    use say, in the terms :func:`shape` reads back: the ClusterIP's ports, where they jump (``KUBE-SVC`` or,
    with ``internalTrafficPolicy: Local``, ``KUBE-SVL``; a REJECT without endpoints), the session affinity
    timeout, the nodePorts, and the endpoint addresses (with a Local policy, kube-proxy on a node may write only
    its own: see :func:`wait_synced`)."""
    ports = {(p.protocol or "TCP").lower() + f"/{p.port}" for p in spec.ports or []}
    affinity = spec.session_affinity == "ClientIP"
    timeout = ((spec.session_affinity_config.client_ip.timeout_seconds if spec.session_affinity_config and
                spec.session_affinity_config.client_ip else None) or 10800) if affinity else None
    node_ports = {(p.protocol or "TCP").lower() + f"/{p.node_port}" for p in spec.ports or []
                  if p.node_port and spec.type in ("NodePort", "LoadBalancer")}
    if not endpoints:
        return {"ports": ports, "to": "REJECT", "affinity": None, "nodePorts": set(), "endpoints": set()}
    return {"ports": ports, "to": "KUBE-SVL" if spec.internal_traffic_policy == "Local" else "KUBE-SVC",
            "affinity": timeout, "nodePorts": node_ports, "endpoints": endpoints}


def shape(rules: ServiceRules, cluster_ip: str) -> dict[str, object]:
    """What a Service's rules (:func:`service_rules` of ``iptables-save`` with every table) say, in the terms
    of :func:`written_as`."""
    ports: set[str] = set()
    to: set[str] = set()
    timeouts = {int(m.group(1)) for line in rules.lines for m in [re.search(r"--rcheck --seconds (\d+)", line)] if m}
    node_ports: set[str] = set()
    for line in rules.lines:
        m = re.match(rf"-A KUBE-SERVICES -d {re.escape(cluster_ip)}/32 -p (\w+) .*--dport (\d+) -j (\S+)", line)
        if m:
            ports.add(f"{m.group(1)}/{m.group(2)}")
            to.add("REJECT" if m.group(3) == "REJECT" else m.group(3)[:8])
        m = re.match(r"-A KUBE-NODEPORTS -p (\w+) .*--dport (\d+) -j", line)
        if m:
            node_ports.add(f"{m.group(1)}/{m.group(2)}")
    return {"ports": ports, "to": to.pop() if len(to) == 1 else sorted(to), "affinity": min(timeouts, default=None),
            "nodePorts": node_ports, "endpoints": {endpoint.rsplit(":", 1)[0] for endpoint, _ in rules.picks()}}


def wait_synced(cluster: Cluster, source: PodRef | str, namespace: str, service: str, timeout: float = 60,
                interval: float = 0.1) -> ServiceRules:
    """Wait until kube-proxy on ``source``'s node (a client pod, or a node's name) has written the Service as
    the API has it now: its ClusterIP's ports, session affinity and traffic policy, and exactly the endpoints in
    use (or, with none, a REJECT). Returns the Service's rules, which connections from ``source`` follow from
    then on. A headless or ExternalName Service has no rules: there is nothing to wait for.

    Raises:
        TimeoutError: the rules did not catch up within ``timeout`` seconds (what they and the API say).
    """
    spec = cluster.core.read_namespaced_service(service, namespace).spec
    if spec.type == "ExternalName" or not spec.cluster_ip or spec.cluster_ip == "None":
        return ServiceRules([])
    node = source if isinstance(source, str) else \
        cluster.core.read_namespaced_pod(source.name, source.namespace).spec.node_name
    deadline = time.monotonic() + timeout
    with reader(cluster, node, namespace, timeout) as pod:
        while True:
            spec = cluster.core.read_namespaced_service(service, namespace).spec
            endpoints = endpoints_of(cluster, namespace, service)
            wanted = written_as(spec, in_use(endpoints))
            rules = service_rules(saved_rules(cluster, pod, "", timeout), namespace, service)
            written = shape(rules, spec.cluster_ip)
            if spec.internal_traffic_policy == "Local" and wanted["to"] != "REJECT":
                # pkg/proxy/iptables: a Local Service's KUBE-SVL chain holds the node's own endpoints (and its
                # KUBE-SVC chain, where written, all of them): every local one, nothing else
                local = in_use([e for e in endpoints if e["node"] == node])
                if local <= written["endpoints"] <= wanted["endpoints"]:  # type: ignore[operator]
                    written["endpoints"] = wanted["endpoints"]
            if written == wanted:
                return rules
            if time.monotonic() > deadline:
                raise TimeoutError(f"kube-proxy on {node} has not written {namespace}/{service} as the API has it "
                                   f"after {timeout:.0f}s: its rules say {written}, the API {wanted}")
            time.sleep(interval)


@dataclass
class ServiceRules:
    """The rules of one Service: its KUBE-SERVICES jumps, its Service chains and its endpoint chains."""

    lines: list[str]

    def __str__(self) -> str:
        return "\n".join(self.lines)

    def _repr_pretty_(self, p, cycle: bool) -> None:  # noqa: ANN001  (IPython's printer)
        p.text(str(self))

    def picks(self) -> list[tuple[str, float | None]]:
        """(endpoint, probability of its rule) in chain order; None for the last rule, which takes the rest."""
        out = []
        for line in self.lines:
            m = re.search(r'--comment "[^"]* -> ([^"]+)"(?: -m statistic --mode random --probability ([0-9.]+))? '
                          r"-j KUBE-SEP-", line)
            if m and "--rcheck" not in line:
                out.append((m.group(1), float(m.group(2)) if m.group(2) else None))
        return out

    def shares(self) -> dict[str, float]:
        """Each endpoint's share of new connections: a rule sees what the rules before it left over."""
        left, out = 1.0, {}
        for endpoint, p in self.picks():
            share = left * (p if p is not None else 1.0)
            out[endpoint] = share
            left -= share
        return out


def service_rules(rules: str, namespace: str, service: str) -> ServiceRules:
    """The lines of ``iptables-save`` output that belong to a Service (found by the comment kube-proxy writes
    on each of its rules, then the chains those rules jump to)."""
    lines = [line for line in rules.splitlines() if line.startswith("-A ")]
    prefix = f"{namespace}/{service}"
    own = [line for line in lines if re.search(rf'--comment "{re.escape(prefix)}(:[^" ]+)?( |")', line)]
    chains = {m.group(1) for line in own for m in [re.search(r"-j (KUBE-(?:SVC|SVL|EXT|SEP)-\w+)", line)] if m}
    chains |= {line.split()[1] for line in own if re.match(r"-A KUBE-(SVC|SVL|EXT|SEP)-", line)}
    picked = [line for line in lines if line in own or line.split()[1] in chains]
    jumps = [m.group(1) for line in picked for m in [re.search(r"-j (KUBE-SEP-\w+)", line)] if m]
    sep_order = {name: jumps.index(name) for name in jumps}

    def rank(line: str) -> tuple[int, int]:
        chain = line.split()[1]
        if chain in ("KUBE-SERVICES", "KUBE-NODEPORTS"):
            return (0 if chain == "KUBE-SERVICES" else 1, 0)
        if chain.startswith("KUBE-SEP-"):
            return (3, sep_order.get(chain, len(sep_order)))  # in the order the Service chain tries them
        return (2, 0)

    return ServiceRules(sorted(picked, key=rank))
