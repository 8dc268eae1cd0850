"""Building blocks for the conformance cases: policies as upstream's generators make them, expectations as truth tables.

Policies follow kubernetes/kubernetes test/e2e/network/netpol/policies.go:
``SetSpecIngressRules(...)`` puts "Ingress" in policyTypes (and an empty
rule list denies all); ``SetSpecEgressRules(...)`` puts "Egress". Targets are
the pods' Services (``svc:x/s-x-a``), because upstream's probe.go connects to
``job.PodTo.ServiceIP``; expectations are still written per pod, as
upstream's Reachability is, and mapped onto those Service targets here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from kubernetes.client.exceptions import ApiException

from k8snet import policy

NS_NAME = "kubernetes.io/metadata.name"  # upstream namespaceLabelKey


def svc_target(pod: str) -> str:
    """The Service that fronts an upstream model pod: ``x/a`` → ``svc:x/s-x-a`` (model.go ServiceName)."""
    ns, name = pod.split("/")
    return f"svc:{ns}/s-{ns}-{name}"


def svc_pattern(pattern: str) -> str:
    """A pod pattern (``x/a``, ``x/*``, ``*/a``, ``*``) as a pattern over Service targets."""
    if pattern == "*":
        return "*"
    ns, name = pattern.split("/")
    return f"svc:{ns}/s-{ns}-{name}"


class Reachability:
    """A hand-written truth table over pods, like upstream's reachability.go, probing each pod's Service.

    Every cell starts ``True`` (NewReachability(..., true)); ``expect`` sets
    cells by pod patterns. A pod's connection to its own Service stays allowed:
    "a pod cannot block access to itself" (kubernetes.io network-policies).
    Upstream ignores these loopback cells (ignoreLoopback); we pin them.
    """

    def __init__(self, pods: Sequence[str], ports: Iterable[int] = (80,), protocols: Iterable[str] = ("TCP",)):
        self.pods = list(pods)
        self.ports = [int(p) for p in ports]
        self.protocols = [p.upper() for p in protocols]
        self.targets = [svc_target(p) for p in self.pods]
        self.matrix = policy.expect(self.pods, self.targets, ports=self.ports, protocols=self.protocols)

    def expect(self, src: str, dst: str, allowed: bool, port: int | None = None,
               protocol: str | None = None) -> Reachability:
        """Upstream's Expect/ExpectPeer: ``src`` and ``dst`` are pod patterns (``*`` wildcards)."""
        self.matrix.set(src, svc_pattern(dst), allowed, port=port, protocol=protocol)
        return self

    def all_ingress(self, pod: str, allowed: bool) -> Reachability:
        """Upstream's ExpectAllIngress."""
        return self.expect("*", pod, allowed)

    def all_egress(self, pod: str, allowed: bool) -> Reachability:
        """Upstream's ExpectAllEgress."""
        return self.expect(pod, "*", allowed)

    def final(self) -> policy.Matrix:
        for pod in self.pods:
            self.matrix.set(pod, svc_target(pod), True)
        return self.matrix


def verify(model: Any, reach: Reachability) -> None:
    """Measure (agnhost connect through exec) and predict (from the API objects); both must equal the hand table."""
    check(model, reach.pods, reach.targets, reach.final(), reach.ports, reach.protocols)


def check(model: Any, sources: Sequence[str], targets: Sequence[str], expected: policy.Matrix,
          ports: Iterable[int], protocols: Iterable[str] = ("TCP",)) -> None:
    """The measured and the predicted matrix, each compared with ``expected`` (never with each other)."""
    args = (model.cluster, list(sources), list(targets))
    kw = {"ports": list(ports), "protocols": list(protocols)}
    try:
        measured = policy.measure(*args, **kw)
    except ApiException as exc:  # say what the API refused, not the WebSocket library's traceback
        raise AssertionError(f"policy.measure could not run its probes: {exc.body or exc.reason}") from None
    predicted = policy.predict(*args, **kw)
    problems = []
    for matrix in (measured, predicted):
        cmp = matrix.compare(expected)
        # compare() skips cells the expectation lacks: make sure every expected cell was judged
        assert cmp.correct + len(cmp.wrong) == len(expected.cells), f"{matrix.kind} misses cells: {cmp}"
        if len(cmp.wrong):
            problems.append(f"{matrix.kind} vs expected: {cmp}\n{matrix.kind}:\n{matrix.table()}")
    assert not problems, "\n".join(problems) + f"\nexpected:\n{expected.table()}"


# -- policies (upstream policies.go's generators, as plain dicts) ----------------------------------------


def labels(**kv: str) -> dict[str, Any]:
    return {"matchLabels": dict(kv)}


def ns_is(name: str) -> dict[str, Any]:
    return {"matchLabels": {NS_NAME: name}}


def expr(key: str, op: str, *values: str) -> dict[str, Any]:
    return {"matchExpressions": [{"key": key, "operator": op, "values": list(values)}]}


def spec(pod_selector: dict[str, Any] | None = None, ingress: list[dict] | None = None,
         egress: list[dict] | None = None) -> dict[str, Any]:
    """GenNetworkPolicy + SetSpecIngressRules/SetSpecEgressRules: a given list adds its direction to policyTypes."""
    out: dict[str, Any] = {"podSelector": pod_selector or {}, "policyTypes": []}
    if ingress is not None:
        out["ingress"] = ingress
        out["policyTypes"].append("Ingress")
    if egress is not None:
        out["egress"] = egress
        out["policyTypes"].append("Egress")
    return out


def port(number: int | str, protocol: str | None = None, end: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"port": number}
    if protocol:
        out["protocol"] = protocol
    if end is not None:
        out["endPort"] = end
    return out
