"""The sandbox's data plane: what happens to traffic, decided from API state as upstream decides it.

Parts, one job each:

- ``dns`` (CoreDNS), ``proxy`` (kube-proxy, iptables mode) and ``network``
  (a connection from a pod: resolve → Service → endpoint → policy → pod),
  each decision recorded as a :class:`~.model.Hop`;
- ``mesh``: the ambient mesh's ztunnels (HBONE, mTLS identities, Istio's authorization policies);
- ``policy``: the NetworkPolicy verdict for one connection (semantics in
  :mod:`k8snet.netpol`), the CNI plugin's engine (:func:`policy_engine`); ``cilium``: Cilium's engine (its
  policies, the Envoy proxy's L7 rules, Hubble's flows, the agent's ``hubble`` and ``cilium-dbg`` commands);
  ``calico``: Calico's engine (its selector language, tiers and policies);
- ``podnet``: the pod network as the CNI plugin made it (interfaces, routes, traceroute hops), ``cniimages`` its
  programs;
- ``workloads``: the emulated images (agnhost, http-echo, nginx, coredns) —
  which ports they listen on and how they answer; ``logs`` keeps their log
  lines; ``files`` the per-container files that exec and probes see, ``volumes``
  what the kubelet mounts there and ``podsync`` its periodic sync that updates them;
- ``commands``: the exec'd commands of the probe contract (``/agnhost
  connect``, ``curl``, ``wget``, ``nslookup``, ``hostname``, …);
- ``outside``: the emulated internet's hosts (names, addresses, their HTTP and HTTPS servers), reached through
  the nodes' masquerade;
- ``ingress``: what the data plane knows of the cluster's Traefik (its pods, the host's way in); Traefik
  itself is the real binary (``components.traefik``), reached through the pod-network bridge (``bridge``).

No host process is ever run: every command is emulated.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .model import Connection, ExecResult, Hop, HttpRequest, HttpResponse, NetError, net_error_line, settled  # noqa: F401

if TYPE_CHECKING:
    from ..instance import Sandbox

__all__ = ["AllowAll", "Connection", "DataPlane", "ExecResult", "Hop", "HttpRequest", "HttpResponse", "NetError",
           "PolicyEngine"]


class PolicyEngine(Protocol):
    """The NetworkPolicy verdict for one connection (both directions)."""

    def verdict(self, src_pod: dict[str, Any] | None, src_ip: str, dst_pod: dict[str, Any], port: int,
                protocol: str) -> tuple[bool, list[Hop]]:
        ...


def policy_engine(sandbox: Sandbox) -> PolicyEngine:
    """The policy engine of the cluster's CNI plugin (:mod:`k8snet.sandbox.cni`). Every plugin enforces Kubernetes
    NetworkPolicy with the same engine (:class:`.policy.NetworkPolicyEngine`: the upstream semantics all three
    implement). A plugin with its own policy kinds registers an engine here that wraps that verdict and adds its
    own: Cilium's (:class:`.cilium.engine.CiliumPolicyEngine`: CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy,
    L7 HTTP rules, Hubble's flows) and Calico's (:class:`.calico.engine.CalicoPolicyEngine`: projectcalico.org/v3
    NetworkPolicy and GlobalNetworkPolicy in ordered tiers, Kubernetes NetworkPolicies in the ``default`` tier)."""
    cni = getattr(sandbox, "cni", "")
    if cni == "cilium":
        from .cilium.engine import CiliumPolicyEngine

        return CiliumPolicyEngine(sandbox)
    if cni == "calico":
        from .calico.engine import CalicoPolicyEngine

        return CalicoPolicyEngine(sandbox)
    from .policy import NetworkPolicyEngine

    return NetworkPolicyEngine(sandbox)


class AllowAll:
    """No NetworkPolicy engine registered: everything is allowed (and the trace says so)."""

    def verdict(self, src_pod, src_ip, dst_pod, port, protocol):  # noqa: ANN001, D102
        return True, [Hop("policy", "no NetworkPolicy engine in this sandbox: allowed", {"allowed": True})]


class DataPlane:
    """Everything traffic-related for one sandbox, built from its store, clock and random source."""

    def __init__(self, sandbox: Sandbox):
        from .capture import Capture
        from .dns import Resolver
        from .ingress import Ingress
        from .logs import LogBook
        from .mesh import Mesh
        from .network import Network
        from .podsync import PodSync
        from .processes import Processes
        from .proxy import KubeProxy
        from .streams import Streams
        from .workloads import Workloads

        self.sb = sandbox
        self.dns = Resolver(sandbox)
        self.proxy = KubeProxy(sandbox)
        self.policy: PolicyEngine = policy_engine(sandbox)
        self.network = Network(sandbox, self)
        self.mesh = Mesh(sandbox, self)
        self.logs = LogBook(sandbox.clock)
        self.workloads = Workloads(sandbox, self)
        self.processes = Processes(self)
        self.podsync = PodSync(self)
        self.real_servers: dict[str, Callable[[Connection, HttpRequest], HttpResponse]] = sandbox.real_servers
        """Program name → the real component that answers for it (``traefik``: the supervised binary); the
        sandbox's own table, so a reset's new data plane keeps it."""
        self.streams = Streams()
        self.capture = Capture(sandbox.clock.now)
        self.ingress = Ingress(sandbox, self)
        self._sessions: dict[str, set[asyncio.Future[None]]] = {}

    def connect(self, src_pod: dict[str, Any] | None, host: str, port: int, protocol: str = "TCP",
                src_ip: str | None = None, stub: str = "go") -> Connection:
        """Open a connection as ``src_pod`` would (or from outside with ``src_ip``); raises NetError. ``stub``:
        the client's resolver, ``go`` or ``libc`` (:meth:`.network.Network.resolve`)."""
        return self.network.connect(src_pod, host, port, protocol, src_ip=src_ip, stub=stub)

    def http(self, src_pod: dict[str, Any] | None, host: str, port: int, request: HttpRequest,
             src_ip: str | None = None) -> HttpResponse:
        """One HTTP exchange over a fresh connection (so kube-proxy chooses an endpoint per request)."""
        conn = self.connect(src_pod, host, port, "TCP", src_ip=src_ip)
        response = settled(self.workloads.serve_http(conn, request))
        response.hops = conn.hops + response.hops
        return response

    def session(self, pod_uid: str) -> asyncio.Future[None]:
        """An exec session in a pod: a future that resolves when the runtime kills the pod's containers (the pod
        left, the cluster was reset), and the exec'd process with them. :meth:`close_session` when it ends."""
        ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sessions.setdefault(pod_uid, set()).add(ended)
        return ended

    def close_session(self, pod_uid: str, ended: asyncio.Future[None]) -> None:
        self._sessions.get(pod_uid, set()).discard(ended)

    def end_sessions(self, pod_uid: str | None = None) -> None:
        """Kill the exec'd processes of one pod (every pod's when None)."""
        for uid in [pod_uid] if pod_uid is not None else list(self._sessions):
            for ended in self._sessions.pop(uid, set()):
                if not ended.done():
                    ended.set_result(None)

    def close(self) -> None:
        """The cluster is replaced (a reset): every container's process and every exec session in it ends."""
        self.end_sessions()
        self.processes.forget_all()

    def forget(self, pod_uid: str) -> None:
        """A pod left the cluster: its processes (exec sessions too), listeners, programs, files and logs go."""
        self.end_sessions(pod_uid)
        self.processes.forget(pod_uid)
        self.podsync.forget(pod_uid)
        self.streams.forget(pod_uid)
        self.workloads.forget(pod_uid)

    async def exec(self, pod: dict[str, Any], container: str, argv: list[str], stdin: bytes | None = None,
                   tty: bool = False, pipe: Any = None, on_output: Any = None) -> ExecResult:
        """Run an emulated command in a container; an unknown command exits 127 with what is supported.
        ``pipe`` keeps its standard input open; ``on_output(channel, data)`` gets its output as it comes."""
        from .commands import run

        return await run(self, pod, container, argv, stdin, tty, pipe, on_output)

    def run_sync(self, pod: dict[str, Any], container: str, argv: list[str]) -> ExecResult:
        """A command run to its end at once (a server's setup script, netexec's /shell), within its budget."""
        from .commands import run_sync

        return run_sync(self, pod, container, argv, None, False)


