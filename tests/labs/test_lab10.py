"""Lab 10 regression, both ways: every check FAILS on its starting state and PASSES once the reference solution is
applied, graded on requests from the exercise's pods in cloud and onprem (who answered, in which cluster, or how
the request failed); wrong answers get the hint that names them (an affinity on the other cluster's Service,
``affinity: remote``, a Service that is no longer global or no longer shared, so the failover drill finds nothing,
an export left in the cluster without the Service, an export named after no Service, a policy selector without
the cluster, a rule for the whole of cloud); hints in tiers; the drill gives cloud its pods back; teardown removes
the namespaces on both clusters and leaves the mesh.

The module's clusters are two members of a private cluster set, ``cloud`` and ``onprem`` (seed 0), as the lab's
notebook connects them; the lab's setup meshes them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml
from tests.conftest import private_sandbox
from tests.labs.conftest import LABS_ROOT, assert_fails_then_passes, assert_wrong_answer_hinted

import k8snet
from k8snet import labs
from k8snet.cni import clustermesh
from k8snet.labs import lab10
from k8snet.sandbox import process

LAB = "lab-10-multi-cluster"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[labs.Lab]:
    with private_sandbox(tmp_path_factory.mktemp("lab10"), cni="cilium", name="cloud"):
        try:
            process.up(seed=0, edge_http_port=0, edge_https_port=0, cni="cilium", name="onprem")
            loaded = labs.load(LAB, k8snet.connect("cloud", cni="cilium"),
                               onprem=k8snet.connect("onprem", cni="cilium"))
            yield loaded
            loaded.teardown()
        finally:
            process.down(name="onprem")


def _solution(exercise: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((LABS_ROOT / LAB / "solutions" / f"{exercise}.yaml").read_text()) if d]


def _clusters(lab: labs.Lab) -> tuple[k8snet.Cluster, k8snet.Cluster]:
    return lab.named("cloud"), lab.named("onprem")


@pytest.mark.parametrize("exercise", ["failover", "export", "policy"])
def test_check_fails_before_and_passes_after_the_solution(lab, exercise):
    hint = assert_fails_then_passes(lab, exercise)
    expected = {  # the symptom as the requests gave it, and what the starting state lacks
        "failover": ["cloud's client's requests were answered by both clusters: by cloud's pods in 1 ms and by "
                     "onprem's in 61 ms", "cloud's Service checkout: service.cilium.io/global: \"true\";",
                     "Both Services are global"],
        "export": ["inventory.lab10-export.svc.clusterset.local does not resolve in cloud", "NXDOMAIN",
                   "cloud's ServiceExport inventory (namespace lab10-export): Valid=False NoService \"Service "
                   "doesn't exist\"", "inventory runs in onprem: cloud has no Service to export"],
        "policy": ["cloud's checkout → GET http://payments/hostname: timed out (curl: (28)",
                   "onprem's Hubble: lab10-policy/checkout (cluster cloud) -> lab10-policy/payments-",
                   "Policy denied DROPPED, denied by NetworkPolicy lab10-policy/payments-from-checkout",
                   "NetworkPolicy payments-from-checkout: from pods app=checkout.",
                   "a selector that names no cluster selects pods of its own cluster only"],
    }[exercise]
    for phrase in expected:
        assert phrase in hint, hint
    passed = lab.check(exercise).message
    assert {"failover": "cloud's client: 20 of 20 requests answered by cloud's pods (median 1 ms). Failover drill: "
                        "the check scaled cloud's checkout to 0, and the next 10 requests were answered by onprem's "
                        "pods (median 61 ms); scaled back to 2, cloud's pods answer again.",
            "export": "(status.clusters: onprem); 6 of 6 requests from cloud's client were answered by onprem's "
                      "inventory pods (median 61 ms",
            "policy": "cloud's intruder and onprem's reports time out, dropped at payments in onprem (Hubble: "
                      "lab10-policy/intruder (cluster cloud) -> "}[exercise] in passed, passed


def test_the_drill_gives_cloud_its_pods_back(lab):
    cloud, _ = _clusters(lab)
    lab.setup("failover")
    lab.apply_solution("failover")
    assert lab.check("failover").passed
    assert len(lab10.ready_pods(cloud, "lab10-failover", "checkout")) == 2
    assert cloud.apps.read_namespaced_deployment("checkout", "lab10-failover").spec.replicas == 2


def _annotate(cluster: k8snet.Cluster, **notes: str | None) -> None:
    cluster.core.patch_namespaced_service("checkout", "lab10-failover", {"metadata": {"annotations": {
        f"service.cilium.io/{k}": v for k, v in notes.items()}}})


def test_an_affinity_on_onprems_service_does_not_steer_clouds_client(lab):
    """affinity.rst: the annotation is read where the client's request is load-balanced."""
    _, onprem = _clusters(lab)
    lab.setup("failover")
    _annotate(onprem, affinity="local")
    result = lab.check("failover")
    assert not result.passed
    for phrase in ("answered by both clusters", "onprem's Service checkout: service.cilium.io/affinity: \"local\"",
                   "an affinity on onprem's Service steers onprem's clients, not cloud's"):
        assert phrase in result.message, result.message


def test_affinity_remote_sends_everything_away(lab):
    (svc,) = _solution("failover")
    svc["metadata"]["annotations"]["service.cilium.io/affinity"] = "remote"
    assert_wrong_answer_hinted(lab, "failover", [svc], [
        "Every request from cloud's client went to onprem's pods (median 61 ms)",
        "affinity: remote prefers the other clusters' pods"])


def test_a_service_that_is_no_longer_global_stays_home_and_cannot_fail_over(lab):
    """global-services.rst: without the annotation, cloud's Service has cloud's backends only."""
    cloud, _ = _clusters(lab)
    (svc,) = _solution("failover")
    del svc["metadata"]["annotations"]["service.cilium.io/global"]
    assert_wrong_answer_hinted(lab, "failover", [svc], [
        "Failover drill: the check scaled cloud's checkout to 0, then cloud's client's requests got",
        "cloud's Service checkout is not global", "It scaled checkout back to 2."])
    assert len(lab10.ready_pods(cloud, "lab10-failover", "checkout")) == 2


def test_onprem_keeping_its_pods_to_itself_leaves_nowhere_to_fail_over(lab):
    """global-services.rst: service.cilium.io/shared: "false" keeps a cluster's backends out of the others'."""
    _, onprem = _clusters(lab)
    lab.setup("failover")
    lab.apply_solution("failover")
    _annotate(onprem, shared="false")
    result = lab.check("failover")
    assert not result.passed
    assert "onprem's Service says service.cilium.io/shared: \"false\": onprem keeps its pods to itself" in \
        result.message, result.message


def test_an_export_left_in_cloud_stops_clouds_import(lab):
    """serviceimport_controller.go: a local ServiceExport without its Service ends the reconciliation (NoService)
    before the ServiceImport is written, whatever the other clusters export."""
    lab.setup("export")
    lab.apply_solution("export")  # and put cloud's export back: the solution's second half undone
    cloud, _ = _clusters(lab)
    cloud.apply(lab10.start_manifest("export", "cloud"), namespace="lab10-export")
    result = lab.check("export")
    assert not result.passed
    for phrase in ("onprem's ServiceExport inventory (namespace lab10-export): Valid=True Valid",
                   "onprem exports inventory, and yet cloud has no ServiceImport", "delete it"):
        assert phrase in result.message, result.message


def test_an_export_named_after_no_service_is_named(lab):
    cloud, onprem = _clusters(lab)
    (export,) = _solution("export")
    export["metadata"]["name"] = "inventory-api"
    lab.setup("export")
    lab10.after_export(onprem, "lab10-export", cloud)
    onprem.apply([export], namespace="lab10-export")
    result = lab.check("export")
    assert not result.passed
    for phrase in ("onprem's ServiceExport inventory-api (namespace lab10-export): Valid=False NoService",
                   "An export takes the name of its Service (inventory)"):
        assert phrase in result.message, result.message


def _rule(policy: dict) -> dict:
    return policy["spec"]["ingress"][0]


@pytest.mark.parametrize(("change", "phrases"), [
    (lambda rule: rule["fromEndpoints"][0]["matchLabels"].pop("io.cilium.k8s.policy.cluster"),
     ["cloud's checkout is dropped at payments' door in onprem",
      "CiliumNetworkPolicy payments-from-cloud-checkout: from pods app=checkout on 8080/TCP"]),
    (lambda rule: rule["fromEndpoints"][0]["matchLabels"].pop("app"),
     ["cloud's intruder → GET http://payments/hostname: 200", "cloud's intruder gets in too",
      "from pods io.cilium.k8s.policy.cluster=cloud on 8080/TCP"]),
    (lambda rule: rule.update(fromEndpoints=None, fromEntities=["cluster"]),
     ["cloud's intruder gets in too", "from entity cluster on 8080/TCP"]),
    (lambda rule: rule["fromEndpoints"].append({"matchLabels": {"app": "reports"}}),
     ["onprem's reports → GET http://payments/hostname: 200", "onprem's own reports gets in"]),
], ids=["no-cluster", "all-of-cloud", "entity-cluster", "reports-too"])
def test_a_policy_that_misses_is_named(lab, change, phrases):
    (policy,) = _solution("policy")
    change(_rule(policy))
    assert_wrong_answer_hinted(lab, "policy", [policy], phrases)


def test_no_policy_at_all_lets_everyone_in(lab):
    _, onprem = _clusters(lab)
    lab.setup("policy")
    onprem.delete("NetworkPolicy", "payments-from-checkout", "lab10-policy", api_version="networking.k8s.io/v1",
                  wait=True)
    result = lab.check("policy")
    assert not result.passed
    assert "cloud's intruder gets in too" in result.message and \
        "No policy in onprem selects payments for ingress." in result.message, result.message


def test_hints_come_in_tiers_symptom_first_fix_last(lab):
    words = {"failover": ("get svc checkout", "affinity: local"),
             "export": ("kubectl get serviceexports,serviceimports", "delete cloud's ServiceExport inventory"),
             "policy": ("hubble observe", "io.cilium.k8s.policy.cluster: cloud")}
    for ex in lab.exercises:
        assert ex.hints[0].startswith("Symptom:") and len(ex.hints) == 3
        where, fix = words[ex.id]
        assert where in ex.hints[1] and fix in ex.hints[2], ex.hints


def test_exercises_span_both_clusters_and_the_lab_needs_its_names(lab):
    cloud, onprem = _clusters(lab)
    assert lab.on("failover") is cloud and lab.peers("failover") == {"onprem": onprem}
    assert lab.on("export") is onprem and lab.peers("export") == {"cloud": cloud}
    assert labs.load(LAB, cloud).members["onprem"].context == "k8snet-onprem"  # connected by load itself
    wrong = labs.load(LAB, onprem, onprem=onprem)
    with pytest.raises(KeyError, match="needs a cluster named cloud, and it was loaded with k8snet-onprem"):
        wrong.setup("export")
    with pytest.raises(RuntimeError, match="exercise failover runs on two Cilium clusters named cloud and onprem"):
        wrong.setup("failover")


def test_setup_meshes_the_two_clusters_as_lesson_09_does(lab):
    cloud, onprem = _clusters(lab)
    lab.setup("failover")
    assert [s["cluster"] for s in clustermesh.status(cloud) if s["connected"]] == ["onprem"]
    assert clustermesh.latency_ms(cloud, onprem) == lab10.RTT_MS
    assert lab10.mcs_api_on(cloud) and lab10.mcs_api_on(onprem)


def test_teardown_removes_the_namespaces_on_both_clusters_and_leaves_the_mesh(lab):
    lab.setup("failover")
    lab.setup("export")
    lab.teardown()
    cloud, onprem = _clusters(lab)
    for ex in lab.exercises:
        for cluster in (cloud, onprem):
            cluster.wait_gone("Namespace", ex.namespace)
    assert clustermesh.status(cloud)[0]["connected"] and cloud.nodes() and onprem.nodes()


def test_a_networkpolicy_that_names_the_cluster_passes_too(lab):
    """Cilium reads io.cilium.k8s.policy.cluster in a NetworkPolicy's podSelector as well (pkg/k8s network_policy.go
    parseNetworkPolicyPeer: a podSelector that names a cluster keeps it): the check grades traffic, not the kind."""
    _, onprem = _clusters(lab)
    lab.setup("policy")
    onprem.apply([{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                   "metadata": {"name": "payments-from-checkout", "namespace": "lab10-policy"},
                   "spec": {"podSelector": {"matchLabels": {"app": "payments"}}, "policyTypes": ["Ingress"],
                            "ingress": [{"from": [{"podSelector": {"matchLabels": {
                                "app": "checkout", "io.cilium.k8s.policy.cluster": "cloud"}}}]}]}}])
    result = lab.check("policy")
    assert result.passed, result.message
