"""Lab 03 regression, both ways: every check FAILS on its starting state and PASSES after the solution, and the
hints for common wrong answers name the request, its answer and the object behind it.

The expectations follow the Kubernetes Ingress documentation
(kubernetes.io/docs/concepts/services-networking/ingress/: "Path types", "Examples": Prefix /aaa matches
/aaa/bbb but not /aaabbb; ImplementationSpecific is up to the IngressClass) and Traefik v3.7
(doc.traefik.io/traefik/v3.7/reference/routing-configuration/kubernetes/ingress/: ImplementationSpecific is
PathPrefix; router priority is the rule's length; router.middlewares entries are
<namespace>-<name>@kubernetescrd; certificates come from the spec.tls Secrets, by SNI; an unbuildable
middleware disables the router), with the Traefik behaviour the sandbox emulates (tests/ingress).
"""

from __future__ import annotations

import copy

import pytest
import yaml
from tests.labs.conftest import LABS_ROOT, assert_fails_then_passes, assert_wrong_answer_hinted

LAB = "lab-03-ingress"
FOLDER = LABS_ROOT / LAB
EXERCISES = ["paths", "tls", "payments", "migrate"]


@pytest.mark.parametrize("exercise", EXERCISES)
def test_check_fails_before_and_passes_after_the_solution(lab, exercise):
    hint = assert_fails_then_passes(lab, exercise)
    assert " answered " in hint or "was served" in hint, hint


def solution(lab, exercise: str) -> list[dict]:
    return list(yaml.safe_load_all(lab.solution_path(exercise).read_text()))


def start(exercise: str) -> list[dict]:
    return list(yaml.safe_load_all((FOLDER / "start" / f"{exercise}.yaml").read_text()))


def edit_ingress(docs: list[dict], change) -> list[dict]:
    docs = copy.deepcopy(docs)
    for doc in docs:
        if doc["kind"] == "Ingress":
            change(doc)
    return docs


def path_type(path: str, kind: str):
    def change(ing: dict) -> None:
        for p in ing["spec"]["rules"][0]["http"]["paths"]:
            if p["path"] == path:
                p["pathType"] = kind
    return change


def annotate(value: str):
    def change(ing: dict) -> None:
        ing["metadata"]["annotations"]["traefik.ingress.kubernetes.io/router.middlewares"] = value
    return change


def field(path: list, value):
    def change(ing: dict) -> None:
        obj = ing
        for key in path[:-1]:
            obj = obj[key]
        obj[path[-1]] = value
    return change


# (exercise, the wrong answer (a function of the lab) applied in its namespace, phrases its hint must contain)
WRONG = {
    "paths: Exact /api loses to Prefix / in Traefik's rule-length order": (
        "paths", lambda lab: edit_ingress(solution(lab, "paths"), path_type("/api", "Exact")),
        ['GET http://shop.lab03.test/api answered 200 "storefront", but it should reach api',
         "Traefik ranks routers by the length of their rule", "Path(`/api`) is shorter"]),
    "paths: a host with a typo": (
        "paths", lambda lab: edit_ingress(solution(lab, "paths"), field(["spec", "rules", 0, "host"], "shop.lab3.test")),
        ['GET http://shop.lab03.test/ answered 404 "404 page not found": no router matched',
         "No Ingress rule has host shop.lab03.test (the Ingresses in lab03-paths have hosts: shop.lab3.test)"]),
    "tls: spec.tls names a Secret that does not exist": (
        "tls", lambda lab: edit_ingress(solution(lab, "tls"), field(["spec", "tls", 0, "secretName"], "secure-cert")),
        ["was served Traefik's default certificate (CN=TRAEFIK DEFAULT CERT)",
         "names Secret secure-cert, which does not exist in lab03-tls"]),
    "payments: middleware references without the namespace": (
        "payments", lambda lab: edit_ingress(solution(lab, "payments"),
                                             annotate("rate-limit@kubernetescrd,body-limit@kubernetescrd")),
        ['answered 404 "404 page not found"', "'rate-limit@kubernetescrd', which is no Middleware",
         "write lab03-payments-rate-limit@kubernetescrd"]),
    "payments: the rate limit exists but is not attached": (
        "payments", lambda lab: edit_ingress(solution(lab, "payments"),
                                             annotate("lab03-payments-body-limit@kubernetescrd")),
        ["20 answered 200 and none 429: no rate limit applies", "Middleware rate-limit exists but the Ingress "
         "does not use it", "add lab03-payments-rate-limit@kubernetescrd"]),
    "payments: average 30 without a period is 30 per second": (
        "payments", lambda lab: [{**d, "spec": {"rateLimit": {"burst": 10, "average": 30}}}
                                 if d["metadata"]["name"] == "rate-limit" else d for d in solution(lab, "payments")],
        ["Middleware rate-limit has rateLimit", "period defaults to 1s"]),
    "payments: no body limit": (
        "payments", lambda lab: edit_ingress(solution(lab, "payments"),
                                             annotate("lab03-payments-rate-limit@kubernetescrd")),
        ["with a body of 1048577 bytes answered 200", "not 413", "Middleware body-limit exists but the Ingress does "
         "not use it"]),
    "migrate: the class is fixed, the port name is not": (
        "migrate", lambda lab: edit_ingress(start("migrate"), field(["spec", "ingressClassName"], "traefik")),
        ['GET http://orders.lab03.test/orders answered 404', "asks Service orders for the port with name 'web'",
         "its ports are: http (80)"]),
}


@pytest.mark.parametrize("case", list(WRONG))
def test_hints_name_the_request_and_the_cause(lab, case):
    exercise, wrong, phrases = WRONG[case]
    assert_wrong_answer_hinted(lab, exercise, wrong(lab), phrases)


def test_starting_state_hints(lab):
    """The hints the learner meets first."""
    lab.setup("migrate")
    assert "Ingress orders has ingressClassName: nginx, and no controller in this cluster serves class nginx" in \
        lab.check("migrate").message
    lab.setup("tls")
    assert "The Ingress for secure.lab03.test (secure) has no spec.tls" in lab.check("tls").message
    lab.setup("paths")
    assert "(there is no Ingress in lab03-paths)" in lab.check("paths").message


def test_migrate_passes_with_a_note_on_a_leftover_nginx_annotation(lab):
    lab.setup("migrate")
    fixed = edit_ingress(start("migrate"), field(["spec", "ingressClassName"], "traefik"))
    fixed = edit_ingress(fixed, lambda ing: ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
                         .update(port={"name": "http"}))
    lab.cluster.apply(fixed, namespace="lab03-migrate")
    result = lab.check("migrate")
    assert result.passed, result.message
    assert "nginx.ingress.kubernetes.io/proxy-body-size is still there" in result.message


def test_every_exercise_has_a_solution_file(lab):
    assert [ex.id for ex in lab.exercises] == EXERCISES
    for ex in lab.exercises:
        assert lab.solution_path(ex.id).is_file()
