"""One connection from a pod (or from outside): resolve → Service → endpoint → policy → pod (or a host of the
emulated outside world, :mod:`.outside`, through the node's and the kind host's NAT).

Each step asks the part that owns the decision — the pod's resolver
(:mod:`.dns`), kube-proxy (:mod:`.proxy`), the NetworkPolicy engine, the
emulated workload — and records a :class:`~.model.Hop`, so a failure says
where it happened and ``k8snet.trace()`` can draw the path. Failures are
worded as agnhost connect reports them (test/images/agnhost/connect): a
dropped packet is a TIMEOUT, an RST or ICMP port-unreachable is REFUSED, a
name that does not resolve is DNS.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from . import apiserver, mesh, outside
from .derived import Derived
from .model import CAN_WAIT, Connection, Deferred, DnsError, Hop, NetError, Refused, Timeout

if TYPE_CHECKING:
    from ..instance import Sandbox

Obj = dict[str, Any]

HOST_IP = "172.18.0.1"  # the kind host on the Docker network: where outside clients come from
EPHEMERAL_PORTS = (32768, 60999)  # Linux net.ipv4.ip_local_port_range default


class Network:
    """Opens connections as the pod network, kube-proxy and the destination pod's kernel would allow them.

    Example:
        >>> conn = sandbox.dataplane.network.connect(client, "web", 80)
        >>> conn.dst_pod["metadata"]["name"], conn.client_ip
        ('web-7c9d-abcde', '10.244.1.4')
    """

    def __init__(self, sandbox: Sandbox, dataplane: Any):
        self.sb = sandbox
        self.dp = dataplane  # read lazily: workloads and the policy engine are attached after us
        self._addresses: Derived[dict[str, tuple[Obj, ...]]] = Derived(sandbox.store, "pods")

    def pods_at(self, ip: str) -> tuple[Obj, ...]:
        """The pods whose ``status.podIP`` is ``ip``, in the store's order (hostNetwork pods share their node's)."""
        return self._addresses.get(None, self._by_address).get(ip, ())

    def _by_address(self) -> dict[str, tuple[Obj, ...]]:
        index: dict[str, list[Obj]] = {}
        for p in self.sb.store.list("pods"):
            ip = (p.get("status") or {}).get("podIP")
            if isinstance(ip, str):
                index.setdefault(ip, []).append(p)
        return {ip: tuple(pods) for ip, pods in index.items()}

    def connect(self, src_pod: Obj | None, host: str, port: int, protocol: str = "TCP",
                src_ip: str | None = None, stub: str = "go") -> Connection:
        """Open a connection from ``src_pod`` (None: from outside, as ``src_ip``) to ``host:port``.

        ``stub`` is the client's resolver (:meth:`resolve`): ``go`` (agnhost) or ``libc`` (curl, wget, nc).

        Raises:
            DnsError: the name did not resolve (NXDOMAIN, or outside the sandbox).
            Refused: no endpoints behind a Service, or nothing listens on the pod's port.
            Timeout: dropped by kube-proxy or a NetworkPolicy, or an address nothing answers.
        """
        protocol = protocol.upper()
        hops: list[Hop] = []
        status = (src_pod or {}).get("status") or {}
        source_ip = src_ip or status.get("podIP") or HOST_IP
        ip = self.resolve(src_pod, host, hops, stub)
        if ipaddress.ip_address(ip).is_loopback:
            return self._loopback(src_pod, ip, port, protocol, hops)
        capture = self.dp.capture

        def failed(exc: NetError) -> None:
            if capture.taps and protocol == "TCP":  # what the client's interface saw: SYN, then RST or nothing
                client = (source_ip, self.dp.workloads.ephemeral_port())
                capture.connection(client, (ip, port), (ip, port), client,
                                   "refused" if isinstance(exc, Refused) else "dropped")

        def opened(conn: Connection) -> Connection:
            conn.source_ip, conn.dialed = source_ip, (ip, port)
            if capture.taps and protocol == "TCP":
                wire = conn.mesh.wire if conn.mesh is not None and conn.mesh.wire else None  # HBONE: podIP:15008
                capture.connection((source_ip, conn.client_port), wire or (ip, port),
                                   wire or (conn.dst_ip, conn.port), (conn.client_ip, conn.client_port), "established")
            return conn

        try:
            conn = self._connect(src_pod, source_ip, ip, port, protocol, hops)
        except NetError as exc:
            failed(exc)
            raise
        except Deferred as pending:  # another member of the cluster set decides: the caller waits for it
            raise pending.then(opened, failed) from None
        return opened(conn)

    def _connect(self, src_pod: Obj | None, client_ip: str, ip: str, port: int, protocol: str,
                 hops: list[Hop]) -> Connection:
        """A pod in the ambient mesh hands its TCP connections to ztunnel (:mod:`.mesh`); the rest go as plain IP."""
        if protocol == "TCP" and mesh.enrolled(src_pod):
            token = CAN_WAIT.set(False)  # ztunnel's steps follow its connect in place: it waits for another member
            try:
                return self.dp.mesh.outbound(src_pod, client_ip, ip, port, hops)
            finally:
                CAN_WAIT.reset(token)
        return self.plain(src_pod, client_ip, ip, port, protocol, hops)

    def plain(self, src_pod: Obj | None, client_ip: str, ip: str, port: int, protocol: str,
              hops: list[Hop]) -> Connection:
        """kube-proxy's rewrite, the destination pod, its NetworkPolicies and its listening port (a pod in the mesh
        has its ztunnel take the connection first)."""
        src_node = ((src_pod or {}).get("spec") or {}).get("nodeName")
        service = None
        dst_ip, dst_port = ip, port
        route = self.dp.proxy.route(src_pod, src_node, ip, port, protocol, src_ip=client_ip)
        if route is not None:
            hops += route.hops
            dst_ip, dst_port, client_ip, service = route.pod_ip, route.target_port, route.client_ip, route.service
        elif outside.at(ip) is not None:
            return self._outside(src_pod, client_ip, outside.at(ip), port, protocol, hops)  # type: ignore[arg-type]
        cluster_mesh = getattr(self.sb, "clustermesh", None)
        if cluster_mesh is not None and cluster_mesh.owner(dst_ip) is not None:  # a pod of another cluster
            return cluster_mesh.connect(src_pod, client_ip, dst_ip, dst_port, protocol, hops, service)
        dst_pod = self._destination(dst_ip, dst_port, protocol, hops)
        allowed, policy_hops = self.dp.policy.verdict(src_pod, client_ip, dst_pod, dst_port, protocol)
        hops += policy_hops
        if not allowed:
            raise Timeout(f"{protocol} {dst_ip}:{dst_port} dropped by NetworkPolicy", hops)
        name = f"{dst_pod['metadata'].get('namespace')}/{dst_pod['metadata']['name']}"
        if protocol == "TCP" and mesh.enrolled(dst_pod):
            client_port = self.dp.workloads.ephemeral_port()
            return self.dp.mesh.inbound_plaintext(Connection(src_pod, dst_pod, dst_ip, dst_port, protocol, client_ip,
                                                             client_port, hops, service))
        if not self.dp.workloads.listening(dst_pod, dst_port, protocol):
            # TCP: the pod's kernel answers RST; UDP: ICMP port unreachable, which agnhost connect reads as
            # "connection refused" (parseUDPErrorAndExit → REFUSED)
            hops.append(Hop("pod", f"nothing in {name} listens on {dst_port}/{protocol}: "
                            + ("RST" if protocol == "TCP" else "ICMP port unreachable"),
                            {"pod": dst_pod["metadata"]["name"], "namespace": dst_pod["metadata"].get("namespace"),
                             "port": dst_port, "listening": False}))
            raise Refused(f"connect {dst_ip}:{dst_port}: connection refused", hops)
        client_port = self.sb.random.stream("ephemeral-ports").randint(*EPHEMERAL_PORTS)
        hops.append(Hop("pod", f"{name} accepts {dst_ip}:{dst_port}/{protocol} from {client_ip}:{client_port}",
                        {"pod": dst_pod["metadata"]["name"], "namespace": dst_pod["metadata"].get("namespace"),
                         "node": (dst_pod.get("spec") or {}).get("nodeName"), "ip": dst_ip, "port": dst_port,
                         "client": f"{client_ip}:{client_port}"}))
        conn = Connection(src_pod, dst_pod, dst_ip, dst_port, protocol, client_ip, client_port, hops, service)
        established = getattr(self.dp.policy, "established", None)  # an engine that records flows (Cilium's)
        if established is not None:
            established(conn)
        return conn

    # -- steps ----------------------------------------------------------------------------------

    def resolve(self, src_pod: Obj | None, host: str, hops: list[Hop], stub: str = "go") -> str:
        """An IP literal as is; /etc/hosts (kubelet-managed) next; then the pod's DNS resolver.

        Go's resolver (agnhost is a Go binary) reports a failure as
        ``lookup NAME on SERVER:53: no such host`` (NXDOMAIN) or
        ``… server misbehaving`` (SERVFAIL, REFUSED), naming the name as given. It tries the next search name
        after a REFUSED answer (net/dnsclient_unix.go: only a strict error stops the walk); the C libraries'
        resolvers stop there (``stub="libc"``: musl's name_from_dns returns EAI_FAIL for any rcode but 0 and 3,
        and lookup_name's search loop returns it), which is why a Cilium DNS rule that refuses the cluster's
        search names breaks curl on Alpine (docs.cilium.io "REFUSED vs NXDOMAIN responses").
        """
        host = host.strip("[]")
        try:
            return str(ipaddress.ip_address(host))
        except ValueError:
            pass
        hosts = self.etc_hosts(src_pod)
        if host.lower().rstrip(".") in hosts:
            ip = hosts[host.lower().rstrip(".")]
            hops.append(Hop("dns", f"{host} → {ip} (/etc/hosts)", {"query": host, "source": "/etc/hosts",
                                                                    "addresses": [ip]}))
            return ip
        answer = self.dp.dns.lookup(src_pod, host, "A", refused_stops=stub != "go")
        hops.append(answer.hop)
        if answer.addresses:
            return answer.addresses[0]
        if answer.rcode == "TIMEOUT":  # the queries were dropped (a NetworkPolicy without DNS egress)
            client = f"{(src_pod or {}).get('status', {}).get('podIP', HOST_IP)}:{self.dp.workloads.ephemeral_port()}"
            message = f"lookup {host} on {answer.server}:53: read udp {client}->{answer.server}:53: i/o timeout"
        elif answer.rcode in ("SERVFAIL", "REFUSED"):
            message = f"lookup {host} on {answer.server}:53: server misbehaving"
        elif answer.rcode == "NOERROR" and answer.note:  # a CNAME whose target lies outside the sandbox
            message = f"lookup {host} on {answer.server}:53: {answer.note}"
        else:
            message = f"lookup {host} on {answer.server}:53: no such host"
        raise DnsError(message, hops)

    @staticmethod
    def etc_hosts(pod: Obj | None) -> dict[str, str]:
        """The kubelet-managed /etc/hosts: localhost and the pod's own hostname (and FQDN with a subdomain)."""
        hosts = {"localhost": "127.0.0.1"}
        if pod is None:
            return hosts
        spec, meta = pod.get("spec") or {}, pod["metadata"]
        ip = (pod.get("status") or {}).get("podIP")
        if ip and not spec.get("hostNetwork"):
            hostname = spec.get("hostname") or meta["name"]
            hosts[hostname.lower()] = ip
            if spec.get("subdomain"):
                hosts[f"{hostname}.{spec['subdomain']}.{meta.get('namespace')}.svc.cluster.local".lower()] = ip
        return hosts

    def _outside(self, src_pod: Obj | None, client_ip: str, host: outside.Host, port: int, protocol: str,
                 hops: list[Hop]) -> Connection:
        """A host of the emulated outside world (:mod:`.outside`): egress policy (the destination is no pod: only
        the source's egress rules apply), the node's masquerade and the kind host's, then the host's server."""
        judge = getattr(self.dp.policy, "outside", None)
        if judge is not None:
            allowed, policy_hops = judge(src_pod, client_ip, host.ip, port, protocol)
            hops += policy_hops
            if not allowed:
                raise Timeout(f"{protocol} {host.ip}:{port} dropped by NetworkPolicy", hops)
        spec = (src_pod or {}).get("spec") or {}
        node = spec.get("nodeName")
        node_ip = self.dp.proxy.node_ips().get(node) if node else None
        if src_pod is not None and node_ip and client_ip != node_ip:
            hops.append(Hop("nat", f"{client_ip} → {node_ip}: node {node} masquerades traffic leaving the pod "
                                   "network (the CNI plugin's masquerade rule)",
                            {"from": client_ip, "to": node_ip, "node": node}))
            client_ip = node_ip
        hops.append(Hop("nat", f"{client_ip} → {outside.PUBLIC_IP}: the kind host's Docker network masquerades "
                               "it to the address the host goes out with",
                        {"from": client_ip, "to": outside.PUBLIC_IP}))
        if (port, protocol) not in host.ports:
            hops.append(Hop("error", f"{host.name} ({host.ip}) drops {port}/{protocol}: its firewall lets through "
                                     + ", ".join(f"{p}/{pr}" for p, pr in sorted(host.ports)),
                            {"address": host.ip, "port": port}))
            raise Timeout(f"connect {host.ip}:{port}: {host.name} does not answer on {port}/{protocol}", hops)
        client_port = self.dp.workloads.ephemeral_port()
        hops.append(Hop("outside", f"{host.name} ({host.ip}) accepts {port}/{protocol} from "
                                   f"{outside.PUBLIC_IP}:{client_port}",
                        {"host": host.name, "ip": host.ip, "port": port,
                         "client": f"{outside.PUBLIC_IP}:{client_port}"}))
        conn = Connection(src_pod, outside.pod(host), host.ip, port, protocol, outside.PUBLIC_IP, client_port, hops)
        established = getattr(self.dp.policy, "established", None)
        if established is not None:
            established(conn)
        return conn

    def _loopback(self, src_pod: Obj | None, ip: str, port: int, protocol: str, hops: list[Hop]) -> Connection:
        """127.0.0.1 never leaves the pod's network namespace: no kube-proxy, no NetworkPolicy."""
        if src_pod is None:
            raise Refused(f"connect {ip}:{port}: connection refused (the host's loopback is outside the sandbox)",
                          hops + [Hop("error", "loopback outside any pod is not part of the sandbox", {})])
        name = src_pod["metadata"]["name"]
        if not self.dp.workloads.listening(src_pod, port, protocol):
            hops.append(Hop("pod", f"nothing in {name} listens on {ip}:{port}/{protocol}", {"listening": False}))
            raise Refused(f"connect {ip}:{port}: connection refused", hops)
        client_port = self.sb.random.stream("ephemeral-ports").randint(*EPHEMERAL_PORTS)
        hops.append(Hop("pod", f"{name} accepts {ip}:{port}/{protocol} on its own loopback",
                        {"pod": name, "namespace": src_pod["metadata"].get("namespace"), "port": port,
                         "client": f"{ip}:{client_port}"}))
        return Connection(src_pod, src_pod, ip, port, protocol, ip, client_port, hops, None)

    def destination(self, ip: str, port: int, protocol: str, hops: list[Hop]) -> Obj:
        """The pod that answers ``ip:port`` (see :meth:`_destination`): for a connection from another cluster."""
        return self._destination(ip, port, protocol, hops)

    def _destination(self, ip: str, port: int, protocol: str, hops: list[Hop]) -> Obj:
        """The Running pod that owns ``ip`` (hostNetwork pods share their node's address).

        A pod that is not Running, or an address no pod or node owns, does not
        answer: the SYN is lost (Timeout). A node address where nothing
        listens is answered by the node's kernel with an RST (Refused).
        """
        owners = self.pods_at(ip)
        running = [p for p in owners if (p.get("status") or {}).get("phase") == "Running"]
        listening = [p for p in running if self.dp.workloads.listening(p, port, protocol)]
        if listening:
            return listening[0]
        node = self.dp.proxy.node_of_ip(ip)
        control_plane = self.sb.shape.control_plane.internal_ip
        if (ip, port, protocol) == (control_plane, apiserver.PORT, "TCP") and "kube-apiserver" in self.dp.real_servers:
            return apiserver.static_pod(self.sb.shape)  # on the control-plane node's network (dataplane/apiserver.py)
        if running and node is None:
            return running[0]
        if node is not None:  # its hostNetwork pods (kube-proxy, kindnet on every node) do not listen there
            hops.append(Hop("pod", f"nothing on node {node} listens on {port}/{protocol} (not a NodePort): RST",
                            {"node": node, "port": port, "listening": False}))
            raise Refused(f"connect {ip}:{port}: connection refused", hops)
        if owners:
            pod = owners[0]
            phase = (pod.get("status") or {}).get("phase", "Pending")
            why = f"pod {pod['metadata'].get('namespace')}/{pod['metadata']['name']} is {phase}, not Running"
        else:
            why = f"no pod or node has the address {ip}"
        hops.append(Hop("error", f"{why}: nothing answers, the connection times out", {"address": ip}))
        raise Timeout(f"connect {ip}:{port}: {why}", hops)
