"""The dynamic configuration Traefik's Kubernetes providers derive from the cluster: routers, services, TLS.

A port of ``loadConfigurationFromIngresses`` (pkg/provider/kubernetes/ingress/kubernetes.go, Traefik v3.7)
with the static options both backends run (``allowEmptyServices``, ``strictPrefixMatching``, no
ExternalName services), plus the CRD provider's Middlewares and TLSOptions
(pkg/provider/kubernetes/crd/kubernetes.go). It reads the objects from ``sb.store`` (``list``/``get``); the
real Traefik does the routing, and this port tells which router and servers it chose. Every error Traefik
would log about an Ingress is kept as a :class:`Problem`.

Traefik processes an Ingress whose ``ingressClassName`` names an IngressClass with controller
``traefik.io/ingress-controller``, or, without a class name, whose ``kubernetes.io/ingress.class``
annotation is ``traefik`` (``shouldProcessIngress``). The API server's DefaultIngressClass admission
gives class-less Ingresses the default class (``traefik``) when they are created.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from ...traefik_config import CONTROLLER, DEFAULT_ENTRYPOINTS, INGRESS_CLASS
from . import annotation as ann
from .match import Rule, RuleError, build_rule, default_backend_rule, go_quote
from .middlewares import MiddlewareDef, normalize
from .middlewares import load as load_middlewares
from .tls import DEFAULT_OPTIONS, CertError, Certificate, TLSOptions, options_from_crd, secret_certificate

PROVIDER = "kubernetes"
CRD_PROVIDER = "kubernetescrd"

Key = tuple[str, str]


@dataclass
class Problem:
    """Something Traefik logs about an Ingress (``level`` ERR/WRN), or that the sandbox does not emulate."""

    ingress: Key
    reason: str
    message: str
    level: str = "ERR"


@dataclass
class Server:
    """One load-balancer server: an endpoint address (or the ClusterIP / a node port) and its scheme."""

    scheme: str
    ip: str
    port: int
    fenced: bool = False  # serving but terminating: not chosen while another is up
    pod: str = ""

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.ip}:{self.port}"


@dataclass
class LBService:
    """A Traefik service built from a Kubernetes Service port (``loadService``)."""

    name: str  # "<ns>-<service>-<port>@kubernetes"
    namespace: str
    service: str
    port: dict[str, Any]
    servers: list[Server]
    mode: str = "endpoints"  # endpoints, nativelb, nodeportlb
    pass_host_header: bool = True
    middlewares: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Router:
    """A router as the provider emits it (before entrypoint models are applied)."""

    name: str  # without the provider suffix
    ingress: Key
    rule: Rule
    priority: int
    entrypoints: list[str]
    tls: bool
    tls_options: str
    middlewares: list[str]
    service: str
    access_logs: bool = True
    backend: str = ""  # "<service>:<port>" for pictures and traces


@dataclass
class Configuration:
    """Everything the providers produced from one view of the store."""

    routers: dict[str, Router] = field(default_factory=dict)
    services: dict[str, LBService] = field(default_factory=dict)
    middlewares: dict[str, MiddlewareDef] = field(default_factory=dict)
    certs: list[Certificate] = field(default_factory=list)
    tls_options: dict[str, TLSOptions] = field(default_factory=dict)
    processed: list[Key] = field(default_factory=list)  # Ingresses Traefik owns (their status is written)
    problems: list[Problem] = field(default_factory=list)


def traefik_classes(sb: Any) -> set[str]:
    """GetIngressClasses: the classes whose controller is Traefik's."""
    return {ic["metadata"]["name"] for ic in sb.store.list("ingressclasses.networking.k8s.io")
            if (ic.get("spec") or {}).get("controller") == CONTROLLER}


def should_process(ingress: dict[str, Any], classes: set[str]) -> bool:
    """shouldProcessIngress with the provider's ``ingressClass`` option unset."""
    name = (ingress.get("spec") or {}).get("ingressClassName")
    if name is not None:
        return name in classes
    return (ingress["metadata"].get("annotations") or {}).get(ann.INGRESS_CLASS_ANNOTATION) == INGRESS_CLASS


def port_string(port: dict[str, Any]) -> str:
    return str(port.get("name") or port.get("number"))


def router_key(ns: str, name: str, host: str, path: str) -> str:
    """The router's key: ``provider.Normalize(ns-name-host+path)`` without a leading dash."""
    return normalize(f"{ns}-{name}-{host}{path}").lstrip("-")


def hashed_key(key: str, rule: str) -> str:
    """makeRouterKeyWithHash: ``key-<first 10 bytes of sha256(rule), hex>`` for routers sharing a key."""
    return f"{key}-{hashlib.sha256(rule.encode()).hexdigest()[:20]}"


def load(sb: Any) -> Configuration:
    """The whole dynamic configuration from the store."""
    conf = Configuration()
    conf.middlewares = load_middlewares(sb)
    conf.tls_options = load_tls_options(sb, conf)
    classes = traefik_classes(sb)
    cert_keys: set[str] = set()
    for ingress in sorted(sb.store.list("ingresses.networking.k8s.io"),
                          key=lambda i: (i["metadata"].get("namespace", ""), i["metadata"]["name"])):
        if should_process(ingress, classes):
            _load_ingress(sb, conf, ingress, cert_keys)
    return conf


def load_tls_options(sb: Any, conf: Configuration) -> dict[str, TLSOptions]:
    """buildTLSOptions: ``<ns>-<name>@kubernetescrd`` each; one named ``default`` replaces the default options."""
    options: dict[str, TLSOptions] = {DEFAULT_OPTIONS: TLSOptions(DEFAULT_OPTIONS)}
    defaults = []
    for obj in sb.store.list("tlsoptions.traefik.io"):
        meta = obj["metadata"]
        opts = options_from_crd(sb, obj)
        if meta["name"] == DEFAULT_OPTIONS:
            defaults.append(meta.get("namespace", ""))
            opts.name = DEFAULT_OPTIONS
            options[DEFAULT_OPTIONS] = opts
        else:
            opts.name = f"{normalize(meta.get('namespace', '') + '-' + meta['name'])}@{CRD_PROVIDER}"
            options[opts.name] = opts
    if len(defaults) > 1:
        # "Default TLS Options defined in multiple namespaces": dropped, and routers relying on it fail
        options[DEFAULT_OPTIONS] = TLSOptions(DEFAULT_OPTIONS, error="Default TLS Options defined in multiple "
                                              f"namespaces: {sorted(defaults)}")
    return options


def _load_ingress(sb: Any, conf: Configuration, ingress: dict[str, Any], cert_keys: set[str]) -> None:
    meta, spec = ingress["metadata"], ingress.get("spec") or {}
    ns, name = meta.get("namespace", ""), meta["name"]
    key: Key = (ns, name)
    conf.processed.append(key)
    annotations = meta.get("annotations") or {}
    for note in ann.foreign_notes(annotations):
        conf.problems.append(Problem(key, "IgnoredAnnotation", note, "WRN"))
    try:
        rt = ann.parse_router(annotations)
    except ann.AnnotationError as exc:
        conf.problems.append(Problem(key, "InvalidAnnotation", f"Failed to parse annotations: {exc}; Traefik "
                                     "skips this Ingress"))
        return
    for note in rt.notes:
        conf.problems.append(Problem(key, "UnsupportedAnnotation", note, "WRN"))
    _load_certificates(sb, conf, key, spec, cert_keys)
    tls_options = (DEFAULT_OPTIONS if not rt.tls_options or rt.tls_options == DEFAULT_OPTIONS
                   else (rt.tls_options if "@" in rt.tls_options else f"{rt.tls_options}@{PROVIDER}"))
    entrypoints = rt.entrypoints if rt.entrypoints else list(DEFAULT_ENTRYPOINTS)

    def router(rname: str, rule: Rule, service: str, priority: int, backend: str) -> Router:
        return Router(rname, key, rule, priority or rule.priority, entrypoints, rt.tls, tls_options,
                      list(rt.middlewares), service, rt.access_logs is not False, backend)

    if not spec.get("rules") and spec.get("defaultBackend"):
        backend = spec["defaultBackend"]
        if "default-backend" in conf.services:
            conf.problems.append(Problem(key, "BackendError", "The default backend already exists."))
        elif backend.get("resource"):
            conf.problems.append(Problem(key, "BackendError", "Resource is not supported for default backend"))
        elif not backend.get("service"):
            conf.problems.append(Problem(key, "BackendError", "Default backend is missing service definition"))
        else:
            svc = _load_service(sb, conf, key, ns, backend["service"])
            if svc is not None:
                svc.name = "default-backend"
                conf.services[svc.name] = svc
                conf.routers["default-router"] = router("default-router", default_backend_rule(), svc.name,
                                                        -(2**31), f"{backend['service']['name']}:"
                                                                  f"{port_string(backend['service'].get('port') or {})}")
    elif spec.get("rules") and spec.get("defaultBackend"):
        conf.problems.append(Problem(key, "IgnoredDefaultBackend", "spec.defaultBackend is ignored: Traefik uses a "
                                     "default backend only from an Ingress without rules (requests no rule matches "
                                     "get 404)", "WRN"))
    grouped: dict[str, list[Router]] = {}
    for rule in spec.get("rules") or []:
        for pa in ((rule.get("http") or {}).get("paths") or []):
            backend = pa.get("backend") or {}
            if backend.get("resource"):
                conf.problems.append(Problem(key, "BackendError", "Resource backends are not supported"))
                continue
            if not backend.get("service"):
                conf.problems.append(Problem(key, "BackendError", "Missing service definition"))
                continue
            svc = _load_service(sb, conf, key, ns, backend["service"])
            if svc is None:
                continue
            service_name = normalize(f"{ns}-{backend['service']['name']}-{port_string(backend['service'].get('port') or {})}")
            svc.name = service_name
            conf.services[service_name] = svc
            try:
                built = build_rule(rule.get("host"), pa.get("path"), pa.get("pathType"), rt.path_matcher, strict=True)
            except RuleError as exc:
                conf.problems.append(Problem(key, "RouterError", f"Skipping path {pa.get('path')!r}: {exc}"))
                continue
            rkey = router_key(ns, name, rule.get("host") or "", pa.get("path") or "")
            grouped.setdefault(rkey, []).append(router(rkey, built, service_name, rt.priority,
                                                       f"{backend['service']['name']}:"
                                                       f"{port_string(backend['service'].get('port') or {})}"))
    for rkey, routers in grouped.items():
        if len(routers) == 1:
            conf.routers[rkey] = routers[0]
            continue
        for r in routers:
            r.name = hashed_key(rkey, r.rule.text)
            conf.routers[r.name] = r


def _load_certificates(sb: Any, conf: Configuration, key: Key, spec: dict[str, Any], seen: set[str]) -> None:
    """getCertificates: the ``spec.tls`` Secrets; the first bad one ends this Ingress's list ("Error configuring TLS")."""
    ns = key[0]
    for entry in spec.get("tls") or []:
        secret_name = entry.get("secretName") or ""
        if not secret_name or f"{ns}-{secret_name}" in seen:
            continue
        try:
            cert = secret_certificate(sb.store.get("secrets", ns, secret_name), ns, secret_name)
        except CertError as exc:
            conf.problems.append(Problem(key, "TLSSecretError", f"Error configuring TLS: {exc}; HTTPS for its "
                                         "hosts gets Traefik's default certificate"))
            return
        seen.add(f"{ns}-{secret_name}")
        conf.certs.append(cert)
        hosts = [h.lower() for h in entry.get("hosts") or []]
        uncovered = [h for h in hosts if not any(h == n or (n.startswith("*.") and h.split(".", 1)[-1] == n[2:])
                                                 for n in cert.names)]
        if uncovered:
            conf.problems.append(Problem(key, "TLSHostNotCovered", f"Secret {ns}/{secret_name} does not cover "
                                         f"{', '.join(uncovered)} (its names: {', '.join(cert.names)}); Traefik "
                                         "chooses certificates by their names, not by spec.tls.hosts", "WRN"))


def _load_service(sb: Any, conf: Configuration, key: Key, ns: str, backend: dict[str, Any]) -> LBService | None:
    """loadService; an error is logged as "Cannot create service" and the path is skipped."""
    port = backend.get("port") or {}
    try:
        svc = load_service(sb, ns, backend.get("name", ""), port)
    except (LookupError, ValueError, ann.AnnotationError) as exc:
        conf.problems.append(Problem(key, "BackendError", f"Cannot create service {go_quote(backend.get('name', ''))} "
                                     f"port {port_string(port)}: {exc}; Traefik skips this path (404)"))
        return None
    for note in svc.notes:
        conf.problems.append(Problem(key, "UnsupportedAnnotation", f"Service {ns}/{svc.service}: {note}", "WRN"))
    return svc


def load_service(sb: Any, ns: str, name: str, port: dict[str, Any]) -> LBService:
    """The servers behind one Service port: EndpointSlice addresses (serving ones; terminating ones fenced)."""
    svc = sb.store.get("services", ns, name)
    if svc is None:
        raise LookupError("service not found")
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName":
        raise ValueError(f"externalName services not allowed: {ns}/{name}")
    port_spec = next((p for p in spec.get("ports") or [] if (port.get("number") and p.get("port") == port["number"])
                      or (port.get("name") and p.get("name") == port["name"])), None)
    if port_spec is None:
        raise LookupError("service port not found")
    cfg = ann.parse_service(svc["metadata"].get("annotations") or {})
    port_name = port_spec.get("name") or ""
    scheme = cfg.scheme or ("https" if port_spec.get("port") == 443 or port_name.startswith("https") else "http")
    lb = LBService("", ns, name, port_spec, [], pass_host_header=cfg.pass_host_header,
                   middlewares=list(cfg.middlewares), notes=list(cfg.notes))
    if cfg.node_port_lb and spec.get("type") == "NodePort":
        lb.mode = "nodeportlb"
        for node in sb.store.list("nodes"):
            for addr in (node.get("status") or {}).get("addresses") or []:
                if addr.get("type") == "InternalIP":
                    lb.servers.append(Server(scheme, addr["address"], port_spec.get("nodePort", 0)))
        return lb
    if cfg.native_lb:
        cluster_ip = spec.get("clusterIP") or ""
        if cluster_ip == "None":
            raise ValueError(f"getting native Kubernetes Service address: no clusterIP on headless service: {ns}/{name}")
        if not cluster_ip:
            raise ValueError(f"getting native Kubernetes Service address: no clusterIP found for service: {ns}/{name}")
        lb.mode = "nativelb"
        lb.servers.append(Server(scheme, cluster_ip, port_spec["port"]))
        return lb
    seen: set[str] = set()
    for es in sorted(sb.store.list("endpointslices.discovery.k8s.io", ns), key=lambda s: s["metadata"]["name"]):
        if (es["metadata"].get("labels") or {}).get("kubernetes.io/service-name") != name:
            continue
        target = next((p.get("port") for p in es.get("ports") or [] if (p.get("name") or "") == port_name), None)
        if not target:
            continue
        for ep in es.get("endpoints") or []:
            cond = ep.get("conditions") or {}
            if cond.get("serving") is False:
                continue
            for address in ep.get("addresses") or []:
                if address in seen:
                    continue
                seen.add(address)
                ref = ep.get("targetRef") or {}
                lb.servers.append(Server(scheme, address, int(target), cond.get("terminating") is True,
                                         f"{ref.get('namespace', ns)}/{ref.get('name', '')}" if ref else ""))
    return lb
