"""The indexed NetworkPolicy engine gives exactly the verdicts, trace hops and walkthroughs of the plain walk.

``PolicySet.evaluate`` files policies by namespace and by one ``podSelector.matchLabels`` pair (the rest: checked
for every pod), and remembers per label set what selects a pod and which rules matched. ``evaluate(...,
indexed=False)`` walks and judges every policy of the namespace, as k8snet.netpol's docstring states the rules
(Kubernetes documentation, concepts/services-networking/network-policies). Seeded random namespaces, pods,
addresses and policies — every selector shape (empty, matchLabels, matchExpressions In/NotIn/Exists/DoesNotExist,
both), policyTypes given or defaulted, ipBlock with except, named ports, port ranges, three protocols — are judged
both ways, twice (the second time from the remembered plans), and must agree on every word.
"""

from __future__ import annotations

import random

import pytest

from k8snet.netpol import EGRESS, INGRESS, Direction, Peer, PolicySet, Verdict
from k8snet.sandbox.dataplane.model import Hop
from k8snet.sandbox.dataplane.policy import hop

SEEDS = range(24)
VALUES = {"app": ("web", "api", "db"), "tier": ("front", "back"), "role": ("a", "b"), "team": ("x", "y")}
NS_VALUES = {"env": ("prod", "dev"), "team": ("x", "y"), "pci": ("true",)}
NAMED = (("http", 80, "TCP"), ("http", 8080, "UDP"), ("dns", 53, "UDP"), ("metrics", 9090, "TCP"),
         ("sctp", 81, "SCTP"))
PROTOCOLS = ("TCP", "UDP", "SCTP")


def reference_summary(d: Direction) -> str:
    """Direction.summary as it read before the index: from the fully judged policies."""
    label = "egress from" if d.kind == EGRESS else "ingress to"
    if d.exempt:
        return f"{label} {d.pod or '-'}: {d.exempt}"
    if not d.policies:
        return f"{label} {d.pod}: no NetworkPolicy selects it for {d.kind}: not isolated, allowed"
    if any(p.allowed for p in d.policies):
        p, r = d.allowed_by[0]
        return f"{label} {d.pod}: allowed by {p} {d.kind.lower()} rule {r.index + 1}"
    names = ", ".join(str(p) for p in d.policies)
    return f"{label} {d.pod}: isolated by {names} and no rule matched: dropped"


def reference_hop(v: Verdict) -> Hop:
    """The data plane's trace hop as it read before the index, from the fully judged policies."""
    def direction(d: Direction) -> dict:
        isolated = not d.exempt and bool(d.policies)
        return {"pod": str(d.pod) if d.pod else None, "isolated": isolated,
                "allowed": not isolated or any(p.allowed for p in d.policies),
                "exempt": d.exempt, "policies": [str(p) for p in d.policies],
                "allowedBy": [f"{p} {d.kind.lower()} rule {r.index + 1}" for p, r in d.allowed_by]}

    egress, ingress = direction(v.egress), direction(v.ingress)
    allowed = egress["allowed"] and ingress["allowed"]
    word = "allowed" if allowed else "dropped"
    blocker = next((d for d, data in ((v.egress, egress), (v.ingress, ingress)) if not data["allowed"]), None)
    why = reference_summary(blocker) if blocker else "; ".join(reference_summary(d) for d in (v.egress, v.ingress))
    return Hop("policy", f"{v.src} → {v.dst} {v.port}/{v.protocol}: {word} ({why})",
               {"allowed": allowed, "egress": egress, "ingress": ingress})


# -- the random world -------------------------------------------------------------------------------


def labels(rng: random.Random, vocab: dict[str, tuple[str, ...]], most: int) -> dict[str, str]:
    keys = rng.sample(sorted(vocab), rng.randint(0, min(most, len(vocab))))
    return {k: rng.choice(vocab[k]) for k in keys}


def selector(rng: random.Random, vocab: dict[str, tuple[str, ...]]) -> dict:
    shape = rng.randrange(5)
    out: dict = {}
    if shape in (1, 3):
        out["matchLabels"] = labels(rng, vocab, 2) or {"app": "web"}
    if shape in (2, 3):
        exprs = []
        for _ in range(rng.randint(1, 2)):
            key = rng.choice(sorted(vocab))
            op = rng.choice(("In", "NotIn", "Exists", "DoesNotExist"))
            expr = {"key": key, "operator": op}
            if op in ("In", "NotIn"):
                expr["values"] = rng.sample(vocab[key], rng.randint(1, len(vocab[key])))
            exprs.append(expr)
        out["matchExpressions"] = exprs
    if shape == 4:
        out["matchLabels"] = {}
    return out


def peer(rng: random.Random) -> dict:
    shape = rng.randrange(5)
    if shape == 0:
        cidr = rng.choice(("10.244.0.0/16", "10.244.1.0/24", "0.0.0.0/0", "192.168.0.0/16", "10.244.2.8/32"))
        block = {"cidr": cidr}
        if rng.random() < 0.5:
            block["except"] = [rng.choice(("10.244.1.0/25", "10.244.2.0/24", "10.244.0.0/17"))]
        return {"ipBlock": block}
    out: dict = {}
    if shape in (1, 3):
        out["podSelector"] = selector(rng, VALUES)
    if shape in (2, 3):
        out["namespaceSelector"] = selector(rng, NS_VALUES)
    if shape == 4:
        out["podSelector"] = {}
    return out


def port(rng: random.Random) -> dict:
    shape = rng.randrange(7)
    out: dict = {}
    if shape == 0:
        out["port"] = rng.choice((80, 81, 53, 9090))
    elif shape == 1:
        out["port"] = rng.choice(("http", "dns", "metrics", "sctp", "nope"))
    elif shape == 2:
        out["port"] = str(rng.choice((80, 53)))
    elif shape == 3:
        low = rng.choice((50, 79, 80))
        out.update(port=low, endPort=low + rng.choice((0, 1, 40)))
    elif shape == 4:
        out["port"] = 53
    if rng.random() < 0.5:
        out["protocol"] = rng.choice(PROTOCOLS)
    return out


def rules(rng: random.Random, word: str) -> list[dict]:
    out = []
    for _ in range(rng.randint(0, 3)):
        rule: dict = {}
        if rng.random() < 0.8:
            rule[word] = [peer(rng) for _ in range(rng.randint(0, 3))]
        if rng.random() < 0.7:
            rule["ports"] = [port(rng) for _ in range(rng.randint(0, 3))]
        out.append(rule)
    return out


def world(seed: int) -> tuple[list[dict], list[Peer], list[Peer]]:
    """(policies, pods, addresses that are not pods) for one seed."""
    rng = random.Random(seed)
    namespaces = {ns: {**labels(rng, NS_VALUES, 3), "kubernetes.io/metadata.name": ns}
                  for ns in ("shop", "payments", "tools")}
    pods = []
    for i in range(rng.randint(6, 14)):
        ns = rng.choice([*namespaces, "shop"])
        pods.append(Peer(ip=f"10.244.{rng.randrange(3)}.{2 + i}", namespace=ns, name=f"p{i}",
                         labels=labels(rng, VALUES, 3), namespace_labels=namespaces[ns],
                         node=f"node-{rng.randrange(3)}", ports=tuple(rng.sample(NAMED, rng.randint(0, 3))),
                         host_network=rng.random() < 0.1))
    others = [Peer(ip="172.18.0.3", node="node-1"), Peer(ip="203.0.113.9"), Peer(ip=""),
              Peer(ip="10.244.1.200", node="node-2")]
    policies = []
    for i in range(rng.randint(4, 40)):
        spec: dict = {"podSelector": selector(rng, VALUES)}
        if rng.random() < 0.6:
            spec["policyTypes"] = rng.choice(([INGRESS], [EGRESS], [INGRESS, EGRESS], [EGRESS, INGRESS]))
        if rng.random() < 0.8:
            spec["ingress"] = rules(rng, "from")
        if rng.random() < 0.6:
            spec["egress"] = rules(rng, "to")
        ns = rng.choice([*namespaces, "elsewhere"])
        policies.append({"metadata": {"namespace": ns, "name": f"np-{rng.randrange(1000):03d}-{i}"}, "spec": spec})
    rng.shuffle(policies)
    return policies, pods, others


def connections(seed: int, pods: list[Peer], others: list[Peer]) -> list[tuple[Peer, Peer, int, str]]:
    rng = random.Random(seed + 1000)
    ends = pods + others
    out = [(s, d, p, proto) for s in ends for d in pods for p, proto in [(rng.choice((53, 80, 81, 8080, 9090)),
                                                                          rng.choice(PROTOCOLS))]]
    out += [(rng.choice(pods), rng.choice(others), 80, "tcp") for _ in range(10)]
    return out


def same(indexed: Verdict, plain: Verdict) -> None:
    context = indexed.summary()
    assert indexed.allowed == plain.allowed, context
    assert hop(indexed) == reference_hop(plain), context  # before anything is judged in full
    assert indexed.summary() == plain.summary() == reference_hop(plain).summary, context
    for a, b in ((indexed.egress, plain.egress), (indexed.ingress, plain.ingress)):
        assert (a.isolated, a.allowed, a.exempt) == (b.isolated, b.allowed, b.exempt), context
        assert a.policy_names == [str(p) for p in b.policies], context
        assert [(str(p), r.index) for p, r in a.allowed_by] == [(str(p), r.index) for p, r in b.allowed_by]
    assert indexed.walkthrough() == plain.walkthrough()  # the learner's explanation, word for word
    assert hop(indexed) == reference_hop(plain)  # and still the same once judged in full


@pytest.mark.parametrize("seed", SEEDS)
def test_the_index_gives_the_plain_walks_verdicts_hops_and_walkthroughs(seed):
    policies, pods, others = world(seed)
    indexed, plain = PolicySet(policies), PolicySet(policies)
    cases = connections(seed, pods, others)
    for _ in range(2):  # the second round answers from the remembered plans and outcomes
        for src, dst, p, proto in cases:
            same(indexed.evaluate(src, dst, p, proto), plain.evaluate(src, dst, p, proto, indexed=False))
    for pod in pods + others:
        for kind in (INGRESS, EGRESS):
            assert indexed.selecting(pod, kind) == plain._scan(pod, kind)


def test_the_worlds_cover_what_the_index_distinguishes():
    """The random worlds above hold allowed and dropped verdicts, policies filed under a label and unfiled ones,
    named ports, ipBlocks and exemptions: a world where everything is allowed would prove nothing."""
    seen: dict[str, int] = {}
    for seed in SEEDS:
        policies, pods, others = world(seed)
        ps = PolicySet(policies)
        for index in ps._index.values():
            seen["filed"] = seen.get("filed", 0) + sum(len(v) for v in index.by_label.values())
            seen["unfiled"] = seen.get("unfiled", 0) + len(index.unfiled)
        for src, dst, p, proto in connections(seed, pods, others):
            v = ps.evaluate(src, dst, p, proto)
            seen["allowed" if v.allowed else "dropped"] = seen.get("allowed" if v.allowed else "dropped", 0) + 1
            for d in (v.egress, v.ingress):
                if d.exempt:
                    seen["exempt"] = seen.get("exempt", 0) + 1
                elif d.isolated and d.allowed:
                    seen["allowed by a rule"] = seen.get("allowed by a rule", 0) + 1
                elif d.isolated:
                    seen["isolated, dropped"] = seen.get("isolated, dropped", 0) + 1
                text = "\n".join(d.walkthrough())
                for word in ("(named)", "ipBlock", "AND podSelector", " in (", "!"):
                    if word in text:
                        seen[word] = seen.get(word, 0) + 1
    for key in ("filed", "unfiled", "allowed", "dropped", "exempt", "allowed by a rule", "isolated, dropped",
                "(named)", "ipBlock", "AND podSelector", " in (", "!"):
        assert seen.get(key, 0) >= 10, (key, seen)


def test_a_label_change_is_a_new_key_not_a_stale_answer():
    """The set is built from the policies alone: a pod or namespace that changes its labels is judged afresh."""
    deny = {"metadata": {"namespace": "shop", "name": "deny"},
            "spec": {"podSelector": {"matchLabels": {"app": "db"}}}}
    allow = {"metadata": {"namespace": "shop", "name": "from-prod"},
             "spec": {"podSelector": {"matchLabels": {"app": "db"}},
                      "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"env": "prod"}}}]}]}}
    ps = PolicySet([deny, allow])
    db = Peer(ip="10.244.1.2", namespace="shop", name="db", labels={"app": "db"})
    client = Peer(ip="10.244.1.3", namespace="tools", name="c", namespace_labels={"env": "dev"})
    assert not ps.evaluate(client, db, 80).allowed
    assert ps.evaluate(Peer(**{**client.__dict__, "namespace_labels": {"env": "prod"}}), db, 80).allowed
    assert ps.evaluate(client, Peer(**{**db.__dict__, "labels": {"app": "web"}}), 80).allowed
    assert not ps.evaluate(client, db, 80).allowed
