"""Cilium Cluster Mesh between sandboxes: one flat pod network over several clusters.

Cilium's Cluster Mesh (Documentation/network/clustermesh/intro.rst) joins clusters whose pod CIDRs do not overlap:
each cluster's clustermesh-apiserver exports its endpoints, identities and global Services, every agent of every
other cluster imports them, and then

- a pod reaches a pod of another cluster at its own address (the node tunnels it to the remote node, no NAT), and
  the remote pod sees the client's pod address;
- the address carries its identity across (the imported ipcache), so policies can select remote endpoints by
  label: ``io.cilium.k8s.policy.cluster`` names the cluster, and with ``policy-default-local-cluster`` (the
  default since Cilium 1.19) a selector that names no cluster selects local endpoints only. Each cluster enforces
  its own policies: egress where the client runs, ingress where the server runs (policy.rst: "Kubernetes security
  policies are not automatically distributed across clusters");
- a Service with the same namespace and name in several clusters, annotated ``service.cilium.io/global: "true"``
  in each, load-balances over the backends of all of them (global-services.rst), with
  ``service.cilium.io/affinity: local|remote`` to prefer one side and fail over to the other (affinity.rst).

The sandbox does the same between members of a set (:mod:`.config`: who is meshed with whom, from the
``cilium-clustermesh`` Secret; :mod:`.state`: what each member exports; :mod:`.latency`: the round trip between
two members). Each member polls the others' state (``GET /k8snet/admin/clustermesh/state``, answered when it
changes). A connection to a remote pod is judged by the local egress policy, crosses to the remote member
(``POST …/connect``: its ingress policy, its pod), and each HTTP request on it is answered there (``POST …/http``),
after the round trip.

Not emulated: UDP and raw TCP streams across clusters (refused with a message that says so), a mesh of more
than one hop, the clustermesh-apiserver's own pods and their KVStoreMesh.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import http.client
import ipaddress
import json
import logging
import ssl
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..dataplane import globalservices
from ..dataplane.model import (
    CAN_WAIT,
    EMPTY_REPLY,
    PENDING,
    RESET,
    Connection,
    Deferred,
    Hop,
    HttpRequest,
    HttpResponse,
    NetError,
    Refused,
    Timeout,
    answer_of,
)
from ..dataplane.proxy import Endpoint
from . import config, endpointslices, latency, state

if TYPE_CHECKING:
    from ..instance import Sandbox
    from ..process import Running

log = logging.getLogger("k8snet.sandbox.clustermesh")
Obj = dict[str, Any]

POLL_WAIT = 10.0
"""How long a member holds a poll for its state open when nothing changed (a long poll, as an etcd watch)."""
RETRY = 1.0
"""Seconds between attempts to reach a member that did not answer."""
RPC_TIMEOUT = 5.0
"""Seconds a connect or a request to another member may take before the connection counts as timed out."""
HOLD = 5.0
"""Seconds a member that did not answer a blocking call counts as unreachable (its poller's next state ends that
sooner): the calls meanwhile fail at once, so an outage holds this member's loop once, not once per connection."""
ANNOTATION = "k8snet.io/cluster"
"""Marks the stand-in for a remote pod in a Connection (never stored)."""


@dataclass
class Remote:
    """The last state one meshed member exported, indexed for the data plane."""

    name: str
    state: Obj = field(default_factory=dict)
    etag: str = ""
    error: str = ""
    synced: bool = False
    by_ip: dict[str, Obj] = field(default_factory=dict)
    services: dict[tuple[str, str], Obj] = field(default_factory=dict)
    networks: tuple[Any, ...] = ()
    published: list[Obj] = field(default_factory=list)
    """The ServiceExports last handed to the MCS-API controllers."""

    def update(self, data: Obj, etag: str) -> None:
        self.state, self.etag, self.error, self.synced = data, etag, "", True
        self.by_ip = {e["ip"]: e for e in data.get("endpoints") or []}
        self.services = {(s["namespace"], s["name"]): s for s in data.get("services") or []}
        cluster = data.get("cluster") or {}
        self.networks = tuple(ipaddress.ip_network(c) for c in (cluster.get("podCIDR"),) if c)

    @property
    def cluster_name(self) -> str:
        """Cilium's name of the cluster (its ``cluster-name``), which policies select with."""
        return (self.state.get("cluster") or {}).get("name") or self.name

    def owns(self, ip: str) -> bool:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in net for net in self.networks)


@dataclass
class Link:
    """How a connection crosses to another member: which one, as which source, and the round trip."""

    remote: str
    src: Obj
    rtt_ms: float
    local_hops: int = 0
    """How many of the connection's hops are this cluster's (the rest are the remote member's)."""


def remote_pod(ep: Obj, cluster: str) -> Obj:
    """A stand-in pod object for a remote endpoint (what a trace and a log line show of it)."""
    return {"metadata": {"name": ep["name"], "namespace": ep["namespace"], "labels": ep.get("labels") or {},
                         "annotations": {ANNOTATION: cluster}, "uid": f"{cluster}:{ep['namespace']}/{ep['name']}"},
            "spec": {"nodeName": ep.get("node") or ""}, "status": {"podIP": ep["ip"], "phase": "Running"}}


def is_remote(pod: Obj | None) -> bool:
    return bool(((pod or {}).get("metadata") or {}).get("annotations", {}).get(ANNOTATION))


def hop_dicts(hops: list[Hop]) -> list[Obj]:
    return [h.to_dict() for h in hops]


def hops_of(items: list[Obj] | None) -> list[Hop]:
    return [Hop(h.get("kind", "error"), h.get("summary", ""), h.get("detail") or {}) for h in items or []]


def _no_answer(name: str, why: str) -> Obj:
    """A blocking call's answer when the member did not give one: the connection times out."""
    return {"error": Timeout.code, "message": f"cluster {name} does not answer ({why})",
            "hops": [{"kind": "error", "summary": f"cluster {name} does not answer: the tunnel to it drops the packet",
                      "detail": {"cluster": name}}]}


class ClusterMesh:
    """One member's view of the mesh: the remote members it polls, and the two halves of a crossing."""

    def __init__(self, sandbox: Sandbox):
        self.sb = sandbox
        self.remotes: dict[str, Remote] = {}
        self._pollers: dict[str, asyncio.Task[Any]] = {}
        self._members: dict[str, tuple[float, Running | None]] = {}
        self._changed: asyncio.Event | None = None
        self._served: tuple[str, Obj] | None = None  # (etag, state) last computed for the pollers
        self._connections: dict[str, tuple[str, http.client.HTTPSConnection]] = {}  # kept open per member
        self._sessions: dict[str, tuple[str, Any]] = {}  # aiohttp sessions per member
        self._silent: dict[str, tuple[float, str]] = {}  # member -> when a blocking call last found it silent, why
        sandbox.store.subscribe(lambda _event: self._changed.set() if self._changed is not None else None)

    # -- membership ---------------------------------------------------------------------------------------

    def configured(self) -> list[str]:
        """The members the ``cilium-clustermesh`` Secret names (none on a cluster without Cilium)."""
        if self.sb.cni != "cilium":
            return []
        return [n for n in config.remote_names(self.sb.store.get("secrets", config.NAMESPACE, config.SECRET))
                if n != self.sb.shape.name]

    def sync(self) -> None:
        """Poll every configured member and forget the others (the agents reread the mounted Secret)."""
        wanted = set(self.configured())
        for name in list(self._pollers):
            if name not in wanted:
                self._pollers.pop(name).cancel()
                gone = self.remotes.pop(name, None)
                if gone is not None and gone.published:
                    self._publish(gone.cluster_name, [])
                    endpointslices.sync(self.sb, list(self.remotes.values()))
        loop = asyncio.get_running_loop()
        for name in sorted(wanted - set(self._pollers)):
            self.remotes.setdefault(name, Remote(name))
            self._pollers[name] = loop.create_task(self._poll(name), name=f"clustermesh-{name}")
        endpointslices.sync(self.sb, list(self.remotes.values()))  # local Services come and go too

    def close(self) -> None:
        for task in self._pollers.values():
            task.cancel()
        self._pollers.clear()
        self.remotes.clear()
        for _, conn in self._connections.values():
            conn.close()
        self._connections.clear()
        for _, session in self._sessions.values():  # the calls that wait (aiohttp): closed on the loop
            if not session.closed:
                with contextlib.suppress(RuntimeError):  # no running loop: the process is ending
                    asyncio.get_running_loop().create_task(session.close())
        self._sessions.clear()

    def member(self, name: str) -> Running | None:
        """The running sandbox of that name in this set (looked up again after a few seconds)."""
        from .. import process

        now = time.monotonic()
        seen = self._members.get(name)
        if seen is None or now - seen[0] > 3.0 or seen[1] is None:
            try:
                running = process.status(name=name)
            except ValueError:
                running = None
            seen = (now, running)
            self._members[name] = seen
        return seen[1]

    async def _poll(self, name: str) -> None:
        import aiohttp

        remote = self.remotes[name]
        while True:
            running = self.member(name)
            if running is None:
                remote.error = f"no running sandbox named {name} in this cluster set"
                await asyncio.sleep(RETRY)
                continue
            try:
                ctx = ssl.create_default_context(cafile=str(running.ca_file))
                async with aiohttp.ClientSession() as session:
                    while True:
                        url = f"{running.server}/k8snet/admin/clustermesh/state?wait={remote.etag}"
                        async with session.get(url, ssl=ctx, timeout=aiohttp.ClientTimeout(total=POLL_WAIT + 10),
                                               headers={"Authorization": f"Bearer {running.token}"}) as resp:
                            if resp.status != 200:
                                raise OSError(f"HTTP {resp.status}: {(await resp.text())[:200]}")
                            data = await resp.json()
                        remote.update(data["state"], data["etag"])
                        self._silent.pop(name, None)  # it answers again
                        self._received(remote)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a member that went away: try again, say why meanwhile
                remote.error = f"{type(exc).__name__}: {exc}"
                self._members.pop(name, None)
                await asyncio.sleep(RETRY)

    def _received(self, remote: Remote) -> None:
        """A member's new state: hand its ServiceExports to the MCS-API controllers (as Cilium's operator reads
        them from the remote kvstore) and sync the remote endpoints of headless global Services."""
        exports = remote.state.get("serviceExports") or []
        if exports != remote.published:
            self._publish(remote.cluster_name, exports)
            remote.published = exports
        endpointslices.sync(self.sb, list(self.remotes.values()))

    def _publish(self, cluster: str, exports: list[Obj]) -> None:
        from ..controllers.mcs import merge, remote

        parsed = []
        for item in exports:
            try:
                parsed.append(merge.Export.from_json(item))
            except (ValueError, KeyError, TypeError) as exc:  # the operator skips an entry it cannot read
                log.warning("cluster %s exports an entry the MCS-API controllers cannot read (%s): %r",
                            cluster, exc, item)
        try:
            remote.publish(self.sb, cluster, parsed)
        except ValueError as exc:  # a remote that calls itself by this cluster's name: ignored, as Cilium does
            log.warning("%s", exc)

    # -- what this member exports ---------------------------------------------------------------------------

    def exported(self) -> tuple[str, Obj]:
        """This member's state and its etag (a digest of the content, so unrelated writes wake no one)."""
        data = state.state(self.sb)
        etag = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]
        self._served = (etag, data)
        return etag, data

    async def wait_exported(self, etag: str, wait: float = POLL_WAIT) -> tuple[str, Obj]:
        """The state once it differs from ``etag`` (or after ``wait`` seconds): a long poll."""
        if self._changed is None:
            self._changed = asyncio.Event()
        deadline = time.monotonic() + wait
        while True:
            self._changed.clear()
            current, data = self.exported()
            left = deadline - time.monotonic()
            if current != etag or left <= 0:
                return current, data
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=left)
            except TimeoutError:
                pass
            await asyncio.sleep(0.05)  # a burst of writes (a rollout) is read once

    # -- the imported ipcache and global Services ------------------------------------------------------------

    def owner(self, ip: str) -> Remote | None:
        """The meshed member whose pod network holds ``ip`` (None: not a remote pod address)."""
        return next((r for r in self.remotes.values() if r.owns(ip)), None)

    def endpoint_at(self, ip: str) -> tuple[Remote, Obj] | None:
        """A remote pod by its address: its cluster, identity and labels (Cilium's ipcache entry)."""
        remote = self.owner(ip)
        if remote is None:
            return None
        ep = remote.by_ip.get(ip)
        return (remote, ep) if ep is not None else None

    def backends(self, svc: Obj) -> list[Endpoint]:
        """The remote backends of a global Service: those of every meshed member whose Service of the same
        namespace and name is global and shared (global-services.rst's flow chart)."""
        if not globalservices.is_global(svc):
            return []
        meta = svc["metadata"]
        key = (meta.get("namespace", "default"), meta["name"])
        out = []
        for remote in self.remotes.values():
            shared = remote.services.get(key)
            for b in (shared or {}).get("backends") or []:
                out.append(Endpoint(b["ip"], tuple(tuple(p) for p in b["ports"]), b["ready"], b["serving"],
                                    b["terminating"], b["node"], b["pod"], b["namespace"], b["hostname"],
                                    cluster=remote.cluster_name))
        return out

    # -- a connection from here to another member -------------------------------------------------------------

    def connect(self, src_pod: Obj | None, client_ip: str, dst_ip: str, port: int, protocol: str,
                hops: list[Hop], service: Obj | None) -> Connection:
        """Open a connection to a remote pod: this cluster's egress policy, the crossing, the remote's side."""
        remote = self.owner(dst_ip)
        assert remote is not None
        found = remote.by_ip.get(dst_ip)
        if found is None:
            hops.append(Hop("error", f"{dst_ip} is in cluster {remote.name}'s pod network, but no running pod "
                                     "there has it: nothing answers", {"address": dst_ip, "cluster": remote.name}))
            raise Timeout(f"connect {dst_ip}:{port}: no pod of cluster {remote.name} has that address", hops)
        if protocol != "TCP":
            hops.append(Hop("error", f"{protocol} across clusters is not emulated by the sandbox (TCP is)",
                            {"protocol": protocol, "cluster": remote.name}))
            raise Timeout(f"{protocol} to {dst_ip}:{port} in cluster {remote.name}: not emulated by the sandbox",
                          hops)
        allowed, policy_hops = self.sb.dataplane.policy.outside(src_pod, client_ip, dst_ip, port, protocol)
        hops += policy_hops
        if not allowed:
            raise Timeout(f"{protocol} {dst_ip}:{port} dropped by NetworkPolicy", hops)
        local_hops = len(hops) + 1  # with the crossing's own hop below
        rtt = latency.rtt_ms(self.sb.shape.name, remote.name)
        src_node = ((src_pod or {}).get("spec") or {}).get("nodeName") or ""
        hops.append(Hop("clustermesh", f"{dst_ip} is pod {found['namespace']}/{found['name']} of cluster "
                                       f"{remote.cluster_name}: {src_node or 'the node'} tunnels it to "
                                       f"{found.get('node')} (Cluster Mesh)"
                                       + (f", {rtt:g} ms round trip" if rtt else ""),
                        {"cluster": remote.cluster_name, "member": remote.name, "node": found.get("node"),
                         "pod": found["name"], "namespace": found["namespace"], "rttMs": rtt}))
        src = self._source(src_pod, client_ip)
        body = {"src": src, "dst": dst_ip, "port": port, "protocol": protocol}

        def finish(answer: Obj) -> Connection:
            """The remote member's verdict: its hops, then the connection or the error it gave."""
            remote_hops = hops_of(answer.get("hops"))
            if answer.get("error"):
                error = Refused if answer["error"] == Refused.code else Timeout
                raise error(answer.get("message") or f"connect {dst_ip}:{port} failed in cluster {remote.name}",
                            hops + remote_hops)
            hops.extend(remote_hops)
            conn = Connection(src_pod, remote_pod(found, remote.cluster_name), dst_ip, port, protocol, client_ip,
                              int(answer.get("clientPort") or self.sb.dataplane.workloads.ephemeral_port()), hops,
                              service)
            conn.remote = Link(remote.name, src, rtt, local_hops)
            established = getattr(self.sb.dataplane.policy, "established", None)
            if established is not None:
                established(conn)
            return conn

        if CAN_WAIT.get():  # the caller yields until the member answers: this loop goes on meanwhile
            raise Deferred(asyncio.get_running_loop().create_task(self.connect_async(remote.name, body)), finish)
        return finish(self.call(remote.name, "connect", body))

    def _source(self, src_pod: Obj | None, client_ip: str) -> Obj:
        meta = (src_pod or {}).get("metadata") or {}
        return {"ip": client_ip, "cluster": self.sb.shape.name, "namespace": meta.get("namespace"),
                "name": meta.get("name")}

    def http(self, conn: Connection, req: HttpRequest) -> HttpResponse:
        """One request on a connection to a remote pod, answered by that member after the round trip."""
        link: Link = conn.remote
        body = {"src": link.src, "dst": conn.dst_ip, "port": conn.port, "clientPort": conn.client_port,
                "request": {"method": req.method, "path": req.path, "headers": req.headers, "host": req.host,
                            "scheme": req.scheme, "body": base64.b64encode(req.body).decode()}}
        loop = asyncio.get_running_loop()
        pending = loop.create_task(self._http(link, body))
        return HttpResponse(PENDING, served_by=conn.dst_pod["metadata"]["name"], pending=pending,
                            blocking=lambda: self._answer(link, self.call(link.remote, "http", body)))

    async def _http(self, link: Link, body: Obj) -> HttpResponse:
        return self._answer(link, await self.call_async(link.remote, "http", body))

    @staticmethod
    def _answer(link: Link, answer: Obj) -> HttpResponse:
        """The remote member's answer to one request, after the round trip there and back."""
        if answer.get("error"):
            return HttpResponse(RESET if answer["error"] == "RESET" else EMPTY_REPLY,
                                hops=hops_of(answer.get("hops")))
        return HttpResponse(int(answer["status"]), dict(answer.get("headers") or {}),
                            base64.b64decode(answer.get("body") or ""), answer.get("servedBy") or "",
                            hops_of(answer.get("hops")), float(answer.get("delay") or 0.0) + 2 * link.rtt_ms / 1000)

    # -- calls to another member ------------------------------------------------------------------------------

    def _target(self, name: str) -> Running:
        running = self.member(name)
        if running is None:
            raise OSError(f"no running sandbox named {name} in this cluster set")
        return running

    def call(self, name: str, action: str, body: Obj) -> Obj:
        """A blocking call to another member: a connect (answered at once, it never waits on a workload), or a
        request from a caller that cannot wait (netexec's /dial). While it runs this member's loop waits, so a
        remote workload that calls back into this cluster in the same breath waits out :data:`RPC_TIMEOUT`.
        The TLS connection to each member is kept open between calls (a handshake costs more than the call). A
        member that did not answer is not called again for :data:`HOLD` seconds: those calls fail at once."""
        silent = self._silent.get(name)
        if silent is not None and time.monotonic() - silent[0] < HOLD:
            return _no_answer(name, f"{silent[1]}; {time.monotonic() - silent[0]:.1f} s ago, so not tried again "
                                    f"for {HOLD:g} s")
        data = json.dumps(body).encode()
        for attempt in (1, 2):  # a kept connection the member closed meanwhile: once more on a new one
            try:
                running = self._target(name)
                conn = self._connections.get(name)
                if conn is None or conn[0] != running.server:
                    host, port = running.server.removeprefix("https://").rsplit(":", 1)
                    ctx = ssl.create_default_context(cafile=str(running.ca_file))
                    conn = (running.server, http.client.HTTPSConnection(host, int(port), timeout=RPC_TIMEOUT,
                                                                       context=ctx))
                    self._connections[name] = conn
                conn[1].request("POST", f"/k8snet/admin/clustermesh/{action}", body=data,
                                headers={"Authorization": f"Bearer {running.token}",
                                         "Content-Type": "application/json"})
                resp = conn[1].getresponse()
                return json.loads(resp.read())
            except (OSError, ValueError, http.client.HTTPException) as exc:
                stale = self._connections.pop(name, None)
                if stale is not None:
                    stale[1].close()
                if attempt == 2 or isinstance(exc, TimeoutError):
                    self._silent[name] = (time.monotonic(), str(exc) or type(exc).__name__)
                    return _no_answer(name, str(exc) or type(exc).__name__)
        raise AssertionError("unreachable")

    async def connect_async(self, name: str, body: Obj) -> Obj:
        """A connect's call for a caller that waits without holding the loop: the same answers as :meth:`call`,
        with its :data:`RPC_TIMEOUT` and its hold on a member that did not answer."""
        silent = self._silent.get(name)
        if silent is not None and time.monotonic() - silent[0] < HOLD:
            return _no_answer(name, f"{silent[1]}; {time.monotonic() - silent[0]:.1f} s ago, so not tried again "
                                    f"for {HOLD:g} s")
        answer = await self.call_async(name, "connect", body, RPC_TIMEOUT)
        if answer.get("error") == "EMPTY":
            self._silent[name] = (time.monotonic(), answer.get("why") or "no answer")
            return _no_answer(name, answer.get("why") or "no answer")
        return answer

    async def call_async(self, name: str, action: str, body: Obj, timeout: float = RPC_TIMEOUT + 30) -> Obj:
        """A call that waits without holding the loop (a request whose answer a workload may take time over)."""
        import aiohttp

        try:
            running = self._target(name)
            session = self._sessions.get(name)
            if session is None or session[0] != running.server or session[1].closed:
                ctx = ssl.create_default_context(cafile=str(running.ca_file))
                session = (running.server, aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)))
                self._sessions[name] = session
            async with session[1].post(f"{running.server}/k8snet/admin/clustermesh/{action}", json=body,
                                       headers={"Authorization": f"Bearer {running.token}"},
                                       timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                return await resp.json(content_type=None)
        except (TimeoutError, OSError, ValueError, aiohttp.ClientError) as exc:
            why = str(exc) or type(exc).__name__
            return {"error": "EMPTY", "message": f"cluster {name} does not answer ({why})", "why": why}

    # -- a connection from another member to here ------------------------------------------------------------

    def _arrive(self, body: Obj, hops: list[Hop], record: bool = True) -> Obj:
        """The remote client's packet arrives here: the destination pod, this cluster's ingress policy, its port."""
        dp = self.sb.dataplane
        dst_ip, port, protocol = str(body["dst"]), int(body["port"]), str(body.get("protocol") or "TCP")
        src_ip = str((body.get("src") or {}).get("ip") or "")
        if self.sb.cni != "cilium":
            raise Timeout(f"cluster {self.sb.shape.name} does not run Cilium: it is in no Cluster Mesh", hops)
        pod = dp.network.destination(dst_ip, port, protocol, hops)
        allowed, policy_hops = dp.policy.verdict(None, src_ip, pod, port, protocol, record=record)
        hops += policy_hops
        if not allowed:
            raise Timeout(f"{protocol} {dst_ip}:{port} dropped by NetworkPolicy in cluster {self.sb.shape.name}",
                          hops)
        name = f"{pod['metadata'].get('namespace')}/{pod['metadata']['name']}"
        if not dp.workloads.listening(pod, port, protocol):
            hops.append(Hop("pod", f"nothing in {name} listens on {port}/{protocol}: RST",
                            {"pod": pod["metadata"]["name"], "port": port, "listening": False}))
            raise Refused(f"connect {dst_ip}:{port}: connection refused", hops)
        return pod

    def inbound_connect(self, body: Obj) -> Obj:
        hops: list[Hop] = []
        try:
            pod = self._arrive(body, hops)
        except NetError as exc:
            return {"error": exc.code, "message": exc.message, "hops": hop_dicts(exc.hops or hops)}
        client_port = self.sb.dataplane.workloads.ephemeral_port()
        src = body.get("src") or {}
        hops.append(Hop("pod", f"{pod['metadata'].get('namespace')}/{pod['metadata']['name']} (cluster "
                               f"{self.sb.shape.name}) accepts {body['dst']}:{body['port']} from {src.get('ip')}:"
                               f"{client_port}", {"pod": pod["metadata"]["name"],
                                                  "namespace": pod["metadata"].get("namespace"),
                                                  "node": (pod.get("spec") or {}).get("nodeName"),
                                                  "cluster": self.sb.shape.name}))
        return {"hops": hop_dicts(hops), "clientPort": client_port}

    async def inbound_http(self, body: Obj) -> Obj:
        hops: list[Hop] = []
        try:
            pod = self._arrive(body, hops, record=False)
        except NetError:
            return {"error": "RESET"}  # the pod or the policy changed since the connect: the connection breaks
        r = body.get("request") or {}
        src = body.get("src") or {}
        conn = Connection(None, pod, str(body["dst"]), int(body["port"]), "TCP", str(src.get("ip") or ""),
                          int(body.get("clientPort") or 0), hops)
        req = HttpRequest(str(r.get("method") or "GET"), str(r.get("path") or "/"), dict(r.get("headers") or {}),
                          base64.b64decode(r.get("body") or ""), str(r.get("host") or ""),
                          str(r.get("scheme") or "http"))
        try:
            response = self.sb.dataplane.workloads.serve_http(conn, req)
            if response.status == PENDING:
                response = await answer_of(response)
        except NetError as exc:
            return {"error": "RESET", "message": exc.message}
        return {"status": response.status, "headers": response.headers,
                "body": base64.b64encode(response.body).decode(), "servedBy": response.served_by,
                "delay": response.delay, "hops": hop_dicts(response.hops)}

    # -- status -----------------------------------------------------------------------------------------------

    def status(self) -> list[Obj]:
        """Each configured member: connected or not, and what it shares (``cilium clustermesh status``)."""
        out = []
        for name in self.configured():
            remote = self.remotes.get(name) or Remote(name)
            silent = self._silent.get(name)
            error = remote.error or (f"does not answer ({silent[1]})" if silent is not None else "")
            out.append({"cluster": name, "connected": remote.synced and not error, "error": error,
                        "endpoints": len(remote.by_ip), "globalServices": len(remote.services)})
        return out
