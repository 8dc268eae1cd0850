"""The indexed Calico repository (rules.Repository: the policies that apply to an endpoint kept per label set, as
felix's ActiveRulesCalculator keeps them, and each walk's result kept per connection shape) gives exactly the
results of walking every policy (rules.evaluate).

Seeded random tiers (with and without order, Deny or Pass at their end), NetworkPolicies and GlobalNetworkPolicies
(selectors, namespaceSelector, serviceAccountSelector, types, order ties) with Allow/Deny/Pass/Log rules (source
selectors, namespaceSelector, nets/notNets, ports and named ports, protocols), and Kubernetes NetworkPolicies handed
in already judged, are judged for random pairs of pods and outside addresses both ways, twice (the second time from
the kept results), and must agree on every field.
"""

from __future__ import annotations

import random

import pytest

from k8snet.sandbox.dataplane.calico import rules
from k8snet.sandbox.dataplane.calico.labels import Endpoint, pod_labels

SEEDS = range(16)
NAMESPACES = ("shop", "pay")
VALUES = {"app": ("web", "api", "db"), "tier": ("front", "back")}


def pods(rng: random.Random) -> list[Endpoint]:
    out = []
    for i in range(10):
        ns = rng.choice(NAMESPACES)
        labels = {k: rng.choice(v) for k, v in VALUES.items() if rng.random() < 0.8}
        obj = {"metadata": {"name": f"p{i}", "namespace": ns, "labels": labels},
               "spec": {"serviceAccountName": rng.choice(["default", "api"])}}
        out.append(Endpoint(ip=f"10.244.{i % 2}.{i + 2}", labels=pod_labels(obj, {"team": ns}, {}), namespace=ns,
                            name=f"p{i}", ports=(("http", 80, "TCP"),)))
    return out


def selector(rng: random.Random) -> str:
    key, values = rng.choice(list(VALUES.items()))
    return rng.choice([f"{key} == '{rng.choice(values)}'", f"has({key})", "all()", f"{key} != '{values[0]}'"])


def rule(rng: random.Random) -> dict:
    out: dict = {"action": rng.choice(["Allow", "Allow", "Deny", "Pass", "Log"])}
    if rng.random() < 0.5:
        out["source"] = rng.choice([{"selector": selector(rng)}, {"nets": ["172.18.0.0/16"]},
                                    {"notNets": ["10.244.0.0/24"]}, {"namespaceSelector": "team == 'pay'"}])
    if rng.random() < 0.5:
        out["protocol"] = "TCP"
        out["destination"] = {"ports": [rng.choice([80, "80:90", "http", 443])]}
    return out


def policies(rng: random.Random, count: int) -> list[rules.Policy]:
    out = []
    for i in range(count):
        ns = rng.choice((*NAMESPACES, None))
        spec: dict = {"selector": selector(rng), "ingress": [rule(rng) for _ in range(rng.randint(0, 3))]}
        if rng.random() < 0.3:
            spec["egress"] = [rule(rng) for _ in range(rng.randint(1, 2))]
        if ns is None and rng.random() < 0.3:
            spec["namespaceSelector"] = "team == 'shop'"
        if rng.random() < 0.2:
            spec["serviceAccountSelector"] = "all()"
        out.append(rules.Policy(rules.NP if ns else rules.GNP, ns, f"pol{i}", rng.choice(["default", "security",
                                                                                           "platform"]),
                                rng.choice([None, 10.0, 100.0, 100.0]), spec))
    return out


def fields(r: rules.DirectionResult) -> tuple:
    return (r.direction, r.endpoint, r.allowed, [str(s) for s in r.steps], r.tiers, r.policies, r.why)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_index_agrees_with_walking_every_policy(seed: int):
    rng = random.Random(seed)
    tiers = {"default": rules.Tier("default", 1_000_000), "security": rules.Tier("security", rng.choice([100, None])),
             "platform": rules.Tier("platform", 50, rng.choice(["Pass", "Deny"]))}
    every = policies(rng, 30)
    ends = pods(rng) + [Endpoint(ip="172.18.0.1"), Endpoint(ip="203.0.113.10")]
    repo = rules.Repository(tiers, every)
    for _ in range(2):  # the second round comes from the kept results
        for _ in range(120):
            src, dst = rng.choice(ends), rng.choice(ends[:-2])
            port = rng.choice([80, 85, 443])
            knp = [rules.Policy(rules.KNP, dst.namespace, "k", rules.DEFAULT_TIER, rules.KNP_ORDER,
                                {"types": [rules.INGRESS]}, knp_rule=rng.choice([None, 0]))] if rng.random() < 0.3 \
                else []
            expected = rules.evaluate(tiers, every + knp, rules.INGRESS, dst, src, dst, port, "TCP")
            assert fields(repo.evaluate(rules.INGRESS, dst, src, dst, port, "TCP", knp)) == fields(expected)
            if src.is_pod:
                expected = rules.evaluate(tiers, every, rules.EGRESS, src, src, dst, port, "TCP")
                assert fields(repo.evaluate(rules.EGRESS, src, src, dst, port, "TCP", [])) == fields(expected)
