"""Waiting on real readiness: conditions read from the API and answers on the edge ports, never sleeps.

A pod's phase says little about whether a lesson will work: ``up`` reports
ready only when nodes are Ready, CRDs are Established, Traefik's routers
answer on the edge ports and (for add-ons with webhooks) the API server
accepts a dry-run object. Every wait takes a timeout and names what it waited
for when it gives up.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

if TYPE_CHECKING:
    from ..cluster import Cluster

T = TypeVar("T")

POLL = 0.25
"""Seconds between two looks at a condition (the condition decides; this only paces the API calls)."""


def until(check: Callable[[], tuple[T | None, str]], timeout: float, what: str) -> T:
    """Call ``check`` until it returns a value; ``check`` returns (value or None, what it saw).

    Raises:
        TimeoutError: naming ``what`` and the last thing ``check`` saw.
    """
    deadline = time.monotonic() + timeout
    seen = "nothing yet"
    while True:
        value, seen = check()
        if value is not None:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}: {seen}")
        time.sleep(POLL)


# -- nodes and CRDs ------------------------------------------------------------------------------


def _condition(obj: dict[str, Any], kind: str) -> str | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return c.get("status")
    return None


def nodes_ready(cluster: Cluster, names: Iterable[str]) -> tuple[list[str] | None, str]:
    """All named nodes exist with Ready=True (one check for :func:`until`)."""
    want = list(names)
    try:
        nodes = {n["metadata"]["name"]: n for n in cluster.get("Node")}
    except (HTTPError, OSError) as exc:  # the API server of a just-started node container may not answer yet
        return None, f"the API server does not answer yet ({type(exc).__name__})"
    missing = [n for n in want if n not in nodes]
    if missing:
        return None, f"nodes not registered yet: {', '.join(missing)}"
    not_ready = [n for n in want if _condition(nodes[n], "Ready") != "True"]
    if not_ready:
        return None, f"not Ready yet: {', '.join(not_ready)}"
    return want, "all Ready"


def wait_nodes_ready(cluster: Cluster, names: Iterable[str], timeout: float = 300) -> list[str]:
    names = list(names)
    return until(lambda: nodes_ready(cluster, names), timeout, f"nodes {', '.join(names)} to be Ready")


def crds_established(cluster: Cluster, names: Iterable[str]) -> tuple[list[str] | None, str]:
    """All named CRDs have Established=True (their API is served)."""
    want = list(names)
    pending = []
    for name in want:
        try:
            crd = cluster.get("CustomResourceDefinition", name, api_version="apiextensions.k8s.io/v1")
        except ApiException as exc:
            if exc.status != 404:
                raise
            pending.append(f"{name} (absent)")
            continue
        if _condition(crd, "Established") != "True":
            pending.append(name)
    if pending:
        return None, f"not Established yet: {', '.join(pending)}"
    return want, "all Established"


def wait_crds_established(cluster: Cluster, names: Iterable[str], timeout: float = 120) -> list[str]:
    names = list(names)
    return until(lambda: crds_established(cluster, names), timeout, f"{len(names)} CRDs to be Established")


def load_balancer_address(cluster: Cluster, namespace: str, service: str) -> tuple[str | None, str]:
    """The Service's first LoadBalancer ingress IP or hostname."""
    svc = cluster.core.read_namespaced_service(service, namespace)
    ingress = (svc.status.load_balancer.ingress if svc.status and svc.status.load_balancer else None) or []
    for item in ingress:
        if item.ip or item.hostname:
            return item.ip or item.hostname, "assigned"
    return None, f"service {namespace}/{service} has no external address yet (EXTERNAL-IP <pending>)"


def dry_run_accepted(cluster: Cluster, obj: dict[str, Any]) -> tuple[bool, str]:
    """Whether the API server (and any admission webhook on the kind) accepts ``obj`` with ``dryRun=All``.

    A webhook-backed add-on (cert-manager's) is ready when this passes, not when its pod is Running.
    """
    res = cluster.dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    ns = (obj.get("metadata") or {}).get("namespace") if res.namespaced else None
    try:
        res.create(body=obj, namespace=ns, dry_run="All")
    except ApiException as exc:
        return False, f"HTTP {exc.status}: {_api_message(exc)}"
    except Exception as exc:  # the dynamic client wraps ApiException in its own error types
        status = getattr(exc, "status", None)
        if status is None:
            raise
        return False, f"HTTP {status}: {_api_message(exc)}"
    return True, "accepted"


def cert_manager_ready(cluster: Cluster) -> tuple[str | None, str]:
    """The cert-manager controller's image when its three Deployments have an available replica, else what is
    missing."""
    from . import versions

    image = None
    for name in versions.CERT_MANAGER_DEPLOYMENTS:
        try:
            dep = cluster.apps.read_namespaced_deployment(name, versions.CERT_MANAGER_NAMESPACE)
        except ApiException as exc:
            if exc.status == 404:
                return None, f"cert-manager is not installed (no Deployment {versions.CERT_MANAGER_NAMESPACE}/{name})"
            raise
        if not (dep.status and (dep.status.available_replicas or 0) >= 1):
            return None, f"Deployment {versions.CERT_MANAGER_NAMESPACE}/{name} has no available replica yet"
        if name == "cert-manager":
            image = dep.spec.template.spec.containers[0].image
    return image, "ready"


def trust_manager_ready(cluster: Cluster) -> tuple[str | None, str]:
    """trust-manager's image when its Deployment has an available replica, else what is missing."""
    from . import versions

    try:
        dep = cluster.apps.read_namespaced_deployment("trust-manager", versions.TRUST_MANAGER_NAMESPACE)
    except ApiException as exc:
        if exc.status == 404:
            return None, f"trust-manager is not installed (no Deployment {versions.TRUST_MANAGER_NAMESPACE}/trust-manager)"
        raise
    if not (dep.status and (dep.status.available_replicas or 0) >= 1):
        return None, f"Deployment {versions.TRUST_MANAGER_NAMESPACE}/trust-manager has no available replica yet"
    return dep.spec.template.spec.containers[0].image, "ready"


def wait_dry_run_accepted(cluster: Cluster, obj: dict[str, Any], timeout: float = 120) -> str:
    def check() -> tuple[str | None, str]:
        ok, seen = dry_run_accepted(cluster, obj)
        return ("accepted" if ok else None), seen

    return until(check, timeout, f"the API server to accept a dry-run {obj['kind']}")


def _api_message(exc: Any) -> str:
    import json

    body = getattr(exc, "body", None) or getattr(exc, "summary", lambda: "")()
    try:
        return json.loads(body).get("message", str(body))
    except (TypeError, ValueError):
        return str(body or exc)


# -- the ingress edge -----------------------------------------------------------------------------

READINESS_HOST = "k8snet-readiness.invalid"
"""A Host no route matches (RFC 2606 reserves .invalid): Traefik answers it from its default handler."""

NOT_FOUND_BODY = "404 page not found"
"""What Traefik's entrypoints answer when no router matches: Go's http.NotFoundHandler
(pkg/server/router/router.go in Traefik v3.7)."""


@dataclass
class EdgeAnswer:
    """What one request to an edge port got back."""

    port: int
    tls: bool
    status: int | None = None
    body: str = ""
    server_cert: str | None = None  # the certificate's subject CN (HTTPS)
    error: str | None = None

    @property
    def traefik(self) -> bool:
        """An answer from Traefik's router: its 404 for a Host no router matches."""
        return self.status == 404 and self.body.strip() == NOT_FOUND_BODY

    def __str__(self) -> str:
        scheme = "https" if self.tls else "http"
        if self.error:
            return f"{scheme}://127.0.0.1:{self.port}: {self.error}"
        cert = f", certificate CN={self.server_cert!r}" if self.server_cert else ""
        return f"{scheme}://127.0.0.1:{self.port}: HTTP {self.status} {self.body.strip()[:60]!r}{cert}"


def probe_edge(port: int, tls: bool, host: str = READINESS_HOST, timeout: float = 3, path: str = "/") -> EdgeAnswer:
    """One GET ``path`` to 127.0.0.1:``port`` with ``Host: host`` (HTTPS unverified: Traefik's default cert)."""
    answer = EdgeAnswer(port, tls)
    conn: http.client.HTTPConnection
    try:
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=ctx)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            conn.request("GET", path, headers={"Host": host, "User-Agent": "k8snet-readiness"})
            if tls and isinstance(conn.sock, ssl.SSLSocket):
                answer.server_cert = _subject_cn(conn.sock.getpeercert(binary_form=True))
            resp = conn.getresponse()
            answer.status = resp.status
            answer.body = resp.read(4096).decode("utf-8", "replace")
        finally:
            conn.close()
    except (OSError, http.client.HTTPException) as exc:
        answer.error = _describe(exc)
    return answer


def _subject_cn(der: bytes | None) -> str | None:
    if not der:
        return None
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_der_x509_certificate(der)
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (nothing listens on this port)"
    if isinstance(exc, ConnectionResetError | http.client.RemoteDisconnected):
        return "the connection was closed without an answer (the port mapping is up, Traefik is not yet)"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "no answer (timed out)"
    return f"{type(exc).__name__}: {exc}"


def edge_ready(http_port: int, https_port: int) -> tuple[list[EdgeAnswer] | None, str]:
    """Traefik's routers answer on both edge ports."""
    answers = [probe_edge(http_port, tls=False), probe_edge(https_port, tls=True)]
    if all(a.traefik for a in answers):
        return answers, "; ".join(map(str, answers))
    return None, "; ".join(map(str, answers))


def wait_edge(http_port: int, https_port: int, timeout: float = 120) -> list[EdgeAnswer]:
    return until(lambda: edge_ready(http_port, https_port), timeout,
                 f"Traefik to answer on 127.0.0.1:{http_port} and :{https_port}")


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a listener could bind ``host:port`` now (nothing else holds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed connection in TIME_WAIT is no owner
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True
