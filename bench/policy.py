"""Benchmark 5: NetworkPolicy connectivity matrices, measured through exec, and the policy engine alone.

1. The upstream e2e model (kubernetes test/e2e/network/netpol model.go): namespaces x, y, z with pods a, b, c,
   each serving TCP on 80 and 81 from its own agnhost ``serve-hostname`` container. ``policy.measure`` of the
   9×9 matrix on both ports (162 probes) with a deny-all plus an allow rule in place. Target < 2 s.
2. 50 pods in 5 namespaces with 100 NetworkPolicies (seeded mix of deny-all, pod/namespace selectors, named ports,
   port ranges, egress rules): ``policy.measure`` of the 50×50 matrix on one port (2,500 probes). Target < 5 s.
   ``policy.predict`` of the same matrix, and how many cells agree, are printed alongside.
   Where the time goes: the same matrix with no policies (the exec and data-plane cost alone), and with one
   probe per exec (``PROBES_PER_EXEC = 1``, how ``measure`` worked before it grouped probes).
3. The engine alone (``k8snet.netpol.PolicySet.evaluate``), no cluster: ordered pairs of N pods judged against
   P policies, for N in 10/50/100 and P in 10/100/1000, to show how the cost grows with pods × policies. At most
   ENGINE_SAMPLE pairs (a seeded sample) are timed, from a freshly built set (so the first verdict per label set,
   which builds that set's plan, is in the time); the whole matrix's time is extrapolated from them. Building
   the set (what the sandbox does once per NetworkPolicy change) is timed apart, in the note. The garbage
   collector is off while the verdicts are timed, as ``timeit`` keeps it: this process holds the client and the
   matrices above, and a full collection of them (some 200 ms) would otherwise land in one row or another.
4. Cilium's repository alone (``k8snet.sandbox.dataplane.cilium.rules.Repository``): one verdict (egress of the
   source and ingress of the destination) between 100 synthetic endpoints under P CiliumNetworkPolicies of the
   same seeded shapes, beside walking every rule in the same run (what it did before the index). Target: under
   100 µs at 1,000 policies.
5. Calico's repository alone (``k8snet.sandbox.dataplane.calico.rules.Repository``): the same, under P policies
   (NetworkPolicies and GlobalNetworkPolicies in three tiers, with Allow, Deny and Pass rules), beside walking
   every policy. Target: under 100 µs at 1,000 policies.
6. L7 verdicts per second: the Envoy proxy's HTTP rule check (``cilium.l7.allowed``) of seeded requests against a
   policy's ten HTTP rules (method, path regex, headers), as every request on an L7-enforced port pays it.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from typing import Any

from .common import Result, log, private_env

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
MODEL_NS, MODEL_PODS, MODEL_PORTS = ("x", "y", "z"), ("a", "b", "c"), (80, 81)
TARGET_MODEL_S = 2.0
BIG_NS, BIG_PER_NS, BIG_POLICIES = 5, 10, 100
TARGET_BIG_S = 5.0
RUNS = 3
ENGINE_PODS, ENGINE_POLICIES = (10, 50, 100), (10, 100, 1000)
ENGINE_SAMPLE = 1000
CILIUM_PODS, CILIUM_POLICIES = 100, (10, 100, 1000)
TARGET_CILIUM_US = 100.0
"""Per verdict at 1,000 policies, for Cilium's and Calico's repositories alike."""
L7_REQUESTS = 20000
TIERS = ("web", "api", "db")
NETPOL = "networking.k8s.io/v1"

Obj = dict[str, Any]


# -- 1. the upstream model ---------------------------------------------------------------------------


def model_manifests() -> list[Obj]:
    """x, y, z labelled ``ns: <name>``; pods a, b, c labelled ``pod: <name>``, one serving container per port."""
    out: list[Obj] = []
    for ns in MODEL_NS:
        out.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"ns": ns}}})
        for p in MODEL_PODS:
            containers = [{"name": f"cont-{port}-tcp", "image": AGNHOST,
                           "command": ["/agnhost", "serve-hostname", "--tcp", "--http=false", "--port", str(port)],
                           "ports": [{"containerPort": port, "name": f"serve-{port}-tcp", "protocol": "TCP"}]}
                          for port in MODEL_PORTS]
            out.append({"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": p, "namespace": ns, "labels": {"pod": p}},
                        "spec": {"terminationGracePeriodSeconds": 0, "containers": containers}})
    return out


def model_policies() -> list[Obj]:
    """Deny all ingress in y, then let x/a into y on 80 only: a matrix with allowed and dropped cells on both ports."""
    return [
        {"apiVersion": NETPOL, "kind": "NetworkPolicy", "metadata": {"name": "deny-all", "namespace": "y"},
         "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}},
        {"apiVersion": NETPOL, "kind": "NetworkPolicy", "metadata": {"name": "allow-x-a", "namespace": "y"},
         "spec": {"podSelector": {}, "ingress": [{
             "from": [{"namespaceSelector": {"matchLabels": {"ns": "x"}}, "podSelector": {"matchLabels": {"pod": "a"}}}],
             "ports": [{"port": "serve-80-tcp"}]}]}},
    ]


# -- 2. fifty pods, a hundred policies ---------------------------------------------------------------


def big_names() -> list[str]:
    return [f"team-{n}/pod-{i:02d}" for n in range(BIG_NS) for i in range(BIG_PER_NS)]


def big_manifests() -> list[Obj]:
    out: list[Obj] = []
    for n in range(BIG_NS):
        ns = f"team-{n}"
        out.append({"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": ns, "labels": {"team": str(n), "env": "prod" if n % 2 else "dev"}}})
        for i in range(BIG_PER_NS):
            out.append({"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": f"pod-{i:02d}", "namespace": ns,
                                     "labels": {"app": f"pod-{i:02d}", "tier": TIERS[i % 3]}},
                        "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
                            "name": "agnhost", "image": AGNHOST, "args": ["netexec", "--http-port=80"],
                            "ports": [{"containerPort": 80, "name": "http"}]}]}})
    return out


def synthetic_policies(namespaces: list[str], count: int, seed: int = 0) -> list[Obj]:
    """``count`` policies spread over ``namespaces``: the shapes the lessons teach, in a seeded mix.

    Per namespace the first is a deny-all-ingress; the rest allow ingress to one tier from a tier in namespaces
    picked by label (AND in one peer), from an app in the same namespace (named port), from an ipBlock with an
    exception, on a port range, or allow egress to DNS and to one tier.
    """
    rng = random.Random(seed)
    out: list[Obj] = []
    for i in range(count):
        ns = namespaces[i % len(namespaces)]
        name = f"p{i:04d}"
        if i < len(namespaces):
            spec: Obj = {"podSelector": {}, "policyTypes": ["Ingress"]}
        else:
            tier, other = rng.choice(TIERS), rng.choice(TIERS)
            shape = rng.randrange(5)
            if shape == 0:
                spec = {"podSelector": {"matchLabels": {"tier": tier}}, "ingress": [{"from": [{
                    "namespaceSelector": {"matchLabels": {"env": rng.choice(("prod", "dev"))}},
                    "podSelector": {"matchLabels": {"tier": other}}}], "ports": [{"port": 80}]}]}
            elif shape == 1:
                spec = {"podSelector": {"matchLabels": {"tier": tier}}, "ingress": [{"from": [{
                    "podSelector": {"matchLabels": {"app": f"pod-{rng.randrange(BIG_PER_NS):02d}"}}}],
                    "ports": [{"port": "http"}]}]}
            elif shape == 2:
                spec = {"podSelector": {"matchExpressions": [{"key": "tier", "operator": "In",
                                                              "values": [tier, other]}]},
                        "ingress": [{"from": [{"ipBlock": {"cidr": "10.244.0.0/16", "except": ["10.244.2.0/24"]}}]}]}
            elif shape == 3:
                spec = {"podSelector": {"matchLabels": {"tier": tier}}, "ingress": [{"from": [{
                    "namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "NotIn",
                                                                "values": [str(rng.randrange(BIG_NS))]}]}}],
                    "ports": [{"port": 70, "endPort": 90}]}]}
            else:
                spec = {"podSelector": {"matchLabels": {"tier": tier}}, "policyTypes": ["Egress"], "egress": [
                    {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
                    {"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"tier": other}}}]}]}
        out.append({"apiVersion": NETPOL, "kind": "NetworkPolicy", "metadata": {"name": name, "namespace": ns},
                    "spec": spec})
    return out


# -- 3. the engine alone -----------------------------------------------------------------------------


def engine_grid() -> list[Result]:
    """Time ``PolicySet.evaluate`` over every ordered pair of N synthetic pods for each P."""
    from k8snet.netpol import Peer, PolicySet
    from k8snet.sandbox.dataplane.policy import hop

    results = []
    namespaces = [f"team-{n}" for n in range(BIG_NS)]
    for n_pods in ENGINE_PODS:
        peers = [Peer(ip=f"10.244.{i % 3}.{10 + i}", namespace=namespaces[i % BIG_NS], name=f"pod-{i:03d}",
                      labels={"app": f"pod-{i % BIG_PER_NS:02d}", "tier": TIERS[i % 3]},
                      namespace_labels={"team": str(i % BIG_NS), "env": "prod" if (i % BIG_NS) % 2 else "dev",
                                        "kubernetes.io/metadata.name": namespaces[i % BIG_NS]},
                      node=f"node-{i % 3}", ports=(("http", 80, "TCP"),))
                 for i in range(n_pods)]
        for n_pol in ENGINE_POLICIES:
            objs = synthetic_policies(namespaces, n_pol)
            gc.collect()
            t0 = time.perf_counter()
            policies = PolicySet(objs)
            build_ms = (time.perf_counter() - t0) * 1000
            every = [(s, d) for s in peers for d in peers]
            pairs = random.Random(0).sample(every, min(len(every), ENGINE_SAMPLE))
            gc.collect()
            gc.disable()  # as timeit does: a full collection of this process's heap is not the engine's time
            try:
                t0 = time.perf_counter()
                allowed = sum(policies.evaluate(s, d, 80, "TCP").allowed for s, d in pairs)
                seconds = time.perf_counter() - t0
                t0 = time.perf_counter()  # again, as the data plane asks: the verdict and its trace hop
                for s, d in pairs:
                    hop(policies.evaluate(s, d, 80, "TCP"))
                again = (time.perf_counter() - t0) / len(pairs) * 1e6
            finally:
                gc.enable()
            per = seconds / len(pairs) * 1e6
            whole = per * len(every) / 1000
            sampled = f"{len(pairs):,} sampled pairs" if len(pairs) < len(every) else f"all {len(every):,} pairs"
            log(f"engine: {n_pods} pods × {n_pol} policies: {per:.0f} µs per verdict ({sampled}, {allowed} allowed); "
                f"whole {n_pods}×{n_pods} matrix ≈ {whole:.0f} ms; set built in {build_ms:.1f} ms; "
                f"the same pairs again with the trace hop: {again:.0f} µs each")
            results.append(Result(f"engine: {n_pods}×{n_pods} matrix, {n_pol} policies", whole, "ms",
                                  note=f"{per:.0f} µs per verdict × {len(every):,} pairs ({sampled}); set built in "
                                  f"{build_ms:.1f} ms; again with the trace hop {again:.0f} µs; informational"))
    return results


def _cilium_endpoints(n: int):
    from k8snet.sandbox.dataplane.cilium.labels import Endpoint, pod_labels

    out = []
    for i in range(n):
        ns = f"team-{i % BIG_NS}"
        obj = {"metadata": {"name": f"pod-{i:03d}", "namespace": ns,
                            "labels": {"app": f"pod-{i % BIG_PER_NS:02d}", "tier": TIERS[i % 3]}},
               "spec": {"nodeName": f"node-{i % 3}"}}
        out.append(Endpoint(ip=f"10.244.{i % 3}.{10 + i}", labels=pod_labels(obj, {"team": str(i % BIG_NS)}),
                            identity=1000 + i, namespace=ns, name=obj["metadata"]["name"], node=f"node-{i % 3}",
                            ports=(("http", 80, "TCP"),)))
    return out


def cilium_policies(namespaces: list[str], count: int, seed: int = 0) -> list[Obj]:
    """CiliumNetworkPolicies in the shapes of :func:`synthetic_policies`: an endpointSelector on one label (or all
    of the namespace), ingress from endpoints of a tier or a namespace on port 80, some egress and deny items."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        ns = namespaces[i % len(namespaces)]
        selector = rng.choice([{}, {"matchLabels": {"app": f"pod-{rng.randrange(BIG_PER_NS):02d}"}},
                               {"matchLabels": {"tier": rng.choice(TIERS)}}])
        peer = rng.choice([{"matchLabels": {"tier": rng.choice(TIERS)}},
                           {"matchLabels": {"k8s:io.kubernetes.pod.namespace": rng.choice(namespaces)}}])
        spec: Obj = {"endpointSelector": selector,
                     "ingress": [{"fromEndpoints": [peer], "toPorts": [{"ports": [{"port": "80", "protocol": "TCP"}]}]}]}
        if rng.random() < 0.3:
            spec["egress"] = [{"toEndpoints": [peer]}]
        if rng.random() < 0.1:
            spec["ingressDeny"] = [{"fromEntities": ["world"]}]
        out.append({"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
                    "metadata": {"name": f"cnp-{i:04d}", "namespace": ns}, "spec": spec})
    return out


def _cilium_verdict(source: Any, src: Any, dst: Any) -> tuple[Any, Any]:
    """Egress of ``src`` and ingress of ``dst`` on 80/TCP, from a Repository or by walking a list of rules."""
    from k8snet.sandbox.dataplane.cilium import rules

    if isinstance(source, rules.Repository):
        return (source.evaluate(rules.EGRESS, src, dst, dst, 80, "TCP"),
                source.evaluate(rules.INGRESS, dst, src, dst, 80, "TCP"))
    return (rules.evaluate(source, rules.EGRESS, src, dst, dst, 80, "TCP"),
            rules.evaluate(source, rules.INGRESS, dst, src, dst, 80, "TCP"))


def cilium_grid() -> list[Result]:
    """One verdict (both directions) through the indexed repository, beside the walk over every rule."""
    from k8snet.sandbox.dataplane.cilium import rules

    results = []
    eps = _cilium_endpoints(CILIUM_PODS)
    pairs = random.Random(1).sample([(s, d) for s in eps for d in eps], ENGINE_SAMPLE)
    namespaces = [f"team-{n}" for n in range(BIG_NS)]
    for n_pol in CILIUM_POLICIES:
        every = [r for obj in cilium_policies(namespaces, n_pol) for r in rules.rules_of(obj)]
        repo = rules.Repository(every)  # fresh: the first verdict per label set selects in the time
        timed = {}
        for label, source in (("walk", every), ("index", repo)):
            gc.collect()
            gc.disable()
            try:
                t0 = time.perf_counter()
                verdicts = [_cilium_verdict(source, s, d) for s, d in pairs]
                timed[label] = (time.perf_counter() - t0) / len(pairs) * 1e6
            finally:
                gc.enable()
            timed[label + "-allowed"] = sum(1 for e, i in verdicts if (e.allows or not e.enforced) and
                                            (i.allows or not i.enforced) and not e.denies and not i.denies)
        same = timed["walk-allowed"] == timed["index-allowed"]
        log(f"cilium repository: {CILIUM_PODS} endpoints × {n_pol} policies: {timed['index']:.1f} µs per verdict "
            f"indexed, {timed['walk']:.1f} µs walking every rule ({timed['walk'] / timed['index']:.1f}×); "
            f"{timed['index-allowed']} of {len(pairs)} allowed, the same both ways: {same}")
        results.append(Result(f"Cilium verdict, {n_pol} CiliumNetworkPolicies", timed["index"], "µs",
                              TARGET_CILIUM_US if n_pol == 1000 else None,
                              f"{CILIUM_PODS} endpoints, {len(pairs):,} sampled pairs, both directions; walking every "
                              f"rule: {timed['walk']:.0f} µs ({timed['walk'] / timed['index']:.1f}× the index); "
                              f"same verdicts: {same}"))
    return results


def _calico_endpoints(n: int):
    from k8snet.sandbox.dataplane.calico.labels import Endpoint, pod_labels

    out = []
    for i in range(n):
        ns = f"team-{i % BIG_NS}"
        obj = {"metadata": {"name": f"pod-{i:03d}", "namespace": ns,
                            "labels": {"app": f"pod-{i % BIG_PER_NS:02d}", "tier": TIERS[i % 3]}},
               "spec": {"serviceAccountName": "default"}}
        out.append(Endpoint(ip=f"10.244.{i % 3}.{10 + i}", labels=pod_labels(obj, {"team": str(i % BIG_NS)}, {}),
                            namespace=ns, name=obj["metadata"]["name"], ports=(("http", 80, "TCP"),)))
    return out


def calico_policies(namespaces: list[str], count: int, seed: int = 0) -> list[Any]:
    """Calico policies in the shapes of :func:`synthetic_policies`, a tenth of them global guardrails in a
    ``security`` tier that pass or deny."""
    from k8snet.sandbox.dataplane.calico import rules

    rng = random.Random(seed)
    out = []
    for i in range(count):
        ns = namespaces[i % len(namespaces)]
        target = rng.choice(["all()", f"app == 'pod-{rng.randrange(BIG_PER_NS):02d}'", f"tier == '{rng.choice(TIERS)}'"])
        peer = rng.choice([f"tier == '{rng.choice(TIERS)}'", f"has(tier) && app != 'pod-0{rng.randrange(10)}'"])
        if i % 10 == 0:
            out.append(rules.Policy(rules.GNP, None, f"guard-{i:04d}", "security", float(rng.randrange(100)),
                                    {"selector": target, "ingress": [{"action": "Pass", "source": {"selector": peer}},
                                                                     {"action": "Deny"}]}))
            continue
        out.append(rules.Policy(rules.NP, ns, f"np-{i:04d}", "default", float(rng.randrange(1000)),
                                {"selector": target, "ingress": [{"action": "Allow", "protocol": "TCP",
                                                                  "source": {"selector": peer},
                                                                  "destination": {"ports": [80]}}]}))
    return out


def calico_grid() -> list[Result]:
    """One verdict (both directions) through Calico's indexed repository, beside the walk over every policy."""
    from k8snet.sandbox.dataplane.calico import rules

    results = []
    eps = _calico_endpoints(CILIUM_PODS)
    pairs = random.Random(1).sample([(s, d) for s in eps for d in eps], ENGINE_SAMPLE)
    tiers = {"default": rules.Tier("default", 1_000_000), "security": rules.Tier("security", 100)}
    namespaces = [f"team-{n}" for n in range(BIG_NS)]
    for n_pol in CILIUM_POLICIES:
        every = calico_policies(namespaces, n_pol)
        repo = rules.Repository(tiers, every)  # fresh: the first verdict per endpoint works out what applies
        timed: dict[str, float] = {}
        for label in ("walk", "index"):
            gc.collect()
            gc.disable()
            try:
                t0 = time.perf_counter()
                if label == "walk":
                    verdicts = [(rules.evaluate(tiers, every, rules.EGRESS, s, s, d, 80, "TCP"),
                                 rules.evaluate(tiers, every, rules.INGRESS, d, s, d, 80, "TCP")) for s, d in pairs]
                else:
                    verdicts = [(repo.evaluate(rules.EGRESS, s, s, d, 80, "TCP", []),
                                 repo.evaluate(rules.INGRESS, d, s, d, 80, "TCP", [])) for s, d in pairs]
                timed[label] = (time.perf_counter() - t0) / len(pairs) * 1e6
            finally:
                gc.enable()
            timed[label + "-allowed"] = sum(1 for e, i in verdicts if e.allowed and i.allowed)
        same = timed["walk-allowed"] == timed["index-allowed"]
        log(f"calico repository: {CILIUM_PODS} endpoints × {n_pol} policies: {timed['index']:.1f} µs per verdict "
            f"indexed, {timed['walk']:.1f} µs walking every policy ({timed['walk'] / timed['index']:.1f}×); "
            f"{timed['index-allowed']} of {len(pairs)} allowed, the same both ways: {same}")
        results.append(Result(f"Calico verdict, {n_pol} policies in tiers", timed["index"], "µs",
                              TARGET_CILIUM_US if n_pol == 1000 else None,
                              f"{CILIUM_PODS} endpoints, {len(pairs):,} sampled pairs, both directions; walking every "
                              f"policy: {timed['walk']:.0f} µs ({timed['walk'] / timed['index']:.1f}× the index); "
                              f"same verdicts: {same}"))
    return results


def l7_rate() -> list[Result]:
    """The proxy's HTTP rule check per request, over a policy's ten rules (a seeded mix of allowed and denied)."""
    from k8snet.sandbox.dataplane.cilium import l7
    from k8snet.sandbox.dataplane.model import HttpRequest

    http_rules = [{"method": "GET", "path": f"/api/v{i}/.*"} for i in range(7)] + [
        {"method": "POST", "path": "/orders", "headers": ["X-Token: s3cret"]},
        {"method": "GET|HEAD", "path": "/public(/.*)?"}, {"method": "PUT", "path": "/admin/[a-z]+"}]
    rng = random.Random(2)
    paths = ["/api/v3/items", "/api/v9/items", "/orders", "/public", "/public/x", "/admin/users", "/private"]
    reqs = [HttpRequest(rng.choice(["GET", "POST", "PUT", "DELETE"]), rng.choice(paths),
                        {"Host": "echo:8080", "X-Token": rng.choice(["s3cret", "nope"])}) for _ in range(L7_REQUESTS)]
    gc.collect()
    t0 = time.perf_counter()
    allowed = sum(l7.allowed(http_rules, r) is not None for r in reqs)
    seconds = time.perf_counter() - t0
    rate = len(reqs) / seconds
    log(f"L7: {rate:,.0f} HTTP verdicts/s over {len(http_rules)} rules ({allowed} of {len(reqs)} allowed)")
    return [Result("Cilium L7 HTTP verdicts per second (10 rules)", rate, "req/s",
                   note=f"{len(reqs):,} seeded requests, {allowed:,} allowed; the Envoy proxy's rule check alone; "
                        "informational")]


# -- the run -----------------------------------------------------------------------------------------


def _ready_all(cluster, names: list[str]) -> None:
    for name in names:
        ns, pod = name.split("/", 1)
        cluster.wait_pod_ready(pod, ns, timeout=120)


def _timed_measure(policy, cluster, names: list[str], ports: list[int]) -> tuple[float, Any, list[float]]:
    times, matrix = [], None
    for _ in range(RUNS):
        t0 = time.perf_counter()
        matrix = policy.measure(cluster, names, names, ports=ports)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), matrix, times


def run() -> list[Result]:
    from kubernetes.config import kube_config

    import k8snet
    from k8snet import policy

    results: list[Result] = []
    with private_env() as env:
        kube_config.KUBE_CONFIG_DEFAULT_LOCATION = str(env.kubeconfig)
        cluster = k8snet.connect("sandbox")

        # 1. the upstream model, 9×9 on two ports
        t0 = time.perf_counter()
        cluster.apply(model_manifests())
        model = [f"{ns}/{p}" for ns in MODEL_NS for p in MODEL_PODS]
        _ready_all(cluster, model)
        cluster.apply(model_policies())
        log(f"model x,y,z × a,b,c (2 serving containers each) and 2 policies ready in {time.perf_counter() - t0:.2f}s")
        policy.measure(cluster, model[:1], model[:1], ports=[80])  # warm up: first exec
        seconds, measured, times = _timed_measure(policy, cluster, model, list(MODEL_PORTS))
        predicted = policy.predict(cluster, model, model, ports=list(MODEL_PORTS))
        cmp = measured.compare(predicted)
        allowed = sum(1 for c in measured.cells.values() if c.allowed)
        log(f"9×9 on 80,81: {[f'{t:.3f}' for t in times]} s; {allowed}/{len(measured.cells)} connected; "
            f"measured vs predicted: {str(cmp).splitlines()[0]}")
        results.append(Result("policy.measure 9×9 × 2 ports (162 probes)", seconds, "s", TARGET_MODEL_S,
                              f"median of {RUNS}; {allowed} connected; {str(cmp).splitlines()[0]} vs predict"))

        # 2. fifty pods, a hundred policies
        t0 = time.perf_counter()
        cluster.apply(big_manifests())
        names = big_names()
        _ready_all(cluster, names)
        log(f"{len(names)} pods in {BIG_NS} namespaces ready in {time.perf_counter() - t0:.2f}s")
        bare, _, times = _timed_measure(policy, cluster, names, [80])
        log(f"50×50 on 80 without policies: {[f'{t:.3f}' for t in times]} s")
        results.append(Result("policy.measure 50×50, no policies", bare, "s",
                              note=f"median of {RUNS}: exec and data-plane cost without policy verdicts"))
        t0 = time.perf_counter()
        cluster.apply(synthetic_policies([f"team-{n}" for n in range(BIG_NS)], BIG_POLICIES))
        log(f"{len(names)} pods in {BIG_NS} namespaces and {BIG_POLICIES} policies ready in "
            f"{time.perf_counter() - t0:.2f}s")
        seconds, measured, times = _timed_measure(policy, cluster, names, [80])
        t0 = time.perf_counter()
        predicted = policy.predict(cluster, names, names, ports=[80])
        predict_s = time.perf_counter() - t0
        cmp = measured.compare(predicted)
        allowed = sum(1 for c in measured.cells.values() if c.allowed)
        log(f"50×50 on 80: {[f'{t:.3f}' for t in times]} s; {allowed}/{len(measured.cells)} connected; "
            f"predict {predict_s:.3f} s; measured vs predicted: {str(cmp).splitlines()[0]}")
        results.append(Result(f"policy.measure 50×50, {BIG_POLICIES} policies (2,500 probes)", seconds, "s",
                              TARGET_BIG_S, f"median of {RUNS}; {allowed} connected; "
                              f"{str(cmp).splitlines()[0]} vs predict"))
        results.append(Result(f"policy.predict 50×50, {BIG_POLICIES} policies", predict_s, "s",
                              note="offline, from one snapshot of the API; informational"))
        grouped = policy.PROBES_PER_EXEC
        try:
            policy.PROBES_PER_EXEC = 1
            t0 = time.perf_counter()
            single = policy.measure(cluster, names, names, ports=[80])
            one_s = time.perf_counter() - t0
        finally:
            policy.PROBES_PER_EXEC = grouped
        same = str(single.compare(measured)).splitlines()[0]
        log(f"50×50 on 80, one probe per exec (2,500 execs): {one_s:.3f} s; vs grouped: {same}")
        results.append(Result(f"policy.measure 50×50, {BIG_POLICIES} policies, 1 probe/exec", one_s, "s",
                              note=f"2,500 execs instead of {-(-2500 // grouped)}; {same} vs grouped; informational"))

    # 3. the engine alone; 4. Cilium's repository; 5. Calico's; 6. L7 verdicts
    results += engine_grid()
    results += cilium_grid()
    results += calico_grid()
    results += l7_rate()
    return results
