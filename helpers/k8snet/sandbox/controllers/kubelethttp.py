"""The kubelet's own HTTP GETs to its pods: httpGet probes and httpGet lifecycle hooks.

pkg/probe/http/request.go (NewRequestForHTTPGetAction: ``scheme://podIP:port/path``, ``Host`` from the
action's host or the pod IP, ``User-Agent: kube-<probe|lifecycle>/<version>``, ``Accept: */*``, the action's
headers on top), pkg/kubelet/lifecycle/handlers.go (resolvePort: a number, or the name of a container port).
The kubelet connects from the host network: its source address is the node's pod-CIDR gateway (kindnet's ptp
plugin puts it on each pod's host-side veth), and no NetworkPolicy applies to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..schema import KUBERNETES_VERSION

if TYPE_CHECKING:
    from ..instance import Sandbox

Pod = dict[str, Any]


@dataclass
class Reply:
    """What one GET came to: ``status`` None when there was no HTTP answer (``error`` says why)."""

    url: str
    status: int | None
    body: str
    error: str


def container_port(pod: Pod, container: str, port: Any) -> int:
    """A probe's or hook's port: a number, or the name of one of the container's ports (0: no such name)."""
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for key in ("containers", "initContainers"):
        for spec in pod["spec"].get(key) or []:
            if spec.get("name") == container:
                return next((p["containerPort"] for p in spec.get("ports") or [] if p.get("name") == port), 0)
    return 0


def source(sb: Sandbox, pod: Pod) -> str:
    """The kubelet's source address towards a pod on its node: the node's own address on the pod network as its
    CNI plugin set it up (:func:`k8snet.sandbox.cni.host_address`), else the node's InternalIP."""
    from .. import cni

    node = pod["spec"].get("nodeName", "")
    address = cni.host_address(sb, node) if node else ""
    if address:
        return address
    for a in ((sb.store.get("nodes", "", node) or {}).get("status") or {}).get("addresses") or []:
        if a.get("type") == "InternalIP":
            return a["address"]
    return ""


def get(sb: Sandbox, pod: Pod, container: str, action: dict[str, Any], agent: str) -> Reply:
    """GET the action's URL from the kubelet, answered by the pod's emulated program."""
    from ..dataplane.model import EMPTY_REPLY, RAW_REPLY, Connection, HttpRequest, settled

    dp = sb.dataplane
    ip = action.get("host") or (pod.get("status") or {}).get("podIP", "")
    port = container_port(pod, container, action.get("port"))
    scheme = (action.get("scheme") or "HTTP").lower()
    path = action.get("path") or "/"
    path = path if path.startswith("/") else "/" + path
    url = f'Get "{scheme}://{ip}:{port}{path}"'
    if not dp.workloads.listening(pod, port, "TCP"):
        return Reply(url, None, "", f"{url}: dial tcp {ip}:{port}: connect: connection refused")
    if scheme == "https" and not dp.workloads.speaks_tls(pod, port):
        return Reply(url, None, "", f"{url}: http: server gave HTTP response to HTTPS client")
    headers = {"Host": f"{ip}:{port}", "User-Agent": f"kube-{agent}/{KUBERNETES_VERSION}", "Accept": "*/*",
               "Connection": "close"}
    headers.update({h["name"]: h.get("value", "") for h in action.get("httpHeaders") or []})
    conn = Connection(None, pod, ip, port, "TCP", source(sb, pod),
                      sb.random.stream("kubelet-probes").randint(32768, 60999))
    response = settled(dp.workloads.serve_http(conn, HttpRequest("GET", path, headers, host=f"{ip}:{port}",
                                                                 scheme=scheme)))
    body = response.body.decode(errors="replace")
    if response.status == RAW_REPLY:
        return Reply(url, None, body, f"{url}: net/http: HTTP/1.x transport connection broken: malformed HTTP "
                                      f'response "{body}"')
    if response.status == EMPTY_REPLY:
        return Reply(url, None, body, f"{url}: EOF")
    return Reply(url, response.status, body, "")
