"""The indexed Cilium repository (rules.Repository: the rules that select an endpoint, kept by its labels, as
Cilium's selector cache keeps them) gives exactly the results of walking every rule (rules.evaluate over all).

Seeded random CiliumNetworkPolicies and CiliumClusterwideNetworkPolicies — endpointSelectors of every shape
(empty, matchLabels with and without a label source, matchExpressions, a namespace label), ingress/egress allow and
deny items with endpoint selectors, entities, CIDRs and ports, enableDefaultDeny — are judged for random pairs of
pods and reserved identities both ways, twice (the second time from the kept selections), and must agree on
every field of the result.
"""

from __future__ import annotations

import random

import pytest

from k8snet.sandbox.dataplane.cilium import rules
from k8snet.sandbox.dataplane.cilium.labels import Endpoint, pod_labels, reserved

SEEDS = range(16)
NAMESPACES = ("shop", "pay", "ops")
VALUES = {"app": ("web", "api", "db"), "tier": ("front", "back"), "team": ("x", "y")}


def endpoint(rng: random.Random, i: int) -> Endpoint:
    ns = rng.choice(NAMESPACES)
    labels = {k: rng.choice(v) for k, v in VALUES.items() if rng.random() < 0.7}
    obj = {"metadata": {"name": f"p{i}", "namespace": ns, "labels": labels}, "spec": {"nodeName": "n1"}}
    return Endpoint(ip=f"10.244.1.{i + 2}", labels=pod_labels(obj, {"kubernetes.io/metadata.name": ns}),
                    identity=1000 + i, namespace=ns, name=f"p{i}", node="n1", ports=(("http", 8080, "TCP"),))


def selector(rng: random.Random) -> dict:
    shape = rng.randrange(5)
    key, values = rng.choice(list(VALUES.items()))
    if shape == 0:
        return {}
    if shape == 1:
        return {"matchLabels": {key: rng.choice(values)}}
    if shape == 2:
        return {"matchLabels": {f"k8s:{key}": rng.choice(values)}}
    if shape == 3:
        return {"matchExpressions": [{"key": key, "operator": rng.choice(["In", "NotIn", "Exists", "DoesNotExist"]),
                                      "values": [rng.choice(values)]}]}
    return {"matchLabels": {"k8s:io.kubernetes.pod.namespace": rng.choice(NAMESPACES)}}


def item(rng: random.Random, direction: str) -> dict:
    prefix = "from" if direction == "ingress" else "to"
    out: dict = {}
    l3 = rng.randrange(4)
    if l3 == 1:
        out[f"{prefix}Endpoints"] = [selector(rng)]
    elif l3 == 2:
        out[f"{prefix}Entities"] = [rng.choice(["world", "cluster", "host", "all"])]
    elif l3 == 3:
        out[f"{prefix}CIDR"] = ["172.18.0.0/16"]
    if rng.random() < 0.6 or not out:
        out["toPorts"] = [{"ports": [{"port": rng.choice(["80", "8080", "http", "0"]),
                                      "protocol": rng.choice(["TCP", "UDP", "ANY"])}]}]
    return out


def policies(rng: random.Random, count: int) -> list[rules.Rule]:
    out: list[rules.Rule] = []
    for i in range(count):
        spec: dict = {"endpointSelector": selector(rng)}
        for key in ("ingress", "egress", "ingressDeny", "egressDeny"):
            if rng.random() < (0.5 if "Deny" not in key else 0.15):
                spec[key] = [item(rng, key.removesuffix("Deny")) for _ in range(rng.randint(0, 2))]
        if rng.random() < 0.1:
            spec["enableDefaultDeny"] = {"ingress": False}
        ns = rng.choice((*NAMESPACES, None))
        out += rules.rules_of({"metadata": {"name": f"pol{i}", **({"namespace": ns} if ns else {})}, "spec": spec})
    return out


def fields(r: rules.DirectionResult) -> tuple:
    return (r.direction, r.endpoint, [str(x) for x in r.rules], r.enforced,
            [(str(m), m.deny, m.http, m.dns) for m in r.allows], [(str(m), m.deny) for m in r.denies], r.http)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_index_agrees_with_walking_every_rule(seed: int):
    rng = random.Random(seed)
    pods = [endpoint(rng, i) for i in range(12)]
    others = [Endpoint(ip="172.18.0.1", labels=reserved("world"), identity=2),
              Endpoint(ip="172.18.0.3", labels=reserved("remote-node"), identity=6, node="n2")]
    every = policies(rng, 40)
    repo = rules.Repository(every)
    for _ in range(2):  # the second round comes from the kept selections
        for _ in range(150):
            this, peer = rng.choice(pods), rng.choice(pods + others)
            port, proto = rng.choice([80, 8080, 53]), rng.choice(["TCP", "UDP"])
            for direction in (rules.INGRESS, rules.EGRESS):
                expected = rules.evaluate(every, direction, this, peer, this, port, proto)
                assert fields(repo.evaluate(direction, this, peer, this, port, proto)) == fields(expected)
    assert repo.selecting(others[0]) == []  # a reserved identity: no rule selects it (no host firewall)
