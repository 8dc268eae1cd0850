"""The traffic helpers against the sandbox: distribution statistics, affinity, trace, DNS, reachability."""

from __future__ import annotations

import pytest

import k8snet
from k8snet import kubeproxy, traffic
from k8snet.labs.lab01 import backend
from k8snet.trace import trace

CHI2_DF2_P001 = 13.816  # chi-square critical value, 2 degrees of freedom, p = 0.001


@pytest.fixture
def web(sandbox, ns):
    cluster = k8snet.connect()
    cluster.apply(backend("web", 3, {"app": "web"}), namespace=ns)
    cluster.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                   "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80,
                                                                   "targetPort": "http"}]}}, namespace=ns)
    cluster.wait_ready("web", ns)
    client = traffic.ensure_client(cluster, ns)
    kubeproxy.wait_synced(cluster, client, ns, "web")  # kube-proxy on the client's node has the three endpoints
    return cluster, client


def test_kube_proxy_spreads_connections_uniformly(web):
    """virtual-ips docs: in iptables mode kube-proxy picks a backend at random for each new connection."""
    cluster, client = web
    result = traffic.send(cluster, client, "http://web/hostname", n=300)
    counts = result.counts()
    assert len(counts) == 3 and sum(counts.values()) == 300 and result.backend == "sandbox"
    chi2 = sum((c - 100) ** 2 / 100 for c in counts.values())
    assert chi2 < CHI2_DF2_P001, f"not uniform: {counts}"


def test_trace_reports_every_decision(web, ns):
    cluster, client = web
    t = trace(cluster, client, "http://web/hostname")
    kinds = [h["kind"] for h in t.hops]
    assert kinds[:3] == ["dns", "service", "endpoint"] and kinds[-1] == "pod"
    assert t.reported and t.status == 200 and t.answered_by.startswith("web-")
    fig = t.plot()
    texts = " ".join(txt.get_text() for txt in fig.axes[0].texts)
    assert "kube-proxy" in texts and t.answered_by[:20] in texts


def test_dns_and_reachability_probes(web, ns):
    cluster, client = web
    answer = traffic.nslookup(cluster, client, "web")
    assert answer.canonical == f"web.{ns}.svc.cluster.local" and len(answer.addresses) == 1
    missing = traffic.nslookup(cluster, client, "nope")
    assert missing.error and "NXDOMAIN" in missing.error
    assert traffic.connect(cluster, client, "web", 80).connected
    refused = traffic.connect(cluster, client, "web", 81)
    assert not refused.connected and refused.reason in ("TIMEOUT", "REFUSED")



def test_send_during_makes_the_change_while_the_requests_flow(web, ns):
    """The change comes once ``at`` requests have been answered; the later ones meet it (here a policy that
    drops everything to the web pods: their connections time out)."""
    cluster, client = web
    deny = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "deny"},
            "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"]}}
    run = traffic.send_during(cluster, client, "http://web/hostname", n=20, every=0.05, at=4, label="deny",
                              change=lambda: cluster.apply(deny, namespace=ns))
    assert [r.i for r in run.requests] == list(range(20)) and run.marks == [(4.5, "deny")] and run.every == 0.05
    assert all(r.pod for r in run.requests[:4]) and run.requests[-1].outcome == "timed out"
