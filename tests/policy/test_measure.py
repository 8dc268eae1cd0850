"""policy.measure's probe scripts: many probes per exec, each cell keeping its own verdict and reason.

The verdicts are checked against expectations written from the network-policies
documentation and agnhost connect's output (test/images/agnhost/connect/connect.go:
TIMEOUT for a drop, REFUSED when nothing listens).
"""

from __future__ import annotations

from tests.policy.conftest import AGNHOST, ALL, DENY_ALL_INGRESS, netpol

from k8snet import policy


def test_more_probes_than_one_exec_holds_keep_their_own_verdicts(cluster):
    ports = [8080, 9999, 8081, 80, 443, 8443]  # 5 targets × 6 ports = 30 probes per source: two execs each
    assert len(ALL) * len(ports) > policy.PROBES_PER_EXEC
    cluster.apply(netpol("payments", "default-deny", DENY_ALL_INGRESS))
    m = policy.measure(cluster, ALL, ALL, ports=ports)
    for (src, dst, port, _), cell in m.cells.items():
        blocked = dst.startswith("payments/") and src != dst
        if blocked:
            assert cell == policy.Cell(False, "TIMEOUT"), (src, dst, port)
        elif port == 8080:
            assert cell == policy.Cell(True, "connected"), (src, dst, port)
        else:
            assert cell == policy.Cell(False, "REFUSED"), (src, dst, port)


def test_udp_reasons_keep_their_whole_line(cluster):
    m = policy.measure(cluster, ["shop/cart"], ["shop/frontend"], ports=[9999], protocols=["UDP"])
    reason = m.cells[("shop/cart", "shop/frontend", 9999, "UDP")].reason
    assert reason.startswith("REFUSED: read udp ") and reason.endswith(":9999: connection refused")


def test_probes_run_in_the_default_container_of_a_multi_container_pod(cluster):
    """kubectl exec without -c: the kubectl.kubernetes.io/default-container annotation, else the first container."""
    def serving(port: int) -> dict:
        return {"name": f"cont-{port}-tcp", "image": AGNHOST,
                "command": ["/agnhost", "serve-hostname", "--tcp", "--http=false", "--port", str(port)],
                "ports": [{"containerPort": port, "name": f"serve-{port}-tcp"}]}

    two = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "two", "namespace": "tools", "labels": {"app": "two"}},
           "spec": {"containers": [serving(80), serving(81)], "terminationGracePeriodSeconds": 1}}
    annotated = {**two, "metadata": {**two["metadata"], "name": "annotated",
                                     "annotations": {"kubectl.kubernetes.io/default-container": "cont-81-tcp"}}}
    cluster.apply([two, annotated])
    try:
        for name in ("two", "annotated"):
            cluster.wait_pod_ready(name, "tools", 60)
        sources = ["tools/two", "tools/annotated"]
        m = policy.measure(cluster, sources, ["tools/two", "shop/cart"], ports=[80, 81, 8080])
        want = policy.expect(sources, ["tools/two", "shop/cart"], ports=[80, 81, 8080], allowed=False)
        want.set("*", "tools/two", True, port=80).set("*", "tools/two", True, port=81)
        want.set("*", "shop/cart", True, port=8080)
        assert m.compare(want).ok, str(m.compare(want))
    finally:  # both at once: serve-hostname waits out its grace period (1 s here)
        for name in ("two", "annotated"):
            cluster.delete("Pod", name, "tools")
        for name in ("two", "annotated"):
            cluster.wait_gone("Pod", name, "tools")


def test_parse_probes_pairs_each_marker_with_what_came_before_it():
    out = "\n".join(["@@k8snet-probe 0", "TIMEOUT", "@@k8snet-probe 1", "", "REFUSED", "@@k8snet-probe 1",
                     "DNS: lookup nope on 10.96.0.10:53: no such host"])
    assert policy._parse_probes(out) == [(0, ""), (1, "TIMEOUT"), (1, "REFUSED")]
