"""Lab 08 regression, both ways: every check FAILS on its starting state and PASSES once the reference solution is
applied, graded on requests from pods in the mesh (curl's status or exit code), ztunnel's access log and the
waypoint's istio_requests_total; wrong answers get the hint that names them (a NetworkPolicy without port 15008, a
principal written with spiffe://, a selector policy behind a waypoint, a backendRef to a port the Service lacks,
weights that give another share); hints in tiers; teardown uninstalls the mesh only when the lab installed it.

The file runs on a sandbox of its own (seed 0): Istio, which the lab installs, stays out of the session's sandbox,
and the waypoint's weighted picks repeat run after run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml
from tests.conftest import private_sandbox
from tests.labs.conftest import LABS_ROOT, assert_fails_then_passes, assert_wrong_answer_hinted

import k8snet
from k8snet import labs, mesh
from k8snet.labs import lab08

LAB = "lab-08-service-mesh"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[labs.Lab]:
    with private_sandbox(tmp_path_factory.mktemp("lab08")):
        loaded = labs.load(LAB, k8snet.connect())
        yield loaded
        loaded.teardown()


def _solution(exercise: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((LABS_ROOT / LAB / "solutions" / f"{exercise}.yaml").read_text()) if d]


@pytest.mark.parametrize("exercise", ["lock", "readonly", "canary"])
def test_check_fails_before_and_passes_after_the_solution(lab, exercise):
    hint = assert_fails_then_passes(lab, exercise)
    expected = {  # the symptom as curl gave it, and what istiod, ztunnel or the route's status said
        "lock": ["cart → GET http://payments/hostname: 200", "intruder → GET http://payments/hostname: 200",
                 "payments is not in the mesh (namespace lab08-lock has no istio.io/dataplane-mode label"],
        "readonly": ["reports → GET http://orders/: reset (curl: (56) Recv failure: Connection reset by peer)",
                     "checkout → POST http://orders/: 200 'orders'",
                     "ZtunnelAccepted=True (UnsupportedValue: ztunnel does not support HTTP attributes (found: "
                     "methods)"],
        "canary": ["500 requests from client to http://checkout/: the waypoint counted checkout-v1 ×",
                   "kind: 'Gateway'", "no controller has written status for it"]}[exercise]
    for phrase in expected:
        assert phrase in hint, hint
    passed = lab.check(exercise).message
    assert {"lock": "ztunnel's log says why: connection closed due to policy rejection: allow policies exist, but "
                    "none allowed",
            "readonly": "its POST is refused by the waypoint (403 'RBAC: access denied')",
            "canary": "HTTPRoute checkout is attached to the Service checkout (istio.io/mesh-controller: "
                      "Accepted)"}[exercise] in passed, passed


def test_a_network_policy_without_port_15008_is_named(lab):
    enrol, policy, _ = _solution("lock")
    assert_wrong_answer_hinted(lab, "lock", [enrol, policy],
                               ["cart → GET http://payments/hostname: reset (curl: (56)",
                                "ztunnel says: connection timed out, maybe a NetworkPolicy is blocking HBONE port "
                                "15008", "NetworkPolicy payments-ingress (ports 8080) selects payments and does not "
                                         "allow 15008"])


def test_a_principal_with_its_spiffe_prefix_matches_nobody(lab):
    enrol, policy, netpol = _solution("lock")
    policy["spec"]["rules"][0]["from"][0]["source"]["principals"] = ["spiffe://cluster.local/ns/lab08-lock/sa/cart"]
    assert_wrong_answer_hinted(lab, "lock", [enrol, policy, netpol],
                               ["ztunnel in front of payments rejected cart, which calls as "
                                "spiffe://cluster.local/ns/lab08-lock/sa/cart",
                                "A principal is the identity without spiffe://"])


def test_keeping_the_intruder_out_with_a_network_policy_alone_is_not_the_answer(lab):
    *_, netpol = _solution("lock")
    netpol["spec"]["ingress"][0]["from"] = [{"podSelector": {"matchLabels": {"app": "cart"}}}]
    assert_wrong_answer_hinted(lab, "lock", [netpol],
                               ["intruder → GET http://payments/hostname: timed out (curl: (28)",
                                "Something other than the mesh keeps intruder out"])


def test_a_selector_policy_behind_a_waypoint_sees_the_waypoints_identity(lab):
    lab.setup("readonly")
    mesh.waypoint(lab.cluster, "lab08-readonly", say=lambda _: None)
    result = lab.check("readonly")
    assert not result.passed
    for phrase in ["reports → GET http://orders/: 503 'upstream connect error or disconnect/reset before headers",
                   "forwards each request to orders as itself (spiffe://cluster.local/ns/lab08-readonly/sa/waypoint)",
                   "connection closed due to policy rejection: allow policies exist, but none allowed",
                   "Attach the rules to the Service with targetRefs"]:
        assert phrase in result.message, result.message


def test_a_waypoint_policy_that_forgets_the_writer_is_named(lab):
    (policy,) = _solution("readonly")
    policy["spec"]["rules"] = policy["spec"]["rules"][1:]
    lab.setup("readonly")
    mesh.waypoint(lab.cluster, "lab08-readonly", say=lambda _: None)
    lab.cluster.apply(policy)
    result = lab.check("readonly")
    assert not result.passed
    for phrase in ["checkout → POST http://orders/: 403 'RBAC: access denied'", "checkout must still write orders",
                   "WaypointAccepted=True (Accepted: bound to lab08-readonly/waypoint)"]:
        assert phrase in result.message, result.message


@pytest.mark.parametrize(("change", "phrases"), [
    ({"port": 5678}, ["5xx: 500 ×", "checkout-v2:5678 (weight 20)", "one of its ports (80)"]),
    ({"weight": 10}, ["checkout-v2:80 (weight 10)", "Those weights give checkout-v2 11%, not 20%"]),
], ids=["container-port", "wrong-weight"])
def test_a_route_that_misses_the_canary_is_named(lab, change, phrases):
    (route,) = _solution("canary")
    route["spec"]["rules"][0]["backendRefs"][1].update(change)
    assert_wrong_answer_hinted(lab, "canary", [route], phrases)


def test_scaling_the_versions_instead_of_routing_is_refused(lab):
    lab.setup("canary")
    lab.cluster.apps.patch_namespaced_deployment_scale("checkout-v1", "lab08-canary", {"spec": {"replicas": 4}})
    result = lab.check("canary")
    assert not result.passed and "put them back to one each" in result.message, result.message


LOADGEN = """
apiVersion: v1
kind: Pod
metadata: {name: loadgen, labels: {app: loadgen}}
spec:
  containers:
  - name: curl
    image: curlimages/curl:8.11.1
    command: ["sh", "-c", "while true; do curl -s -o /dev/null http://checkout/; sleep 0.02; done"]
"""


def test_someone_elses_requests_during_the_measurement_are_named(lab):
    """The share is graded on the waypoint's counters: requests from another pod would pass for the client's, so
    the check names the callers it did not send rather than grading them."""
    lab.setup("canary")
    lab.apply_solution("canary")
    lab.cluster.apply(LOADGEN, namespace="lab08-canary")
    lab.cluster.wait_pod_ready("loadgen", "lab08-canary")
    try:
        result = lab.check("canary")
    finally:
        lab.cluster.delete("Pod", "loadgen", "lab08-canary")
    assert not result.passed, result.message
    assert "more than the client sent" in result.message and "loadgen ×" in result.message, result.message


CLIENT_CUT_OFF = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: client-cut-off}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
"""


def test_curls_that_get_no_answer_are_named_with_curls_error(lab):
    """Requests that never reached the waypoint are the client's failures, said in curl's words, not a share."""
    lab.setup("canary")
    lab.apply_solution("canary")
    lab.cluster.apply(CLIENT_CUT_OFF, namespace="lab08-canary")
    result = lab.check("canary")
    assert not result.passed, result.message
    assert "of the client's curls got no HTTP answer: " in result.message and "× curl: (" in result.message, \
        result.message


def test_hints_come_in_tiers_symptom_first_fix_last(lab):
    words = {"lock": ("kubectl logs -n istio-system -l app=ztunnel", "port 15008/TCP"),
             "readonly": ("ZtunnelAccepted", "targetRefs"),
             "canary": ("has any controller written a parent", "kind: Service")}
    for ex in lab.exercises:
        assert ex.hints[0].startswith("Symptom:") and len(ex.hints) == 3
        where, fix = words[ex.id]
        assert where in ex.hints[1] and fix in ex.hints[2], ex.hints


def test_teardown_uninstalls_the_mesh_only_when_the_lab_installed_it(lab):
    lab.setup("lock")
    lab.teardown()
    assert "istio-system" not in lab.cluster.namespaces()
    mesh.install(lab.cluster, "istio", say=lambda _: None)  # a mesh the learner installed
    assert lab08.ensure_mesh(lab.cluster) is False
    lab.setup("lock")
    lab.teardown()
    assert lab08.mesh_running(lab.cluster)
    for ex in lab.exercises:
        lab.cluster.wait_gone("Namespace", ex.namespace)
