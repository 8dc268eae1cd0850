"""Lab 01 — Services: expose a Deployment, fix a Service that selects nothing, make a client stick.

Each check looks at the live cluster and at real traffic from a client pod,
and names the object, field or traffic result that is off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubernetes.client.exceptions import ApiException

from .. import kubeproxy, traffic
from . import Exercise, Hint

if TYPE_CHECKING:
    from ..cluster import Cluster

AGNHOST = traffic.AGNHOST


def backend(name: str, replicas: int, labels: dict[str, str], port_name: str = "http") -> dict:
    """An agnhost netexec Deployment answering its pod name on /hostname (port 8080)."""
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "agnhost", "image": AGNHOST,
                                                           "args": ["netexec", "--http-port=8080"],
                                                           "ports": [{"containerPort": 8080, "name": port_name}]}]}}}}


def _service(cluster: Cluster, ns: str, name: str):
    try:
        return cluster.core.read_namespaced_service(name, ns)
    except ApiException as exc:
        if exc.status == 404:
            raise Hint(f'Service "{name}" does not exist yet in namespace {ns}. Create it with '
                       f'`kubectl -n {ns} create service …` or apply a Service manifest.') from None
        raise


def _requests(cluster: Cluster, ns: str, service: str, n: int) -> traffic.TrafficResult:
    """``n`` requests to the Service's /hostname, once kube-proxy on the client's node has written it as the API
    has it (it rewrites its rules at most once a second, so a fix just applied may not be routed yet)."""
    client = traffic.ensure_client(cluster, ns)
    kubeproxy.wait_synced(cluster, client, ns, service)
    return traffic.send(cluster, client, f"http://{service}/hostname", n=n)


def _ready_pods(cluster: Cluster, ns: str, selector: str) -> set[str]:
    pods = cluster.core.list_namespaced_pod(ns, label_selector=selector).items
    return {p.metadata.name for p in pods
            if any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])}


# -- exercise 1: expose -----------------------------------------------------------------


def setup_expose(cluster: Cluster, ns: str) -> None:
    cluster.apply(backend("shop", 3, {"app": "shop"}), namespace=ns)
    cluster.wait_ready("shop", ns)
    traffic.ensure_client(cluster, ns)


def check_expose(cluster: Cluster, ns: str) -> str:
    svc = _service(cluster, ns, "shop")
    ports = svc.spec.ports or []
    port80 = next((p for p in ports if p.port == 80), None)
    if port80 is None:
        raise Hint(f'Service "shop" listens on port(s) {", ".join(str(p.port) for p in ports)}; '
                   "the shop is expected on port 80 (spec.ports[].port: 80).")
    selector = svc.spec.selector or {}
    if not selector:
        raise Hint('Service "shop" has no spec.selector, so no pods are behind it: select the pods with app: shop.')
    endpoints = traffic.endpoints_of(cluster, ns, "shop")
    if not endpoints:
        pods = cluster.core.list_namespaced_pod(ns, label_selector="app=shop").items
        labels = pods[0].metadata.labels if pods else {}
        raise Hint(f'Service "shop" selects {selector}, which matches no pod: the shop pods are labelled {labels}.')
    result = _requests(cluster, ns, "shop", 12)
    if result.ok() < len(result):
        errors = sorted({r.error or f"HTTP {r.status}" for r in result.requests if not r.status or r.status >= 400})
        target = port80.target_port
        raise Hint(f"{len(result) - result.ok()} of {len(result)} requests to http://shop/ failed ({errors[0]}). "
                   f"spec.ports[0].targetPort is {target!r}: the shop pods listen on 8080 (port name 'http').")
    answered = {r.pod for r in result.requests}
    return f"12 requests to http://shop/ were answered by {len(answered)} shop pods: the Service works."


# -- exercise 2: fix the selector --------------------------------------------------------------


def setup_selector(cluster: Cluster, ns: str) -> None:
    cluster.apply(backend("cart", 2, {"app": "cart", "tier": "backend"}), namespace=ns)
    cluster.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "cart"},
                   "spec": {"selector": {"app": "carts", "tier": "backend"},
                            "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}, namespace=ns)
    cluster.wait_ready("cart", ns)
    traffic.ensure_client(cluster, ns)


def check_selector(cluster: Cluster, ns: str) -> str:
    svc = _service(cluster, ns, "cart")
    selector = svc.spec.selector or {}
    endpoints = traffic.endpoints_of(cluster, ns, "cart")
    ready = [e for e in endpoints if e["ready"]]
    if not ready:
        pods = cluster.core.list_namespaced_pod(ns, label_selector="tier=backend").items
        labels = pods[0].metadata.labels if pods else {}
        wrong = {k: v for k, v in selector.items() if labels.get(k) != v}
        raise Hint(f'Service "cart" has no endpoints: its selector {selector} does not match the cart pods '
                   f"(labelled {labels}); the mismatch is {wrong}.")
    result = _requests(cluster, ns, "cart", 10)
    cart_pods = _ready_pods(cluster, ns, "app=cart")
    answered = {r.pod for r in result.requests if r.pod}
    if result.ok() < len(result) or not answered <= cart_pods:
        raise Hint(f"Requests to http://cart/ did not all reach the cart pods: answers {result.counts()}.")
    return f"Service cart now has {len(ready)} ready endpoints and answered 10 of 10 requests."


# -- exercise 3: session affinity ---------------------------------------------------------------


def setup_sticky(cluster: Cluster, ns: str) -> None:
    cluster.apply(backend("session", 3, {"app": "session"}), namespace=ns)
    cluster.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "session"},
                   "spec": {"selector": {"app": "session"},
                            "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}, namespace=ns)
    cluster.wait_ready("session", ns)
    traffic.ensure_client(cluster, ns)


def check_sticky(cluster: Cluster, ns: str) -> str:
    svc = _service(cluster, ns, "session")
    if len(traffic.endpoints_of(cluster, ns, "session")) < 2:
        raise Hint('Service "session" should keep its 3 pods behind it: stickiness only means something with '
                   "several endpoints.")
    result = _requests(cluster, ns, "session", 20)
    answered = {r.pod for r in result.requests if r.pod}
    if result.ok() < len(result):
        raise Hint(f"Some requests to http://session/ failed: {result.counts()}.")
    if len(answered) > 1:
        raise Hint(f"20 requests from the client were answered by {len(answered)} different pods "
                   f"({', '.join(sorted(answered))}): spec.sessionAffinity is {svc.spec.session_affinity!r}; "
                   "kube-proxy keeps a client on one endpoint only with sessionAffinity: ClientIP.")
    return f"All 20 requests were answered by {answered.pop()}: the client sticks to one backend."


def exercises() -> list[Exercise]:
    return [
        Exercise("expose", "Expose the shop on port 80", "lab01-expose", setup_expose, check_expose,
                 "expose.yaml", ["A Service selects pods by label: the shop pods carry app: shop.",
                                 "port is what clients call (80); targetPort is where the pods listen (8080, "
                                 "named http)."]),
        Exercise("selector", "Fix the Service that selects nothing", "lab01-selector", setup_selector,
                 check_selector, "selector.yaml",
                 ["Compare `kubectl get svc cart -o jsonpath={.spec.selector}` with "
                  "`kubectl get pods --show-labels`.", "No matching pod, no EndpointSlice endpoints."]),
        Exercise("sticky", "Make a client stick to one backend", "lab01-sticky", setup_sticky, check_sticky,
                 "sticky.yaml", ["Look at spec.sessionAffinity in the Service reference.",
                                 "ClientIP affinity is kept for sessionAffinityConfig.clientIP.timeoutSeconds."]),
    ]
