"""The ambient mesh's data path: ztunnel on every node, HBONE between enrolled pods, and its policy checks.

Sources: istio.io "Ambient mode: architecture, traffic redirection, HBONE", "Use Layer 4 security policy",
"Ambient and Kubernetes NetworkPolicy"; istio/ztunnel src/proxy/outbound.rs, inbound.rs, inbound_passthrough.rs,
src/state.rs (service resolution and load balancing), src/proxy.rs (error texts).

- A pod is in the mesh once the istio-cni node agent has set up its redirection: the annotation
  ``ambient.istio.io/redirection: enabled`` is the signal (the agent writes it after it configured the pod's
  network namespace). Only TCP is captured; loopback never leaves the pod.
- Outbound: the pod's TCP connections are redirected to its node's ztunnel, which *accepts them at once* (the
  client's connect succeeds whatever happens next), resolves a Service address itself (a random healthy
  endpoint, not kube-proxy's choice) and opens the upstream: HBONE (mTLS to the destination pod's port 15008,
  carrying ``CONNECT podIP:targetPort``) when the destination is in the mesh, plaintext otherwise.
- Inbound: HBONE arrives at the destination's ztunnel (through NetworkPolicy on port 15008 — Kubernetes
  NetworkPolicy still applies, and must allow 15008), which checks the authorization policies with the peer's
  SPIFFE identity from its client certificate; plaintext to a pod in the mesh reaches the same ztunnel
  (port 15006) with no identity, so PeerAuthentication STRICT rejects it.
- A rejection after the client's connect is a reset: the client reads "Connection reset by peer" (curl exits
  56), as Istio's documentation shows; the trace says which ztunnel closed it and why, in ztunnel's words.
- Without a running ztunnel on the node, the redirected connection finds no listener: refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..derived import Derived
from ..model import Connection, Hop, NetError, Refused
from ..proxy import SLICES, slice_endpoints
from . import authz
from .pods import ISTIO_NAMESPACE, REDIRECTION, enrolled, identity, name, ready  # noqa: F401  (the package's vocabulary)

if TYPE_CHECKING:
    from ...instance import Sandbox

Obj = dict[str, Any]

HBONE_PORT = 15008
AUTHORIZATION_POLICIES = "authorizationpolicies.security.istio.io"
PEER_AUTHENTICATIONS = "peerauthentications.security.istio.io"


@dataclass
class Tunnel:
    """How the mesh carried one connection: HBONE (mTLS, identities) or plaintext through a ztunnel, and the reset
    that ends it when a ztunnel closed it after accepting (``reset``: ztunnel's error)."""

    protocol: str  # HBONE | TCP
    source_identity: str | None = None
    destination_identity: str | None = None
    source_ztunnel: str = ""
    destination_ztunnel: str = ""
    reset: str = ""
    wire: tuple[str, int] | None = None  # the address the packets carry between the nodes (podIP:15008 for HBONE)
    waypoint: tuple[Obj, Obj] | None = None  # the Service and port a waypoint serves this connection for
    destination: Obj | None = None  # the pod ztunnel chose, known before it connects (and kept if it is reset)
    target: tuple[str, int] | None = None  # that pod's address and port: the CONNECT target (dst.hbone_addr)


class Mesh:
    """The ztunnels of one sandbox: which pods are captured, and what becomes of their connections."""

    def __init__(self, sandbox: Sandbox, dataplane: Any):
        from .telemetry import Telemetry
        from .waypoint import Waypoints

        self.sb = sandbox
        self.dp = dataplane
        self.waypoints = Waypoints(sandbox, dataplane, self)
        self.telemetry = Telemetry()
        # what every connection asks, kept until the objects it comes from change (:mod:`..derived`)
        self._ztunnels: Derived[Obj | None] = Derived(sandbox.store, "pods")
        self._vips: Derived[dict[str, tuple[Obj, ...]]] = Derived(sandbox.store, "services")
        self._endpoints: Derived[list[Any]] = Derived(sandbox.store, SLICES)
        self._policies: Derived[list[authz.Authorization]] = Derived(sandbox.store, AUTHORIZATION_POLICIES,
                                                                     PEER_AUTHENTICATIONS)

    def ztunnel(self, node: str) -> Obj | None:
        """The node's ztunnel, if its process runs (``controllers.istio.nodes``: the pod running the image)."""
        from ...controllers.istio.nodes import ztunnel_for_node

        return self._ztunnels.get(node, lambda: ztunnel_for_node(self.sb, node)) if node else None

    def policies(self, pod: Obj) -> list[authz.Authorization]:
        """The policies the destination ztunnel checks for ``pod`` (istiod's conversion, :mod:`.authz`): a function
        of the policies and of the pod's namespace and labels, kept per namespace and label set."""
        store = self.sb.store

        def convert() -> list[authz.Authorization]:
            return authz.workload_policies(pod, store.list(AUTHORIZATION_POLICIES), store.list(PEER_AUTHENTICATIONS))

        meta = pod["metadata"]
        try:
            key = (meta["namespace"], frozenset((meta.get("labels") or {}).items()))
        except TypeError:  # a label value that cannot be a key
            return convert()
        return self._policies.get(key, convert)

    # -- outbound: a captured pod's connection --------------------------------------------------

    def outbound(self, src_pod: Obj, client_ip: str, ip: str, port: int, hops: list[Hop]) -> Connection:
        """The source ztunnel takes the connection, resolves the destination and opens HBONE or plaintext: to the
        Service's waypoint when it has one, else to a pod it picks."""
        node = (src_pod.get("spec") or {}).get("nodeName") or ""
        zt = self.ztunnel(node)
        if zt is None:
            hops.append(Hop("mesh", f"{name(src_pod)} is in the ambient mesh, but no ztunnel runs ready on {node}: "
                            "its redirected connection finds no listener (RST)", {"node": node, "ztunnel": None}))
            raise Refused(f"connect {ip}:{port}: connection refused (no ztunnel on {node})", hops)
        source_id = identity(src_pod)
        hops.append(Hop("mesh", f"ztunnel {zt['metadata']['name']} on {node} takes {name(src_pod)}'s connection to "
                        f"{ip}:{port} (outbound capture) as {source_id}",
                        {"ztunnel": zt["metadata"]["name"], "node": node, "identity": source_id,
                         "direction": "outbound"}))
        accepted = self._accepted(src_pod, zt, client_ip, ip, port, hops)
        found = self.service_at(ip, port)
        if found is not None:
            svc, sp = found
            accepted.service = svc  # dst.service in ztunnel's log, however the connection ends
            bound = self.waypoints.of_service(svc)
            if bound is not None:
                gw, waypoint = bound
                if waypoint is None:  # the Service is bound to a waypoint that has no ready pod yet
                    return self._reset(accepted, hops, f"no healthy upstream: {gw['metadata']['name']}."
                                       f"{gw['metadata']['namespace']}.svc.cluster.local", zt)
                return self._to_waypoint(src_pod, zt, client_ip, svc, sp, waypoint, accepted, hops)
            target = self.endpoint(svc, sp, hops)
            if target is None:
                return self._reset(accepted, hops, f"no healthy upstream: {svc['metadata']['namespace']}/"
                                   f"{svc['metadata']['name']}", zt)
        else:
            svc, target = None, (ip, port)
        dst_ip, dst_port = target
        dst_pod = self.pod_at(dst_ip)
        if dst_pod is not None and enrolled(dst_pod):
            tunnel, error = self.hbone(src_pod, client_ip, dst_pod, dst_port, hops, zt["metadata"]["name"])
            if error:
                return self._reset(accepted, hops, error, self._closer(tunnel, zt), tunnel)
            conn = Connection(src_pod, dst_pod, dst_ip, dst_port, "TCP", client_ip, accepted.client_port, hops, svc)
            conn.mesh = tunnel
            return conn
        try:  # not in the mesh: ztunnel connects in plaintext, from the pod's own address
            conn = self.dp.network.plain(src_pod, client_ip, dst_ip, dst_port, "TCP", hops)
        except NetError as exc:
            return self._reset(accepted, exc.hops, f"connection failed: {exc.message}", zt)
        conn.service = conn.service or svc
        conn.mesh = Tunnel("TCP", source_ztunnel=zt["metadata"]["name"])
        return conn

    def _closer(self, tunnel: Tunnel, zt: Obj) -> Obj:
        """The ztunnel that closed a failed tunnel: the destination's when it got that far, else the source's."""
        if tunnel.destination_ztunnel:
            found = self.sb.store.get("pods", ISTIO_NAMESPACE, tunnel.destination_ztunnel)
            if found is not None:
                return found
        return zt

    def _accepted(self, src_pod: Obj, zt: Obj, client_ip: str, ip: str, port: int, hops: list[Hop]) -> Connection:
        """The client's side of the connection: ztunnel accepted it (transparently, on the address dialed)."""
        client_port = self.dp.workloads.ephemeral_port()
        return Connection(src_pod, zt, ip, port, "TCP", client_ip, client_port, hops)

    def _reset(self, conn: Connection, hops: list[Hop], error: str, zt: Obj, tunnel: Tunnel | None = None
               ) -> Connection:
        """The connection the client has is closed by ``zt`` with ``error``: its next read is a reset."""
        hops.append(Hop("mesh", f"ztunnel {zt['metadata']['name']} closes the accepted connection: {error} "
                        "(the client reads a reset)", {"ztunnel": zt["metadata"]["name"], "error": error,
                                                       "reset": True}))
        conn.hops = hops
        conn.mesh = tunnel or conn.mesh or Tunnel("TCP", source_ztunnel=zt["metadata"]["name"])
        conn.mesh.reset = error
        self.record(conn, 0, 0, error)
        return conn

    def service_at(self, ip: str, port: int) -> tuple[Obj, Obj] | None:
        """The Service and port behind a ClusterIP (ztunnel learns them from istiod, not from kube-proxy)."""
        for svc in self._vips.get(None, self._services_by_vip).get(ip, ()):
            spec = svc.get("spec") or {}
            sp = next((p for p in spec.get("ports") or [] if p.get("port") == port
                       and (p.get("protocol") or "TCP") == "TCP"), None)
            if sp is not None:
                return svc, sp
        return None

    def _services_by_vip(self) -> dict[str, tuple[Obj, ...]]:
        """Each ClusterIP's Services, in the store's order."""
        index: dict[str, list[Obj]] = {}
        for svc in self.sb.store.list("services"):
            spec = svc.get("spec") or {}
            ips = [ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if isinstance(ip, str)]
            for ip in dict.fromkeys(ips):  # each once
                index.setdefault(ip, []).append(svc)
        return {ip: tuple(services) for ip, services in index.items()}

    def endpoint(self, svc: Obj, sp: Obj, hops: list[Hop], avoid: set[str] | None = None,
                 chooser: str = "ztunnel") -> tuple[str, int] | None:
        """state.rs load_balance: a random healthy endpoint with the Service port's target (None: no healthy one).
        ``avoid`` leaves out addresses already tried (Envoy's previous-hosts retry predicate)."""
        meta = svc["metadata"]
        found = self._endpoints.get((meta["namespace"], meta["name"]),
                                    lambda: slice_endpoints(self.sb, meta["namespace"], meta["name"]))
        candidates = [(e, e.port(sp.get("name") or "", "TCP")) for e in found if e.ready]
        candidates = sorted([(e, p) for e, p in candidates if p is not None], key=lambda c: c[0].ip)
        fresh = [c for c in candidates if c[0].ip not in (avoid or set())] or candidates
        name = f"{meta['namespace']}/{meta['name']}"
        if not fresh:
            hops.append(Hop("service", f"Service {name}: {chooser} finds no healthy endpoint",
                            {"service": meta["name"], "namespace": meta["namespace"], "via": chooser}))
            return None
        # per Service object: independent of other Services and of an earlier Service of the same name
        ep, target = self.sb.random.stream(f"{chooser}:{name}", meta.get("uid", "")).choice(fresh)
        hops.append(Hop("service", f"Service {name} port {sp.get('port')}: {chooser} picks {ep.ip}:{target} "
                        f"({ep.pod}) at random among {len(fresh)} healthy endpoints",
                        {"service": meta["name"], "namespace": meta["namespace"], "via": chooser,
                         "endpoint": f"{ep.ip}:{target}", "pod": ep.pod, "reason": "random"}))
        return ep.ip, target

    def pod_at(self, ip: str) -> Obj | None:
        """The Running pod (not on the host network) that holds ``ip``."""
        for pod in self.dp.network.pods_at(ip):
            status = pod.get("status") or {}
            if status.get("phase") == "Running" and not pod["spec"].get("hostNetwork"):
                return pod
        return None

    def hbone(self, src_pod: Obj, client_ip: str, dst_pod: Obj, dst_port: int, hops: list[Hop],
              source_ztunnel: str = "") -> tuple[Tunnel, str]:
        """mTLS from ``src_pod``'s identity to the destination pod's 15008 (NetworkPolicy sees that port), then its
        ztunnel's policy check and the pod's port. Returns the tunnel and ztunnel's error ('' when it is open)."""
        dst_ip = dst_pod["status"]["podIP"]
        dst_node = dst_pod["spec"].get("nodeName") or ""
        source_id, dest_id = identity(src_pod), identity(dst_pod)
        tunnel = Tunnel("HBONE", source_id, dest_id, source_ztunnel, wire=(dst_ip, HBONE_PORT), destination=dst_pod,
                        target=(dst_ip, dst_port))
        allowed, policy_hops = self.dp.policy.verdict(src_pod, client_ip, dst_pod, HBONE_PORT, "TCP")
        hops += policy_hops
        if not allowed:
            return tunnel, ("connection timed out, maybe a NetworkPolicy is blocking HBONE port 15008: deadline has "
                            "elapsed")
        dzt = self.ztunnel(dst_node)
        if dzt is None:
            return tunnel, (f"connection failed: no ztunnel runs on {dst_node} to take {dst_ip}:{HBONE_PORT} "
                            "(Connection refused)")
        tunnel.destination_ztunnel = dzt["metadata"]["name"]
        hops.append(Hop("mesh", f"HBONE: {source_id} → {dest_id}, mTLS to {dst_ip}:{HBONE_PORT} carrying CONNECT "
                        f"{dst_ip}:{dst_port}; ztunnel {dzt['metadata']['name']} on {dst_node} terminates it",
                        {"protocol": "HBONE", "source": source_id, "destination": dest_id,
                         "ztunnel": dzt["metadata"]["name"], "node": dst_node, "wire": f"{dst_ip}:{HBONE_PORT}",
                         "target": f"{dst_ip}:{dst_port}", "direction": "inbound"}))
        verdict = authz.assert_rbac(self.policies(dst_pod), authz.Peer(client_ip, dst_ip, dst_port, source_id))
        hops.append(self._policy_hop(dzt, dst_pod, verdict, source_id))
        if not verdict.allowed:
            return tunnel, f"connection closed due to policy rejection: {verdict.reason}"
        if not self.dp.workloads.listening(dst_pod, dst_port, "TCP"):
            return tunnel, f"connection failed: connect {dst_ip}:{dst_port}: Connection refused (os error 111)"
        hops.append(Hop("pod", f"{name(dst_pod)} accepts {dst_ip}:{dst_port}/TCP from {client_ip} (ztunnel keeps "
                        "the client's address)", {"pod": dst_pod["metadata"]["name"],
                                                  "namespace": dst_pod["metadata"]["namespace"], "node": dst_node,
                                                  "ip": dst_ip, "port": dst_port}))
        return tunnel, ""

    def _to_waypoint(self, src_pod: Obj, zt: Obj, client_ip: str, svc: Obj, sp: Obj, waypoint: Obj,
                     accepted: Connection, hops: list[Hop]) -> Connection:
        """A Service with a waypoint: HBONE to the waypoint pod's 15008 carrying CONNECT ClusterIP:port; the
        waypoint (Envoy) does the L7 work (:mod:`.waypoint`)."""
        wp_ip = waypoint["status"]["podIP"]
        source_id, wp_id = identity(src_pod), identity(waypoint)
        meta = svc["metadata"]
        vip = (svc.get("spec") or {}).get("clusterIP")
        tunnel = Tunnel("HBONE", source_id, wp_id, zt["metadata"]["name"], wire=(wp_ip, HBONE_PORT),
                        waypoint=(svc, sp))
        hops.append(Hop("mesh", f"Service {meta['namespace']}/{meta['name']} uses waypoint "
                        f"{name(waypoint)}: ztunnel sends HBONE to {wp_ip}:{HBONE_PORT} carrying CONNECT "
                        f"{vip}:{sp.get('port')}", {"protocol": "HBONE", "waypoint": waypoint["metadata"]["name"],
                                                    "source": source_id, "destination": wp_id,
                                                    "wire": f"{wp_ip}:{HBONE_PORT}"}))
        allowed, policy_hops = self.dp.policy.verdict(src_pod, client_ip, waypoint, HBONE_PORT, "TCP")
        hops += policy_hops
        if not allowed:
            return self._reset(accepted, hops, "connection timed out, maybe a NetworkPolicy is blocking HBONE port "
                               "15008: deadline has elapsed", zt, tunnel)
        conn = Connection(src_pod, waypoint, wp_ip, HBONE_PORT, "TCP", client_ip, accepted.client_port, hops, svc)
        conn.mesh = tunnel
        return conn

    @staticmethod
    def _policy_hop(zt: Obj, pod: Obj, verdict: authz.Verdict, peer: str | None) -> Hop:
        who = peer or "a plaintext client (no identity)"
        word = "allows" if verdict.allowed else "rejects"
        return Hop("authz", f"ztunnel {zt['metadata']['name']} {word} {who} to {name(pod)}: {verdict.reason}",
                   {"allowed": verdict.allowed, "engine": "ztunnel", "policy": verdict.policy,
                    "reason": verdict.reason, "identity": peer})

    # -- inbound: plaintext that arrives at a captured pod ---------------------------------------

    def inbound_plaintext(self, conn: Connection) -> Connection:
        """A client outside the mesh reached a captured pod: its ztunnel takes the connection (port 15006) and
        checks the policies with no peer identity (PeerAuthentication STRICT rejects it)."""
        pod = conn.dst_pod
        node = pod["spec"].get("nodeName") or ""
        zt = self.ztunnel(node)
        if zt is None:
            conn.hops.append(Hop("mesh", f"{name(pod)} is in the ambient mesh, but no ztunnel runs ready on {node}: "
                                 "the redirected connection finds no listener (RST)", {"node": node, "ztunnel": None}))
            raise Refused(f"connect {conn.dst_ip}:{conn.port}: connection refused (no ztunnel on {node})", conn.hops)
        conn.hops.append(Hop("mesh", f"plaintext from {conn.client_ip} to {name(pod)}, which is in the mesh: ztunnel "
                             f"{zt['metadata']['name']} takes it (inbound capture, port 15006)",
                             {"protocol": "TCP", "ztunnel": zt["metadata"]["name"], "node": node,
                              "direction": "inbound"}))
        verdict = authz.assert_rbac(self.policies(pod), authz.Peer(conn.client_ip, conn.dst_ip, conn.port, None))
        conn.hops.append(self._policy_hop(zt, pod, verdict, None))
        conn.mesh = Tunnel("TCP", destination_identity=identity(pod), destination_ztunnel=zt["metadata"]["name"])
        if not verdict.allowed:
            return self._reset(conn, conn.hops, f"connection closed due to policy rejection: {verdict.reason}", zt)
        if not self.dp.workloads.listening(pod, conn.port, "TCP"):
            return self._reset(conn, conn.hops, f"connection failed: connect {conn.dst_ip}:{conn.port}: Connection "
                               "refused (os error 111)", zt)
        return conn

    # -- telemetry ----------------------------------------------------------------------------------

    def record(self, conn: Connection, sent: int, received: int, error: str = "") -> None:
        """A finished connection as each ztunnel on its way counts and logs it (``sent``: the client's bytes)."""
        from .telemetry import service_labels, workload_labels

        t = conn.mesh
        if t is None:
            return
        mtls = t.protocol == "HBONE"
        dst_pod = conn.dst_pod if conn.dst_pod is not None and not error.startswith("no healthy") else None
        if dst_pod is not None and t.source_ztunnel == dst_pod["metadata"]["name"]:
            # the ztunnel that accepted a connection it then closed is no destination; the pod it had chosen is,
            # as in ztunnel's outbound and inbound results, which name it before connecting or checking policy
            dst_pod = t.destination
        flags = "-" if not error else ("DENY" if "policy rejection" in error else "CONNECT")
        base = {**workload_labels(self.sb, conn.src_pod, "source"), **workload_labels(self.sb, dst_pod, "destination"),
                **service_labels(conn.service), "request_protocol": "tcp", "response_flags": flags,
                "connection_security_policy": "mutual_tls" if mtls else "unknown"}
        if not mtls:
            base.pop("source_principal", None)
        wire = t.wire or (conn.dst_ip, conn.port)
        hbone = None
        if mtls:
            svc, sp = t.waypoint or (None, None)
            target = t.target or (conn.dst_ip, conn.port)
            hbone = (f"{(svc.get('spec') or {}).get('clusterIP')}:{sp.get('port')}" if svc is not None
                     else f"{target[0]}:{target[1]}")
        for role, zt_name in (("source", t.source_ztunnel), ("destination", t.destination_ztunnel)):
            zt = self.sb.store.get("pods", ISTIO_NAMESPACE, zt_name) if zt_name else None
            if zt is None:
                continue
            outbound = role == "source"
            self.telemetry.tcp(zt, {**base, "reporter": role}, sent if outbound else received,
                               received if outbound else sent)
            fields = [f"src.addr={conn.client_ip}:{conn.client_port}"]
            if conn.src_pod is not None:
                fields += [f'src.workload="{conn.src_pod["metadata"]["name"]}"',
                           f'src.namespace="{conn.src_pod["metadata"]["namespace"]}"']
                if mtls:
                    fields.append(f'src.identity="{t.source_identity}"')
            fields.append(f"dst.addr={wire[0]}:{wire[1]}")
            if hbone:
                fields.append(f"dst.hbone_addr={hbone}")
            if "destination_service" in base:
                fields.append(f'dst.service="{base["destination_service"]}"')
            if dst_pod is not None:
                fields += [f'dst.workload="{dst_pod["metadata"]["name"]}"',
                           f'dst.namespace="{dst_pod["metadata"]["namespace"]}"']
                if mtls and t.destination_identity:
                    fields.append(f'dst.identity="{t.destination_identity}"')
            fields += [f'direction="{"outbound" if outbound else "inbound"}"', f"bytes_sent={sent if outbound else received}",
                       f"bytes_recv={received if outbound else sent}", 'duration="0ms"']
            level = "info"
            if error:
                level = "error"
                shown = error if not outbound or "policy rejection" not in error else "http status: 401 Unauthorized"
                fields.append(f'error="{shown}"')
            stamp = self.sb.clock.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            self.dp.logs.append(zt["metadata"]["uid"], "istio-proxy",
                                f"{stamp}\t{level}\taccess\tconnection complete\t{' '.join(fields)}")
