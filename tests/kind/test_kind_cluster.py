"""A real kind cluster (``make test-kind``): what ``k8snet kind up`` promises, checked from outside and inside.

Skipped with the reason where Docker or kind is missing, and never part of
``make test``. Names and timings vary on a real cluster, so the checks are on
conditions (Ready, an answer, an IP), each awaited with a timeout.
"""

from __future__ import annotations

import pytest

from k8snet import canary, traffic
from k8snet.kind import lifecycle, readiness, versions

pytestmark = pytest.mark.kind

NS = "k8snet-kindtest"


@pytest.fixture(scope="module")
def ns(kind_cluster):
    kind_cluster.recreate_namespace(NS, timeout=180)
    yield NS
    kind_cluster.delete("Namespace", NS)


def web(ns: str) -> list[dict]:
    labels = {"app": "web"}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns},
         "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels},
                               "spec": {"containers": [{"name": "agnhost", "image": versions.AGNHOST_IMAGE,
                                                        "args": ["netexec", "--http-port=8080"],
                                                        "ports": [{"containerPort": 8080, "name": "http"}]}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": ns},
         "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": "http"}]}},
    ]


def test_up_made_the_promised_cluster(kind_cluster):
    report = kind_cluster.up_report
    assert sorted(n.metadata.name for n in kind_cluster.nodes()) == sorted(versions.NODE_NAMES)
    assert kind_cluster.version().startswith(versions.KUBERNETES_VERSION)
    assert [a.traefik for a in report.edge] == [True, True]
    assert report.load_balancer_ip
    assert report.canary is not None and report.canary.enforced is not None


def test_up_again_is_idempotent(kind_cluster):
    report = lifecycle.up(lifecycle.Options(canary=False), say=lambda line: None)
    assert report.created is False
    assert [a.traefik for a in report.edge] == [True, True]


def test_status_is_ready(kind_cluster):
    st = lifecycle.status()
    assert st.ready, st.problems
    assert st.traefik == versions.TRAEFIK_IMAGE and all(st.crds.values()) and all(st.nodes.values())


def test_an_ingress_answers_on_the_edge_port(kind_cluster, ns):
    kind_cluster.apply(web(ns))
    kind_cluster.apply({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                        "metadata": {"name": "web", "namespace": ns},
                        "spec": {"rules": [{"host": "web.k8snet.test", "http": {"paths": [
                            {"path": "/", "pathType": "Prefix",
                             "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}})
    kind_cluster.wait_ready("web", ns, timeout=180)
    ingress = kind_cluster.get("Ingress", "web", ns, api_version="networking.k8s.io/v1")
    assert ingress["spec"]["ingressClassName"] == "traefik"  # the default class, filled in by admission
    http_port, _ = versions.edge_ports()

    def hostname():
        a = readiness.probe_edge(http_port, False, host="web.k8snet.test", path="/hostname")
        return (a.body if a.status == 200 else None), str(a)

    assert readiness.until(hostname, 60, "the Ingress to answer on the edge").startswith("web-")


def test_a_gateway_route_answers_through_traefik(kind_cluster, ns):
    kind_cluster.apply(web(ns))
    kind_cluster.apply([
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "gw", "namespace": ns},
         "spec": {"gatewayClassName": "traefik",
                  "listeners": [{"name": "web", "port": 8000, "protocol": "HTTP"}]}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "web", "namespace": ns},
         "spec": {"parentRefs": [{"name": "gw"}], "hostnames": ["gw.k8snet.test"],
                  "rules": [{"backendRefs": [{"name": "web", "port": 80}]}]}},
    ])
    http_port, _ = versions.edge_ports()

    def hostname():
        a = readiness.probe_edge(http_port, False, host="gw.k8snet.test", path="/hostname")
        return (a.body if a.status == 200 else None), str(a)

    assert readiness.until(hostname, 90, "the HTTPRoute to answer on the edge").startswith("web-")


def test_a_load_balancer_service_gets_an_external_ip(kind_cluster, ns):
    kind_cluster.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lb", "namespace": ns},
                        "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80,
                                                                                                  "targetPort": 8080}]}})
    ip = readiness.until(lambda: readiness.load_balancer_address(kind_cluster, ns, "lb"), 120, "an external IP")
    assert ip


def test_traffic_helpers_work_unchanged(kind_cluster, ns):
    kind_cluster.apply(web(ns))
    kind_cluster.wait_ready("web", ns, timeout=180)
    client = traffic.ensure_client(kind_cluster, ns, timeout=180)
    result = traffic.send(kind_cluster, client, "http://web/hostname", n=20)
    assert result.backend == "kind" and result.ok() == 20
    assert all(pod.startswith("web-") for pod in result.counts())


def test_network_policy_is_enforced(kind_cluster):
    result = canary.policy_enforcement_check(kind_cluster)
    assert result.enforced is True, str(result)
