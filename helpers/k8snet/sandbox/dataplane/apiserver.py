"""The API server as pods reach it: ``https://kubernetes.default.svc`` with the pod's own token.

On kind, Service ``default/kubernetes`` (10.96.0.1:443) has one endpoint, the control-plane node's 6443, where
kube-apiserver runs as a static pod on the host network. The sandbox answers there with its own API server:
kube-proxy's rule leads a connection to the node's address, the TLS handshake presents a certificate for the
in-cluster names (``kubernetes``, ``kubernetes.default.svc``, 10.96.0.1, the node's address) signed by the
cluster CA, which pods hold as ``/var/run/secrets/kubernetes.io/serviceaccount/ca.crt``, and each request is
sent, as the pod wrote it, to the sandbox's HTTPS port on loopback. So the request is authenticated by its
bearer token and authorized by RBAC like any other: curl with the mounted token gets the 403 a real cluster
gives. NetworkPolicy treats the destination as the node (a host-network endpoint), as CNIs do.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import TYPE_CHECKING, Any

from .model import PENDING, Connection, HttpRequest, HttpResponse, Program
from .tls import server_context

if TYPE_CHECKING:
    from ..instance import Sandbox
    from ..topology import Shape

PORT = 6443
UID = "kube-apiserver"
PROGRAM = Program("kube-apiserver", None, {(PORT, "TCP"): "https"})


def hosts(shape: Shape) -> list[str]:
    """The subject alternative names of kind's apiserver.crt (kubeadm certs: its node, the Service's names and IP)."""
    node = shape.control_plane
    return [node.name, "kubernetes", "kubernetes.default", "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local", "localhost", shape.kubernetes_ip, node.internal_ip, "127.0.0.1"]


def static_pod(shape: Shape) -> dict[str, Any]:
    """kind's kube-apiserver static pod on the control-plane node, as the data plane needs it (not an API object:
    the sandbox does not list it)."""
    node = shape.control_plane
    return {"metadata": {"name": f"kube-apiserver-{node.name}", "namespace": "kube-system",
                         "uid": UID, "labels": {"component": "kube-apiserver", "tier": "control-plane"}},
            "spec": {"nodeName": node.name, "hostNetwork": True, "containers": [{"name": "kube-apiserver"}]},
            "status": {"phase": "Running", "podIP": node.internal_ip}}


def is_apiserver(pod: dict[str, Any] | None) -> bool:
    return bool(pod) and pod["metadata"].get("uid") == UID  # type: ignore[index]


class Forward:
    """The sandbox's own HTTPS API behind the control-plane node's 6443 (a real server in the data plane's table).

    Example:
        >>> sb.real_servers["kube-apiserver"] = Forward(sb, port, cert_pem, key_pem)  # once the API listens
    """

    def __init__(self, sb: Sandbox, port: int, cert_pem: bytes, key_pem: bytes):
        self.port = port
        self.tls = server_context(cert_pem, key_pem)
        """What the handshake from a pod presents."""
        self.client = ssl.create_default_context(cadata=sb.ca_pem)

    def __call__(self, conn: Connection, req: HttpRequest) -> HttpResponse:
        return HttpResponse(PENDING, pending=asyncio.get_running_loop().create_task(self.send(req)))

    async def send(self, req: HttpRequest, timeout: float = 300.0) -> HttpResponse:
        """The request as the pod wrote it (its headers, its token), to the API on loopback; the answer whole."""
        import aiohttp

        headers = {k: v for k, v in req.headers.items() if k.lower() not in ("content-length", "transfer-encoding")}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout), auto_decompress=False,
                                         skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding")) as session:
            async with session.request(req.method, f"https://127.0.0.1:{self.port}{req.path}", headers=headers,
                                       data=req.body or None, ssl=self.client, allow_redirects=False) as resp:
                body = b"" if req.method == "HEAD" else await resp.read()
                kept = {k: v for k, v in resp.headers.items() if k.lower() != "transfer-encoding"}
                return HttpResponse(resp.status, kept, body)


def register(sb: Sandbox, port: int) -> None:
    """Answer pods at the control-plane node's 6443 with the API listening on ``port`` (needs the CA's key in the
    state directory; without one, the node refuses the connection as before)."""
    from ..pki import in_cluster_serving

    pair = in_cluster_serving(sb.state_dir, hosts(sb.shape)) if sb.state_dir else None
    if pair is not None:
        sb.real_servers["kube-apiserver"] = Forward(sb, port, *pair)
