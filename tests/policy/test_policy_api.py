"""k8snet.policy against the sandbox: the payment-isolation example, measured and predicted.

Both matrices are compared with expectations written by hand from the
Kubernetes documentation (concepts/services-networking/network-policies),
never with each other alone.
"""

from __future__ import annotations

import subprocess
import sys

from tests.policy.conftest import ALL, CART_TO_PAYMENT_API, DENY_ALL_INGRESS, netpol

from k8snet import kubeproxy, policy, traffic
from k8snet.cli import main as cli_main
from k8snet.trace import trace


def both(cluster, sources, targets, ports=(8080,)):
    return (policy.measure(cluster, sources, targets, ports=ports),
            policy.predict(cluster, sources, targets, ports=ports))


def assert_matches(expected, *matrices):
    for m in matrices:
        cmp = m.compare(expected)
        assert cmp.ok, f"{m.kind}:\n{cmp}\n{m.table()}"


def test_everything_reachable_without_policies(cluster):
    """"By default, a pod is non-isolated for egress … and for ingress" (network-policies docs)."""
    assert_matches(policy.expect(ALL, ALL, ports=[8080]), *both(cluster, ALL, ALL))


def test_default_deny_then_allow_only_cart(cluster):
    """The payment-isolation example: deny all ingress in payments, then allow cart → payment-api on its port."""
    cluster.apply(netpol("payments", "default-deny", DENY_ALL_INGRESS))
    expected = policy.expect(ALL, ALL, ports=[8080]).set("*", "payments/*", False)
    # "a pod cannot block access to itself"
    expected.set("payments/payment-api", "payments/payment-api", True).set("payments/ledger", "payments/ledger", True)
    assert_matches(expected, *both(cluster, ALL, ALL))

    cluster.apply(netpol("payments", "allow-cart", CART_TO_PAYMENT_API))
    expected.set("shop/cart", "payments/payment-api", True)
    assert_matches(expected, *both(cluster, ALL, ALL))


def test_separate_peers_are_or_and_one_peer_is_and(cluster):
    """namespaceSelector and podSelector in one peer: both must match; as two peers: either may."""
    cluster.apply(netpol("payments", "default-deny", DENY_ALL_INGRESS))
    loose = {"podSelector": {"matchLabels": {"app": "payment-api"}}, "ingress": [{"from": [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shop"}}},
        {"podSelector": {"matchLabels": {"app": "cart"}}}]}]}
    cluster.apply(netpol("payments", "allow-cart", loose))
    sources = ["shop/frontend", "shop/cart", "tools/debug", "payments/ledger"]
    expected = policy.expect(sources, ["payments/payment-api"], ports=[8080])
    # OR: every pod in shop (frontend too), but no pod labelled app=cart elsewhere; ledger is not in shop
    expected.set("tools/debug", "*", False).set("payments/ledger", "*", False)
    assert_matches(expected, *both(cluster, sources, ["payments/payment-api"]))

    cluster.apply(netpol("payments", "allow-cart", CART_TO_PAYMENT_API))
    expected.set("shop/frontend", "*", False)
    assert_matches(expected, *both(cluster, sources, ["payments/payment-api"]))


def test_a_service_target_is_judged_after_dnat(cluster):
    """Policies see the pod IP and target port after kube-proxy's DNAT, so a Service inherits its pods' policies."""
    cluster.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "payment-api", "namespace": "payments"},
                   "spec": {"selector": {"app": "payment-api"}, "ports": [{"port": 80, "targetPort": "http"}]}})
    cluster.apply(netpol("payments", "default-deny", DENY_ALL_INGRESS))
    cluster.apply(netpol("payments", "allow-cart", CART_TO_PAYMENT_API))
    kubeproxy.wait_synced(cluster, traffic.PodRef("shop", "cart"), "payments", "payment-api")  # the new ClusterIP
    target = ["svc:payments/payment-api"]
    expected = policy.expect(["shop/cart", "tools/debug"], target, ports=[80]).set("tools/debug", "*", False)
    assert_matches(expected, *both(cluster, ["shop/cart", "tools/debug"], target, ports=(80,)))


def test_egress_lockdown_needs_dns_allowed(cluster):
    """"DNS egress must be allowed explicitly when egress is isolated": lookups time out until port 53 is open."""
    client = traffic.PodRef("tools", "debug")
    cluster.apply(netpol("tools", "deny-egress", {"podSelector": {}, "policyTypes": ["Egress"]}))
    answer = traffic.nslookup(cluster, client, "kubernetes.default")
    assert answer.error and "timed out" in answer.raw, answer.raw
    probe = traffic.connect(cluster, client, "payment-api.payments", 80)
    assert not probe.connected and probe.reason.startswith("DNS: lookup payment-api.payments on 10.96.0.10:53: "
                                                           "read udp "), probe.reason

    cluster.apply(netpol("tools", "allow-dns", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
        "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}]}))
    answer = traffic.nslookup(cluster, client, "kubernetes.default")
    assert answer.error is None and answer.addresses == ["10.96.0.1"], answer.raw


def test_explain_walks_both_directions(cluster):
    cluster.apply(netpol("payments", "default-deny", DENY_ALL_INGRESS))
    cluster.apply(netpol("payments", "allow-cart", CART_TO_PAYMENT_API))
    allowed = policy.explain(cluster, "shop/cart", "payments/payment-api", 8080)
    text = str(allowed)
    assert allowed.allowed
    assert text.startswith("shop/cart → payments/payment-api on 8080/TCP: ALLOWED")
    assert "no NetworkPolicy selects it for Egress" in text
    assert "AND podSelector {app=cart}" in text and "both must match" in text
    assert "allowed by payments/allow-cart ingress rule 1" in text
    assert "policy payments/default-deny (podSelector {} = every pod):\n    no ingress rules" in text

    dropped = policy.explain(cluster, "shop/frontend", "payments/payment-api", 8080)
    assert not dropped.allowed
    assert "pod shop/frontend lacks app=cart" in str(dropped)
    assert "isolated by payments/allow-cart, payments/default-deny and no rule matched: dropped" in str(dropped)


def test_trace_reports_the_policy_drop(cluster):
    cluster.apply(netpol("payments", "default-deny", DENY_ALL_INGRESS))
    ip = cluster.core.read_namespaced_pod("ledger", "payments").status.pod_ip
    hops = trace(cluster, traffic.PodRef("tools", "debug"), f"http://{ip}:8080/hostname").hops
    drop = [h for h in hops if h["kind"] == "policy"]
    assert drop and "dropped" in drop[0]["summary"] and "payments/default-deny" in drop[0]["summary"]


def test_heatmap_marks_wrong_cells(cluster):
    cluster.apply(netpol("payments", "default-deny", DENY_ALL_INGRESS))
    measured = policy.measure(cluster, ["shop/cart"], ["payments/payment-api", "shop/frontend"], ports=[8080])
    expected = policy.expect(["shop/cart"], ["payments/payment-api", "shop/frontend"], ports=[8080])
    cmp = measured.compare(expected)
    assert str(cmp).splitlines()[0] == "1 wrong, 1 correct"
    assert "shop/cart → payments/payment-api 8080/TCP: expected allowed, got blocked (TIMEOUT)" in str(cmp)
    fig = measured.plot(expected)
    wrong = [a.get_gid() for a in fig.axes[0].patches if (a.get_gid() or "").startswith("wrong:")]
    assert wrong == ["wrong:shop/cart>payments/payment-api:8080/TCP"]
    assert "1 wrong, 1 correct" in fig._suptitle.get_text()


def test_explain_from_the_command_line(cluster, capsys):
    cluster.apply(netpol("payments", "default-deny", DENY_ALL_INGRESS))
    cli = [sys.executable, "-m", "k8snet.cli", "explain"]
    dropped = subprocess.run([*cli, "tools/debug", "payments/ledger", "--port", "8080"], capture_output=True, text=True)
    assert dropped.returncode == 3, dropped.stderr
    assert dropped.stdout.startswith("tools/debug → payments/ledger on 8080/TCP: DROPPED")
    assert "payments/default-deny" in dropped.stdout
    assert cli_main(["explain", "tools/nope", "payments/ledger", "--port", "8080"]) == 1
    assert 'pod "tools/nope" not found' in capsys.readouterr().err
