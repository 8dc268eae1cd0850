"""The ``proxy`` subresources of pods, services and nodes: the API server relays an HTTP request to a pod.

``kubectl proxy`` then ``/api/v1/namespaces/NS/services/NAME:PORT/proxy/PATH`` reaches a Service's
endpoint as kube-apiserver does it (pkg/registry/core/service/storage ``ResourceLocation``): the name is
``[scheme:]name[:port]``, a port number is turned into the Service port's name, then a random ready address
of a random Endpoints subset with that port name answers, over the emulated network from the
control-plane node (so NetworkPolicies see the node's address). A pod's proxy dials the pod's IP and
port (80 when none is named). Node proxies reach the kubelet, which the sandbox does not emulate: a
clear 503 says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web

from . import errors
from .dataplane.model import HttpRequest, NetError

if TYPE_CHECKING:
    from .instance import Sandbox
    from .registry import ResourceType

HOP_HEADERS = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
               "transfer-encoding", "upgrade", "authorization", "host", "content-length"}
"""Headers the relay does not pass on: the hop-by-hop ones (RFC 9110 7.6.1) and the caller's credentials
(the API server's proxy strips Authorization)."""


def split_scheme_name_port(text: str) -> tuple[str, str, str] | None:
    """apimachinery's SplitSchemeNamePort: ``name``, ``name:port`` or ``scheme:name:port`` (scheme http or
    https, or empty)."""
    parts = text.split(":")
    if len(parts) == 1:
        scheme, name, port = "", parts[0], ""
    elif len(parts) == 2:
        scheme, name, port = "", parts[0], parts[1]
    elif len(parts) == 3:
        scheme, name, port = parts
    else:
        return None
    if not name or scheme not in ("", "http", "https"):
        return None
    return scheme, name, port


async def handle(sb: Sandbox, request: web.Request, rt: ResourceType, ns: str, name: str,
                 path: str) -> web.StreamResponse:
    """Relay one request through ``pods|services|nodes/NAME/proxy/PATH``."""
    split = split_scheme_name_port(name)
    if split is None:
        raise errors.bad_request(f"invalid {'service' if rt.plural == 'services' else rt.kind.lower()} "
                                 f"request {name!r}")
    scheme, obj_name, port_text = split
    if rt.plural == "nodes":
        sb.api.get(rt, "", obj_name)
        raise errors.ApiError("k8snet sandbox: node proxies reach the kubelet's API, which the sandbox does not "
                              "emulate", 503, "ServiceUnavailable")
    if not path and not request.path.endswith("/"):  # the API server redirects .../proxy to .../proxy/
        query = f"?{request.query_string}" if request.query_string else ""
        raise web.HTTPMovedPermanently(location=quote(request.path) + "/" + query)
    if rt.plural == "services":
        ip, port = _service_endpoint(sb, ns, obj_name, port_text)
    else:
        ip, port = _pod_address(sb, rt, ns, obj_name, port_text)
    body = await request.read()
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
    target = "/" + path + (f"?{request.query_string}" if request.query_string else "")
    req = HttpRequest(request.method, target, headers, body, host=f"{ip}:{port}", scheme=scheme or "http")
    control_plane = _control_plane_ip(sb)
    try:
        response = sb.dataplane.http(None, ip, port, req, src_ip=control_plane)
    except NetError as exc:
        raise errors.ApiError(f"error trying to reach service: {exc.message}", 503, "ServiceUnavailable") from None
    out = web.Response(status=response.status, body=response.body)
    for key, value in response.headers.items():
        if key.lower() not in HOP_HEADERS:
            out.headers[key] = value
    return out


def _service_endpoint(sb: Sandbox, ns: str, name: str, port_text: str) -> tuple[str, int]:
    svc_rt = sb.registry.lookup("", "v1", "services")
    svc = sb.api.get(svc_rt, ns, name)
    port_name = port_text
    if port_text.isdigit():
        match = next((p for p in (svc.get("spec") or {}).get("ports") or [] if str(p.get("port")) == port_text),
                     None)
        if match is None:
            raise errors.ApiError(f'no service port {port_text} found for service "{name}"', 503,
                                  "ServiceUnavailable")
        port_name = match.get("name", "")
    eps = sb.store.get("endpoints", ns, name) or {}
    subsets = eps.get("subsets") or []
    if not subsets:
        raise errors.ApiError(f'no endpoints available for service "{name}"', 503, "ServiceUnavailable")
    rand = sb.random.stream("apiserver-proxy")
    start = rand.randrange(len(subsets))
    for i in range(len(subsets)):
        subset = subsets[(start + i) % len(subsets)]
        addresses = subset.get("addresses") or []
        if not addresses:
            continue
        for port in subset.get("ports") or []:
            if port.get("name", "") == port_name:
                address = addresses[rand.randrange(len(addresses))]
                return address["ip"], int(port["port"])
    raise errors.ApiError(f'no endpoints available for service "{name if not port_text else name + ":" + port_text}"',
                          503, "ServiceUnavailable")


def _pod_address(sb: Sandbox, rt: ResourceType, ns: str, name: str, port_text: str) -> tuple[str, int]:
    pod: dict[str, Any] = sb.api.get(rt, ns, name)
    ip = (pod.get("status") or {}).get("podIP")
    if not ip:
        raise errors.bad_request(f"pod {name} does not have an IP assigned")
    if port_text and not port_text.isdigit():  # a named container port
        for container in pod["spec"].get("containers") or []:
            for port in container.get("ports") or []:
                if port.get("name") == port_text:
                    return ip, int(port["containerPort"])
        raise errors.bad_request(f"unable to find port {port_text} in pod {name}")
    return ip, int(port_text) if port_text else 80


def _control_plane_ip(sb: Sandbox) -> str:
    for node in sb.store.list("nodes"):
        labels = node["metadata"].get("labels") or {}
        if "node-role.kubernetes.io/control-plane" in labels:
            for address in (node.get("status") or {}).get("addresses") or []:
                if address.get("type") == "InternalIP":
                    return address["address"]
    return ""
