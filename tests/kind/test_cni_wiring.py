"""k8snet.cni.wiring on a real kind cluster (``make test-kind``): the same helper as on the sandbox, reading kind's
kindnet through ``ip`` in real pods and real node debugger pods. Addresses vary there (which node gets which
/24), so the checks are on what the wiring must be: names, the gateway as the first hop, the direct route."""

from __future__ import annotations

import pytest

from k8snet.cni import wiring
from k8snet.kind import versions
from k8snet.traffic import PodRef

pytestmark = pytest.mark.kind

NS = "k8snet-wiring"


@pytest.fixture(scope="module")
def paths(kind_cluster):
    kind_cluster.recreate_namespace(NS, timeout=180)
    pods = {"client": ("nicolaka/netshoot", "k8snet-worker", ["sleep", "3600"]),
            "server": (versions.AGNHOST_IMAGE, "k8snet-worker2", ["netexec"])}
    for name, (image, node, args) in pods.items():
        kind_cluster.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS},
                            "spec": {"nodeName": node, "containers": [{"name": name, "image": image, "args": args}]}})
    for name in pods:
        kind_cluster.wait_pod_ready(name, NS, timeout=180)
    yield kind_cluster, wiring.path(kind_cluster, PodRef(NS, "client"), PodRef(NS, "server"), timeout=300)
    kind_cluster.delete("Namespace", NS)


def test_kindnet_path_on_kind(paths):
    cluster, p = paths
    assert wiring.plugin(cluster) == p.plugin == "kindnet" and p.backend == "kind"
    assert p.source.host_side.name.startswith("veth") and p.target.host_side.name.startswith("veth")
    assert (p.wire.kind, p.wire.device, p.wire.mtu, p.wire.next_hop) == ("direct", "eth0", 1500, p.target.node_ip)
    assert [h.address for h in p.hops] == [p.pod_route.gateway, p.target.node_ip, p.target.ip]
    left = cluster.core.list_namespaced_pod("default", label_selector="app.kubernetes.io/managed-by=kubectl-debug")
    assert left.items == []
