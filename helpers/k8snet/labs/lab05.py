"""Lab 05 — Load balancing: three things a Service decides with nothing but its selector, its policy and the
pods behind it, graded on live traffic from a client pod.

1. **bluegreen** — the shop runs blue and green side by side; switch every request to green at once;
2. **local** — a per-node cache: keep each client's requests on its own node (``internalTrafficPolicy``);
3. **canary** — send about a quarter of new connections to a canary, with replica counts alone (kube-proxy
   picks each ready endpoint with equal probability).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .. import kubeproxy, traffic
from . import Exercise, Hint

if TYPE_CHECKING:
    from ..cluster import Cluster

AGNHOST = traffic.AGNHOST
WORKERS = ("k8snet-worker", "k8snet-worker2")


def server(name: str, labels: dict[str, str], replicas: int = 2, node: str | None = None) -> dict[str, Any]:
    """An agnhost netexec Deployment on 8080 (port ``http``) answering its pod name on /hostname."""
    spec: dict[str, Any] = {"containers": [{"name": "agnhost", "image": AGNHOST, "args": ["netexec", "--http-port=8080"],
                                            "ports": [{"containerPort": 8080, "name": "http"}]}]}
    if node:
        spec["nodeSelector"] = {"kubernetes.io/hostname": node}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": spec}}}


def service(name: str, selector: dict[str, str], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": selector, "ports": [{"name": "http", "port": 80, "targetPort": "http"}], **spec}}


def _get(cluster: Cluster, kind: str, name: str, ns: str) -> dict[str, Any]:
    try:
        return cluster.get(kind, name, ns)
    except ApiException as exc:
        if exc.status == 404:
            raise Hint(f'{kind} "{name}" is gone from namespace {ns}: run lab.setup() again to start over.') from None
        raise


def _answers(cluster: Cluster, ns: str, service: str, n: int) -> tuple[list[str], int]:
    """The pods that answered ``n`` requests from the client pod to the Service's /hostname, and how many
    failed, once kube-proxy on the client's node routes the Service as the API has it."""
    client = traffic.ensure_client(cluster, ns)
    kubeproxy.wait_synced(cluster, client, ns, service)
    result = traffic.send(cluster, client, f"http://{service}/hostname", n=n)
    return [r.pod for r in result.requests if r.pod], len(result) - result.ok()


def _pods(cluster: Cluster, ns: str, selector: str) -> dict[str, Any]:
    return {p.metadata.name: p for p in cluster.core.list_namespaced_pod(ns, label_selector=selector).items
            if not p.metadata.deletion_timestamp}


def _ready_endpoints(cluster: Cluster, ns: str, svc: str) -> list[str]:
    """The pod names of the Service's ready endpoints."""
    slices = client.DiscoveryV1Api(cluster.api).list_namespaced_endpoint_slice(
        ns, label_selector=f"kubernetes.io/service-name={svc}")
    return sorted(ep.target_ref.name for s in slices.items for ep in s.endpoints or []
                  if ep.conditions and ep.conditions.ready and ep.target_ref)


def _settled(cluster: Cluster, ns: str, svc: str, want: Any, wait: float = 8) -> list[str]:
    """The ready endpoints once ``want(endpoints)`` holds or ``wait`` seconds have passed (a rollout or a
    selector change takes the controllers a moment)."""
    deadline = time.monotonic() + wait
    while True:
        eps = _ready_endpoints(cluster, ns, svc)
        if want(eps) or time.monotonic() > deadline:
            return eps
        time.sleep(0.25)


# -- 1: blue/green -------------------------------------------------------------------------------------


def setup_bluegreen(cluster: Cluster, ns: str) -> None:
    cluster.apply([server("shop-blue", {"app": "shop", "version": "blue"}),
                   server("shop-green", {"app": "shop", "version": "green"}),
                   service("shop", {"app": "shop"})], namespace=ns)
    cluster.wait_ready("shop-blue", ns)
    cluster.wait_ready("shop-green", ns)
    traffic.ensure_client(cluster, ns)


def check_bluegreen(cluster: Cluster, ns: str) -> str:
    selector = (_get(cluster, "Service", "shop", ns)["spec"].get("selector") or {})
    green = set(_pods(cluster, ns, "app=shop,version=green"))
    _settled(cluster, ns, "shop", lambda eps: bool(eps) and set(eps) <= green)
    answered, failed = _answers(cluster, ns, "shop", 30)
    if failed == 30:
        raise Hint(f"all 30 requests to http://shop/ failed: the Service (selector {selector}) has no ready "
                   "endpoint. Both colours carry app: shop; the green pods also carry version: green.")
    wrong = [p for p in answered if p not in green]
    if wrong or failed:
        raise Hint(f"{len(wrong)} of 30 requests were answered by pods that are not green ({sorted(set(wrong))[:2]}"
                   f"{'…' if len(set(wrong)) > 2 else ''}){f', and {failed} failed' if failed else ''}. The Service's "
                   f"selector is {selector}: which labels do only the green pods carry "
                   f"(`kubectl -n {ns} get pods --show-labels`)?")
    return f"30 of 30 requests were answered by green pods ({len(set(answered))} of them): the switch is complete."


# -- 2: internalTrafficPolicy: Local ------------------------------------------------------------------------


def setup_local(cluster: Cluster, ns: str) -> None:
    cluster.apply([server(f"cache-{node.rsplit('-', 1)[-1]}", {"app": "cache", "zone": node}, 1, node)
                   for node in WORKERS] + [service("cache", {"app": "cache"})], namespace=ns)
    for node in WORKERS:
        cluster.wait_ready(f"cache-{node.rsplit('-', 1)[-1]}", ns)
    traffic.ensure_client(cluster, ns)


def check_local(cluster: Cluster, ns: str) -> str:
    svc = _get(cluster, "Service", "cache", ns)
    policy = svc["spec"].get("internalTrafficPolicy", "Cluster")
    node = cluster.core.read_namespaced_pod("client", ns).spec.node_name
    pods = _pods(cluster, ns, "app=cache")
    here = {name for name, p in pods.items() if p.spec.node_name == node}
    if not here:
        raise Hint(f"no cache pod runs on the client's node {node}: run lab.setup('local') again.")
    answered, failed = _answers(cluster, ns, "cache", 20)
    elsewhere = [p for p in answered if p not in here]
    if elsewhere or failed:
        raise Hint(f"the client runs on {node}, but {len(elsewhere)} of 20 requests were answered by a cache pod on "
                   f"another node{f' and {failed} failed' if failed else ''}. The Service's internalTrafficPolicy is "
                   f"{policy}: kube-proxy picks among every ready endpoint in the cluster unless it is Local.")
    return f"20 of 20 requests from {node} were answered on {node} ({', '.join(sorted(here))})."


# -- 3: a canary share by replica counts -----------------------------------------------------------------


def setup_canary(cluster: Cluster, ns: str) -> None:
    cluster.apply([server("checkout", {"app": "checkout", "track": "stable"}, 3),
                   server("checkout-canary", {"app": "checkout", "track": "canary"}, 3),
                   service("checkout", {"app": "checkout"})], namespace=ns)
    cluster.wait_ready("checkout", ns)
    cluster.wait_ready("checkout-canary", ns)
    traffic.ensure_client(cluster, ns)


def check_canary(cluster: Cluster, ns: str) -> str:
    selector = _get(cluster, "Service", "checkout", ns)["spec"].get("selector") or {}
    if selector != {"app": "checkout"}:
        raise Hint(f"the Service's selector is {selector}: keep it {{'app': 'checkout'}}, so both tracks stay "
                   "behind it; the share is set by how many ready pods each track has.")

    def tracks(eps: list[str]) -> tuple[int, int]:
        pods = _pods(cluster, ns, "app=checkout")
        canary = sum(1 for e in eps if e in pods and (pods[e].metadata.labels or {}).get("track") == "canary")
        return canary, len(eps) - canary

    eps = _settled(cluster, ns, "checkout", lambda e: tracks(e)[0] * 4 == len(e) and len(e) > 0)
    canary, stable = tracks(eps)
    share = canary / (canary + stable) if canary + stable else 0
    if not canary or not stable or abs(share - 0.25) > 1e-9:
        raise Hint(f"the Service has {canary} canary and {stable} stable ready endpoints, so the canary gets "
                   f"{share:.0%} of new connections: kube-proxy picks each ready endpoint with equal probability. "
                   "Which replica counts make that 25%?")
    answered, failed = _answers(cluster, ns, "checkout", 40)
    seen = {p.rsplit("-", 2)[0] for p in answered}
    if failed or seen != {"checkout", "checkout-canary"}:
        raise Hint(f"{failed} of 40 requests failed, or one track never answered ({sorted(seen)}): wait for the "
                   "rollout (`kubectl rollout status`) and check again.")
    hits = sum(1 for p in answered if p.startswith("checkout-canary-"))
    return (f"1 canary of {canary + stable} ready endpoints: 25% of new connections; in 40 requests the canary "
            f"answered {hits}.")


def exercises() -> list[Exercise]:
    return [
        Exercise("bluegreen", "Switch the shop from blue to green", "lab05-bluegreen", setup_bluegreen,
                 check_bluegreen, "bluegreen.yaml",
                 ["Symptom: requests to http://shop/ are answered by blue and green pods alike.",
                  "Look at the Service's selector and the pods' labels (`kubectl get pods --show-labels`).",
                  "Add the label only the green pods carry to the Service's selector: the switch is all at once."]),
        Exercise("local", "Keep a node's requests on its node", "lab05-local", setup_local, check_local,
                 "local.yaml",
                 ["Symptom: the client's requests reach cache pods on both workers.",
                  "A Service's spec.internalTrafficPolicy decides which endpoints a ClusterIP may use.",
                  "internalTrafficPolicy: Local keeps each node's traffic on that node's own endpoints."]),
        Exercise("canary", "A quarter of the traffic to the canary", "lab05-canary", setup_canary, check_canary,
                 "canary.yaml",
                 ["Symptom: half of the requests to http://checkout/ reach the canary.",
                  "Count the ready endpoints of each track: kube-proxy gives each ready endpoint an equal share.",
                  "Scale the canary to 1 replica and keep 3 stable ones (1 of 4 endpoints is 25%)."]),
    ]
