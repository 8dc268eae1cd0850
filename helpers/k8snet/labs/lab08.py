"""Lab 08 — Service mesh: Istio in ambient mode, who may call whom, what they may do, and how much traffic a new
version gets.

1. **lock** — only the ``cart`` ServiceAccount may reach ``payments``: the namespace into the mesh, an L4
   AuthorizationPolicy by principal, and the NetworkPolicy the payments team wrote long ago, which lets nothing in
   but the application's port and so blocks the mesh's port 15008;
2. **readonly** — ``reports`` may read orders but not write them, ``checkout`` may write: a policy that names HTTP
   methods on a selector is enforced by ztunnel, which cannot see a method; it needs a waypoint and ``targetRefs``;
3. **canary** — a fifth of the requests to ``checkout-v2``: the release team's HTTPRoute has the weights, but its
   parentRef names a Gateway, so nothing applies it. Graded on the waypoint's own counts.

Every check sends requests with curl from pods in the mesh and grades what came back — the status, or curl's exit
code (ztunnel resets a connection it refuses after accepting it: curl exit 56) — together with what the mesh
recorded: ztunnel's access log (lock) or the waypoint's ``istio_requests_total`` read through
:mod:`k8snet.mesh.metrics` (canary), never the YAML alone. The hints quote what istiod wrote (``ZtunnelAccepted``,
``WaypointAccepted``, the route's parents) and ztunnel's log lines. The lab installs Istio when the cluster runs none
(:func:`ensure_mesh`, idempotent) and its teardown uninstalls it again only then (:func:`cleanup`).

Semantics: istio.io/latest/docs/ambient/usage/l4-policy ("Use Layer 4 security policy": principals, a rule with
HTTP attributes on a selector "ztunnel will deny the connection"), /docs/ambient/usage/networkpolicy ("you will
have to add an exception to that NetworkPolicy for port 15008"), /docs/ambient/usage/l7-features and
/docs/ambient/usage/waypoint (policies with ``targetRefs`` are enforced by the waypoint, which forwards as its own
identity), /docs/tasks/traffic-management/traffic-shifting (an HTTPRoute whose parentRef is the Service, kind
Service, group ""); gateway-api.sigs.k8s.io/mesh (GAMMA: ``parentRefs`` default to a Gateway); ztunnel
src/proxy/inbound.rs (the 401 after a policy rejection, the access log's fields) and src/rbac.rs (its words); the
Gateway API conformance test tests/httproute-weight.go (500 requests, ±5 %).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubernetes.client.exceptions import ApiException

from .. import kubeproxy, mesh
from ..mesh import metrics, views
from ..mesh.install import DAEMONSETS, daemonset_rolled_out, deployment_available
from ..table import Table
from ..traffic import PodRef, exec_in
from . import Exercise, Hint, labs_folder

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..cluster import Cluster

LAB = "lab-08-service-mesh"
ISTIO_NAMESPACE = "istio-system"
SECURITY = "security.istio.io/v1"
GATEWAY_API = "gateway.networking.k8s.io/v1"
MESH_CONTROLLER = "istio.io/mesh-controller"
INSTALLED_BY = "k8snet.io/installed-by"
"""The annotation :func:`ensure_mesh` puts on ``istio-system`` when the lab installed the mesh, so that
:func:`cleanup` removes only a mesh the lab brought."""
DATAPLANE_MODE = "istio.io/dataplane-mode"
REDIRECTION = mesh.REDIRECTION
SETTLE = 10.0
"""Seconds a check gives istio-cni, istiod and a waypoint to catch up with a change (a moment in the sandbox, a few
seconds on kind) before it grades what it sees."""
CURL_TIMEOUT = 3
CANARY_SHARE = 0.20
REQUESTS = 500
TOLERANCE = 0.05
"""How far the measured share may be from the weights' (tests/httproute-weight.go: ±5 % over 500 requests)."""


def _quiet(_: str) -> None:
    return None


def start_manifest(name: str) -> Path:
    """A starting-state manifest the learner can read: ``labs/lab-08-service-mesh/start/<name>.yaml``."""
    return labs_folder() / LAB / "start" / f"{name}.yaml"


def principal(ns: str, service_account: str) -> str:
    """A workload's principal as AuthorizationPolicy names it: its SPIFFE identity without ``spiffe://``."""
    return f"cluster.local/ns/{ns}/sa/{service_account}"


# -- the mesh ---------------------------------------------------------------------------------------------------


def mesh_running(cluster: Cluster) -> bool:
    """istiod Available and istio-cni and ztunnel on every node (what :func:`k8snet.mesh.install` waits for)."""
    nodes = len(cluster.nodes())
    if not deployment_available(cluster.find("Deployment", "istiod", ISTIO_NAMESPACE, "apps/v1"))[0]:
        return False
    return all(daemonset_rolled_out(cluster.find("DaemonSet", name, ISTIO_NAMESPACE, "apps/v1"), nodes)[0]
               for name in DAEMONSETS)


def ensure_mesh(cluster: Cluster) -> bool:
    """Install Istio 1.31 in ambient mode unless it runs already; True when this call installed it (and marked
    ``istio-system`` with :data:`INSTALLED_BY`, so that :func:`cleanup` uninstalls it)."""
    if mesh_running(cluster):
        return False
    mesh.install(cluster, "istio", say=_quiet)
    cluster.core.patch_namespace(ISTIO_NAMESPACE, {"metadata": {"annotations": {INSTALLED_BY: LAB}}})
    return True


def cleanup(cluster: Cluster) -> None:
    """Uninstall the mesh if the lab installed it (``helm uninstall``'s way: the CRDs stay); a mesh that was there
    before the lab stays as it is."""
    ns = cluster.find("Namespace", ISTIO_NAMESPACE, None)
    if ns is not None and ((ns["metadata"].get("annotations") or {}).get(INSTALLED_BY) == LAB):
        mesh.uninstall(cluster, "istio", say=_quiet)



def _list(cluster: Cluster, kind: str, ns: str, api_version: str) -> list[dict[str, Any]]:
    try:
        return cluster.get(kind, namespace=ns, api_version=api_version)
    except ApiException as exc:
        if exc.status == 404:
            return []
        raise


def _start(cluster: Cluster, exercise_id: str, ns: str) -> None:
    """The mesh, then the exercise's starting manifest, its workloads waited for."""
    ensure_mesh(cluster)
    for obj in cluster.apply(start_manifest(exercise_id), namespace=ns):
        if obj["kind"] == "Deployment":
            cluster.wait_ready(obj["metadata"]["name"], ns)
        elif obj["kind"] == "Pod":
            cluster.wait_pod_ready(obj["metadata"]["name"], ns)


# -- waiting for the mesh to catch up ----------------------------------------------------------------------------


def _in_mesh(ns_labels: dict[str, str], pod: dict[str, Any]) -> bool:
    """Whether istio-cni should capture the pod: its namespace (or itself) says ambient, it does not opt out."""
    labels = pod["metadata"].get("labels") or {}
    if labels.get(DATAPLANE_MODE) == "none" or (pod.get("spec") or {}).get("hostNetwork"):
        return False
    return labels.get(DATAPLANE_MODE) == "ambient" or ns_labels.get(DATAPLANE_MODE) == "ambient"


def captured(pod: dict[str, Any]) -> bool:
    return (pod["metadata"].get("annotations") or {}).get(REDIRECTION) == "enabled"


def _caught_up(cluster: Cluster, ns: str) -> bool:
    namespace = cluster.find("Namespace", ns, None)
    if namespace is None:
        return True
    ns_labels = namespace["metadata"].get("labels") or {}
    for pod in cluster.get("Pod", namespace=ns):
        if (pod.get("status") or {}).get("phase") == "Running" and _in_mesh(ns_labels, pod) != captured(pod):
            return False
    for pol in _list(cluster, "AuthorizationPolicy", ns, SECURITY):
        conditions = (pol.get("status") or {}).get("conditions") or []
        if not any(str(c.get("observedGeneration")) == str(pol["metadata"].get("generation")) for c in conditions):
            return False
    for gw in _list(cluster, "Gateway", ns, GATEWAY_API):
        if (gw.get("spec") or {}).get("gatewayClassName") == "istio-waypoint" and not _waypoint_ready(cluster, ns, gw):
            return False
    return _endpoints_caught_up(cluster, ns)


def _endpoints_caught_up(cluster: Cluster, ns: str) -> bool:
    """Whether each Service's EndpointSlices list exactly its ready pods: the proxies route on the slices, so a pod
    that is Ready but not yet listed would not get its share of the requests (a slice lags under load)."""
    from ..traffic import endpoints_of

    pods = cluster.get("Pod", namespace=ns)
    for svc in cluster.get("Service", namespace=ns):
        selector = (svc.get("spec") or {}).get("selector")
        if not selector:
            continue
        ready = sum(1 for pod in pods if all((pod["metadata"].get("labels") or {}).get(k) == v
                                              for k, v in selector.items())
                    and any(c.get("type") == "Ready" and c.get("status") == "True"
                            for c in (pod.get("status") or {}).get("conditions") or []))
        if sum(e["ready"] for e in endpoints_of(cluster, ns, svc["metadata"]["name"])) != ready:
            return False
    return True


def _waypoint_ready(cluster: Cluster, ns: str, gw: dict[str, Any]) -> bool:
    selector = f"gateway.networking.k8s.io/gateway-name={gw['metadata']['name']}"
    return any(c.type == "Ready" and c.status == "True"
               for p in cluster.core.list_namespaced_pod(ns, label_selector=selector).items
               for c in p.status.conditions or [])


def settle(cluster: Cluster, ns: str, timeout: float = SETTLE) -> bool:
    """Wait until the mesh has caught up with the namespace as the API has it now: istio-cni has captured (or
    released) its pods, istiod has written its status for each AuthorizationPolicy's current generation, each
    waypoint has a ready pod. At most ``timeout`` seconds; whether it caught up (the check grades either way)."""
    deadline = time.monotonic() + timeout
    while not _caught_up(cluster, ns):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


# -- requests from pods --------------------------------------------------------------------------------------------


@dataclass
class Answer:
    """One curl from a pod: the HTTP status, headers and body, or curl's exit code and error."""

    caller: str
    method: str
    url: str
    exit_code: int
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 400

    @property
    def reset(self) -> bool:
        """curl's ``(56) Recv failure: Connection reset by peer``: accepted, then closed (ztunnel's refusal)."""
        return self.exit_code == 56

    @property
    def via_waypoint(self) -> bool:
        """Envoy wrote the answer's ``server`` header: a waypoint relayed or refused the request."""
        return self.headers.get("server") == "istio-envoy"

    @property
    def reason(self) -> str:
        """``200: orders``, ``403: RBAC: access denied``, ``reset (curl 56)``, ``timed out (curl 28)``."""
        if self.status is not None:
            first = (self.body.strip().splitlines() or [""])[0]
            return f"{self.status}: {first}" if first else str(self.status)
        words = {56: "reset", 28: "timed out", 7: "refused", 52: "empty reply",
                 6: "not resolved"}.get(self.exit_code, "failed")
        return f"{words} (curl {self.exit_code})"

    def __str__(self) -> str:
        said = (f"{self.status} {(self.body.strip().splitlines() or [''])[0]!r}" if self.status is not None
                else f"{self.reason.split(' (')[0]} ({self.error.strip() or f'curl exit {self.exit_code}'})")
        return f"{self.caller} → {self.method} {self.url}: {said}"


def ask(cluster: Cluster, ns: str, pod: str, url: str, method: str = "GET") -> Answer:
    """``curl -sS -i -m 3 -X METHOD URL`` in the pod, as a learner would type it in ``kubectl exec``."""
    out = exec_in(cluster, PodRef(ns, pod), ["curl", "-sS", "-i", "-m", str(CURL_TIMEOUT), "-X", method, url])
    answer = Answer(pod, method, url, out.exit_code, error=out.stderr)
    text = out.stdout
    head, sep, body = text.replace("\r\n", "\n").partition("\n\n")
    lines = head.splitlines()
    if lines and (m := re.match(r"HTTP/\S+ (\d{3})", lines[0])):
        answer.status = int(m.group(1))
        answer.headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        answer.body = body if sep else ""
    return answer


def _need_pods(cluster: Cluster, ns: str, *names: str) -> None:
    """The exercise's client pods, which the check runs curl in, must still be there."""
    for name in names:
        if cluster.find("Pod", name, ns) is None:
            raise Hint(f'pod "{name}" is gone from namespace {ns}: the check runs curl in it. Run '
                       f"lab.setup('{ns.removeprefix('lab08-')}') to start over.")


# -- ztunnel's access log ------------------------------------------------------------------------------------------


def ztunnel_logs(cluster: Cluster) -> dict[str, list[str]]:
    """Every ztunnel's log lines, by pod (``kubectl logs -n istio-system -l app=ztunnel``)."""
    out = {}
    for pod in cluster.core.list_namespaced_pod(ISTIO_NAMESPACE, label_selector="app=ztunnel").items:
        if pod.status.phase == "Running":
            out[pod.metadata.name] = cluster.core.read_namespaced_pod_log(pod.metadata.name,
                                                                          ISTIO_NAMESPACE).splitlines()
    return out


def logged_since(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    """The lines each ztunnel wrote between two reads."""
    return [line for pod, lines in after.items() for line in lines[len(before.get(pod, [])):]]


def log_field(line: str, key: str) -> str:
    """A field of a ztunnel access-log line: ``error="…"`` or ``dst.addr=…``, '' when absent."""
    m = re.search(rf'(?:^|\s){re.escape(key)}=(?:"((?:[^"\\]|\\.)*)"|(\S+))', line)
    return (m.group(1) if m.group(1) is not None else m.group(2)) if m else ""


def access_log(lines: list[str]) -> Table:
    """ztunnel's access-log lines as a table: which way (``inbound`` is the destination's ztunnel, ``outbound`` the
    source's), from which workload as which identity, to which workload, and the error it closed the connection
    with."""
    rows = []
    for line in lines:
        if "connection complete" not in line:
            continue
        src = f"{log_field(line, 'src.namespace')}/{log_field(line, 'src.workload')}".strip("/")
        dst = f"{log_field(line, 'dst.namespace')}/{log_field(line, 'dst.workload')}".strip("/") or \
            log_field(line, "dst.addr")
        rows.append([log_field(line, "direction"), src or log_field(line, "src.addr"),
                     log_field(line, "src.identity") or "(plaintext)", dst, log_field(line, "error") or "—"])
    return Table(["DIRECTION", "SOURCE", "SOURCE IDENTITY", "DESTINATION", "ERROR"], rows)


def _lines_for(lines: list[str], ns: str, pod: str) -> list[str]:
    return [line for line in lines if "connection complete" in line and log_field(line, "src.namespace") == ns
            and log_field(line, "src.workload") == pod]


def _inbound_first(lines: list[str]) -> list[str]:
    """The destination's lines first: its ztunnel says why it closed a connection, the source's only what it got."""
    return sorted(lines, key=lambda line: log_field(line, "direction") != "inbound")


def _errors(lines: list[str]) -> list[str]:
    return list(dict.fromkeys(e for e in (log_field(line, "error") for line in _inbound_first(lines)) if e))


# -- 1: lock -----------------------------------------------------------------------------------------------------


PAYMENTS = "http://payments/hostname"


def setup_lock(cluster: Cluster, ns: str) -> None:
    _start(cluster, "lock", ns)
    _synced(cluster, ns, "cart", "intruder")


def _synced(cluster: Cluster, ns: str, *clients: str) -> None:
    """kube-proxy on each client's node routes the Service as the API has it (the path outside the mesh)."""
    nodes = {cluster.core.read_namespaced_pod(c, ns).spec.node_name: c for c in clients}
    for client in nodes.values():
        kubeproxy.wait_synced(cluster, PodRef(ns, client), ns, "payments")


def _payments_pod(cluster: Cluster, ns: str) -> dict[str, Any] | None:
    pods = [p for p in cluster.get("Pod", namespace=ns, label_selector="app=payments")
            if (p.get("status") or {}).get("phase") == "Running"]
    return pods[0] if pods else None


def _policy_words(cluster: Cluster, ns: str, pod: str) -> str:
    """``AuthorizationPolicy lab08-lock/x (ALLOW, enforced by ztunnel (selector))``, or that none applies."""
    rows = views.policies_for(cluster, pod, ns).rows
    found = [f"{kind} {name} ({mode}, enforced by {where})" for kind, name, mode, where in rows
             if kind == "AuthorizationPolicy"]
    return "; ".join(found) if found else "no AuthorizationPolicy applies to it"


def _blocking_netpols(cluster: Cluster, ns: str, pod: dict[str, Any], port: int) -> list[str]:
    """The NetworkPolicies that select the pod for ingress and whose rules allow other ports but not ``port``."""
    labels = pod["metadata"].get("labels") or {}
    out = []
    for pol in cluster.get("NetworkPolicy", namespace=ns, api_version="networking.k8s.io/v1"):
        spec = pol.get("spec") or {}
        selector = (spec.get("podSelector") or {}).get("matchLabels") or {}
        if any(labels.get(k) != v for k, v in selector.items()) or "Ingress" not in (spec.get("policyTypes")
                                                                                       or ["Ingress"]):
            continue
        rules = spec.get("ingress") or []
        opens = any(not r.get("ports") or any(p.get("port") in (port, str(port)) for p in r["ports"]) for r in rules)
        if not opens:
            ports = sorted({str(p.get("port")) for r in rules for p in r.get("ports") or []})
            out.append(f"NetworkPolicy {pol['metadata']['name']} (ports {', '.join(ports) or 'none'})")
    return out


def check_lock(cluster: Cluster, ns: str) -> str:
    _need_pods(cluster, ns, "cart", "intruder")
    settle(cluster, ns)
    payments = _payments_pod(cluster, ns)
    if payments is None:
        raise Hint(f"no payments pod runs in {ns}: kubectl get deployment payments -n {ns}, or lab.setup('lock') "
                   "to start over.")
    in_mesh = captured(payments)
    if not in_mesh:
        _synced(cluster, ns, "cart", "intruder")
    before = ztunnel_logs(cluster)
    cart, intruder = ask(cluster, ns, "cart", PAYMENTS), ask(cluster, ns, "intruder", PAYMENTS)
    logged: list[str] = []
    deadline = time.monotonic() + 3
    while True:  # ztunnel writes its line as the connection closes: a moment later on kind
        logged = logged_since(before, ztunnel_logs(cluster))
        if not in_mesh or (_lines_for(logged, ns, "intruder") and _lines_for(logged, ns, "cart")) \
                or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    cart_lines, intruder_lines = _lines_for(logged, ns, "cart"), _lines_for(logged, ns, "intruder")
    denial = next((e for e in _errors(intruder_lines) if "policy rejection" in e), "")
    said = f"{cart}. {intruder}."
    if cart.ok and intruder.reset and denial:
        allowed = next((line for line in _inbound_first(cart_lines) if not log_field(line, "error")), "")
        how = (f" over HBONE as {log_field(allowed, 'src.identity')} to {log_field(allowed, 'dst.identity')}"
               if allowed else "")
        return (f"cart got {cart.status} from {cart.body.strip()}{how}; intruder's connection was reset, and "
                f"ztunnel's log says why: {denial}.")
    if not in_mesh:
        label = ((cluster.find("Namespace", ns, None) or {}).get("metadata", {}).get("labels") or {}).get(
            DATAPLANE_MODE)
        where = f"namespace {ns} is labelled {DATAPLANE_MODE}={label}" if label else \
            f"namespace {ns} has no {DATAPLANE_MODE} label"
        if intruder.ok:
            raise Hint(f"{said} Both get in: payments is not in the mesh ({where}, and its pod has no "
                       f"{REDIRECTION}: enabled annotation), so no ztunnel stands in front of it to check who "
                       "calls. Put the namespace in the ambient mesh first.")
        raise Hint(f"{said} Something other than the mesh keeps intruder out: payments is not in the mesh "
                   f"({where}). This exercise wants the mesh to check every caller's identity: put the namespace "
                   "in the ambient mesh and let an AuthorizationPolicy decide.")
    cart_errors = _errors(cart_lines)
    if not cart.ok and not captured(cluster.find("Pod", "cart", ns) or {"metadata": {}}):
        raise Hint(f"{said} payments is in the mesh, but cart is not (its pod has no {REDIRECTION}: enabled "
                   "annotation): it connects in plaintext, with no identity for a policy to name. Put cart in the "
                   "mesh too; the simplest way is its namespace.")
    if not cart.ok:
        blocking = _blocking_netpols(cluster, ns, payments, 15008)
        if any("15008" in e for e in cart_errors) or (blocking and not any("policy rejection" in e
                                                                            for e in cart_errors)):
            quoted = f" ztunnel says: {cart_errors[0]}." if cart_errors else ""
            raise Hint(f"{said}{quoted} Between two pods in the mesh, ztunnel carries every connection to the "
                       f"destination pod's port 15008 (HBONE), and Kubernetes NetworkPolicy still applies to that "
                       f"port: {', '.join(blocking) or 'a NetworkPolicy'} selects payments and does not allow "
                       "15008.")
        rejected = next((e for e in cart_errors if "policy rejection" in e), "")
        if rejected:
            who = (log_field(_inbound_first(cart_lines)[0], "src.identity") if cart_lines else "") or \
                f"spiffe://{principal(ns, 'cart')}"
            raise Hint(f"{said} ztunnel in front of payments rejected cart, which calls as {who}: {rejected}. "
                       f"Policies for payments: {_policy_words(cluster, ns, payments['metadata']['name'])}. A "
                       f"principal is the identity without spiffe://, e.g. {principal(ns, 'cart')}.")
        raise Hint(f"{said} {cart_errors[0] if cart_errors else 'ztunnel logged nothing about it'}: cart must keep "
                   "reaching payments.")
    policies = _policy_words(cluster, ns, payments["metadata"]["name"])
    if intruder.ok:
        raise Hint(f"{said} Both are in the mesh, but nothing keeps intruder (spiffe://{principal(ns, 'default')}) "
                   f"out: {policies}.")
    intruder_errors = _errors(intruder_lines)
    if intruder.reset and intruder_errors:
        raise Hint(f"{said} ztunnel reset intruder's connection, but not for its identity: {intruder_errors[0]}. "
                   f"Let ztunnel decide by identity with an AuthorizationPolicy ({policies}).")
    raise Hint(f"{said} intruder should be reset by ztunnel for its identity (curl exit 56, and a policy "
               f"rejection in ztunnel's log); {policies}.")


# -- 2: readonly ---------------------------------------------------------------------------------------------------


ORDERS = "http://orders/"


def setup_readonly(cluster: Cluster, ns: str) -> None:
    _start(cluster, "readonly", ns)
    settle(cluster, ns)


def _waypoint(cluster: Cluster, ns: str) -> None:
    """The solution's second step: ``istioctl waypoint apply -n NS --enroll-namespace --wait``."""
    mesh.waypoint(cluster, ns, say=_quiet)


def _status_words(pol: dict[str, Any]) -> str:
    conds = (pol.get("status") or {}).get("conditions") or []
    return "; ".join(f"{c.get('type')}={c.get('status')} ({c.get('reason')}: {c.get('message')})" for c in conds) \
        or "no status from istiod yet"


@dataclass
class Calls:
    """What the callers got, one row per caller and one column per request: the exercise's matrix."""

    answers: dict[tuple[str, str], Answer]
    backend: str = ""

    @property
    def clients(self) -> list[str]:
        return list(dict.fromkeys(c for c, _ in self.answers))

    @property
    def servers(self) -> list[str]:
        return list(dict.fromkeys(s for _, s in self.answers))

    @property
    def cells(self) -> dict[tuple[str, str], Answer]:
        return self.answers

    def __repr__(self) -> str:
        def cell(c: str, s: str) -> str:
            a = self.answers.get((c, s))
            return "—" if a is None else ("✓ " if a.ok else "✗ ") + a.reason

        table = [["", *self.servers], *[[c, *(cell(c, s) for s in self.servers)] for c in self.clients]]
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in table)

    def plot(self) -> Figure:
        from .. import plots

        return plots.handshake_matrix(self, title=f"Who may do what to orders · {self.backend}")


def readonly_calls(cluster: Cluster, ns: str) -> Calls:
    """A GET and a POST to http://orders/ from reports and from checkout."""
    return Calls({(caller, f"{method} orders"): ask(cluster, ns, caller, ORDERS, method)
                  for caller in ("reports", "checkout") for method in ("GET", "POST")}, cluster.backend)


def check_readonly(cluster: Cluster, ns: str) -> str:
    _need_pods(cluster, ns, "reports", "checkout")
    settle(cluster, ns)
    before = ztunnel_logs(cluster)
    calls = readonly_calls(cluster, ns)
    read, write, post = (calls.answers[k] for k in (("reports", "GET orders"), ("reports", "POST orders"),
                                                   ("checkout", "POST orders")))
    said = f"{read}. {write}. {post}."
    if (read.status == 200 and post.status == 200 and write.status == 403 and "RBAC: access denied" in write.body
            and read.via_waypoint):
        return (f"reports reads orders ({read.status}), its POST is refused by the waypoint ({write.status} "
                f"{write.body.strip()!r}), and checkout still writes ({post.status}).")
    policies = _list(cluster, "AuthorizationPolicy", ns, SECURITY)
    waypoint = views.waypoint_of(cluster, "orders", ns)
    selected = [p for p in policies if not ((p.get("spec") or {}).get("targetRefs") or (p.get("spec") or {}).get(
        "targetRef"))]
    attached = [p for p in policies if p not in selected]
    if waypoint is None:
        l7 = [p for p in selected if any("HTTP attributes" in (c.get("message") or "")
                                         for c in (p.get("status") or {}).get("conditions") or [])]
        said_by_istiod = " ".join(f"istiod on AuthorizationPolicy {p['metadata']['name']}: {_status_words(p)}."
                                  for p in l7)
        unbound = " ".join(f"AuthorizationPolicy {p['metadata']['name']}: {_status_words(p)}." for p in attached)
        raise Hint(f"{said} The Service orders uses no waypoint, so only ztunnel stands in front of orders, and "
                   f"ztunnel works on connections: it never sees a method. {said_by_istiod or unbound}".rstrip())
    logged = logged_since(before, ztunnel_logs(cluster))
    rejected = [line for line in logged if "policy rejection" in log_field(line, "error")
                and log_field(line, "dst.namespace") == ns and log_field(line, "direction") == "inbound"]
    if rejected and not (read.ok or post.ok):
        who = log_field(rejected[0], "src.identity")
        names = ", ".join(p["metadata"]["name"] for p in selected) or "a policy with a selector"
        raise Hint(f"{said} Services of {ns} now go through waypoint {waypoint}, which forwards each request to "
                   f"orders as itself ({who}); ztunnel in front of orders still checks {names} against that "
                   f"identity and closes the connection: {log_field(rejected[0], 'error')}. Attach the rules to "
                   "the Service with targetRefs, so that the waypoint checks them with the caller's identity and "
                   "method.")
    words = " ".join(f"AuthorizationPolicy {p['metadata']['name']}: {_status_words(p)}." for p in attached) or \
        f"No AuthorizationPolicy is attached to the Service orders or to waypoint {waypoint} (targetRefs)."
    if not read.ok:
        raise Hint(f"{said} reports must still read orders. {words}")
    if not post.ok:
        raise Hint(f"{said} checkout must still write orders. {words}")
    if write.status != 403:
        raise Hint(f"{said} Nothing at the waypoint refuses reports' POST. {words}")
    raise Hint(f"{said} reports' POST should get the waypoint's 403 'RBAC: access denied'. {words}")


# -- 3: canary ------------------------------------------------------------------------------------------------------


CHECKOUT = "http://checkout/"


def setup_canary(cluster: Cluster, ns: str) -> None:
    _start(cluster, "canary", ns)
    mesh.waypoint(cluster, ns, say=_quiet)
    settle(cluster, ns)


@dataclass
class Measured:
    """``n`` requests from the client, as the waypoint counted them (golden signals per destination workload)."""

    n: int
    rows: list[metrics.Golden]
    callers: dict[str, int] = field(default_factory=dict)
    """Requests per source workload, as the waypoint counted them (the client's ``n``, and anyone else's)."""
    failed: dict[str, int] = field(default_factory=dict)
    """The client's curls that got no HTTP answer, by error (curl's, or how their exec ended)."""

    @property
    def counted(self) -> int:
        return sum(g.requests for g in self.rows)

    def requests(self, workload: str) -> int:
        return next((g.requests for g in self.rows if g.workload == workload), 0)

    @property
    def errors(self) -> dict[str, int]:
        """The 5xx answers by status, over every workload."""
        out: dict[str, int] = {}
        for g in self.rows:
            for code, k in g.codes.items():
                if code.startswith("5"):
                    out[code] = out.get(code, 0) + k
        return out

    def _repr_html_(self) -> str:
        return metrics.golden_table(self.rows)._repr_html_()

    def __repr__(self) -> str:
        return repr(metrics.golden_table(self.rows))


def _ours(scrape: metrics.Scrape, ns: str, service: str) -> metrics.Scrape:
    """Only the samples about requests to one Service (other namespaces' traffic does not count)."""
    return metrics.Scrape([s for s in scrape.samples if s.label("destination_service_namespace") == ns
                           and s.label("destination_service_name") == service], scrape.at)


def measure(cluster: Cluster, ns: str = "lab08-canary", n: int = REQUESTS) -> Measured:
    """Send ``n`` requests from the client pod to http://checkout/ and read the waypoint's ``istio_requests_total``
    before and after (:func:`k8snet.mesh.metrics.golden`)."""
    from .. import traffic

    before = _ours(metrics.scrape(cluster), ns, "checkout")
    # a generous -m: on a busy machine a request that gives up before the waypoint draws its weight would shift
    # every later draw of the route's seeded stream, and the counts a seeded run prints with it
    sent = traffic.send(cluster, PodRef(ns, "client"), CHECKOUT, n=n, max_time=15)
    after = _ours(metrics.scrape(cluster), ns, "checkout")
    callers = {g.workload: g.requests for g in metrics.golden(before, after, by="source_workload")}
    failed = dict(Counter(r.error for r in sent.requests if r.error))
    return Measured(n, metrics.golden(before, after), callers, failed)


def _routes_for(cluster: Cluster, ns: str, service: str) -> list[dict[str, Any]]:
    """The namespace's HTTPRoutes that name the Service as a parent, or are called after it."""
    out = []
    for route in _list(cluster, "HTTPRoute", ns, GATEWAY_API):
        refs = (route.get("spec") or {}).get("parentRefs") or []
        if route["metadata"]["name"] == service or any(r.get("name") == service for r in refs):
            out.append(route)
    return out


def _parent_words(route: dict[str, Any]) -> str:
    """What the controllers wrote for each parent of the route, or that none did."""
    parents = (route.get("status") or {}).get("parents") or []
    if not parents:
        return "no controller has written status for it"
    return "; ".join(f"{p.get('controllerName')}: " + ", ".join(f"{c['type']}={c['status']} ({c.get('reason')})"
                                                                for c in p.get("conditions") or []) for p in parents)


def _attached(route: dict[str, Any]) -> bool:
    return any(p.get("controllerName") == MESH_CONTROLLER and any(
        c.get("type") == "Accepted" and c.get("status") == "True" for c in p.get("conditions") or [])
        for p in (route.get("status") or {}).get("parents") or [])


def _refs_words(route: dict[str, Any]) -> str:
    return ", ".join("{" + ", ".join(f"{k}: {v!r}" for k, v in r.items()) + "}"
                     for r in (route.get("spec") or {}).get("parentRefs") or []) or "none"


def _configured_share(routes: list[dict[str, Any]], backend: str) -> float | None:
    """The backend's weight over all weights, when the attached routes have one rule that matches everything."""
    rules = [rule for route in routes if _attached(route) for rule in (route.get("spec") or {}).get("rules") or []]
    if len(rules) != 1 or any((m.get("path") or {"value": "/"}).get("value", "/") != "/" or set(m) - {"path"}
                              for m in rules[0].get("matches") or []):
        return None
    refs = rules[0].get("backendRefs") or []
    total = sum(int(r.get("weight", 1)) for r in refs)
    return sum(int(r.get("weight", 1)) for r in refs if r.get("name") == backend) / total if total else None


def _backends_words(routes: list[dict[str, Any]]) -> str:
    refs = [f"{r.get('name')}:{r.get('port')} (weight {r.get('weight', 1)})" for route in routes
            for rule in (route.get("spec") or {}).get("rules") or [] for r in rule.get("backendRefs") or []]
    return ", ".join(refs) or "no backend"


def check_canary(cluster: Cluster, ns: str) -> str:
    _need_pods(cluster, ns, "client")
    replicas = {}
    for name in ("checkout-v1", "checkout-v2"):
        dep = cluster.find("Deployment", name, ns, "apps/v1")
        replicas[name] = (dep or {}).get("spec", {}).get("replicas")
    if replicas != {"checkout-v1": 1, "checkout-v2": 1}:
        raise Hint(f"the Deployments now have {replicas} replicas: put them back to one each. The route's weights, "
                   "not pod counts, should decide the split.")
    settle(cluster, ns)
    m = measure(cluster, ns)
    v1, v2 = m.requests("checkout-v1"), m.requests("checkout-v2")
    share = v2 / m.counted if m.counted else 0.0
    routes = _routes_for(cluster, ns, "checkout")
    configured = _configured_share(routes, "checkout-v2")
    counted = (f"the waypoint counted checkout-v1 ×{v1}, checkout-v2 ×{v2} ({share:.0%})"
               + (f", 5xx: {', '.join(f'{c} ×{k}' for c, k in m.errors.items())}" if m.errors else ""))
    said = f"{m.n} requests from client to {CHECKOUT}: {counted}."
    route_words = " ".join(f"HTTPRoute {r['metadata']['name']} sends to {_backends_words([r])}; parentRefs "
                           f"{_refs_words(r)}; {_parent_words(r)}." for r in routes) or \
        f"No HTTPRoute in {ns} names the Service checkout."
    fine = (m.counted == m.n and not m.errors and abs(share - CANARY_SHARE) <= TOLERANCE
            and configured is not None and abs(configured - CANARY_SHARE) < 1e-9)
    if fine:
        names = ", ".join(r["metadata"]["name"] for r in routes if _attached(r))
        return (f"{said} HTTPRoute {names} is attached to the Service checkout ({MESH_CONTROLLER}: Accepted), "
                f"and its weights give checkout-v2 {configured:.0%}; every answer was a 2xx.")
    if m.counted > m.n:
        others = ", ".join(f"{w} ×{k}" for w, k in sorted(m.callers.items()))
        raise Hint(f"{said} That is {m.counted - m.n} more than the client sent: while the check measured, the "
                   f"waypoint counted requests to checkout from {others}. Check again once only the check's "
                   "requests reach checkout.")
    if m.counted < m.n and m.failed:
        error, k = max(m.failed.items(), key=lambda item: item[1])
        raise Hint(f"{said} {sum(m.failed.values())} of the client's curls got no HTTP answer: {k} × {error}.")
    if m.counted < m.n:
        raise Hint(f"{said} The waypoint counted only {m.counted} of the {m.n} requests: the others did not go "
                   f"through it (is {ns} still labelled istio.io/use-waypoint, and the client in the mesh?).")
    if m.errors:
        raise Hint(f"{said} The waypoint answered those itself: it could not send them to the backend the route "
                   f"chose. {route_words} Each backendRef needs a Service that exists and one of its ports (80).")
    if not any(_attached(r) for r in routes):
        raise Hint(f"{said} The waypoint balances over the Service checkout's two pods, one per version, as if "
                   f"there were no route: {route_words} A parentRef without group and kind names a Gateway; a "
                   "route for the mesh names the Service itself.")
    if configured is None:
        raise Hint(f"{said} {route_words} Give the route one rule whose backendRefs carry the weights.")
    if abs(configured - CANARY_SHARE) > 1e-9:
        raise Hint(f"{said} {route_words} Those weights give checkout-v2 {configured:.0%}, not "
                   f"{CANARY_SHARE:.0%}.")
    raise Hint(f"{said} The route's weights give checkout-v2 {configured:.0%}, but {share:.0%} of {m.counted} "
               f"is more than {TOLERANCE:.0%} away: check again (the waypoint picks at random, by weight).")


def picture(steps: list[tuple[str, Measured]], backend: str = "") -> Figure:
    """The golden signals of each measured step (:func:`k8snet.plots.golden_signals`)."""
    from .. import plots

    return plots.golden_signals([(label, m.rows) for label, m in steps], backend)


def exercises() -> list[Exercise]:
    return [
        Exercise("lock", "Lock payments to the cart", "lab08-lock", setup_lock, check_lock, "lock.yaml",
                 ["Symptom: intruder gets 200 from http://payments/hostname just as cart does: nothing checks who "
                  "calls. Once the namespace is in the mesh, watch for the next symptom: every request to payments "
                  "reset (curl exit 56), even cart's.",
                  "Each ztunnel logs every connection it closes, and why: kubectl logs -n istio-system -l "
                  "app=ztunnel. A line with src.workload=\"cart\" and 'maybe a NetworkPolicy is blocking HBONE port "
                  "15008' points at kubectl get networkpolicy -n lab08-lock: between two pods in the mesh, ztunnel "
                  "carries the connection to the destination's port 15008, not 8080.",
                  "Label the namespace istio.io/dataplane-mode=ambient; write an AuthorizationPolicy with selector "
                  "app: payments, action ALLOW, and one rule from principals [cluster.local/ns/lab08-lock/sa/cart]; "
                  "and add port 15008/TCP to NetworkPolicy payments-ingress."]),
        Exercise("readonly", "Read-only for reports", "lab08-readonly", setup_readonly, check_readonly,
                 "readonly.yaml",
                 ["Symptom: reports' GET to http://orders/ is reset (curl exit 56) while checkout's POST gets 200: "
                  "the rule that lets reports read is not enforced as written.",
                  "Read what istiod says on the policy: kubectl get authorizationpolicy orders-readonly -n "
                  "lab08-readonly -o yaml (status.conditions, ZtunnelAccepted). A policy with a selector is "
                  "enforced by ztunnel, which sees connections, not methods, so it drops a rule that names methods "
                  "and allows less. Where could a method be seen?",
                  "Deploy a waypoint and make the namespace's Services use it (k8snet.mesh.waypoint(cluster, "
                  "'lab08-readonly'), as istioctl waypoint apply --enroll-namespace --wait), and attach the policy "
                  "to the Service instead of selecting pods: targetRefs [{kind: Service, group: \"\", name: "
                  "orders}] in place of selector, the same rules."],
                 after_solution=_waypoint),
        Exercise("canary", "A canary by the numbers", "lab08-canary", setup_canary, check_canary, "canary.yaml",
                 ["Symptom: lab08.measure(cluster) shows the waypoint sending about half of the requests to "
                  "checkout-v2, although HTTPRoute checkout gives it weight 20 of 100.",
                  "Read the route's status (kubectl get httproute checkout -n lab08-canary -o yaml): has any "
                  "controller written a parent for it? Look at what its parentRefs name: without group and kind, "
                  "a parentRef names a Gateway.",
                  "Name the Service as the parent: parentRefs [{group: \"\", kind: Service, name: checkout, port: "
                  "80}], with the same weights (80 and 20)."]),
    ]
