"""Lab 03 — Ingress: route by path, terminate TLS, protect a payments host, migrate an ingress-nginx Ingress.

Every check sends real requests from outside the cluster through the ingress edge (:func:`k8snet.ingress.send`,
the same URLs on the sandbox and on kind) and grades what comes back: which backend answered (http-echo answers
its ``-text``), the status code, the certificate the TLS handshake presented. When something is off, the hint
names the request and its answer, then the object or field behind it, read from the cluster (the Ingress's
rules, its Warning events, the Middleware, the Secret).

Semantics follow the Kubernetes Ingress documentation (kubernetes.io/docs/concepts/services-networking/ingress/:
``Prefix`` matches whole path elements, ``Exact`` one path; ``ImplementationSpecific`` is up to the controller)
and Traefik v3.7 (doc.traefik.io/traefik/v3.7/reference/routing-configuration/kubernetes/ingress/: the
``router.middlewares`` annotation takes ``<namespace>-<name>@kubernetescrd``; ImplementationSpecific is
``PathPrefix``, element-wise with ``strictPrefixMatching``; certificates are chosen by SNI from the names in the ``spec.tls``
Secrets, else Traefik's default certificate; middlewares/http/ratelimit and buffering for 429 and 413).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubernetes.client.exceptions import ApiException

from .. import certs
from . import Exercise, Hint, labs_folder

if TYPE_CHECKING:
    from ..cluster import Cluster

LAB = "lab-03-ingress"
HTTP_ECHO = "hashicorp/http-echo:1.0.0"
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
INGRESS = "networking.k8s.io/v1"
MIDDLEWARE = "traefik.io/v1alpha1"
ROUTER_MIDDLEWARES = "traefik.ingress.kubernetes.io/router.middlewares"
MIB = 1024 * 1024


def start_manifest(exercise_id: str) -> Path:
    """A starting-state manifest the learner can read: ``labs/lab-03-ingress/start/<id>.yaml``."""
    return labs_folder() / LAB / "start" / f"{exercise_id}.yaml"


def echo_app(name: str, text: str, replicas: int = 1) -> list[dict[str, Any]]:
    """An http-echo Deployment answering ``text`` on every path, and its Service (port 80, named ``http``)."""
    labels = {"app": name}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
         "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels},
                               "spec": {"containers": [{"name": "app", "image": HTTP_ECHO,
                                                        "args": [f"-text={text}", "-listen=:5678"],
                                                        "ports": [{"name": "http", "containerPort": 5678}]}]}}}},
        service(name),
    ]


def netexec_app(name: str) -> list[dict[str, Any]]:
    """An agnhost netexec Deployment (``/hostname``, ``/echo?msg=``) and its Service (port 80, named ``http``)."""
    labels = {"app": name}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
         "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels},
                               "spec": {"containers": [{"name": "app", "image": AGNHOST,
                                                        "args": ["netexec", "--http-port=8080"],
                                                        "ports": [{"name": "http", "containerPort": 8080}]}]}}}},
        service(name),
    ]


def service(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}


def _deploy(cluster: Cluster, ns: str, objects: list[dict[str, Any]]) -> None:
    cluster.apply(objects, namespace=ns)
    for obj in objects:
        if obj["kind"] == "Deployment":
            cluster.wait_ready(obj["metadata"]["name"], ns)


# -- requests through the edge ------------------------------------------------------------------------------


@dataclass
class Answer:
    """One request through the edge, reduced to what the checks grade."""

    url: str
    status: int | None
    body: str
    headers: dict[str, str]
    error: str | None
    tls: Any = None

    @property
    def text(self) -> str:
        return self.body.strip()

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    def said(self) -> str:
        """The answer in words: ``404 page not found``, ``200 "api"``, or the error."""
        if self.status is None:
            return f"no answer ({self.error})"
        text = self.text.splitlines()[0] if self.text else ""
        return f'{self.status} "{text}"' if text else str(self.status)


def request(cluster: Cluster, url: str, *, method: str = "GET", body: bytes | None = None,
            cacert: str | None = None, n: int = 1) -> list[Answer]:
    """``n`` requests to ``url`` from outside the cluster, back to back (a fresh connection each, as curl);
    HTTPS verifies the certificate against ``cacert`` when given, else not at all (``curl -k``)."""
    from .. import ingress

    verify = cacert is not None or not url.startswith("https://")
    result = ingress.send(cluster, url, n=n, method=method, body=body, cacert=cacert, verify=verify)
    return [Answer(row.url, row.status, row.body or "", dict(row.headers or {}), row.error, row.tls)
            for row in result.rows]


def get(cluster: Cluster, url: str, **kw: Any) -> Answer:
    return request(cluster, url, **kw)[0]


def wait_for_routing(cluster: Cluster, url: str, timeout: float = 2.5) -> Answer:
    """The first answer that is not Traefik's own 404, within ``timeout`` (Traefik reloads its configuration a
    moment after an Ingress changes: ``providersThrottleDuration``, 2 s by default); the last answer otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        answer = get(cluster, url)
        if answer.status not in (404, None) or time.monotonic() >= deadline:
            return answer
        time.sleep(0.2)


# -- what the cluster says: Ingresses, their events ---------------------------------------------------------


def _ingresses(cluster: Cluster, ns: str) -> list[dict[str, Any]]:
    return cluster.get("Ingress", namespace=ns, api_version=INGRESS)


def _warnings(cluster: Cluster, ns: str, name: str) -> list[str]:
    """The Warning events Traefik recorded on an Ingress (newest last), e.g. a Service it could not load."""
    events = cluster.core.list_namespaced_event(
        ns, field_selector=f"involvedObject.kind=Ingress,involvedObject.name={name}").items
    def when(e: Any) -> float:
        t = e.last_timestamp or e.event_time or e.metadata.creation_timestamp
        return t.timestamp() if t else 0.0

    events.sort(key=when)
    return [f"{e.reason}: {e.message}" for e in events if e.type == "Warning"]


def _paths(ing: dict[str, Any], host: str) -> list[dict[str, Any]]:
    """The paths of an Ingress's rules for ``host`` (each with its path, pathType and backend)."""
    out = []
    for rule in ing.get("spec", {}).get("rules") or []:
        if (rule.get("host") or "") == host:
            out.extend(((rule.get("http") or {}).get("paths")) or [])
    return out


def _backend_name(path: dict[str, Any]) -> str:
    svc = (path.get("backend") or {}).get("service") or {}
    port = svc.get("port") or {}
    return f"{svc.get('name')}:{port.get('name') or port.get('number')}"


def _describe_path(path: dict[str, Any]) -> str:
    return f"path {path.get('path')!r} ({path.get('pathType')}) → {_backend_name(path)}"


def _backend_problems(cluster: Cluster, ns: str, ing: dict[str, Any]) -> list[str]:
    """Backends Traefik cannot load ("Cannot create service …": it skips the path, so its requests get 404),
    found from the API alone so the hint is the same on kind (where Traefik logs it) and in the sandbox."""
    problems = []
    for rule in ing["spec"].get("rules") or []:
        for path in (rule.get("http") or {}).get("paths") or []:
            svc = (path.get("backend") or {}).get("service") or {}
            port = svc.get("port") or {}
            try:
                obj = cluster.core.read_namespaced_service(svc.get("name", ""), ns)
            except ApiException as exc:
                if exc.status != 404:
                    raise
                problems.append(f"path {path.get('path')!r} names Service {svc.get('name')}, which does not exist "
                                f"in {ns}")
                continue
            ports = obj.spec.ports or []
            if not any((port.get("name") and p.name == port["name"]) or (port.get("number") and
                                                                         p.port == port["number"]) for p in ports):
                wanted = f"name {port['name']!r}" if port.get("name") else f"number {port.get('number')}"
                have = ", ".join(f"{p.name or '(unnamed)'} ({p.port})" for p in ports)
                problems.append(f"path {path.get('path')!r} asks Service {svc.get('name')} for the port with {wanted}, "
                                f"but its ports are: {have} (Traefik: 'Cannot create service: service port not "
                                "found', and it skips the path)")
    return problems


def _class_of(ing: dict[str, Any]) -> str | None:
    return (ing.get("spec") or {}).get("ingressClassName")


ROUTER_WARNINGS = ("BackendError", "RouterError", "InvalidAnnotation", "MiddlewareNotFound", "InvalidMiddleware",
                   "UnsupportedMiddleware", "TLSOptionError")
"""Reasons of the sandbox's Warning events for a router Traefik does not serve (on kind: Traefik's log)."""


def why_not_routed(cluster: Cluster, ns: str, host: str, path: str) -> str:
    """Why Traefik answered 404 for ``host`` + ``path``: no rule for the host, a class it does not serve, a
    backend it cannot load, a middleware it cannot find, or a path type that does not cover ``path``."""
    ingresses = _ingresses(cluster, ns)
    for_host = [i for i in ingresses if _paths(i, host)]
    if not for_host:
        hosts = sorted({r.get("host") or "(any host)" for i in ingresses for r in i["spec"].get("rules") or []})
        where = (f" (the Ingresses in {ns} have hosts: {', '.join(hosts)})" if hosts
                 else f" (there is no Ingress in {ns})")
        return f"No Ingress rule has host {host}{where}."
    reasons = []
    for ing in for_host:
        name = ing["metadata"]["name"]
        klass = _class_of(ing)
        if klass not in (None, "traefik"):
            reasons.append(f"Ingress {name} has ingressClassName: {klass}, and no controller in this cluster serves "
                           f"class {klass} (`kubectl get ingressclass` lists traefik), so Traefik ignores it. "
                           "Set ingressClassName: traefik.")
            continue
        backends = _backend_problems(cluster, ns, ing)
        if backends:
            reasons.append(f"In Ingress {name}, {backends[0]}.")
            continue
        refs = _middleware_ref_problems(cluster, ns, ing)
        if refs:
            reasons.append(f"Traefik does not serve Ingress {name}'s routers: {refs[0]}.")
            continue
        warnings = [w for w in _warnings(cluster, ns, name) if w.startswith(ROUTER_WARNINGS)]
        if warnings:
            reasons.append(f"Ingress {name} has a Warning event from Traefik: {warnings[-1]}")
            continue
        reasons.append(f"Ingress {name} routes {host} by {'; '.join(_describe_path(p) for p in _paths(ing, host))}, "
                       f"and none of these covers {path} (Exact matches one path; Prefix matches whole path "
                       "elements: /api covers /api and /api/…).")
    return " ".join(reasons)


def _middleware_ref_problems(cluster: Cluster, ns: str, ing: dict[str, Any]) -> list[str]:
    """Entries of the router.middlewares annotation that name no Middleware (Traefik then disables the router)."""
    value = (ing["metadata"].get("annotations") or {}).get(ROUTER_MIDDLEWARES, "")
    existing = {m["metadata"]["name"] for m in cluster.get("Middleware", namespace=ns, api_version=MIDDLEWARE)}
    problems = []
    for ref in (r.strip() for r in value.split(",") if r.strip()):
        name, _, provider = ref.partition("@")
        if provider and provider != "kubernetescrd":
            continue  # another provider's middleware: not ours to judge
        if provider and name.startswith(f"{ns}-") and name[len(ns) + 1:] in existing:
            continue
        guess = next((m for m in existing if name in (m, f"{ns}-{m}")), None)
        fix = f" (write {ns}-{guess}@kubernetescrd)" if guess else ""
        problems.append(f"its {ROUTER_MIDDLEWARES} annotation names {ref!r}, which is no Middleware: each entry is "
                        f"<namespace>-<name>@kubernetescrd{fix}")
    return problems


# -- exercise 1: paths ----------------------------------------------------------------------------------------

SHOP_HOST = "shop.lab03.test"
PATHS = [("/", "storefront"), ("/cart", "storefront"), ("/api", "api"), ("/api/orders/7", "api"),
         ("/apix", "storefront")]
"""What each path of shop.lab03.test must reach: /apix is not under /api, element by element."""


def setup_paths(cluster: Cluster, ns: str) -> None:
    _deploy(cluster, ns, echo_app("storefront", "storefront") + echo_app("api", "api"))


def check_paths(cluster: Cluster, ns: str) -> str:
    wait_for_routing(cluster, f"http://{SHOP_HOST}/")
    for path, want in PATHS:
        url = f"http://{SHOP_HOST}{path}"
        answer = get(cluster, url)
        if answer.status == 200 and answer.text == want:
            continue
        said = f"GET {url} answered {answer.said()}"
        if answer.status == 404:
            raise Hint(f"{said}: no router matched. {why_not_routed(cluster, ns, SHOP_HOST, path)}")
        if answer.status == 503:
            raise Hint(f"{said}: Traefik found the route but no ready pod behind its Service "
                       "(is the Service's selector right? `kubectl get endpointslices`).")
        if answer.status != 200:
            raise Hint(f"{said}; it should reach the {want} Service.")
        raise Hint(f"{said}, but it should reach {want}. {_wrong_backend(cluster, ns, path, answer.text)}")
    return (f"{len(PATHS)} requests to http://{SHOP_HOST} each reached the right Service: / and /cart the "
            "storefront, /api and /api/orders/7 the api, and /apix the storefront (Prefix matches whole elements).")


def _wrong_backend(cluster: Cluster, ns: str, path: str, got: str) -> str:
    """Which rule sent ``path`` to the wrong Service, in words."""
    rules = [p for ing in _ingresses(cluster, ns) for p in _paths(ing, SHOP_HOST)]
    api = next((p for p in rules if (p.get("path") or "").rstrip("/") == "/api"), None)
    if path == "/apix" and got == "api":
        return "A rule covers /apix: match /api as a whole path element (path /api, pathType Prefix)."
    if api is None:
        return "No rule sends /api to the api Service: add a path /api (pathType Prefix) with backend api."
    if api.get("pathType") == "Exact":
        return ("The path /api is Exact. The Ingress spec gives the longest matching path (/api) precedence, but "
                "Traefik ranks routers by the length of their rule, and Path(`/api`) is shorter than the / rule's "
                "PathPrefix(`/`), so / wins; and Exact would not cover /api/orders/7 anyway. Use pathType: Prefix.")
    return f"The rules for {SHOP_HOST}: {', '.join(_describe_path(p) for p in rules)}."


# -- exercise 2: tls ----------------------------------------------------------------------------------------

SECURE_HOST = "secure.lab03.test"
CA_CONFIGMAP = "lab03-ca"


def setup_tls(cluster: Cluster, ns: str) -> None:
    """The team's CA (its certificate in ConfigMap lab03-ca, as a trust bundle) and a certificate it issued for
    secure.lab03.test in Secret secure-tls; the web app and an HTTP-only Ingress."""
    ca = certs.authority("lab03 CA")
    cluster.apply([certs.tls_secret("secure-tls", ca.issue(SECURE_HOST), ca=ca),
                   {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": CA_CONFIGMAP},
                    "data": {"ca.crt": ca.pem}}], namespace=ns)
    _deploy(cluster, ns, echo_app("web", "secure web"))
    cluster.apply(start_manifest("tls"), namespace=ns)


def lab_ca(cluster: Cluster, ns: str) -> str:
    """The CA certificate clients of secure.lab03.test trust (ConfigMap lab03-ca, key ca.crt)."""
    try:
        return cluster.core.read_namespaced_config_map(CA_CONFIGMAP, ns).data["ca.crt"]
    except ApiException as exc:
        if exc.status == 404:
            raise Hint(f"ConfigMap {CA_CONFIGMAP} is gone from {ns}: run lab.setup('tls') to start over.") from None
        raise


def check_tls(cluster: Cluster, ns: str) -> str:
    from .. import ingress

    url = f"https://{SECURE_HOST}/"
    wait_for_routing(cluster, f"http://{SECURE_HOST}/")
    served = ingress.certificate(cluster, SECURE_HOST)
    subject = served.subject
    if served.is_default:
        raise Hint(f"https://{SECURE_HOST} was served Traefik's default certificate ({subject}), which no client "
                   f"trusts: no Secret named in an Ingress's spec.tls holds a certificate for {SECURE_HOST}. "
                   f"{_tls_advice(cluster, ns)}")
    answer = get(cluster, url, cacert=lab_ca(cluster, ns))
    if answer.status is None:
        raise Hint(f"GET {url} with the lab CA as the only trusted CA failed: {answer.error}. The certificate served "
                   f"({subject}) is not one the lab CA issued for {SECURE_HOST}: use Secret secure-tls.")
    if answer.status != 200 or answer.text != "secure web":
        raise Hint(f"GET {url} answered {answer.said()}; it should reach the web Service ('secure web').")
    return (f"https://{SECURE_HOST} presented the certificate from Secret secure-tls ({subject}), a client that "
            "trusts only the lab CA accepted it, and the web app answered.")


def _tls_advice(cluster: Cluster, ns: str) -> str:
    ingresses = [i for i in _ingresses(cluster, ns) if _paths(i, SECURE_HOST)]
    tls = [(i["metadata"]["name"], t) for i in ingresses for t in (i["spec"].get("tls") or [])]
    if not tls:
        names = ", ".join(i["metadata"]["name"] for i in ingresses) or "(none)"
        return (f"The Ingress for {SECURE_HOST} ({names}) has no spec.tls: add one entry with hosts: "
                f"[{SECURE_HOST}] and secretName: secure-tls.")
    for name, entry in tls:
        secret = entry.get("secretName")
        if not secret:
            return f"Ingress {name}'s spec.tls entry has no secretName: name the Secret secure-tls."
        try:
            cluster.core.read_namespaced_secret(secret, ns)
        except ApiException as exc:
            if exc.status == 404:
                return (f"Ingress {name}'s spec.tls names Secret {secret}, which does not exist in {ns} (the "
                        "certificate is in secure-tls); Traefik logs 'Error configuring TLS' and falls back to its "
                        "default certificate.")
            raise
    return "The Secrets named in spec.tls hold no certificate for this host: the one for it is secure-tls."


# -- exercise 3: payments -------------------------------------------------------------------------------------

PAY_HOST = "pay.lab03.test"
BURST, AVERAGE, PERIOD = 10, 30, "1m"


def setup_payments(cluster: Cluster, ns: str) -> None:
    _deploy(cluster, ns, netexec_app("payments"))
    cluster.apply(start_manifest("payments"), namespace=ns)


def _post(cluster: Cluster, size: int, patience: float = 6) -> Answer:
    """POST a body of ``size`` bytes; a 429 (a bucket still empty from an earlier run) is retried until a token
    comes back, within ``patience`` seconds (at 30 per minute one comes every 2 s)."""
    url = f"http://{PAY_HOST}/echo?msg=ok"
    deadline = time.monotonic() + patience
    while True:
        answer = get(cluster, url, method="POST", body=b"x" * size)
        if answer.status != 429 or time.monotonic() >= deadline:
            return answer
        time.sleep(0.5)


def check_payments(cluster: Cluster, ns: str) -> str:
    wait_for_routing(cluster, f"http://{PAY_HOST}/hostname")
    small = _post(cluster, 1024)
    if small.status != 200:
        said = f"POST http://{PAY_HOST}/echo with a 1 KiB body answered {small.said()}"
        if small.status == 404:
            raise Hint(f"{said}: no router matched. {why_not_routed(cluster, ns, PAY_HOST, '/echo')}")
        raise Hint(f"{said}; a small payment must go through.")
    big = _post(cluster, MIB + 1)
    if big.status != 413:
        raise Hint(f"POST http://{PAY_HOST}/echo with a body of {MIB + 1} bytes answered {big.said()}, not 413: "
                   f"nothing limits request bodies. {_middleware_advice(cluster, ns, 'buffering')}")
    burst = request(cluster, f"http://{PAY_HOST}/hostname", n=20)
    statuses = [a.status for a in burst]
    passed, refused = statuses.count(200), statuses.count(429)
    if refused == 0:
        raise Hint(f"20 GET requests to http://{PAY_HOST}/hostname back to back: {passed} answered 200 and none "
                   f"429: no rate limit applies. {_middleware_advice(cluster, ns, 'rateLimit')}")
    if passed > BURST:
        raise Hint(f"20 GET requests back to back: {passed} answered 200 before the limit held (at most {BURST} "
                   f"may). {_rate_advice(cluster, ns)}")
    rate = _attached_rate(cluster, ns)
    if rate is not None and (rate[0] != BURST or abs(rate[1] - AVERAGE / 60) > 1e-9):
        raise Hint(f"The burst is limited, but the Middleware's numbers are off: {_rate_advice(cluster, ns)}")
    first_refused = next(a for a in burst if a.status == 429)
    if not first_refused.header("Retry-After"):
        raise Hint("The 429 answers carry no Retry-After header: is the 429 coming from Traefik's rateLimit?")
    return (f"A 1 KiB payment went through, {MIB + 1} bytes were refused with 413, and a burst of 20 requests "
            f"back to back was cut off with 429 (Retry-After set) before more than {BURST} got through.")


def _pay_ingresses(cluster: Cluster, ns: str) -> list[dict[str, Any]]:
    return [i for i in _ingresses(cluster, ns) if _paths(i, PAY_HOST)]


def _attached(cluster: Cluster, ns: str) -> list[str]:
    refs: list[str] = []
    for ing in _pay_ingresses(cluster, ns):
        value = (ing["metadata"].get("annotations") or {}).get(ROUTER_MIDDLEWARES, "")
        refs.extend(r.strip() for r in value.split(",") if r.strip())
    return refs


def _middlewares(cluster: Cluster, ns: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m.get("spec") or {}
            for m in cluster.get("Middleware", namespace=ns, api_version=MIDDLEWARE)}


def _middleware_advice(cluster: Cluster, ns: str, kind: str) -> str:
    """Where the middleware of type ``kind`` is missing: no Middleware, or one not attached to the router."""
    found = [name for name, spec in _middlewares(cluster, ns).items() if kind in spec]
    field = {"buffering": "buffering.maxRequestBodyBytes: 1048576 (Traefik answers 413 above it)",
             "rateLimit": f"rateLimit with burst: {BURST}, average: {AVERAGE}, period: {PERIOD}"}[kind]
    if not found:
        return f"Create a Middleware in {ns} with {field}, and list it in the Ingress's {ROUTER_MIDDLEWARES} annotation."
    attached = _attached(cluster, ns)
    missing = [n for n in found if f"{ns}-{n}@kubernetescrd" not in attached]
    if missing:
        return (f"Middleware {missing[0]} exists but the Ingress does not use it: its {ROUTER_MIDDLEWARES} "
                f"annotation is {','.join(attached) or '(absent)'}; add {ns}-{missing[0]}@kubernetescrd.")
    return f"Middleware {found[0]} is attached: check its spec ({field})."


def _attached_rate(cluster: Cluster, ns: str) -> tuple[int, float] | None:
    """(burst, tokens per second) of the rateLimit attached to the payments router, from the Middleware's spec:
    how fast the bucket refills takes minutes of requests to measure, so the check reads it."""
    from ..ingress.traefik.durations import parse_period  # pure: Traefik's duration syntax

    attached = _attached(cluster, ns)
    for name, spec in _middlewares(cluster, ns).items():
        if "rateLimit" in spec and f"{ns}-{name}@kubernetescrd" in attached:
            rl = spec["rateLimit"]
            try:
                period = parse_period(rl.get("period")) or 1.0
            except ValueError:
                return None
            return max(int(rl.get("burst") or 1), 1), int(rl.get("average") or 0) / period
    return None


def _rate_advice(cluster: Cluster, ns: str) -> str:
    specs = [(n, s["rateLimit"]) for n, s in _middlewares(cluster, ns).items() if "rateLimit" in s]
    if not specs:
        return _middleware_advice(cluster, ns, "rateLimit")
    name, rl = specs[0]
    return (f"Middleware {name} has rateLimit {rl}: burst is how many requests pass at once ({BURST}), and "
            f"average per period the refill ({AVERAGE} per {PERIOD}; period defaults to 1s, so average: {AVERAGE} "
            f"alone means {AVERAGE} per second).")


# -- exercise 4: migrate ----------------------------------------------------------------------------------------

ORDERS_HOST = "orders.lab03.test"


def setup_migrate(cluster: Cluster, ns: str) -> None:
    _deploy(cluster, ns, echo_app("orders", "orders"))
    cluster.apply(start_manifest("migrate"), namespace=ns)


def check_migrate(cluster: Cluster, ns: str) -> str:
    wait_for_routing(cluster, f"http://{ORDERS_HOST}/orders")
    for path in ("/orders", "/orders/42"):
        url = f"http://{ORDERS_HOST}{path}"
        answer = get(cluster, url)
        if answer.status == 200 and answer.text == "orders":
            continue
        said = f"GET {url} answered {answer.said()}"
        if answer.status == 404:
            raise Hint(f"{said}: no router matched. {why_not_routed(cluster, ns, ORDERS_HOST, path)}")
        raise Hint(f"{said}; it should reach the orders Service.")
    leftovers = sorted(k for i in _ingresses(cluster, ns) for k in (i["metadata"].get("annotations") or {})
                       if k.startswith("nginx.ingress.kubernetes.io/"))
    note = (f" The annotation {leftovers[0]} is still there: Traefik's Ingress provider ignores it (see the "
            "Warning event); its meaning needs a Traefik Middleware, or remove it.") if leftovers else ""
    return f"http://{ORDERS_HOST}/orders and /orders/42 reach the orders Service through Traefik.{note}"


def exercises() -> list[Exercise]:
    return [
        Exercise("paths", "Two Services behind one host, by path", "lab03-paths", setup_paths, check_paths,
                 "paths.yaml", ["One Ingress, one rule for host shop.lab03.test, two paths.",
                                "Prefix matches whole path elements: /api covers /api and /api/orders, not /apix."]),
        Exercise("tls", "Terminate TLS with the team's certificate", "lab03-tls", setup_tls, check_tls,
                 "tls.yaml", ["spec.tls lists hosts and the Secret (type kubernetes.io/tls) that holds their "
                              "certificate.",
                              "Traefik picks the certificate by the name the client asks for (SNI), among the "
                              "certificates of every Secret named in an Ingress's spec.tls."]),
        Exercise("payments", "Rate limit and body limit on the payments host", "lab03-payments", setup_payments,
                 check_payments, "payments.yaml",
                 ["Two Middlewares (traefik.io/v1alpha1): rateLimit and buffering.",
                  f"{ROUTER_MIDDLEWARES}: lab03-payments-<name>@kubernetescrd, comma-separated."]),
        Exercise("migrate", "Move an ingress-nginx Ingress to Traefik", "lab03-migrate", setup_migrate,
                 check_migrate, "migrate.yaml",
                 ["`kubectl get ingressclass` shows which classes this cluster serves.",
                  "A backend's service.port.name must be one of the Service's port names."]),
    ]
