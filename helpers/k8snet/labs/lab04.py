"""Lab 04 — Debugging Services: four broken setups from the checklist of kubernetes.io's "Debug Services".

Each setup fails the way a real one does (nothing answers, a client crash-loops), and each check grades
live traffic: requests from a client pod, or what a looping client pod logs. The hints go from the symptom
to the place to look; the fix is the learner's.

1. **targetport** — the Service's ``targetPort`` names a port no container declares;
2. **labels** — the pods are labelled with a typo, so the Service selects nothing;
3. **readiness** — a readiness probe that can never pass keeps every pod out of the endpoints;
4. **dns** — a client crash-loops because the name it calls does not resolve.
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
BUSYBOX = "busybox:1.36"


def server(name: str, labels: dict[str, str], probe: dict[str, Any] | None = None, replicas: int = 2) -> dict:
    """An agnhost netexec Deployment on 8080 (port name ``http``) answering its pod name on /hostname."""
    container: dict[str, Any] = {"name": "agnhost", "image": AGNHOST, "args": ["netexec", "--http-port=8080"],
                                 "ports": [{"containerPort": 8080, "name": "http"}]}
    if probe is not None:
        container["readinessProbe"] = probe
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}}}


def service(name: str, selector: dict[str, str], target: Any = "http") -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": selector, "ports": [{"name": "http", "port": 80, "targetPort": target}]}}


def loadgen(url: str) -> dict:
    """A client that fetches ``url`` once a second for ever, and gives up (exit 1) when a fetch fails."""
    script = f"while true; do wget -qO- -T 2 {url} || exit 1; echo; sleep 1; done"
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "loadgen"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "loadgen"}},
                     "template": {"metadata": {"labels": {"app": "loadgen"}},
                                  "spec": {"containers": [{"name": "loadgen", "image": BUSYBOX,
                                                           "command": ["sh", "-c", script]}]}}}}


def _get(cluster: Cluster, kind: str, name: str, ns: str) -> dict[str, Any]:
    try:
        return cluster.get(kind, name, ns)
    except ApiException as exc:
        if exc.status == 404:
            raise Hint(f'{kind} "{name}" is gone from namespace {ns}: run lab.setup() again to start over.') from None
        raise


def _traffic(cluster: Cluster, ns: str, svc: str, n: int = 10) -> traffic.TrafficResult:
    """``n`` requests to the Service's /hostname once kube-proxy on the client's node routes it as the API has it."""
    client = traffic.ensure_client(cluster, ns)
    kubeproxy.wait_synced(cluster, client, ns, svc)
    return traffic.send(cluster, client, f"http://{svc}/hostname", n=n)


def _answered_by(cluster: Cluster, ns: str, svc: str, app: str) -> str:
    """The shared final check: 10 requests through the Service, every one answered by one of the app's pods."""
    result = _traffic(cluster, ns, svc)
    pods = {p.metadata.name for p in cluster.core.list_namespaced_pod(ns, label_selector=f"app={app}").items}
    answered = {r.pod for r in result.requests if r.pod}
    if result.ok() < len(result) or not answered <= pods:
        first = next((r.error or f"HTTP {r.status}" for r in result.requests if not r.status or r.status >= 400), "")
        raise Hint(f"{len(result) - result.ok()} of {len(result)} requests to http://{svc}/hostname failed "
                   f"({first}).")
    return f"10 of 10 requests to http://{svc}/ were answered, by {len(answered)} {app} pods."


def _serving(cluster: Cluster, ns: str, svc: str, wait: float) -> int:
    """How many ready endpoints the Service's EndpointSlices offer on a port, waiting up to ``wait`` seconds
    for some to appear (a fix takes effect once the controllers and the new pods have caught up)."""
    discovery = client.DiscoveryV1Api(cluster.api)
    deadline = time.monotonic() + wait
    while True:
        slices = discovery.list_namespaced_endpoint_slice(ns, label_selector=f"kubernetes.io/service-name={svc}")
        ready = sum(1 for s in slices.items if s.ports for ep in s.endpoints or []
                    if ep.conditions and ep.conditions.ready)
        if ready or time.monotonic() > deadline:
            return ready
        time.sleep(0.25)


def _rolled_out(cluster: Cluster, ns: str, deployment: str, wait: float) -> None:
    """Wait up to ``wait`` seconds for the Deployment's rollout to complete (as ``kubectl rollout status``
    checks it); a rollout still under way then is measured as it stands."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        d = cluster.apps.read_namespaced_deployment(deployment, ns)
        want, st = d.spec.replicas or 0, d.status
        if (st.observed_generation or 0) >= (d.metadata.generation or 0) and \
                (st.updated_replicas or 0) == (st.replicas or 0) == (st.available_replicas or 0) == want:
            return
        time.sleep(0.1)


# -- 1: a targetPort that names nothing --------------------------------------------------------


def setup_targetport(cluster: Cluster, ns: str) -> None:
    cluster.apply([server("api", {"app": "api"}), service("api", {"app": "api"}, target="web")], namespace=ns)
    cluster.wait_ready("api", ns)
    traffic.ensure_client(cluster, ns)


def check_targetport(cluster: Cluster, ns: str) -> str:
    svc = _get(cluster, "Service", "api", ns)
    target = svc["spec"]["ports"][0].get("targetPort")
    if not _serving(cluster, ns, "api", wait=3):
        raise Hint(f"http://api/ is refused: `kubectl -n {ns} get endpointslices -l kubernetes.io/service-name=api` "
                   f"shows the Ready api pods but no port for them. The Service's targetPort is {target!r}: "
                   "a named targetPort must be the name of a containerPort in the pods (theirs is 'http', 8080).")
    return _answered_by(cluster, ns, "api", "api")


# -- 2: pods labelled with a typo -----------------------------------------------------------------


def setup_labels(cluster: Cluster, ns: str) -> None:
    deployment = server("orders", {"app": "ordres"})
    deployment["spec"]["selector"]["matchLabels"] = {"app": "ordres"}
    cluster.apply([deployment, service("orders", {"app": "orders"})], namespace=ns)
    cluster.wait_ready("orders", ns)
    traffic.ensure_client(cluster, ns)


def check_labels(cluster: Cluster, ns: str) -> str:
    svc = _get(cluster, "Service", "orders", ns)
    if not _serving(cluster, ns, "orders", wait=3):
        pods = cluster.core.list_namespaced_pod(ns).items
        labels = sorted({f"{k}={v}" for p in pods if p.metadata.name.startswith("orders-")
                         for k, v in (p.metadata.labels or {}).items() if k != "pod-template-hash"})
        raise Hint(f"http://orders/ is refused and the Service has no endpoints. Its selector is "
                   f"{svc['spec'].get('selector')}; the orders pods carry {labels}. Selector and labels must match "
                   "exactly (`kubectl get pods --show-labels`).")
    selector = svc["spec"].get("selector") or {}
    return _answered_by(cluster, ns, "orders", selector.get("app", "orders"))


# -- 3: a readiness probe that never passes ---------------------------------------------------------


WRONG_PROBE = {"httpGet": {"path": "/healthz", "port": 8081}, "periodSeconds": 2, "failureThreshold": 1}


def setup_readiness(cluster: Cluster, ns: str) -> None:
    cluster.apply([server("checkout", {"app": "checkout"}, probe=WRONG_PROBE), service("checkout", {"app": "checkout"})],
                  namespace=ns)
    _wait_running(cluster, ns, "app=checkout", 2)
    traffic.ensure_client(cluster, ns)


def check_readiness(cluster: Cluster, ns: str) -> str:
    if not _serving(cluster, ns, "checkout", wait=10):
        pods = cluster.core.list_namespaced_pod(ns, label_selector="app=checkout").items
        probe = pods[0].spec.containers[0].readiness_probe if pods else None
        where = f"{probe.http_get.path} on port {probe.http_get.port}" if probe and probe.http_get else "its probe"
        raise Hint("http://checkout/ is refused: the Service selects the checkout pods, but none is Ready "
                   f"(`kubectl -n {ns} get pods` shows 0/1), so none is a ready endpoint. `kubectl describe pod` "
                   f"shows why the readiness probe fails: it asks {where}; netexec answers /healthz on 8080.")
    _rolled_out(cluster, ns, "checkout", wait=30)  # the fix replaces the pods: measure once all new ones serve
    return _answered_by(cluster, ns, "checkout", "checkout")


# -- 4: a client that crash-loops on a name that does not resolve -----------------------------------


def setup_dns(cluster: Cluster, ns: str) -> None:
    cluster.apply([server("backend", {"app": "backend"}), service("backend", {"app": "backend"}),
                   loadgen("http://backnd/hostname")], namespace=ns)
    cluster.wait_ready("backend", ns)
    _wait_running(cluster, ns, "app=loadgen", 1, settle=False)


def check_dns(cluster: Cluster, ns: str) -> str:
    deadline = time.monotonic() + 8
    while True:
        pods = [p for p in cluster.core.list_namespaced_pod(ns, label_selector="app=loadgen").items
                if not p.metadata.deletion_timestamp]
        lines: list[str] = []
        for pod in pods:
            try:
                log = cluster.core.read_namespaced_pod_log(pod.metadata.name, ns)
            except ApiException:
                log = ""
            lines += [line for line in log.splitlines() if line.strip()]
        answers = [line for line in lines if line.startswith("backend-")]
        if len(answers) >= 2:
            return "loadgen fetches through the Service: its log shows the backend pods' answers."
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)
    problems = [line for line in lines if "bad address" in line or "wget:" in line]
    restarts = max((cs.restart_count for p in pods for cs in p.status.container_statuses or []), default=0)
    if problems:
        raise Hint(f"loadgen keeps crashing (restarts: {restarts}); its log says `{problems[-1]}`. "
                   "`kubectl logs deploy/loadgen` and `nslookup` from a pod show which names resolve: "
                   "the Service is called backend (backend.<namespace>.svc.cluster.local).")
    raise Hint("loadgen has not logged an answer from the backend pods yet: look at `kubectl logs deploy/loadgen` "
               "and the pods' STATUS.")


def _wait_running(cluster: Cluster, ns: str, selector: str, count: int, settle: bool = True,
                  timeout: float = 60) -> None:
    """Wait until ``count`` pods of ``selector`` have started (Running, ready or not)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pods = cluster.core.list_namespaced_pod(ns, label_selector=selector).items
        started = [p for p in pods if p.status.phase == "Running" or (p.status.container_statuses or [])]
        if len(started) >= count:
            return
        time.sleep(0.1)
    raise TimeoutError(f"pods {selector} in {ns} did not start within {timeout:.0f}s")


def exercises() -> list[Exercise]:
    return [
        Exercise("targetport", "A Service whose targetPort names nothing", "lab04-targetport", setup_targetport,
                 check_targetport, "targetport.yaml",
                 ["Symptom: requests to http://api/ are refused although the api pods are Running and Ready.",
                  "Look at the endpoints: `kubectl get endpointslices -l kubernetes.io/service-name=api`.",
                  "A named targetPort is looked up among each pod's containerPorts; compare the names."]),
        Exercise("labels", "Pods the Service does not select", "lab04-labels", setup_labels, check_labels,
                 "labels.yaml",
                 ["Symptom: http://orders/ is refused; the Service has no endpoints.",
                  "Compare `kubectl get svc orders -o jsonpath={.spec.selector}` with `kubectl get pods --show-labels`.",
                  "Fix the side that is wrong: the Service's selector or the pods' labels (a Deployment's selector "
                  "cannot change, so relabelling means a new Deployment)."]),
        Exercise("readiness", "Pods that never become Ready", "lab04-readiness", setup_readiness, check_readiness,
                 "readiness.yaml",
                 ["Symptom: http://checkout/ is refused; `kubectl get pods` shows READY 0/1.",
                  "`kubectl describe pod` lists the readiness probe's failures as events.",
                  "The probe must ask the port and path the container answers on (netexec: /healthz on 8080)."]),
        Exercise("dns", "A client that crash-loops", "lab04-dns", setup_dns, check_dns, "dns.yaml",
                 ["Symptom: the loadgen pod restarts again and again (CrashLoopBackOff).",
                  "Read its log: `kubectl logs deploy/loadgen --previous`.",
                  "Resolve the name from a pod (`nslookup backnd`, `nslookup backend`) and fix the URL."]),
    ]
