"""kube-proxy in iptables mode: which endpoint a new connection to a Service address reaches.

Decisions follow pkg/proxy/iptables/proxier.go and pkg/proxy/topology.go
(CategorizeEndpoints) as of Kubernetes 1.33, and the page
https://kubernetes.io/docs/reference/networking/virtual-ips/:

- a uniformly random endpoint per new connection (the ``statistic --mode
  random`` rules), drawn from the sandbox's seeded generator;
- ``sessionAffinity: ClientIP`` through the ``recent`` module: a client
  seen within ``timeoutSeconds`` (default 10800) returns to its endpoint;
- traffic policies: ``internalTrafficPolicy: Local`` for ClusterIPs,
  ``externalTrafficPolicy: Local`` for NodePorts, LoadBalancer IPs and
  externalIPs, with the "pod traffic for external destinations" short-circuit;
- serving-terminating endpoints only when no ready one exists;
- no endpoints at all → REJECT (Refused); no *local* endpoint for a Local
  policy, or a port the Service does not define → the packet is dropped (Timeout);
- source NAT: what the server sees as the client address.

kube-proxy routes on the Services and EndpointSlices *as of its last sync*,
not as the API has them now: its informers queue each change, and a
``BoundedFrequencyRunner`` (:class:`SyncRunner`) writes the rules at most
once per ``minSyncPeriod`` (1 s in kind's KubeProxyConfiguration, read from
the kube-system/kube-proxy ConfigMap), with a burst of two. A change that
arrives within a second of the last writes waits for the next allowed sync,
and until then new connections still go to the endpoints of the old rules
(https://kubernetes.io/docs/reference/networking/virtual-ips/, "minSyncPeriod").

The network between nodes is kind's (kindnet): pod traffic leaving the pod
network for a node address is masqueraded to the source node's address.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import globalservices
from .model import Hop, Refused, Timeout

if TYPE_CHECKING:
    from ..instance import Sandbox
    from ..store import Event

Obj = dict[str, Any]
SLICES = "endpointslices.discovery.k8s.io"
MESH_SLICES = ("endpointslice.kubernetes.io/managed-by", "endpointslice-mesh-controller.cilium.io")
"""The label of the EndpointSlices Cilium's operator writes for another cluster's backends. The agents' load
balancer leaves them out (they watch EndpointSlices with ``managed-by!=endpointslice-mesh-controller.cilium.io``):
it has those backends from the Cluster Mesh already."""
WATCHED = ("services", SLICES)
"""What kube-proxy's informers watch that changes its rules (its ServiceConfig and EndpointSliceConfig)."""

DEFAULT_AFFINITY_TIMEOUT = 10800  # core/v1 defaults: sessionAffinityConfig.clientIP.timeoutSeconds
EXCLUDE_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"


@dataclass(frozen=True)
class Endpoint:
    """One endpoint of an EndpointSlice, with the conditions kube-proxy reads.

    pkg/proxy/endpointslicecache.go: only ``addresses[0]`` is used; ``ready``
    and ``serving`` default to true when unset, ``terminating`` to false.
    """

    ip: str
    ports: tuple[tuple[str, int, str], ...]  # the slice's ports: (name, number, protocol)
    ready: bool
    serving: bool
    terminating: bool
    node: str
    pod: str
    namespace: str
    hostname: str
    cluster: str = ""
    """The cluster of a remote backend of a Cilium global Service ('' for this cluster's)."""

    def port(self, name: str, protocol: str) -> int | None:
        """The slice port matching a Service port by name and protocol (how kube-proxy pairs them)."""
        for pname, number, pproto in self.ports:
            if pname == name and pproto == protocol:
                return number
        return None


def slice_endpoints(sandbox: Sandbox, namespace: str, service: str) -> list[Endpoint]:
    """Every IPv4 endpoint of the EndpointSlices labelled ``kubernetes.io/service-name: <service>``, as the API
    has them now (CoreDNS reads them live; kube-proxy routes on its last sync: :meth:`KubeProxy.endpoints`)."""
    return endpoints_of_slices(sandbox.store.list(SLICES, namespace), namespace, service)


def is_mesh_slice(slice_: Obj) -> bool:
    """A slice of another cluster's backends (:data:`MESH_SLICES`)."""
    return (slice_["metadata"].get("labels") or {}).get(MESH_SLICES[0]) == MESH_SLICES[1]


def endpoints_of_slices(slices: list[Obj], namespace: str, service: str) -> list[Endpoint]:
    """The IPv4 endpoints of ``slices`` that belong to ``namespace/service``."""
    out: list[Endpoint] = []
    for es in slices:
        if (es["metadata"].get("labels") or {}).get("kubernetes.io/service-name") != service:
            continue
        if es["metadata"].get("namespace", namespace) != namespace or es.get("addressType", "IPv4") != "IPv4":
            continue
        ports = tuple((p.get("name") or "", p["port"], p.get("protocol") or "TCP")
                      for p in es.get("ports") or [] if p.get("port") is not None)
        for ep in es.get("endpoints") or []:
            if not ep.get("addresses"):
                continue
            cond = ep.get("conditions") or {}
            ref = ep.get("targetRef") or {}
            out.append(Endpoint(ep["addresses"][0], ports, cond.get("ready") is not False,
                                cond.get("serving") is not False, cond.get("terminating") is True,
                                ep.get("nodeName") or "", ref.get("name", "") if ref.get("kind", "Pod") == "Pod" else "",
                                ref.get("namespace", namespace), ep.get("hostname") or ""))
    return out


@dataclass
class Route:
    """Where kube-proxy sent one new connection, and why (``hops``)."""

    service: Obj
    service_port: Obj
    via: str  # ClusterIP, NodePort, LoadBalancer, externalIP
    endpoint: Endpoint
    pod_ip: str
    target_port: int
    pod_name: str
    node: str  # the node whose rules chose the endpoint
    client_ip: str  # the source address the server sees
    reason: str  # random, affinity, only-one, traffic-policy
    hops: list[Hop] = field(default_factory=list)


@dataclass
class _Match:
    service: Obj
    port: Obj
    via: str


@dataclass
class _Rules:
    """KUBE-SERVICES and KUBE-NODEPORTS as lookup tables for one store revision.

    Each hit carries its rank in the order the chains are walked (Services in
    store order; per Service its ClusterIP, externalIPs, LoadBalancer IPs,
    then its NodePorts), so the first match wins as it does in a scan.
    """

    rv: int
    node_ips: dict[str, str]
    node_addresses: set[str]
    vips: dict[tuple[str, int, str], tuple[int, _Match]]
    node_ports: dict[tuple[int, str], tuple[int, _Match]]
    vip_only: dict[str, tuple[Obj, str]]  # the first Service owning a VIP, for ports it does not define

    @classmethod
    def build(cls, rv: int, services: list[Obj], node_ips: dict[str, str]) -> _Rules:
        rules = cls(rv, node_ips, set(node_ips.values()), {}, {}, {})
        for rank, svc in enumerate(services):
            spec, status = svc.get("spec") or {}, svc.get("status") or {}
            stype = spec.get("type", "ClusterIP")
            if stype == "ExternalName":
                continue
            vips = {
                "ClusterIP": [ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if ip and ip != "None"],
                "externalIP": spec.get("externalIPs") or [],
                "LoadBalancer": [i["ip"] for i in (status.get("loadBalancer") or {}).get("ingress") or []
                                 if i.get("ip")] if stype == "LoadBalancer" else [],
            }
            for order, (via, ips) in enumerate(vips.items()):
                for ip in ips:
                    rules.vip_only.setdefault(ip, (svc, via))
                    for p in spec.get("ports") or []:
                        rules.vips.setdefault((ip, p.get("port"), p.get("protocol", "TCP")),
                                              (rank * 4 + order, _Match(svc, p, via)))
            if stype in ("NodePort", "LoadBalancer"):
                for p in spec.get("ports") or []:
                    if p.get("nodePort"):
                        rules.node_ports.setdefault((p["nodePort"], p.get("protocol", "TCP")),
                                                    (rank * 4 + 3, _Match(svc, p, "NodePort")))
        return rules


DEFAULT_MIN_SYNC_PERIOD = 1.0
"""KubeProxyConfiguration ``iptables.minSyncPeriod``: kube-proxy's default, and what kind sets."""
BURST_SYNCS = 2
"""pkg/proxy/iptables/proxier.go (1.33) NewProxier: ``burstSyncs := 2``."""
MAX_SYNC_INTERVAL = 3600.0
"""The runner's maxInterval: "time.Hour is arbitrary" (the iptables monitor does the periodic checks)."""


class SyncRunner:
    """kube-proxy's ``syncRunner`` as Kubernetes 1.33 builds it, played on the sandbox clock.

    pkg/proxy/iptables/proxier.go: ``async.NewBoundedFrequencyRunner("sync-runner", proxier.syncProxyRules,
    minSyncPeriod, time.Hour, burstSyncs)``; pkg/util/async/bounded_frequency_runner.go: ``Run()`` asks for a
    sync; ``tryRun`` runs it at once when the token bucket (client-go flowcontrol, x/time/rate: ``1/minInterval``
    tokens a second, ``burst`` of them, full at the start) has a token, otherwise sets the runner's one timer to
    ``minInterval`` after the last run (or earlier if the timer was already due sooner), and the timer's firing
    is another ``tryRun``. Each run resets the timer to ``maxInterval``. (Kubernetes 1.34 replaced this runner
    with pkg/proxy/runner, which has no burst.)

    Nothing waits here: the timer is a due time, and :meth:`fire_due` plays every firing up to a moment when
    someone looks, so the rules are exactly what the runner would have written by then.
    """

    def __init__(self, min_interval: float, now: float, burst: int = BURST_SYNCS,
                 max_interval: float = MAX_SYNC_INTERVAL):
        self.min_interval, self.max_interval, self.burst = min_interval, max(max_interval, min_interval), burst
        self.tokens, self.stamp = float(burst), now  # the limiter's bucket and when it was last topped up
        self.last_run = float("-inf")
        self.due = now + self.max_interval  # Loop: bfr.timer.Reset(bfr.maxInterval)

    def request(self, now: float, run: Any) -> None:
        """``Run()``: sync now if a token allows it, else when the timer fires (``run(t)`` does the sync)."""
        self.fire_due(now, run)
        self._try(now, run)

    def fire_due(self, now: float, run: Any) -> None:
        """Every timer firing up to ``now``, in order (each a ``tryRun`` at its own moment)."""
        while self.due <= now:
            before = self.due
            self._try(before, run)
            if self.due <= before:  # never loop on the same instant
                self.due = before + self.min_interval

    def _try(self, t: float, run: Any) -> None:
        if self.min_interval <= 0:  # "if minInterval == 0 { bfr.limiter = nullLimiter{} }"
            allowed = True
        else:
            self.tokens = min(float(self.burst), self.tokens + (t - self.stamp) / self.min_interval)
            self.stamp = t
            allowed = self.tokens >= 1 - 1e-9
            if allowed:
                self.tokens -= 1
        if allowed:
            run(t)
            self.last_run = t
            self.due = t + self.max_interval
            return
        next_possible = self.min_interval - (t - self.last_run)
        self.due = t + min(next_possible, self.due - t)


@dataclass
class Synced:
    """What kube-proxy's last sync wrote: the Services and their endpoints, and the lookup tables from them."""

    at: float  # sandbox time of the sync
    number: int  # syncs since kube-proxy started (the first is the one at its start)
    services: list[Obj]
    slices: list[Obj]
    rules: _Rules
    _endpoints: dict[tuple[str, str], list[Endpoint]] = field(default_factory=dict)

    def endpoints(self, namespace: str, service: str) -> list[Endpoint]:
        key = (namespace, service)
        if key not in self._endpoints:
            self._endpoints[key] = endpoints_of_slices(
                [s for s in self.slices if s["metadata"].get("namespace") == namespace and not is_mesh_slice(s)],
                namespace, service)
        return self._endpoints[key]


def min_sync_period(sandbox: Sandbox) -> float:
    """``iptables.minSyncPeriod`` from the kube-system/kube-proxy ConfigMap kube-proxy reads at start
    (a Go duration such as ``1s`` or ``500ms``), else the default of 1 s."""
    cm = sandbox.store.get("configmaps", "kube-system", "kube-proxy") or {}
    text = (cm.get("data") or {}).get("config.conf", "")
    block = re.search(r"^iptables:\n((?:[ \t]+.*\n?)*)", text, re.M)
    found = re.search(r"^\s+minSyncPeriod:\s*(\S+)", block.group(1), re.M) if block else None
    if not found:
        return DEFAULT_MIN_SYNC_PERIOD
    seconds = go_duration(found.group(1))
    return DEFAULT_MIN_SYNC_PERIOD if seconds is None else seconds


def go_duration(text: str) -> float | None:
    """time.ParseDuration for the units a KubeProxyConfiguration uses (h, m, s, ms); None if it is not one."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", text.strip().strip("'\""))
    if not parts or "".join(n + u for n, u in parts) != text.strip().strip("'\""):
        return None
    return sum(float(n) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[u] for n, u in parts)


def _proxy_view(resource: str, obj: Obj | None) -> Any:
    """What kube-proxy's change trackers compare: a Service's spec and load-balancer status, a slice's
    service, address type, ports and endpoints (ServiceChangeTracker / EndpointsChangeTracker: an update
    that leaves these alone queues no change, so it asks for no sync). Cilium's service annotations count too:
    its agent, which balances Services in a Cilium cluster, reads them (global, shared, affinity)."""
    if obj is None:
        return None
    if resource == "services":
        cilium = {k: v for k, v in (obj["metadata"].get("annotations") or {}).items()
                  if k.startswith(globalservices.PREFIX)}
        return (obj.get("spec"), (obj.get("status") or {}).get("loadBalancer"), cilium)
    return ((obj["metadata"].get("labels") or {}).get("kubernetes.io/service-name"), obj.get("addressType"),
            obj.get("ports"), obj.get("endpoints"))


class KubeProxy:
    """Every node's kube-proxy rules, evaluated for one connection at a time.

    Each node's kube-proxy sees the same Services and EndpointSlices at the
    same moments, so one :class:`SyncRunner` stands for all of them.

    Example:
        >>> route = sandbox.dataplane.proxy.route(client_pod, "k8snet-worker", "10.96.12.34", 80, "TCP")
        >>> route.pod_name, route.reason
        ('web-7c9d-abcde', 'random')
    """

    def __init__(self, sandbox: Sandbox):
        self.sb = sandbox
        # the ``recent`` module's lists: (namespace, service, port name, client IP) → (endpoint, last seen)
        self._affinity: dict[tuple[str, str, str, str], tuple[str, float]] = {}
        now = sandbox.clock.time()
        self.min_sync_period = min_sync_period(sandbox)
        self.runner = SyncRunner(self.min_sync_period, now)
        self.pending = False  # changes queued in the trackers that no sync has written yet
        self._synced: Synced | None = None
        self.runner.request(now, lambda t: self._run(t, None))  # its start: the first sync (informers synced)

    # -- syncs ----------------------------------------------------------------------------------

    def observe(self, event: Event) -> None:
        """An informer event (Service or EndpointSlice): queue the change, and ask the runner for a sync
        (``OnServiceUpdate``/``OnEndpointSliceUpdate`` → ``Sync()`` when the trackers hold a change)."""
        if event.resource not in WATCHED:
            return
        now = self.sb.clock.time()
        # syncs that fell due before this change saw the world without it
        self.runner.fire_due(now, lambda t: self._run(t, event))
        if _proxy_view(event.resource, event.old) != _proxy_view(event.resource,
                                                                  None if event.type == "DELETED" else event.obj):
            self.pending = True
        if self.pending:
            self.runner.request(now, lambda t: self._run(t, None))

    def synced(self) -> Synced:
        """The rules as kube-proxy last wrote them, after every sync that has fallen due by now."""
        self.runner.fire_due(self.sb.clock.time(), lambda t: self._run(t, None))
        assert self._synced is not None
        return self._synced

    def _run(self, t: float, without: Event | None) -> None:
        """syncProxyRules at sandbox time ``t``: the store as it is, less ``without`` (a change that came after
        ``t`` and is being delivered now)."""
        self._synced = self._sync_now(t, without, (self._synced.number if self._synced else 0) + 1)
        self.pending = False

    def _sync_now(self, t: float, without: Event | None, number: int) -> Synced:
        services, slices = self.sb.store.list("services"), self.sb.store.list(SLICES)
        if without is not None:
            meta = without.obj["metadata"]
            key = (meta.get("namespace", ""), meta["name"])

            def revert(objs: list[Obj]) -> list[Obj]:
                keep = {(o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in objs}
                keep.pop(key, None)
                if without.old is not None:
                    keep[key] = without.old
                return [keep[k] for k in sorted(keep)]

            if without.resource == "services":
                services = revert(services)
            else:
                slices = revert(slices)
        return Synced(t, number, services, slices, _Rules.build(number, services, self._node_ips()))

    def _rules(self) -> _Rules:
        """The Service rules as lookup tables, as of the last sync."""
        return self.synced().rules

    def services(self) -> list[Obj]:
        """The Services kube-proxy's rules were last written for."""
        return self.synced().services

    def endpoints(self, namespace: str, service: str) -> list[Endpoint]:
        """A Service's endpoints as kube-proxy's rules were last written for them."""
        return self.synced().endpoints(namespace, service)

    # -- facts about nodes --------------------------------------------------------------------

    def node_ips(self) -> dict[str, str]:
        """Node name → InternalIP."""
        return self._rules().node_ips

    def _node_ips(self) -> dict[str, str]:
        ips = {n.name: n.internal_ip for n in self.sb.shape.nodes}
        for node in self.sb.store.list("nodes"):
            for a in (node.get("status") or {}).get("addresses") or []:
                if a.get("type") == "InternalIP":
                    ips[node["metadata"]["name"]] = a["address"]
        return ips

    def node_of_ip(self, ip: str) -> str | None:
        return next((name for name, nip in self.node_ips().items() if nip == ip), None)

    def gateway(self, node: str) -> str:
        """The node's own address towards its pods, as MASQUERADE picks it and the kubelet's probes come from: the
        first address of its podCIDR with kindnet, the router IP on cilium_host with Cilium, the tunl0 address with
        Calico (:func:`k8snet.sandbox.cni.host_address`)."""
        from .. import cni

        return cni.host_address(self.sb, node) or self.node_ips().get(node, "")

    def in_cluster_cidr(self, ip: str) -> bool:
        """kube-proxy's local-traffic detector (``--detect-local-mode=ClusterCIDR``, kind's default)."""
        try:
            return ipaddress.ip_address(ip) in ipaddress.ip_network(self.sb.shape.pod_cidr)
        except ValueError:
            return False

    # -- routing --------------------------------------------------------------------------------

    def route(self, src_pod: Obj | None, src_node: str | None, dst_ip: str, port: int, protocol: str = "TCP",
              src_ip: str | None = None) -> Route | None:
        """Choose the endpoint for a new connection to ``dst_ip:port``; None when it is not a Service address.

        Args:
            src_pod: the client pod, or None for a node process or an outside client.
            src_node: the node the client runs on (None for outside clients).
            dst_ip: a ClusterIP, a node InternalIP (NodePort), a LoadBalancer ingress IP or an externalIP.
            port: the destination port.
            protocol: TCP, UDP or SCTP.
            src_ip: the client address (defaults to the pod's IP, or the node's).

        Raises:
            Refused: the Service has no usable endpoint anywhere (kube-proxy's REJECT rule).
            Timeout: the packet is dropped (no local endpoint, undefined port, ClusterIP from outside).
        """
        protocol = protocol.upper()
        if src_ip is None:
            src_ip = ((src_pod or {}).get("status") or {}).get("podIP") or self.node_ips().get(src_node or "", "")
        match = self._match(dst_ip, port, protocol)
        if match is None:
            return None
        meta = match.service["metadata"]
        name = f"{meta.get('namespace')}/{meta['name']}"
        port_name = match.port.get("name") or ""
        hops = [Hop("service", f"{dst_ip}:{port}/{protocol} is the {match.via} of Service {name}"
                    + (f" (port {port_name})" if port_name else ""),
                    {"service": meta["name"], "namespace": meta.get("namespace"), "via": match.via,
                     "port": match.port.get("port"), "portName": port_name, "address": f"{dst_ip}:{port}"})]
        if match.via == "ClusterIP":
            if src_pod is None and src_node is None:
                raise Timeout("ClusterIPs are routed only inside the cluster", hops + [Hop(
                    "error", f"{dst_ip} is a virtual IP that only cluster nodes translate: from outside the "
                    "packet is not routed", {"dropped": True})])
            return self._choose(match, src_node or "", src_ip, external=False, local_origin=src_pod is None,
                                hops=hops)
        node, arrival, local_origin = self._arrival(match, src_pod, src_node, dst_ip, src_ip, hops)
        return self._choose(match, node, arrival, external=True, local_origin=local_origin, hops=hops)

    def _match(self, dst_ip: str, port: int, protocol: str) -> _Match | None:
        """KUBE-SERVICES / KUBE-NODEPORTS: the Service port whose address, port and protocol match."""
        rules = self._rules()
        found = [hit for hit in (rules.vips.get((dst_ip, port, protocol)),
                                 rules.node_ports.get((port, protocol)) if dst_ip in rules.node_addresses else None)
                 if hit is not None]
        if found:
            return min(found, key=lambda hit: hit[0])[1]
        vip_hit = rules.vip_only.get(dst_ip)
        if vip_hit is not None:
            svc, via = vip_hit
            meta = svc["metadata"]
            # KEP-3866: "Traffic to invalid ports on active cluster IPs will be rejected by the nftables proxy";
            # the iptables proxier has no rule for them, so the packet is not translated and goes nowhere.
            raise Timeout(f"{dst_ip} is the {via} of Service {meta.get('namespace')}/{meta['name']}, which has no "
                          f"port {port}/{protocol}", [Hop(
                              "service", f"{dst_ip}:{port}/{protocol}: Service {meta.get('namespace')}/{meta['name']}"
                              f" defines no port {port}/{protocol}; iptables mode has no rule for it and the packet "
                              "is dropped", {"service": meta["name"], "namespace": meta.get("namespace"),
                                             "via": via, "dropped": True})])
        return None

    def _arrival(self, match: _Match, src_pod: Obj | None, src_node: str | None, dst_ip: str, src_ip: str,
                 hops: list[Hop]) -> tuple[str, str, bool]:
        """Which node's rules handle an externally-facing address, and the source address they see.

        Returns (node, source address on arrival, whether the client is a process of that node).
        """
        spec = match.service.get("spec") or {}
        if match.via == "NodePort":
            node = self.node_of_ip(dst_ip) or ""
            if src_pod is not None and src_node != node:
                # kindnet masquerades pod traffic leaving the pod network (to a node address) to the node's IP
                arrival = self.node_ips().get(src_node or "", src_ip)
                hops.append(Hop("service", f"the packet leaves {src_node} masqueraded to {arrival} ({getattr(self.sb, 'cni', 'kindnet')}) and "
                                f"arrives at {node}", {"snat": arrival, "node": node}))
                return node, arrival, False
            return node, src_ip, src_pod is None and src_node == node
        if src_pod is not None or src_node:
            # KUBE-SERVICES matches LoadBalancer IPs and externalIPs on every node, so the client's own node
            # translates them ("traffic sent to an External IP or LoadBalancer IP from within the cluster")
            return src_node or "", src_ip, src_pod is None
        nodes = sorted(self.node_ips())
        if match.via == "LoadBalancer":
            # cloud-provider-kind's load balancer proxies to the nodes' NodePorts; with externalTrafficPolicy
            # Local only nodes passing the health check (a ready local endpoint) receive traffic
            eligible = [n for n in nodes if not self._excluded(n)] or nodes
            if spec.get("externalTrafficPolicy") == "Local":
                ns, name = match.service["metadata"].get("namespace", ""), match.service["metadata"]["name"]
                healthy = sorted({e.node for e in self.endpoints(ns, name) if e.ready} & set(eligible))
                eligible = healthy or eligible
            node = eligible[self.sb.random.stream("kube-proxy").randrange(len(eligible))]
            hops.append(Hop("service", f"the load balancer {dst_ip} forwards to {node}:"
                            f"{match.port.get('nodePort')} from its own address", {"node": node, "snat": dst_ip,
                                                                                    "candidates": eligible}))
            return node, dst_ip, False
        node = nodes[self.sb.random.stream("kube-proxy").randrange(len(nodes))]
        hops.append(Hop("service", f"the external network delivers {dst_ip} to {node}", {"node": node}))
        return node, src_ip, False

    def _excluded(self, node: str) -> bool:
        obj = self.sb.store.get("nodes", "", node) or {}
        return EXCLUDE_LB_LABEL in (obj.get("metadata", {}).get("labels") or {})

    def _choose(self, match: _Match, node: str, arrival: str, *, external: bool, local_origin: bool,
                hops: list[Hop]) -> Route:
        """The KUBE-SVC/KUBE-SVL/KUBE-EXT chains: filter endpoints by policy, apply affinity, pick, SNAT."""
        svc, sport = match.service, match.port
        spec, meta = svc.get("spec") or {}, svc["metadata"]
        ns, name = meta.get("namespace", ""), meta["name"]
        protocol, port_name = sport.get("protocol", "TCP"), sport.get("name") or ""
        endpoints = [e for e in self.endpoints(ns, name) if e.port(port_name, protocol) is not None]
        endpoints += self._remote(svc, port_name, protocol, hops)
        cluster, local, has_any = categorize(endpoints, node)
        if not has_any:
            # "if !hasEndpoints … internalTrafficFilterTarget = REJECT … '%s has no endpoints'"
            raise Refused(f"Service {ns}/{name} has no endpoints", hops + [Hop(
                "endpoint", f"Service {ns}/{name} has no endpoints: kube-proxy REJECTs the connection "
                "(icmp-port-unreachable)", {"reason": "no-endpoints", "node": node})])
        policy_field = "externalTrafficPolicy" if external else "internalTrafficPolicy"
        local_policy = spec.get(policy_field) == "Local"
        masq = False
        if external and local_policy and (self.in_cluster_cidr(arrival) or local_origin):
            # "pod traffic for … external destinations" and LOCAL-origin traffic go to the cluster chain
            candidates, local_policy, masq = cluster, False, local_origin
            why = "pod traffic to an external address gets Cluster semantics" if not local_origin else \
                "traffic from the node itself gets Cluster semantics (and is masqueraded)"
            hops.append(Hop("service", f"{policy_field}: Local, but {why}", {"policy": "Cluster"}))
        else:
            candidates = local if local_policy else cluster
            # KUBE-SVC/KUBE-SVL: "! -s <clusterCIDR> -d <clusterIP> -j KUBE-MARK-MASQ" (off-cluster sources);
            # KUBE-EXT with Cluster policy: "masquerade traffic for … external destinations"
            masq = (not local_policy) if external else not self.in_cluster_cidr(arrival)
        if not candidates:
            # "The internalTrafficPolicy is Local but there are no local endpoints. Traffic … will be dropped"
            raise Timeout(f"Service {ns}/{name} has no local endpoints on {node}", hops + [Hop(
                "endpoint", f"{policy_field}: Local and no endpoint of {ns}/{name} runs on {node}: kube-proxy "
                "DROPs the packet", {"reason": "traffic-policy", "node": node, "policy": "Local", "dropped": True})])
        candidates = self._prefer(svc, candidates, hops)
        chosen, reason = self._pick(svc, port_name, arrival, candidates, local_policy)
        target = chosen.port(port_name, protocol) or 0
        if chosen.ip == arrival:
            masq = True  # KUBE-SEP: "-s <endpoint IP> -j KUBE-MARK-MASQ" (hairpin)
        client_ip = (self.gateway(node) if chosen.node == node else self.node_ips().get(node, arrival)) \
            if masq else arrival
        terminating = " (serving, terminating)" if not chosen.ready else ""
        where = f" of cluster {chosen.cluster}" if chosen.cluster else ""
        hops.append(Hop("endpoint", f"kube-proxy on {node} chose {chosen.pod or chosen.ip}{where} {chosen.ip}:{target}"
                        f"{terminating} ({reason}, 1 of {len(candidates)})"
                        + (f"; source NAT to {client_ip}" if masq else f"; client address {client_ip} kept"),
                        {"endpoint": f"{chosen.ip}:{target}", "pod": chosen.pod, "namespace": chosen.namespace,
                         "node": chosen.node, "via_node": node, "reason": reason, "cluster": chosen.cluster,
                         "candidates": [f"{e.ip}:{e.port(port_name, protocol)}" for e in candidates],
                         "policy": "Local" if local_policy else "Cluster", "terminating": not chosen.ready,
                         "client_ip": client_ip, "snat": masq}))
        return Route(svc, sport, match.via, chosen, chosen.ip, target, chosen.pod, node, client_ip, reason, hops)

    def _remote(self, svc: Obj, port_name: str, protocol: str, hops: list[Hop]) -> list[Endpoint]:
        """A Cilium global Service's backends in the other clusters of the mesh (:mod:`..clustermesh`)."""
        mesh = getattr(self.sb, "clustermesh", None)
        found = [e for e in mesh.backends(svc) if e.port(port_name, protocol) is not None] if mesh else []
        if found:
            clusters = sorted({e.cluster for e in found})
            hops.append(Hop("service", f"Service {svc['metadata'].get('namespace')}/{svc['metadata']['name']} is "
                            f"global (service.cilium.io/global): {len(found)} backend(s) of cluster "
                            f"{', '.join(clusters)} join this cluster's", {"global": True, "clusters": clusters,
                                                                          "remote": len(found)}))
        return found

    @staticmethod
    def _prefer(svc: Obj, candidates: list[Endpoint], hops: list[Hop]) -> list[Endpoint]:
        """``service.cilium.io/affinity``: local (or remote) backends while any is healthy, else all
        (Documentation/network/clustermesh/affinity.rst)."""
        if not any(e.cluster for e in candidates):
            return candidates
        want = globalservices.affinity(svc)
        if want == "none":
            return candidates
        preferred = [e for e in candidates if bool(e.cluster) == (want == "remote")]
        if preferred:
            hops.append(Hop("service", f"service.cilium.io/affinity: {want}: {len(preferred)} {want} backend(s) "
                            "preferred", {"affinity": want, "preferred": len(preferred)}))
            return preferred
        hops.append(Hop("service", f"service.cilium.io/affinity: {want}, but no {want} backend is healthy: the "
                        "others take the traffic", {"affinity": want, "preferred": 0, "failover": True}))
        return candidates

    def _pick(self, svc: Obj, port_name: str, client: str, candidates: list[Endpoint],
              local_policy: bool) -> tuple[Endpoint, str]:
        """Session affinity first (``recent --rcheck --seconds``), else one uniform draw (``statistic``)."""
        spec, meta = svc.get("spec") or {}, svc["metadata"]
        candidates = sorted(candidates, key=lambda e: ipaddress.ip_address(e.ip))
        now = self.sb.clock.now().timestamp()
        key = (meta.get("namespace", ""), meta["name"], port_name, client)
        affinity = spec.get("sessionAffinity") == "ClientIP"
        if affinity:
            timeout = (((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
                       or DEFAULT_AFFINITY_TIMEOUT)
            seen = self._affinity.get(key)
            if seen is not None and now - seen[1] <= timeout:
                for e in candidates:
                    if e.ip == seen[0]:
                        self._affinity[key] = (e.ip, now)
                        return e, "affinity"
        chosen = candidates[self.sb.random.stream("kube-proxy").randrange(len(candidates))] if len(candidates) > 1 else candidates[0]
        if affinity:
            self._affinity[key] = (chosen.ip, now)  # KUBE-SEP: "-m recent --name … --set"
        reason = "only-one" if len(candidates) == 1 else "traffic-policy" if local_policy else "random"
        return chosen, reason


def categorize(endpoints: list[Endpoint], node: str) -> tuple[list[Endpoint], list[Endpoint], bool]:
    """pkg/proxy/topology.go CategorizeEndpoints: (cluster endpoints, local endpoints, any usable anywhere).

    "if there are 0 cluster-wide endpoints, we can try to fallback to any
    terminating endpoints that are ready" (serving and terminating), and the
    same for local endpoints.
    """
    def fallback(eps: list[Endpoint]) -> list[Endpoint]:
        ready = [e for e in eps if e.ready]
        return ready or [e for e in eps if e.serving and e.terminating]

    cluster = fallback(endpoints)
    local = fallback([e for e in endpoints if e.node == node])
    return cluster, local, bool(cluster)
