"""Lab 02 — NetworkPolicies: default deny, allow one client on one port, egress with DNS, the AND/OR pitfall.

Every check measures a connectivity matrix with real probes from inside the
source pods (:func:`k8snet.policy.measure`) and compares it with the
exercise's expected matrix; the egress exercise also resolves a name. A hint
names the wrong cell in words ("lab02-shop/frontend can still reach
lab02-andor/payment-api on 8080/TCP") and then says why, from the policy
walkthrough of that connection (:func:`k8snet.policy.explain`).

The rules the expectations follow are the Kubernetes documentation's
(concepts/services-networking/network-policies): a pod is isolated for a
direction once a policy with that direction in ``policyTypes`` selects it;
both the source's egress and the destination's ingress must allow a
connection; one peer with ``namespaceSelector`` and ``podSelector`` needs
both to match, two peers are alternatives; "a pod cannot block access to
itself".
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from kubernetes.client.exceptions import ApiException

from .. import policy, traffic
from ..netpol import Direction
from . import Exercise, Hint, labs_folder

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..cluster import Cluster

LAB = "lab-02-network-policies"
SHOP, TOOLS = "lab02-shop", "lab02-tools"
"""Namespaces every exercise uses as the outside world: never edited by the exercises."""
HTTP, ADMIN = 8080, 9090
NETPOL = "networking.k8s.io/v1"
DNS_NAME = "kubernetes.default"


def agnhost_pod(name: str, admin: bool = False, app: str | None = None) -> dict:
    """An agnhost netexec pod labelled ``app: <name>`` (or ``app``) on port 8080 (``http``), plus admin 9090 if asked."""
    containers = [{"name": "app", "image": traffic.AGNHOST, "args": ["netexec", f"--http-port={HTTP}"],
                   "ports": [{"name": "http", "containerPort": HTTP}]}]
    if admin:
        containers.append({"name": "admin", "image": traffic.AGNHOST,
                           "args": ["netexec", f"--http-port={ADMIN}", "--udp-port=-1"],
                           "ports": [{"name": "admin", "containerPort": ADMIN}]})
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": app or name}},
            "spec": {"containers": containers}}


def _run_pods(cluster: Cluster, namespace: str, pods: list[dict]) -> None:
    cluster.apply(pods, namespace=namespace)
    for p in pods:
        cluster.wait_pod_ready(p["metadata"]["name"], namespace)


def ensure_world(cluster: Cluster) -> None:
    """The shared namespaces: lab02-shop (frontend, cart) and lab02-tools (debug, and impostor labelled app: cart).

    The impostor is a compromised pod that relabelled itself ``app: cart``:
    a pod can set its own labels, but not its namespace's name label, so only
    a peer that also selects the namespace keeps it out.

    Created when missing, left alone otherwise, so one exercise's setup does
    not disturb another's; any NetworkPolicy found there is removed, since
    the expectations assume these pods are not isolated.
    """
    world = {SHOP: [agnhost_pod("frontend"), agnhost_pod("cart")],
             TOOLS: [agnhost_pod("debug"), agnhost_pod("impostor", app="cart")]}
    for ns, pods in world.items():
        try:
            if cluster.core.read_namespace(ns).status.phase == "Terminating":  # a teardown still under way
                cluster.wait_gone("Namespace", ns, timeout=120)
                raise ApiException(status=404)
        except ApiException as exc:
            if exc.status != 404:
                raise
            cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        for p in cluster.get("NetworkPolicy", namespace=ns, api_version=NETPOL):
            cluster.delete("NetworkPolicy", p["metadata"]["name"], ns, api_version=NETPOL)
        _run_pods(cluster, ns, pods)


def start_manifest(exercise_id: str) -> Path:
    """A starting-state manifest the learner can read: ``labs/lab-02-network-policies/start/<id>.yaml``."""
    return labs_folder() / LAB / "start" / f"{exercise_id}.yaml"


# -- grading: the measured matrix against the expected one --------------------------------------


def describe(key: policy.Key, got: policy.Cell, want: bool | None) -> str:
    """A wrong cell in words: what the learner's policies let through, or what they stop."""
    src, dst, port, proto = key
    if want is False:
        return f"{src} can still reach {dst} on {port}/{proto}"
    return f"{src} cannot reach {dst} on {port}/{proto} ({got.reason or 'blocked'})"


Advice = Callable[["Cluster", policy.Key, bool | None], str]


def measure(cluster: Cluster, expected: policy.Matrix) -> policy.Matrix:
    """Probe the cells of an expected matrix (its sources, targets and ports)."""
    ports = sorted({p for p, _ in expected.cases})
    protocols = sorted({proto for _, proto in expected.cases})
    return policy.measure(cluster, expected.sources, expected.targets, ports=ports, protocols=protocols)


def grade(cluster: Cluster, expected: policy.Matrix, advise: Advice) -> str:
    """Measure, compare, and raise a :class:`Hint` naming the wrong cells (advice for the first one)."""
    measured = measure(cluster, expected)
    cmp = measured.compare(expected)
    total = cmp.correct + len(cmp.wrong)
    if cmp.ok:
        return f"all {total} cells of the connectivity matrix are as expected"
    shown = [describe(k, got, want) for k, got, want in cmp.wrong[:3]]
    more = f" (and {len(cmp.wrong) - 3} more)" if len(cmp.wrong) > 3 else ""
    key, _, want = cmp.wrong[0]
    advice = advise(cluster, key, want)
    verb = "is" if len(cmp.wrong) == 1 else "are"
    raise Hint(f"{len(cmp.wrong)} of {total} cells {verb} wrong: {'; '.join(shown)}{more}. {advice}")


def _explain(cluster: Cluster, key: policy.Key) -> tuple[Direction, Direction]:
    src, dst, port, proto = key
    verdict = policy.explain(cluster, src, dst, port, proto).verdicts[0]
    return verdict.egress, verdict.ingress


def _rule_names(d: Direction) -> str:
    return ", ".join(f"{p} {d.kind.lower()} rule {r.index + 1}" for p, r in d.allowed_by)


def _why_allowed(d: Direction) -> str:
    """Why a direction let a connection through, in words."""
    if d.exempt:
        return d.exempt
    if not d.policies:
        return f"no NetworkPolicy selects {d.pod} for {d.kind}, so it is not isolated for {d.kind.lower()}"
    return f"{_rule_names(d)} lets it through"


def _matched_peers(d: Direction) -> list[str]:
    return [c.text for _, r in d.allowed_by for c in r.peers if c.matched]


def _failed_whys(d: Direction) -> list[str]:
    """For a direction that dropped a connection: what each rule's peers and ports said."""
    out = []
    for p in d.policies:
        for r in p.rules:
            out += [c.why for c in r.peers if not c.matched] if not r.peer_matched else []
            out += [c.why for c in r.ports if not c.matched] if r.peer_matched and not r.port_matched else []
    return out


def too_open(ingress: Direction, src: str) -> str:
    """Why an ingress rule meant for the cart alone let ``src`` in: the OR pitfall, or a namespace left open."""
    why = _why_allowed(ingress)
    peers = _matched_peers(ingress)
    if any(p.startswith("namespaceSelector") and "AND" not in p for p in peers):
        return (f"Why: {why}: your policy lets every pod of {src.split('/')[0]} in, because namespaceSelector and "
                "podSelector are two separate peers (OR). Put them in ONE peer (AND): one list item (one dash) "
                "holding both selectors.")
    if any("every namespace" in p for p in peers):
        return (f"Why: {why}: its peer matches pods labelled app: cart in every namespace, and {src} labelled "
                f"itself app: cart. A pod can set its own labels, not its namespace's: select the namespace {SHOP} "
                "in the same peer.")
    if peers:
        return f"Why: {why} through the peer {peers[0]}, which {src} matches."
    return f"Why: {why}. Keep the default deny in place: only the cart may get in."


# -- exercise 1: default deny ingress -------------------------------------------------------------


def setup_deny(cluster: Cluster, ns: str) -> None:
    ensure_world(cluster)
    _run_pods(cluster, ns, [agnhost_pod("payment-api"), agnhost_pod("ledger")])


def expected_deny(ns: str) -> policy.Matrix:
    """Nothing gets into the namespace's pods (but each still reaches itself); their egress is untouched."""
    sources = [f"{SHOP}/frontend", f"{SHOP}/cart", f"{TOOLS}/debug", f"{ns}/payment-api", f"{ns}/ledger"]
    targets = [f"{ns}/payment-api", f"{ns}/ledger", f"{SHOP}/cart"]
    m = policy.expect(sources, targets, ports=[HTTP]).set("*", f"{ns}/*", False)
    return m.set(f"{ns}/payment-api", f"{ns}/payment-api", True).set(f"{ns}/ledger", f"{ns}/ledger", True)


def advise_deny(cluster: Cluster, key: policy.Key, want: bool | None) -> str:
    egress, ingress = _explain(cluster, key)
    if want is False:
        why = _why_allowed(ingress)
        if not ingress.policies:
            return (f"Why: {why}. A default deny selects every pod of the namespace (podSelector: {{}}) and "
                    "has Ingress in policyTypes.")
        return f"Why: {why}. A default deny has no ingress rules at all: every rule is an allow."
    if not egress.allowed:
        return (f"Why: {egress.summary()}. This exercise denies ingress only: leave Egress out of policyTypes, "
                "or the pods can no longer reach anything.")
    return f"Why: {ingress.summary()}."


def check_deny(cluster: Cluster, ns: str) -> str:
    return grade(cluster, expected_deny(ns), advise_deny) + ": nothing reaches the payments pods any more."


# -- exercise 2: allow only cart → payment-api on its port -------------------------------------


def setup_allow(cluster: Cluster, ns: str) -> None:
    ensure_world(cluster)
    _run_pods(cluster, ns, [agnhost_pod("payment-api", admin=True), agnhost_pod("ledger", admin=True)])
    cluster.apply(start_manifest("allow-cart"), namespace=ns)


def expected_allow(ns: str) -> policy.Matrix:
    """Only lab02-shop/cart reaches payment-api, and only on its http port (8080): not its admin port."""
    sources = [f"{SHOP}/frontend", f"{SHOP}/cart", f"{TOOLS}/debug", f"{TOOLS}/impostor"]
    m = policy.expect(sources, [f"{ns}/payment-api", f"{ns}/ledger"], ports=[HTTP, ADMIN], allowed=False)
    return m.set(f"{SHOP}/cart", f"{ns}/payment-api", True, port=HTTP)


def advise_allow(cluster: Cluster, key: policy.Key, want: bool | None) -> str:
    src, dst, port, _ = key
    _, ingress = _explain(cluster, key)
    if want is True:
        if not ingress.allowed:
            whys = _failed_whys(ingress)
            detail = f" ({'; '.join(whys[:2])})" if whys else " (no policy has a rule that allows it)"
            return (f"Why: {ingress.summary()}{detail}. Allow it with an ingress rule on the payment-api pods: "
                    f"from namespace {SHOP} (label kubernetes.io/metadata.name) AND pods app: cart, in one peer, "
                    "on port http.")
        return "Why: the ingress side allows it; check that nothing isolates the cart for egress."
    if port == ADMIN:
        return (f"Why: {_why_allowed(ingress)}, and that rule names no port (or the admin port). List the port in "
                "the rule: ports: - port: http (8080), so the admin port 9090 stays closed.")
    if dst.endswith("/ledger"):
        return (f"Why: {_why_allowed(ingress)}. Its spec.podSelector selects the ledger too: select only the "
                "pods labelled app: payment-api.")
    return too_open(ingress, src)


def check_allow(cluster: Cluster, ns: str) -> str:
    return grade(cluster, expected_allow(ns), advise_allow) + ": only the cart reaches payment-api, on 8080 only."


# -- exercise 3: egress lock-down that still allows DNS -----------------------------------------


def setup_egress(cluster: Cluster, ns: str) -> None:
    ensure_world(cluster)
    _run_pods(cluster, ns, [agnhost_pod("batch"), agnhost_pod("reporter")])


def expected_egress(ns: str) -> policy.Matrix:
    """The namespace's pods reach nothing (not even each other), except reporter → lab02-shop/frontend on 8080."""
    mine = [f"{ns}/batch", f"{ns}/reporter"]
    m = policy.expect(mine, [f"{SHOP}/frontend", f"{SHOP}/cart", f"{TOOLS}/debug", *mine], ports=[HTTP],
                      allowed=False)
    m.set(f"{ns}/batch", f"{ns}/batch", True).set(f"{ns}/reporter", f"{ns}/reporter", True)
    return m.set(f"{ns}/reporter", f"{SHOP}/frontend", True)


def advise_egress(cluster: Cluster, key: policy.Key, want: bool | None) -> str:
    src, dst, port, _ = key
    egress, ingress = _explain(cluster, key)
    if want is False:
        if not egress.policies:
            return (f"Why: {_why_allowed(egress)}. An egress lock-down selects every pod (podSelector: {{}}) with "
                    "Egress in policyTypes.")
        return f"Why: {_why_allowed(egress)}; an egress rule should name only the frontend (and DNS)."
    if not egress.allowed:
        whys = _failed_whys(egress)
        detail = f" ({'; '.join(whys[:2])})" if whys else ""
        return (f"Why: {egress.summary()}{detail}. Add an egress rule for the reporter: to namespace {SHOP} AND pods "
                f"app: frontend (one peer), port {port}.")
    return f"Why: {ingress.summary()}."


def dns_hint(cluster: Cluster, ns: str) -> str | None:
    """None when every pod of the exercise resolves a name; else what failed, in words."""
    for name in ("batch", "reporter"):
        answer = traffic.nslookup(cluster, traffic.PodRef(ns, name), DNS_NAME)
        if answer.error or not answer.addresses:
            lines = [ln.strip() for ln in answer.raw.splitlines() if ln.strip()]
            said = lines[-1] if lines else answer.error
            return (f"The matrix is right, but DNS is broken: `nslookup {DNS_NAME}` in {ns}/{name} says {said!r}. "
                    "Name lookups are egress too (UDP and TCP port 53 to the kube-dns pods in kube-system): "
                    "allow them, or every connection by name fails before it starts.")
    return None


def check_egress(cluster: Cluster, ns: str) -> str:
    passed = grade(cluster, expected_egress(ns), advise_egress)
    problem = dns_hint(cluster, ns)
    if problem:
        raise Hint(problem)
    return passed + f", and both pods still resolve {DNS_NAME}: egress is locked down, DNS works."


# -- exercise 4: the AND/OR pitfall ---------------------------------------------------------------


def setup_and_or(cluster: Cluster, ns: str) -> None:
    ensure_world(cluster)
    _run_pods(cluster, ns, [agnhost_pod("payment-api"), agnhost_pod("ledger")])
    cluster.apply(start_manifest("and-or"), namespace=ns)


def expected_and_or(ns: str) -> policy.Matrix:
    """Only the cart of lab02-shop reaches payment-api: not the frontend, not the tools pods (the impostor too)."""
    m = policy.expect([f"{SHOP}/frontend", f"{SHOP}/cart", f"{TOOLS}/debug", f"{TOOLS}/impostor"],
                      [f"{ns}/payment-api"], ports=[HTTP], allowed=False)
    return m.set(f"{SHOP}/cart", f"{ns}/payment-api", True)


def advise_and_or(cluster: Cluster, key: policy.Key, want: bool | None) -> str:
    _, ingress = _explain(cluster, key)
    if want is False:
        return too_open(ingress, key[0])
    whys = _failed_whys(ingress)
    if any("not " + key[1].split("/")[0] in w for w in whys):
        return (f"Why: {ingress.summary()} ({'; '.join(whys[:2])}). A podSelector on its own only matches pods "
                f"in the policy's own namespace: pair it with a namespaceSelector for {SHOP} in the same peer.")
    detail = f" ({'; '.join(whys[:2])})" if whys else ""
    return f"Why: {ingress.summary()}{detail}."


def check_and_or(cluster: Cluster, ns: str) -> str:
    return grade(cluster, expected_and_or(ns), advise_and_or) + ": cart gets in, the rest of the shop does not."


# -- for the notebook: the picture of an exercise -------------------------------------------------

EXPECTED = {"deny": expected_deny, "allow-cart": expected_allow, "egress": expected_egress,
            "and-or": expected_and_or}


def expected(exercise_id: str, namespace: str) -> policy.Matrix:
    """The matrix an exercise's check expects."""
    return EXPECTED[exercise_id](namespace)


def picture(cluster: Cluster, exercise_id: str, namespace: str | None = None) -> Figure:
    """The measured matrix of an exercise as a heatmap, wrong cells framed against the expectation."""
    namespace = namespace or next(e.namespace for e in exercises() if e.id == exercise_id)
    want = expected(exercise_id, namespace)
    return measure(cluster, want).plot(want)


def exercises() -> list[Exercise]:
    return [
        Exercise("deny", "Default deny: nothing gets into lab02-deny", "lab02-deny", setup_deny, check_deny,
                 "deny.yaml", ["An empty podSelector ({}) selects every pod in the policy's namespace.",
                               "A policy with Ingress in policyTypes and no ingress rules allows nothing in."],
                 shared_namespaces=(SHOP, TOOLS)),
        Exercise("allow-cart", "Allow only the cart into payment-api, on its http port", "lab02-allow",
                 setup_allow, check_allow, "allow-cart.yaml",
                 ["Policies add up: keep the default deny and add an allow policy for the payment-api pods.",
                  "kubernetes.io/metadata.name is a label every namespace carries, set to its name.",
                  "ports: - port: http uses the pod's named container port."],
                 shared_namespaces=(SHOP, TOOLS)),
        Exercise("egress", "Lock down egress, keep DNS working", "lab02-egress", setup_egress, check_egress,
                 "egress.yaml", ["Egress in policyTypes with no egress rules: the pod can send nothing.",
                                 "The cluster DNS runs as pods labelled k8s-app: kube-dns in kube-system, on "
                                 "port 53 (UDP, and TCP for large answers)."],
                 shared_namespaces=(SHOP, TOOLS)),
        Exercise("and-or", "Fix the policy that lets the whole shop in", "lab02-andor", setup_and_or, check_and_or,
                 "and-or.yaml", ["`- namespaceSelector: …` and `- podSelector: …` are two peers: either matches.",
                                 "`- namespaceSelector: …\\n  podSelector: …` is one peer: both must match."],
                 shared_namespaces=(SHOP, TOOLS)),
    ]
