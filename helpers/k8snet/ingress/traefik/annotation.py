"""Traefik's Ingress and Service annotations, decoded as its Kubernetes Ingress provider decodes them.

pkg/provider/kubernetes/ingress/annotations.go: keys under ``traefik.ingress.kubernetes.io/`` become labels
(``router.tls.domains.0.main`` → ``router.tls.domains[0].main``) that paerser decodes into the router or
service configuration; names match case-insensitively, an unknown name is an error
(``field not found, node: …``) and so is a value of the wrong type — and then Traefik skips the whole
Ingress (or the Service's paths). The options are listed in
https://doc.traefik.io/traefik/v3.7/reference/routing-configuration/kubernetes/ingress/#annotations.

Annotations Traefik reads but the sandbox does not emulate, and well-known annotations of other controllers
(``nginx.ingress.kubernetes.io/*``, which only Traefik's separate ``kubernetesIngressNginx`` provider reads),
are returned as notes so they turn into Warning events instead of being silently ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PREFIX = "traefik.ingress.kubernetes.io/"
ROUTER = PREFIX + "router."
SERVICE = PREFIX + "service."
INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"

ROUTER_FIELDS = {
    "pathmatcher": "str", "entrypoints": "list", "middlewares": "list", "priority": "int", "rulesyntax": "str",
    "tls": "bool", "tls.options": "str", "tls.certresolver": "str", "tls.domains[].main": "str",
    "tls.domains[].sans": "list", "observability.accesslogs": "bool", "observability.metrics": "bool",
    "observability.tracing": "bool", "observability.traceverbosity": "str",
}
SERVICE_FIELDS = {
    "serversscheme": "str", "serverstransport": "str", "passhostheader": "bool", "middlewares": "list",
    "sticky.cookie": "bool", "sticky.cookie.name": "str", "sticky.cookie.secure": "bool",
    "sticky.cookie.httponly": "bool", "sticky.cookie.samesite": "str", "sticky.cookie.maxage": "int",
    "sticky.cookie.path": "str", "sticky.cookie.domain": "str", "nativelb": "bool", "nodeportlb": "bool",
}

NOT_EMULATED = {
    "router.rulesyntax": "the deprecated v2 rule syntax is not emulated; routers use the v3 syntax",
    "router.tls.certresolver": "certificate resolvers (ACME) are not emulated; use a Secret in spec.tls "
                               "(cert-manager issues one)",
    "router.tls.domains": "tls.domains only feeds certificate resolvers, which are not emulated",
    "router.observability.metrics": "Traefik's metrics are not emulated",
    "router.observability.tracing": "Traefik's tracing is not emulated",
    "router.observability.traceverbosity": "Traefik's tracing is not emulated",
    "service.sticky.cookie": "sticky sessions are not emulated: the load balancer keeps round-robin",
    "service.serverstransport": "ServersTransport resources are not emulated",
}
FOREIGN = {
    "nginx.ingress.kubernetes.io/": "read only by Traefik's kubernetesIngressNginx provider (for Ingresses of "
                                    "class nginx), which this Traefik does not run; the Traefik Ingress provider "
                                    "ignores it",
    "ingress.kubernetes.io/": "a Traefik v1 / ingress-nginx annotation that Traefik v3 ignores",
}


class AnnotationError(ValueError):
    """An annotation paerser cannot decode; Traefik logs it and skips what it configures."""


@dataclass
class RouterConfig:
    """``traefik.ingress.kubernetes.io/router.*`` (RouterIng)."""

    entrypoints: list[str] | None = None
    middlewares: list[str] = field(default_factory=list)
    priority: int = 0
    path_matcher: str = "PathPrefix"
    tls: bool = False
    tls_options: str = ""
    access_logs: bool | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class ServiceConfig:
    """``traefik.ingress.kubernetes.io/service.*`` on a Service (ServiceIng)."""

    scheme: str = ""
    pass_host_header: bool = True
    middlewares: list[str] = field(default_factory=list)
    native_lb: bool | None = None
    node_port_lb: bool = False
    notes: list[str] = field(default_factory=list)


def _labels(annotations: dict[str, str], section: str) -> dict[str, tuple[str, str]]:
    """normalized label path → (original annotation key, value) for one section (``router.``/``service.``)."""
    out = {}
    for key, value in (annotations or {}).items():
        if not key.startswith(PREFIX + section):
            continue
        rest = key[len(PREFIX + section):]
        normalized = re.sub(r"\.(\d+)\.", "[].", rest.lower())
        out[normalized] = (key, str(value))
    return out


def _value(kind: str, key: str, raw: str) -> object:
    if kind == "bool":
        low = raw.strip().lower()
        if low in ("1", "t", "true"):
            return True
        if low in ("0", "f", "false"):
            return False
        raise AnnotationError(f'field {key}: strconv.ParseBool: parsing "{raw}": invalid syntax')
    if kind == "int":
        try:
            return int(raw.strip())
        except ValueError:
            raise AnnotationError(f'field {key}: strconv.ParseInt: parsing "{raw}": invalid syntax') from None
    if kind == "list":
        return [v.strip() for v in raw.split(",") if v.strip()]
    return raw


def _decode(annotations: dict[str, str], section: str, fields: dict[str, str]) -> dict[str, object]:
    values: dict[str, object] = {}
    for name, (key, raw) in sorted(_labels(annotations, section).items()):
        kind = fields.get(name)
        if kind is None:
            leaf = name.split(".")[-1].replace("[]", "")
            raise AnnotationError(f"field not found, node: {leaf} ({key})")
        values[name] = _value(kind, key, raw)
    return values


def parse_router(annotations: dict[str, str]) -> RouterConfig:
    """parseRouterConfig; raises AnnotationError as Traefik's "Failed to parse annotations"."""
    values = _decode(annotations, "router.", ROUTER_FIELDS)
    cfg = RouterConfig()
    if "entrypoints" in values:
        cfg.entrypoints = list(values["entrypoints"])  # type: ignore[arg-type]
    cfg.middlewares = list(values.get("middlewares", []))  # type: ignore[arg-type]
    cfg.priority = int(values.get("priority", 0))  # type: ignore[arg-type]
    cfg.path_matcher = str(values.get("pathmatcher", "PathPrefix")) or "PathPrefix"
    cfg.tls = bool(values.get("tls", False)) or "tls.options" in values or "tls.certresolver" in values
    cfg.tls_options = str(values.get("tls.options", ""))
    if "observability.accesslogs" in values:
        cfg.access_logs = bool(values["observability.accesslogs"])
    for name in values:
        base = "router." + name.replace("[]", "").split(".main")[0].split(".sans")[0]
        for prefix, why in NOT_EMULATED.items():
            if base == prefix or base.startswith(prefix + "."):
                cfg.notes.append(f"annotation {PREFIX}{name.replace('[]', '.N')}: {why}")
                break
    return cfg


def parse_service(annotations: dict[str, str]) -> ServiceConfig:
    """parseServiceConfig (the Service's own annotations); raises AnnotationError."""
    values = _decode(annotations, "service.", SERVICE_FIELDS)
    cfg = ServiceConfig()
    cfg.scheme = str(values.get("serversscheme", ""))
    cfg.pass_host_header = bool(values.get("passhostheader", True))
    cfg.middlewares = list(values.get("middlewares", []))  # type: ignore[arg-type]
    if "nativelb" in values:
        cfg.native_lb = bool(values["nativelb"])
    cfg.node_port_lb = bool(values.get("nodeportlb", False))
    if cfg.scheme and cfg.scheme not in ("http", "https"):
        cfg.notes.append(f"annotation {SERVICE}serversscheme: {cfg.scheme!r} is not emulated (http and https are)")
    for name in values:
        for prefix, why in NOT_EMULATED.items():
            if ("service." + name).startswith(prefix):
                cfg.notes.append(f"annotation {SERVICE}{name}: {why}")
                break
    return cfg


def foreign_notes(annotations: dict[str, str]) -> list[str]:
    """An Ingress's annotations that look meant for an ingress controller but that Traefik never reads."""
    notes = []
    for key in sorted(annotations or {}):
        for prefix, why in FOREIGN.items():
            if key.startswith(prefix):
                notes.append(f"annotation {key}: {why}")
                break
        else:
            if key.startswith(SERVICE):
                notes.append(f"annotation {key}: service.* options are read from the Service's annotations; "
                             "on an Ingress Traefik ignores them")
            elif key.startswith(PREFIX) and not key.startswith(ROUTER):
                notes.append(f"annotation {key}: not a Traefik v3 option (only router.* and service.* are "
                             "read); Traefik ignores it")
    return notes
