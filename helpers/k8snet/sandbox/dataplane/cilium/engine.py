"""The policy engine of a cluster that runs Cilium: Kubernetes NetworkPolicy, CiliumNetworkPolicy and
CiliumClusterwideNetworkPolicy judged together, as one agent's policy repository does (:mod:`.rules`), the L7
HTTP rules enforced by the node's Envoy proxy (:mod:`.l7`), and every verdict recorded as a Hubble flow
(:mod:`.hubble`).

The Kubernetes NetworkPolicy verdict is the standard engine's (:class:`..policy.NetworkPolicyEngine`, semantics in
:mod:`k8snet.netpol`); this engine wraps it per direction:

- the endpoint is enforced when a NetworkPolicy isolates it or a Cilium rule puts it into default deny;
- a matching Cilium deny rule drops, whatever allows;
- else an enforced endpoint accepts what a NetworkPolicy rule or a Cilium allow rule allows;
- what the NetworkPolicy engine exempts (a pod to itself, its own node to it) stays allowed: Cilium's datapath
  lets the local host reach its endpoints (``allow-localhost``) and a pod's traffic to itself never leaves it.

Peers without a pod get Cilium's reserved identities (:mod:`.labels`): the sandbox's outside clients (the kind
host, 172.18.0.1) and the hosts of the emulated outside world (:mod:`..outside`) are ``world``, the latter
labelled with the names the DNS proxy learned for them (:mod:`.fqdn`, ``toFQDNs``); a node is ``host`` to its own pods and ``remote-node`` to others'; the
control-plane node's kube-apiserver is ``kube-apiserver``. Policies see the packet after kube-proxy's DNAT.

A dropped connection is a TIMEOUT to the caller (the eBPF datapath drops the SYN, DROP_POLICY); a request the L7
rules deny gets Envoy's 403 (``Access denied``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ....netpol import Direction
from ..derived import Derived
from ..model import Connection, Hop, HttpRequest, HttpResponse
from ..policy import NetworkPolicyEngine, datagram_targets, judge_datagram
from . import fqdn, hubble, identity, l7, rules
from .dnsproxy import DnsProxy
from .labels import Endpoint, cluster_name, pod_labels, reserved

if TYPE_CHECKING:
    from ...instance import Sandbox

Obj = dict[str, Any]
ENFORCEMENT_MODES = ("default", "always", "never")
POLICY_RESOURCES = ("ciliumnetworkpolicies.cilium.io", "ciliumclusterwidenetworkpolicies.cilium.io")


class CiliumPolicyEngine:
    """Judges connections and HTTP requests from the store's NetworkPolicies and Cilium policies."""

    def __init__(self, sandbox: Sandbox):
        self.sb = sandbox
        self.k8s = NetworkPolicyEngine(sandbox)
        self._repository: Derived[rules.Repository] = Derived(sandbox.store, *POLICY_RESOURCES, limit=1)
        self._config: Derived[str] = Derived(sandbox.store, "configmaps", limit=1)
        self._cluster: Derived[str] = Derived(sandbox.store, "configmaps", limit=1)
        self._pending: list[hubble.Flow] = []

    # -- the policy repository ------------------------------------------------------------------------------

    def rules(self) -> rules.Repository:
        """Every Cilium rule, indexed by the endpoints they select; rebuilt only after a policy changed."""
        return self._repository.get(None, self._build)

    def _build(self) -> rules.Repository:
        out: list[rules.Rule] = []
        for resource in POLICY_RESOURCES:
            for obj in sorted(self.sb.store.list(resource), key=lambda o: (o["metadata"].get("namespace", ""),
                                                                        o["metadata"]["name"])):
                out += rules.rules_of(obj)
        return rules.Repository(out)

    def enforcement_mode(self) -> str:
        """``enable-policy`` of kube-system/cilium-config (docs.cilium.io policy/intro "Policy Enforcement Modes"):
        ``default`` enforces an endpoint once a rule selects it, ``always`` enforces every endpoint, ``never`` none.
        A real agent reads it when it starts (edit the ConfigMap, then restart the DaemonSet); the sandbox's
        verdicts follow the ConfigMap at once."""
        def read() -> str:
            cm = self.sb.store.get("configmaps", "kube-system", "cilium-config") or {}
            mode = str((cm.get("data") or {}).get("enable-policy") or "default").strip().lower()
            return mode if mode in ENFORCEMENT_MODES else "default"
        return self._config.get(None, read)

    def cluster_name(self) -> str:
        """cilium-config's ``cluster-name``: the ``io.cilium.k8s.policy.cluster`` label of local endpoints."""
        return self._cluster.get(None, lambda: cluster_name(self.sb.store))

    # -- peers ----------------------------------------------------------------------------------------------

    def endpoint(self, pod: Obj) -> Endpoint:
        """A pod's endpoint: its security labels, identity and endpoint ID."""
        meta = pod["metadata"]
        ns_obj = self.sb.store.get("namespaces", "", meta.get("namespace", "default")) or {}
        labels = pod_labels(pod, (ns_obj.get("metadata") or {}).get("labels") or {}, self.cluster_name())
        spec = pod.get("spec") or {}
        ports = tuple((p["name"], int(p["containerPort"]), p.get("protocol") or "TCP")
                      for c in spec.get("containers") or [] for p in c.get("ports") or [] if p.get("name"))
        return Endpoint(ip=(pod.get("status") or {}).get("podIP") or "", labels=labels,
                        identity=identity.identity_of(self.sb, labels), namespace=meta.get("namespace", "default"),
                        name=meta["name"], node=spec.get("nodeName"), ports=ports,
                        endpoint_id=identity.endpoint_id(self.sb, pod))

    def peer(self, pod: Obj | None, ip: str, other_node: str | None) -> Endpoint:
        """The endpoint of a pod on the pod network, else the reserved identity of its address."""
        from .. import apiserver

        if pod is not None and not (pod.get("spec") or {}).get("hostNetwork") and \
                ip in ("", (pod.get("status") or {}).get("podIP")):
            return self.endpoint(pod)
        if pod is None:
            remote = self.remote_endpoint(ip)
            if remote is not None:
                return remote
        proxy = self.sb.dataplane.proxy
        node = (pod or {}).get("spec", {}).get("nodeName") if pod is not None and (pod.get("spec") or {}).get(
            "hostNetwork") else None
        node = node or proxy.node_of_ip(ip) or next((n for n in proxy.node_ips() if proxy.gateway(n) == ip), None)
        if node is None:
            return Endpoint(ip=ip, labels=reserved("world"), identity=2)
        kind = "host" if node == other_node else "remote-node"
        if apiserver.is_apiserver(pod):
            return Endpoint(ip=ip, labels=reserved("kube-apiserver", kind), identity=7, node=node)
        return Endpoint(ip=ip, labels=reserved(kind), identity=1 if kind == "host" else 6, node=node)

    def remote_endpoint(self, ip: str) -> Endpoint | None:
        """A pod of another cluster of the Cluster Mesh, as the imported ipcache has it: its identity and labels
        (``io.cilium.k8s.policy.cluster`` names its cluster), marked remote so that only its own cluster's
        policies judge its side and selectors naming no cluster pass it by (:func:`.labels.peer_selector_matches`)."""
        mesh = getattr(self.sb, "clustermesh", None)
        found = mesh.endpoint_at(ip) if mesh is not None and ip else None
        if found is None:
            return None
        remote, ep = found
        labels = frozenset((s, k, v) for s, k, v in ep.get("securityLabels") or [])
        return Endpoint(ip=ip, labels=labels, identity=int(ep.get("identity") or 0), namespace=ep["namespace"],
                        name=ep["name"], node=ep.get("node") or None, extra={"cluster": remote.cluster_name})

    # -- verdicts -------------------------------------------------------------------------------------------

    def judge(self, src_pod: Obj | None, src_ip: str, dst_pod: Obj, port: int, protocol: str) -> dict[str, Any]:
        """Both directions, Cilium's rules and Kubernetes NetworkPolicies together (see the module's docstring)."""
        protocol = protocol.upper()
        dst_node = (dst_pod.get("spec") or {}).get("nodeName")
        src_node = ((src_pod or {}).get("spec") or {}).get("nodeName")
        dst = self.peer(dst_pod, (dst_pod.get("status") or {}).get("podIP") or "", src_node)
        src = self.peer(src_pod, src_ip, dst_node)
        knp = self.k8s.evaluate(src_pod, src_ip, dst_pod, port, protocol)
        return self._judge(src, dst, knp, port, protocol)

    def _judge(self, src: Endpoint, dst: Endpoint, knp: Any, port: int, protocol: str) -> dict[str, Any]:
        repo = self.rules()
        # an endpoint of another cluster is judged by that cluster's agents: only this cluster's side is here
        egress = repo.evaluate(rules.EGRESS, src, dst, dst, port, protocol) \
            if src.is_pod and not src.extra.get("cluster") else rules.DirectionResult(rules.EGRESS, None)
        ingress = repo.evaluate(rules.INGRESS, dst, src, dst, port, protocol) \
            if dst.is_pod and not dst.extra.get("cluster") else rules.DirectionResult(rules.INGRESS, None)
        out = {"src": src, "dst": dst, "port": port, "protocol": protocol}
        mode = self.enforcement_mode()
        for name, cil, k8s in (("egress", egress, knp.egress), ("ingress", ingress, knp.ingress)):
            out[name] = _combine(cil, k8s, mode)
        out["allowed"] = out["egress"]["allowed"] and out["ingress"]["allowed"]
        return out

    def verdict(self, src_pod: Obj | None, src_ip: str, dst_pod: Obj, port: int,
                protocol: str, record: bool = True) -> tuple[bool, list[Hop]]:
        """Judge a connection; its Hubble flows are recorded unless ``record`` is false (a request on a connection
        from another cluster, whose SYN was recorded when it came)."""
        j = self.judge(src_pod, src_ip, dst_pod, port, protocol)
        if record:
            self._pending = self._record(j)
        return j["allowed"], [_hop(j)]

    def outside(self, src_pod: Obj | None, src_ip: str, ip: str, port: int, protocol: str) -> tuple[bool, list[Hop]]:
        """A connection to a host of the emulated outside world: its address is ``world`` (identity 2), labelled
        with the names the DNS proxies learned for it, so ``toEntities: [world]``, ``toCIDR``/``toCIDRSet`` and
        ``toFQDNs`` can select it; the Kubernetes NetworkPolicies' ``ipBlock`` meets it too."""
        protocol = protocol.upper()
        src = self.peer(src_pod, src_ip, None)
        dst = self.remote_endpoint(ip) or Endpoint(
            ip=ip, labels=reserved("world"), identity=2,
            extra={"names": fqdn.names_of(self.sb, ip),
                   "shown": fqdn.names_of(self.sb, ip, (src_pod or {}).get("metadata", {}).get("uid", ""))})
        knp = self.k8s.policies().evaluate(self.k8s.peer(src_pod, src_ip), self.k8s.peer(None, ip), port, protocol)
        j = self._judge(src, dst, knp, port, protocol)
        self._pending = self._record(j)
        return j["allowed"], [_hop(j)]

    def dns_proxy(self, src_pod: Obj, server: str) -> DnsProxy | None:
        """The agent's DNS proxy in the path of ``src_pod``'s queries to ``server``, or None: only when the egress
        rule that allows them carries ``rules.dns`` (pkg/fqdn/dnsproxy; :mod:`.fqdn`)."""
        targets = datagram_targets(self.sb, server, 53, "UDP") or self._serving(server)
        if not targets:
            return None
        source_ip = (src_pod.get("status") or {}).get("podIP") or ""
        judged = [self.judge(src_pod, source_ip, pod, number, "UDP") for pod, number in targets]
        chosen = next((j for j in judged if j["allowed"]), None)
        if chosen is None or chosen["egress"].get("dns") is None:
            return None
        return DnsProxy(self, src_pod, chosen)

    def _serving(self, ip: str) -> list[tuple[Obj, int]]:
        """The ready pods behind a Service address as the API has them now (kube-proxy may not have synced them
        yet, just after the cluster started: the proxy's verdict is the agent's, which watches them itself)."""
        from ..proxy import slice_endpoints

        for svc in self.sb.store.list("services"):
            if ip in ((svc.get("spec") or {}).get("clusterIPs") or [(svc.get("spec") or {}).get("clusterIP")]):
                meta = svc["metadata"]
                pods = [(self.sb.store.get("pods", ep.namespace, ep.pod), ep.port("dns", "UDP") or 53)
                        for ep in slice_endpoints(self.sb, meta.get("namespace", "default"), meta["name"])
                        if ep.ready and ep.pod]
                return [(p, n) for p, n in pods if p is not None]
        return []

    def established(self, conn: Connection) -> None:
        """The connection's client port is known once it is made: the flows of its SYN carry it."""
        for flow in self._pending:
            flow.src.port = conn.client_port
        self._pending = []

    def datagram(self, src_pod: Obj, ip: str, port: int, protocol: str = "UDP") -> tuple[bool, list[Hop]]:
        """Whether a datagram from ``src_pod`` to ``ip:port`` reaches a server (the resolver's queries), as
        :meth:`..policy.NetworkPolicyEngine.datagram` chooses targets, judged with Cilium's rules too."""
        allowed, chosen = judge_datagram(self.sb, src_pod, ip, port, protocol, self.judge)
        if chosen is None:
            return allowed, []
        self._record(chosen)
        return allowed, [_hop(chosen)]

    # -- L7 -------------------------------------------------------------------------------------------------

    def http(self, conn: Connection, req: HttpRequest) -> tuple[HttpResponse | None, list[Hop], Any]:
        """Envoy's L7 check of one request on an established connection: egress at the source's node, then
        ingress at the destination's. Returns the 403 (or None to go on), the trace hops, and what to call with
        the server's response (its Hubble flows)."""
        hop = next((h for h in reversed(conn.hops) if h.kind == "cilium"), None)
        if hop is None or not (hop.detail.get("l7") or {}):
            return None, [], None
        j = getattr(hop, "judged", None)
        if j is None:
            return None, [], None
        hops: list[Hop] = []
        url = f"{req.scheme}://{l7.header(req, 'host') or conn.dst_ip}{req.path or '/'}"
        started = time.monotonic()
        seen: list[tuple[str, str]] = []  # (node, direction) of the proxies that saw it
        for direction in ("egress", "ingress"):
            http_rules = hop.detail["l7"].get(direction)
            if http_rules is None:
                continue
            ep = j["src"] if direction == "egress" else j["dst"]
            node = ep.node or ""
            index = l7.allowed(http_rules, req)
            policies = j[direction]["policies"]
            where = f"Envoy on {node} ({direction} of {ep})"
            if index is None:
                hops.append(Hop("cilium", f"{where}: {req.method} {req.path} denied by the L7 rules of "
                                          f"{', '.join(policies)}: 403 Access denied",
                                {"allowed": False, "l7": True, "direction": direction, "policies": policies,
                                 "method": req.method, "path": req.path}))
                self._l7_flow(j, conn, node, direction, req.method, url, hubble.DROPPED, policies)
                self._l7_flow(j, conn, node, direction, req.method, url, hubble.FORWARDED, policies, code=403)
                return l7.denied_response(self.sb.clock.now()), hops, None
            hops.append(Hop("cilium", f"{where}: {req.method} {req.path} allowed by {', '.join(policies)} "
                                      f"(http rule {index + 1}: {l7.describe(http_rules[index])})",
                            {"allowed": True, "l7": True, "direction": direction, "policies": policies,
                             "rule": http_rules[index]}))
            self._l7_flow(j, conn, node, direction, req.method, url, hubble.FORWARDED, policies)
            seen.append((node, direction))

        def done(response: HttpResponse) -> None:
            if response.status > 0:
                ms = int((time.monotonic() - started) * 1000)
                for node, direction in seen:
                    self._l7_flow(j, conn, node, direction, req.method, url, hubble.FORWARDED,
                                  j[direction]["policies"], code=response.status, latency=ms)
        return None, hops, done

    # -- Hubble ---------------------------------------------------------------------------------------------

    def _flow_peer(self, ep: Endpoint, port: int = 0) -> hubble.FlowPeer:
        return hubble.FlowPeer(ep.ip, port, ep.namespace or "", (ep.name or "") if ep.is_pod else "", ep.identity,
                               ep.label_strings(), list(ep.extra.get("shown", ())))

    def _record(self, j: dict[str, Any]) -> list[hubble.Flow]:
        """The flows of one connection attempt, each on the node that observed it."""
        src, dst = j["src"], j["dst"]
        now = self.sb.clock.time()
        proto = {"ICMP": "ICMPv4"}.get(j["protocol"], j["protocol"])
        flows = []
        # the SYN's source port: the connection's, once it is made (established); a dropped one never is
        sport = self.sb.random.stream("cilium-flow-ports").randint(32768, 60999) if j["protocol"] != "ICMP" else 0

        local = {n.name for n in self.sb.shape.nodes}

        def add(node: str | None, verdict: str, kind: str, point: str, direction: str) -> None:
            if not node or node not in local:  # another cluster's node: its own Hubble sees that part
                return
            info = j[direction.lower()]
            flow = hubble.Flow(now, node, self._flow_peer(src, sport), self._flow_peer(dst, j["port"]), proto, verdict,
                               kind, point, direction, None if kind == "drop" else False,
                               policies=info["policies"])
            identity.state(self.sb).ring(node).append(flow)
            flows.append(flow)

        if not j["egress"]["allowed"]:
            add(src.node, hubble.DROPPED, "drop", hubble.POLICY_DENIED, "EGRESS")
        elif not j["ingress"]["allowed"]:
            if src.is_pod and src.node != dst.node:
                add(src.node, hubble.FORWARDED, "trace", "to-overlay", "EGRESS")
            add(dst.node, hubble.DROPPED, "drop", hubble.POLICY_DENIED, "INGRESS")
        else:
            if src.is_pod and dst.node is not None and src.node != dst.node:
                add(src.node, hubble.FORWARDED, "trace", "to-overlay", "EGRESS")
            # to the world the packet leaves through the node's stack, where iptables masquerades it (to-stack)
            add(dst.node if dst.is_pod else src.node, hubble.FORWARDED, "trace",
                "to-stack" if "world" in dst.reserved else "to-endpoint", "INGRESS" if dst.is_pod else "EGRESS")
        return flows

    def _l7_flow(self, j: dict[str, Any], conn: Connection, node: str, direction: str, method: str, url: str,
                 verdict: str, policies: list[str], code: int = 0, latency: int = 0) -> None:
        if not node:
            return
        flow = hubble.Flow(self.sb.clock.time(), node, self._flow_peer(j["src"], conn.client_port),
                           self._flow_peer(j["dst"], j["port"]), "TCP", verdict, "l7", "", direction.upper(),
                           bool(code), {"type": "RESPONSE" if code else "REQUEST", "method": method, "url": url,
                                        "code": code, "latency_ms": latency}, policies)
        identity.state(self.sb).ring(node).append(flow)


def _combine(cil: rules.DirectionResult, k8s: Direction, mode: str = "default") -> dict[str, Any]:
    """One direction: Kubernetes NetworkPolicies and Cilium's rules in one repository (module docstring), under
    the agent's policy enforcement mode."""
    where = f"{'egress from' if cil.direction == rules.EGRESS else 'ingress to'} {cil.endpoint or k8s.pod or '-'}"
    knp_allowed = [f"NetworkPolicy {p} {k8s.kind.lower()} rule {r.index + 1}" for p, r in k8s.allowed_by]
    if k8s.exempt:
        return {"allowed": True, "why": f"{where}: {k8s.exempt}", "policies": [], "l7": None, "enforced": False}
    if mode == "never":
        return {"allowed": True, "why": f"{where}: policy enforcement is off (enable-policy: never): allowed",
                "policies": [], "l7": None, "enforced": False}
    if cil.denies:
        names = sorted({str(m.rule) for m in cil.denies})
        return {"allowed": False, "why": f"{where}: denied by {cil.denies[0]} (deny rules win)",
                "policies": names, "l7": None, "enforced": True}
    enforced = cil.enforced or k8s.isolated or (mode == "always" and cil.endpoint is not None)
    if not enforced:
        return {"allowed": True, "why": f"{where}: no policy enforces it: allowed", "policies": [], "l7": None,
                "enforced": False}
    allowed_by = [str(m) for m in cil.allows] + knp_allowed
    if allowed_by:
        http = cil.http if not knp_allowed else None
        dns = cil.dns
        names = sorted({str(m.rule) for m in cil.allows} | {f"NetworkPolicy {p}" for p, _ in k8s.allowed_by})
        return {"allowed": True, "why": f"{where}: allowed by {allowed_by[0]}"
                + (" (L7: the node's Envoy proxy checks each HTTP request)" if http is not None else "")
                + (" (L7: the agent's DNS proxy checks each query)" if dns is not None else ""),
                "policies": names, "l7": http, "enforced": True, "dns": dns}
    enforcers = sorted({str(r) for r in cil.rules if rules.enforces(r, cil.direction)} |
                       {f"NetworkPolicy {p}" for p in k8s.policies}) or ["enable-policy: always"]
    return {"allowed": False, "why": f"{where}: default deny (enforced by {', '.join(enforcers)}) and no rule "
                                     "allows it: Policy denied", "policies": enforcers, "l7": None,
            "enforced": True}


def _hop(j: dict[str, Any]) -> Hop:
    """The trace hop of one connection's verdict (kind ``cilium``)."""
    src, dst = j["src"], j["dst"]
    blocker = next((j[d] for d in ("egress", "ingress") if not j[d]["allowed"]), None)
    word = "allowed" if j["allowed"] else "dropped (Policy denied)"
    why = blocker["why"] if blocker else "; ".join(j[d]["why"] for d in ("egress", "ingress"))
    summary = (f"{src} (identity {src.identity}) → {dst} (identity {dst.identity}) {j['port']}/{j['protocol']}: "
               f"{word} ({why})")
    l7_rules = {d: j[d]["l7"] for d in ("egress", "ingress") if j[d]["allowed"] and j[d]["l7"] is not None}
    hop = Hop("cilium", summary, {
        "allowed": j["allowed"], "l7": l7_rules,
        "source": {"identity": src.identity, "labels": src.label_strings()},
        "destination": {"identity": dst.identity, "labels": dst.label_strings()},
        "egress": {k: v for k, v in j["egress"].items() if k != "l7"},
        "ingress": {k: v for k, v in j["ingress"].items() if k != "l7"}})
    hop.judged = j  # type: ignore[attr-defined]  # the endpoints, for the proxy's check of each request
    return hop
