"""NodePorts from the host: ``curl http://127.0.0.1:<nodePort>`` stands for ``curl http://<node IP>:<nodePort>``.

On kind (Linux), the nodes' addresses (172.18.0.x on the docker network) are reachable from the host, so the
tutorials' ``curl http://$NODE_IP:$NODE_PORT`` works, and so does a LoadBalancer address, which
cloud-provider-kind serves by forwarding to the Service's nodePorts. The sandbox's nodes exist only inside its
data plane, and the host cannot route to their addresses without privileges, so each nodePort of a NodePort or
LoadBalancer Service gets a listener on 127.0.0.1 at the same port number. A connection to it enters the
cluster as one to the control-plane node's address at that nodePort would: kube-proxy chooses the endpoint
(``externalTrafficPolicy`` included) and rewrites the source, NetworkPolicies apply, and the pod's program
answers, through the same relay the pod-network bridge uses. A port this machine already uses cannot be
listened on: the Service gets a Warning event that says so, and ``k8snet sandbox status`` lists it. Traefik's
nodePorts are left to the ingress edge.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from typing import TYPE_CHECKING, Any

from ..traefik_config import EDGE_CLIENT_IP, NODE_PORTS
from .dataplane.model import NetError
from .dataplane.relay import relay

if TYPE_CHECKING:
    from .instance import Sandbox

log = logging.getLogger("k8snet.sandbox.hostports")
HOST = "127.0.0.1"
RECONCILE_S = 0.5
"""How often the listeners follow the Services (a nodePort is reachable within this much of its creation)."""


def wanted(services: list[dict[str, Any]]) -> dict[int, str]:
    """nodePort → ``namespace/name`` of every TCP nodePort of a NodePort or LoadBalancer Service, but Traefik's:
    the ingress edge is the host's way to those (127.0.0.1:8080/8443, as kind maps them)."""
    out: dict[int, str] = {}
    for svc in services:
        spec = svc.get("spec") or {}
        if spec.get("type") not in ("NodePort", "LoadBalancer"):
            continue
        for port in spec.get("ports") or []:
            if port.get("nodePort") and (port.get("protocol") or "TCP") == "TCP" and \
                    int(port["nodePort"]) not in NODE_PORTS.values():
                out[int(port["nodePort"])] = f"{svc['metadata'].get('namespace', '')}/{svc['metadata']['name']}"
    return out


class NodePorts:
    """The sandbox's host listeners for nodePorts, kept in step with the Services."""

    def __init__(self, sandbox: Sandbox):
        self.sb = sandbox
        self.listening: dict[int, tuple[str, socket.socket, asyncio.Task[Any]]] = {}
        self.busy: dict[int, str] = {}  # nodePort → the Service that wanted it, where the host port is taken
        self._conns: set[asyncio.Task[Any]] = set()
        self._loop_task: asyncio.Task[Any] | None = None

    def start(self) -> None:
        self._loop_task = asyncio.get_running_loop().create_task(self._follow())

    async def stop(self) -> None:
        tasks = [t for t in (self._loop_task, *(t for _, _, t in self.listening.values()), *self._conns) if t]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for _, sock, _ in self.listening.values():
            sock.close()
        self.listening.clear()

    def status(self) -> dict[str, Any]:
        """What ``k8snet sandbox status`` prints: the listening nodePorts and the ones the host holds."""
        return {"host": HOST, "listening": {str(p): svc for p, (svc, _, _) in sorted(self.listening.items())},
                "busy": {str(p): svc for p, svc in sorted(self.busy.items())}}

    async def _follow(self) -> None:
        while True:
            try:
                self.reconcile()
            except Exception:  # a bug here must not end the listeners' upkeep
                log.exception("hostports: reconcile failed")
            await asyncio.sleep(RECONCILE_S)

    def reconcile(self) -> None:
        want = wanted(self.sb.store.list("services"))
        for port in [p for p in self.listening if p not in want]:
            _, sock, task = self.listening.pop(port)
            task.cancel()
            sock.close()
        self.busy = {p: svc for p, svc in self.busy.items() if want.get(p) == svc}
        for port, svc in want.items():
            if port in self.listening or port in self.busy:
                if port in self.listening and self.listening[port][0] != svc:
                    self.listening[port] = (svc, *self.listening[port][1:])
                continue
            try:
                sock = _bind(port)
            except OSError as exc:
                self.busy[port] = svc
                self._warn(svc, port, exc)
                continue
            task = asyncio.get_running_loop().create_task(self._accept(sock))
            self.listening[port] = (svc, sock, task)

    def _warn(self, svc: str, port: int, exc: OSError) -> None:
        """A Warning event on the Service: its nodePort cannot be reached from this machine (fail loudly)."""
        from .controllers.events import record

        ns, name = svc.split("/", 1)
        obj = self.sb.store.get("services", ns, name)
        why = "the port is already in use on this machine" if exc.errno == errno.EADDRINUSE else exc.strerror
        if obj is not None:
            record(self.sb, obj, "NodePortNotOnHost", f"k8snet sandbox: {HOST}:{port}, which stands for "
                   f"<node IP>:{port} from this machine, cannot be listened on ({why}); reach the Service from a "
                   "pod, or with kubectl port-forward", "k8snet-sandbox", "Warning")
        log.warning("hostports: %s:%s for %s: %s", HOST, port, svc, why)

    async def _accept(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        port = listener.getsockname()[1]
        while True:
            try:
                sock, _ = await loop.sock_accept(listener)
            except OSError as exc:
                log.warning("hostports: accept on %s failed: %s", port, exc)
                await asyncio.sleep(0.1)
                continue
            sock.setblocking(False)
            task = loop.create_task(self._connection(sock, port))
            self._conns.add(task)
            task.add_done_callback(self._conns.discard)

    async def _connection(self, sock: socket.socket, port: int) -> None:
        dp = self.sb.dataplane
        try:
            conn = dp.connect(None, self.sb.shape.control_plane.internal_ip, port, "TCP", src_ip=EDGE_CLIENT_IP)
        except NetError as exc:  # no endpoint (kube-proxy's REJECT), a policy's drop: the client sees a reset
            log.info("hostports: %s: %s", port, exc.message)
            _reset(sock)
            return
        await relay(lambda: self.sb.dataplane, conn, sock)


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()
