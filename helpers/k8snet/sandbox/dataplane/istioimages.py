"""Istio's images as programs: istiod (``istio/pilot``), the istio-cni node agent (``istio/install-cni``), ztunnel
(``istio/ztunnel``) and the waypoint proxy (``istio/proxyv2``), at Istio 1.31.

Each container runs its image's ENTRYPOINT with the pod's args (pilot/docker/Dockerfile.pilot, Dockerfile.ztunnel,
Dockerfile.proxyv2; cni/deployments/kubernetes/Dockerfile.install-cni), listens on its program's ports and answers
its health endpoints, which is what the kubelet's probes and ``kubectl port-forward`` reach:

- istiod (``pilot-discovery discovery``): 8080 (``/ready``), 15010 (xDS), 15012 (xDS over TLS), 15014
  (``/metrics``), 15017 (webhooks). Its work in the cluster (the CA, ``istio-ca-root-cert``, GatewayClasses,
  waypoints) is done by ``controllers/istio`` while the pod runs.
- install-cni: 8000 (``/healthz``, ``/readyz``: cni/pkg/nodeagent/healthServer.go), 15014 (metrics). Its ambient
  enrolment is ``controllers/istio/nodeagent.py``.
- ztunnel (``ztunnel proxy ztunnel``): 15021 (``/healthz/ready`` answers ``ready``: src/readiness/server.rs), 15020
  (stats), and the data-path listeners 15001 (outbound), 15006 (inbound plaintext), 15008 (inbound HBONE), which in
  in-pod mode ztunnel opens inside each captured pod's network namespace. Its startup log is ztunnel's own lines
  (src/app.rs, src/hyper_util.rs, src/xds/client.rs; tracing's format with Istio's fields: time, level, target).
- the waypoint (``pilot-agent proxy waypoint``): 15021 (``/healthz/ready``), 15020 and 15090 (Prometheus), 15008
  (HBONE). ``proxy sidecar`` and ``proxy router`` (sidecars, Istio's ingress gateway) are not emulated: such a
  container serves nothing and its pod gets a Warning event.

The data-path ports (role ``mesh``) carry the mesh's traffic, which the data path emulates; a plain request sent to
one of them gets no answer here (the connection closes, as a TLS or HTTP/2 server closes on bytes it cannot read).
"""

from __future__ import annotations

import posixpath
from datetime import datetime
from typing import Any

from .model import EMPTY_REPLY, HttpRequest, HttpResponse, Program, go_response

VERSION = "1.31.0"
"""The Istio release the images are (k8snet.pins.ISTIO_VERSION; kept here so the data plane imports nothing
above it)."""

FAMILIES = {"istio/pilot": "istiod", "istio/install-cni": "istio-cni", "istio/ztunnel": "ztunnel",
            "istio/proxyv2": "istio-proxy"}
"""Image repository path → the program family the sandbox emulates."""

IMAGE_DEFAULTS: dict[str, tuple[list[str], list[str]]] = {
    "istiod": (["/usr/local/bin/pilot-discovery"], []),  # pilot/docker/Dockerfile.pilot ENTRYPOINT
    "istio-cni": ([], ["/usr/local/bin/install-cni"]),  # cni/deployments/kubernetes/Dockerfile.install-cni CMD
    "ztunnel": (["/usr/local/bin/ztunnel"], []),  # pilot/docker/Dockerfile.ztunnel ENTRYPOINT
    "istio-proxy": (["/usr/local/bin/pilot-agent"], []),  # pilot/docker/Dockerfile.proxyv2 ENTRYPOINT
}

EMULATED: dict[str, dict[str, Any]] = {
    "istiod": {
        "images": [f"docker.io/istio/pilot:{VERSION}-distroless (istiod)"],
        "programs": ["pilot-discovery discovery: 8080 /ready, 15014 /metrics, 15010/15012/15017 (xDS and webhooks: "
                     "not served); its CA, istio-ca-root-cert, GatewayClasses and waypoints are done by the sandbox "
                     "while it runs"],
        "commands": ["none (distroless)"],
    },
    "istio-cni": {
        "images": [f"docker.io/istio/install-cni:{VERSION}-distroless (istio-cni-node)"],
        "programs": ["install-cni: 8000 /healthz /readyz, 15014 metrics; ambient enrolment of its node's pods "
                     "(ambient.istio.io/redirection)"],
        "commands": ["none (distroless)"],
    },
    "ztunnel": {
        "images": [f"docker.io/istio/ztunnel:{VERSION}-distroless"],
        "programs": ["ztunnel proxy ztunnel: 15021 /healthz/ready, 15020 stats, 15001/15006/15008 (the data path)"],
        "commands": ["none (distroless)"],
    },
    "istio-proxy": {
        "images": [f"docker.io/istio/proxyv2:{VERSION}-distroless (waypoints only)"],
        "programs": ["pilot-agent proxy waypoint: 15021 /healthz/ready, 15020 and 15090 metrics, 15008 (HBONE); "
                     "sidecar and router modes are not emulated"],
        "commands": ["none (distroless)"],
    },
}
"""The rows of the sandbox's table of emulated images (workloads.EMULATED)."""

MESH = "mesh"
"""The role of a data-path port: the mesh's traffic (HBONE, redirected TCP, xDS), not plain HTTP."""


def family(image_path: str) -> str | None:
    return FAMILIES.get(image_path)


def program(family_name: str, argv: list[str], env: dict[str, str]) -> Program | None:
    """The program an Istio image runs with ``argv`` (None: not one of these images)."""
    if family_name not in FAMILIES.values():
        return None
    exe = posixpath.basename(argv[0]) if argv else ""
    args = argv[1:]
    if family_name == "istiod":
        if exe != "pilot-discovery" or args[:1] != ["discovery"]:
            return _other(family_name, argv)
        return Program("istiod", family_name, {(8080, "TCP"): "http", (15010, "TCP"): MESH, (15012, "TCP"): MESH,
                                                (15014, "TCP"): "http", (15017, "TCP"): MESH},
                       {"args": args}, startup=[  # pkg/cmd/cmd.go PrintFlags, bootstrap/istio_ca.go
                           '{istio}\tinfo\tFLAG: --domain="' + _flag(args, "--domain", "cluster.local") + '"',
                           "{istio}\tinfo\tUse self-signed certificate as the CA certificate"],
                       sigterm_exit=0)
    if family_name == "istio-cni":
        if exe != "install-cni":
            return _other(family_name, argv)
        return Program("istio-cni", family_name, {(8000, "TCP"): "http", (15014, "TCP"): "http"}, {"args": args},
                       startup=[  # cni/pkg/cmd/root.go (scope cni-agent)
                           "{istio}\tinfo\tcni-agent\tStarting ambient node agent with inpod redirect mode on socket "
                           "/var/run/istio-cni/pluginevent.sock",
                           "{istio}\tinfo\tcni-agent\tAmbient node agent started, starting installer...",
                           "{istio}\tinfo\tcni-agent\tinitialization complete, watching node CNI dir"])
    if family_name == "ztunnel":
        if exe != "ztunnel" or args[:1] not in ([], ["proxy"]):
            return _other(family_name, argv)
        # src/app.rs: the readiness, admin and stats servers (hyper_util "listener established"), in-pod mode
        return Program("ztunnel", family_name, {(15001, "TCP"): MESH, (15006, "TCP"): MESH, (15008, "TCP"): MESH,
                                                 (15020, "TCP"): "http", (15021, "TCP"): "http"},
                       {"args": args, "inpod": env.get("INPOD_ENABLED", "") == "true"}, startup=[
                           '{tracing}\tinfo\thyper_util\tlistener established\taddress=[::]:15021 '
                           'component="readiness"',
                           "{tracing}\tinfo\tapp\tshared proxy mode - in-pod mode enabled",
                           '{tracing}\tinfo\thyper_util\tlistener established\taddress=127.0.0.1:15000 '
                           'component="admin"',
                           '{tracing}\tinfo\thyper_util\tlistener established\taddress=[::]:15020 component="stats"',
                           "{tracing}\tinfo\txds::client:xds{id=1}\tStream established"])
    # istio-proxy: pilot-agent proxy <type> (pilot/cmd/pilot-agent: sidecar, router, waypoint)
    if exe == "pilot-agent" and args[:2] == ["proxy", "waypoint"]:
        pod = env.get("POD_NAME", "")
        ns = env.get("POD_NAMESPACE", "")
        domain = _flag(args, "--domain", f"{ns}.svc.cluster.local")
        return Program("waypoint", family_name, {(15008, "TCP"): MESH, (15020, "TCP"): "http", (15021, "TCP"): "http",
                                                  (15090, "TCP"): "http"}, {"args": args}, startup=[
                           # pilot/cmd/pilot-agent/app/cmd.go initProxy
                           f"{{istio}}\tinfo\tProxy role\tips=[{env.get('INSTANCE_IP', '')}] type=waypoint "
                           f"id={pod}.{ns} domain={domain}"])
    return _other(family_name, argv)


def _flag(args: list[str], name: str, default: str) -> str:
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return default


def _other(family_name: str, argv: list[str]) -> Program:
    """What the image could run but the sandbox does not emulate: nothing listens, and a Warning says why."""
    what = " ".join(argv) or "(no command)"
    if family_name == "istio-proxy":
        message = (f"istio/proxyv2 runs `{what}`: the k8snet sandbox emulates it only as an ambient waypoint "
                   "(`pilot-agent proxy waypoint`, what istiod deploys for a Gateway of class istio-waypoint); "
                   "sidecars and Istio's ingress gateway (proxy sidecar, proxy router) are not emulated")
    else:
        message = f"{family_name} runs `{what}`, which the k8snet sandbox does not emulate (only the manifest's own " \
                  "command and arguments are)"
    return Program("exited", family_name, problem=message, opts={"not-emulated": [message]})


def serve(program: Program, port: int, req: HttpRequest, now: datetime, counted: str = "") -> HttpResponse:
    """The health and metrics answers of the Istio programs (a Go or Rust HTTP server's), by port and path;
    ``counted`` is what the mesh's data path counted for this proxy (``dataplane.mesh.telemetry``)."""
    path = req.path.split("?", 1)[0]
    if program.ports.get((port, "TCP")) == MESH:
        return HttpResponse(EMPTY_REPLY)
    name = program.name
    if name == "istiod":
        if port == 8080 and path == "/ready":
            return go_response(now, 200, b"")
        if port == 15014 and path == "/metrics":
            return go_response(now, 200, _metrics("pilot"), content_type="text/plain; version=0.0.4")
    elif name == "istio-cni":
        if port == 8000 and path in ("/healthz", "/readyz"):
            return go_response(now, 200, b"")
        if port == 15014 and path == "/metrics":
            return go_response(now, 200, _metrics("cni"), content_type="text/plain; version=0.0.4")
    elif name == "ztunnel":
        if port == 15021 and path == "/healthz/ready":
            if req.method != "GET":
                return HttpResponse(405, {"content-length": "0", "date": _rust_date(now)})
            return HttpResponse(200, {"content-type": "text/plain", "content-length": "6", "date": _rust_date(now)},
                                b"ready\n")
        if port == 15020 and path in ("/metrics", "/stats/prometheus"):
            body = _metrics("ztunnel") + (counted or "# EOF\n").encode()  # OpenMetrics ends with # EOF
            return HttpResponse(200, {"content-type": "application/openmetrics-text;charset=utf-8;version=1.0.0",
                                      "date": _rust_date(now)}, body)
        return HttpResponse(404, {"content-length": "0", "date": _rust_date(now)})
    elif name == "waypoint":
        if port in (15021, 15020) and path == "/healthz/ready":
            return go_response(now, 200, b"")
        if (port == 15090 or port == 15020) and path in ("/stats/prometheus", "/metrics"):
            return go_response(now, 200, _metrics("envoy") + counted.encode(), content_type="text/plain; version=0.0.4")
    return go_response(now, 404, b"404 page not found\n", {"X-Content-Type-Options": "nosniff"})


def _metrics(component: str) -> bytes:
    return (f"# HELP istio_build Istio component build info\n# TYPE istio_build gauge\n"
            f'istio_build{{component="{component}",tag="{VERSION}"}} 1\n').encode()


def _rust_date(now: datetime) -> str:
    from .model import http_date

    return http_date(now)
