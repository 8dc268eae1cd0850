"""The NetworkPolicy canary, end to end against a real sandbox process (the same code runs on kind)."""

from __future__ import annotations

import pytest
from tests.conftest import wait_for

import k8snet
from k8snet import canary


@pytest.fixture
def cluster(sandbox):
    return k8snet.connect("sandbox", start=False)


def namespace_gone(cluster) -> bool:
    return canary.NAMESPACE not in cluster.namespaces()


def test_the_canary_runs_end_to_end_and_returns_a_well_formed_verdict(cluster):
    result = canary.policy_enforcement_check(cluster, settle=3)
    assert result.backend == "sandbox" and result.enforced is True, str(result)
    before = result.probes[0]
    assert before.connected and before.backend == "sandbox"  # the server was reachable before the policy
    assert len(result.probes) >= 2 and not result.probes[-1].connected
    assert result.fix is None and result.probes[-1].reason == "TIMEOUT"
    assert "blocked the probe (TIMEOUT)" in result.detail
    assert str(result).startswith("NetworkPolicy on sandbox: enforced.")
    assert result.verdict in result._repr_html_()
    wait_for(lambda: namespace_gone(cluster), 30, "the canary namespace to be deleted")


def test_the_sandbox_enforces_network_policy(cluster):
    """Passes once the sandbox's policy engine is in: the policy lesson relies on it."""
    result = canary.policy_enforcement_check(cluster, settle=3)
    assert result.enforced is True, str(result)


def test_keep_leaves_the_canary_to_look_at(cluster, sandbox):
    canary.policy_enforcement_check(cluster, settle=1, keep=True)
    try:
        pods = sandbox.kubectl("get", "pods", "-n", canary.NAMESPACE, "-o", "name").stdout.split()
        assert pods == ["pod/canary-client", "pod/canary-server"]
        policy = sandbox.kubectl_json("get", "networkpolicy", canary.POLICY, "-n", canary.NAMESPACE)
        assert policy["spec"]["podSelector"] == {"matchLabels": {"app": canary.SERVER}}
        assert policy["spec"]["policyTypes"] == ["Ingress"] and "ingress" not in policy["spec"]
    finally:
        cluster.delete("Namespace", canary.NAMESPACE, wait=True)


def test_a_server_that_cannot_be_reached_at_all_is_inconclusive(cluster, monkeypatch):
    """Nothing listens on the probed port (http-echo listens on 5678): no verdict about policies."""
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": canary.SERVER, "namespace": canary.NAMESPACE, "labels": {"app": canary.SERVER}},
           "spec": {"containers": [{"name": "echo", "image": "hashicorp/http-echo:1.0.0", "args": ["-text=hi"]}]}}
    monkeypatch.setattr(canary, "_server_pod", lambda: pod)
    result = canary.policy_enforcement_check(cluster, settle=1)
    assert result.enforced is None and result.verdict == "inconclusive"
    assert "even without a policy: REFUSED" in result.detail and result.fix == canary.BROKEN_FIX
    assert len(result.probes) == 1
    wait_for(lambda: namespace_gone(cluster), 30, "the canary namespace to be deleted")
