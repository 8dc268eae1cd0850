"""The upstream e2e network policy model in the sandbox: namespaces x, y, z; pods a, b, c; ports 80/81.

Built as kubernetes/kubernetes test/e2e/network/netpol builds it (model.go,
kubemanager.go): each namespace is labelled ``ns: <name>`` (and gets the
automatic ``kubernetes.io/metadata.name`` label from the API server); each pod
``<ns>/<p>`` is labelled ``pod: <p>`` and runs one agnhost container per
port and protocol —

- TCP:  ``/agnhost serve-hostname --tcp --http=false --port <port>``
- UDP:  ``/agnhost serve-hostname --udp --http=false --port <port>``
- SCTP: ``/agnhost porter`` with ``SERVE_SCTP_PORT_<port>=foo``

named ``cont-<port>-<proto>`` with a container port named ``serve-<port>-<proto>``;
and a Service ``s-<ns>-<p>`` selecting the pod, one port per container
(``service-port-<proto>-<port>``). The probes go to the Service's ClusterIP,
as upstream's probe.go does (``addrTo: job.PodTo.ServiceIP``).

The nine pods are created once per session and reused; every test starts and
ends with no NetworkPolicy in x, y or z and with the model's labels, the way
upstream's ``cleanNetworkPolicies`` resets between cases.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from tests.conftest import wait_for

import k8snet
from k8snet import kubeproxy
from k8snet.cluster import Cluster

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
NAMESPACES = ("x", "y", "z")
PODS = ("a", "b", "c")
PORTS = (80, 81)
PROTOCOLS = ("TCP", "UDP", "SCTP")
ALL_PODS = tuple(f"{ns}/{p}" for ns in NAMESPACES for p in PODS)


def container(port: int, protocol: str) -> dict[str, Any]:
    """One serving container, as upstream model.go's Container.Spec builds it."""
    proto = protocol.lower()
    env: list[dict[str, str]] = []
    if protocol == "SCTP":
        command = ["/agnhost", "porter"]
        env = [{"name": f"SERVE_SCTP_PORT_{port}", "value": "foo"}]
    else:
        command = ["/agnhost", "serve-hostname", f"--{proto}", "--http=false", "--port", str(port)]
    return {"name": f"cont-{port}-{proto}", "image": AGNHOST, "imagePullPolicy": "IfNotPresent",
            "command": command, "env": env,
            "ports": [{"containerPort": port, "name": f"serve-{port}-{proto}", "protocol": protocol}]}


def pod_manifest(ns: str, name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": {"pod": name}},
            "spec": {"terminationGracePeriodSeconds": 0,
                     "containers": [container(port, proto) for port in PORTS for proto in PROTOCOLS]}}


def service_manifest(ns: str, name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": f"s-{ns}-{name}", "namespace": ns},
            "spec": {"selector": {"pod": name},
                     "ports": [{"name": f"service-port-{proto.lower()}-{port}", "protocol": proto, "port": port}
                               for port in PORTS for proto in PROTOCOLS]}}


def namespace_manifest(ns: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"ns": ns}}}


@dataclass
class Model:
    """The live model: the cluster, and what the model's objects got (pod IPs, ClusterIPs)."""

    cluster: Cluster
    pod_ips: dict[str, str] = field(default_factory=dict)  # "x/a" -> 10.244.x.y
    service_ips: dict[str, str] = field(default_factory=dict)  # "x/a" -> ClusterIP of s-x-a
    uids: dict[str, str] = field(default_factory=dict)

    @property
    def net(self) -> client.NetworkingV1Api:
        return client.NetworkingV1Api(self.cluster.api)

    def policy(self, ns: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        """Create (or replace) a NetworkPolicy through the API, as upstream's CreatePolicy/UpdatePolicy."""
        body = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": name, "namespace": ns}, "spec": spec}
        applied = self.cluster.apply(body)
        return applied[0]

    def delete_policies(self) -> None:
        """Upstream kubemanager.cleanNetworkPolicies: delete every NetworkPolicy in x, y and z."""
        for ns in NAMESPACES:
            for np in self.net.list_namespaced_network_policy(ns).items:
                try:
                    self.net.delete_namespaced_network_policy(np.metadata.name, ns)
                except ApiException as exc:
                    if exc.status != 404:
                        raise

    def set_pod_labels(self, pod: str, labels: dict[str, str | None]) -> None:
        ns, name = pod.split("/")
        self.cluster.core.patch_namespaced_pod(name, ns, {"metadata": {"labels": labels}})

    def set_namespace_labels(self, ns: str, labels: dict[str, str | None]) -> None:
        self.cluster.core.patch_namespace(ns, {"metadata": {"labels": labels}})

    def restore_labels(self) -> None:
        """Put back the model's labels (tests such as 'updated pod/namespace' change them)."""
        for ns in NAMESPACES:
            current = self.cluster.core.read_namespace(ns).metadata.labels or {}
            want = {"ns": ns, "kubernetes.io/metadata.name": ns}
            extra = {k: None for k in current if k not in want}
            if extra or any(current.get(k) != v for k, v in want.items()):
                self.set_namespace_labels(ns, {**extra, "ns": ns})
        for pod in ALL_PODS:
            ns, name = pod.split("/")
            current = self.cluster.core.read_namespaced_pod(name, ns).metadata.labels or {}
            if current != {"pod": name}:
                self.set_pod_labels(pod, {**{k: None for k in current if k != "pod"}, "pod": name})

    def intact(self) -> bool:
        """Whether the nine pods are still the ones built (another test module may have reset the sandbox)."""
        if not self.uids:
            return False
        for pod in ALL_PODS:
            ns, name = pod.split("/")
            try:
                live = self.cluster.core.read_namespaced_pod(name, ns)
            except ApiException as exc:
                if exc.status == 404:
                    return False
                raise
            if live.metadata.uid != self.uids[pod] or live.metadata.deletion_timestamp:
                return False
        return True

    def build(self) -> None:
        """Create namespaces, pods and Services, and wait until every pod is Ready and every Service has it."""
        self.pod_ips, self.service_ips, self.uids = {}, {}, {}
        for ns in NAMESPACES:
            self.cluster.apply(namespace_manifest(ns))
        for ns in NAMESPACES:
            for p in PODS:
                self.cluster.apply(pod_manifest(ns, p))
                self.cluster.apply(service_manifest(ns, p))
        for ns in NAMESPACES:
            for p in PODS:
                live = self.cluster.wait_pod_ready(p, ns)
                key = f"{ns}/{p}"
                self.pod_ips[key] = live["status"]["pod_ip"]
                self.uids[key] = live["metadata"]["uid"]
                svc = self.cluster.core.read_namespaced_service(f"s-{ns}-{p}", ns)
                self.service_ips[key] = svc.spec.cluster_ip
                wait_for(lambda ns=ns, p=p: self._endpoint_ready(ns, p), what=f"EndpointSlice of s-{ns}-{p}")
        for ns in NAMESPACES:  # and kube-proxy routes every ClusterIP (it writes its rules at most once a second)
            for p in PODS:
                kubeproxy.wait_synced(self.cluster, "k8snet-worker", ns, f"s-{ns}-{p}")

    def _endpoint_ready(self, ns: str, p: str) -> bool:
        slices = client.DiscoveryV1Api(self.cluster.api).list_namespaced_endpoint_slice(
            ns, label_selector=f"kubernetes.io/service-name=s-{ns}-{p}").items
        return any(ep.conditions and ep.conditions.ready for s in slices for ep in s.endpoints or [])


@pytest.fixture(scope="package")
def netpol_model(sandbox) -> Iterator[Model]:
    """The x/y/z model for every test in this directory; its namespaces are deleted afterwards.

    Deleted so later tests and notebooks (00-setup lists the cluster's namespaces) see the cluster they expect.
    """
    m = Model(k8snet.connect())
    yield m
    if m.uids:
        for ns in NAMESPACES:
            m.cluster.delete("Namespace", ns, wait=True, timeout=120)


@pytest.fixture
def model(netpol_model: Model) -> Iterator[Model]:
    """The model, built on first use and rebuilt if something wiped it; no NetworkPolicy and the model's labels
    before and after each test."""
    if not netpol_model.intact():
        netpol_model.build()
    netpol_model.delete_policies()
    netpol_model.restore_labels()
    yield netpol_model
    netpol_model.delete_policies()
    netpol_model.restore_labels()
