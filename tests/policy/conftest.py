"""The policy lessons' scenario in the sandbox: a shop, its payments and a tools namespace.

Shared by the tests in this directory: ``shop/frontend``, ``shop/cart``,
``payments/payment-api``, ``payments/ledger`` and ``tools/debug``, each an
agnhost netexec pod labelled ``app: <name>`` serving HTTP on 8080 (container
port named ``http``). The ``cluster`` fixture builds them once per test module;
every test starts and ends with no NetworkPolicy in the three namespaces.
The manifests helpers are imported by the tests (``from tests.policy.conftest
import pod, netpol``), as tests/netpol imports ``tests.conftest``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import k8snet
from k8snet import traffic
from k8snet.cluster import Cluster

AGNHOST = traffic.AGNHOST
PODS = {"shop": ["frontend", "cart"], "payments": ["payment-api", "ledger"], "tools": ["debug"]}
ALL = [f"{ns}/{p}" for ns, pods in PODS.items() for p in pods]
NETPOL_API = "networking.k8s.io/v1"


def pod(ns: str, name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
            "spec": {"containers": [{"name": "agnhost", "image": AGNHOST, "args": ["netexec", "--http-port=8080"],
                                     "ports": [{"containerPort": 8080, "name": "http"}]}]}}


def netpol(ns: str, name: str, spec: dict) -> dict:
    return {"apiVersion": NETPOL_API, "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


DENY_ALL_INGRESS = {"podSelector": {}, "policyTypes": ["Ingress"]}
CART_TO_PAYMENT_API = {"podSelector": {"matchLabels": {"app": "payment-api"}}, "ingress": [{
    "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shop"}},
              "podSelector": {"matchLabels": {"app": "cart"}}}],
    "ports": [{"port": "http"}]}]}


@pytest.fixture(scope="module")
def cluster(sandbox) -> Iterator[Cluster]:
    cluster = k8snet.connect()
    for ns, names in PODS.items():
        cluster.recreate_namespace(ns)
        cluster.apply([pod(ns, n) for n in names])
    for ns, names in PODS.items():
        for n in names:
            cluster.wait_pod_ready(n, ns, 60)
    yield cluster
    for ns in PODS:
        cluster.delete("Namespace", ns, wait=False)


@pytest.fixture(autouse=True)
def no_policies(cluster: Cluster) -> Iterator[None]:
    yield
    for ns in PODS:
        for p in cluster.get("NetworkPolicy", namespace=ns, api_version=NETPOL_API):
            cluster.delete("NetworkPolicy", p["metadata"]["name"], ns, api_version=NETPOL_API)
