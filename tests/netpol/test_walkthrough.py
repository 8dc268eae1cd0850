"""``policy.explain``: a per-direction walkthrough (egress of the source, then ingress of the destination).

What it must say follows the NP docs (kubernetes.io concepts/services-networking/
network-policies, "Behavior of to and from selectors"): a peer holding both
``namespaceSelector`` and ``podSelector`` "selects particular Pods within
particular namespaces" — both must match (AND) — while separate peers in one
``from`` list are alternatives (OR). Each walkthrough is also checked against
a verdict written by hand, and against a real probe.
"""

from __future__ import annotations

from tests.netpol.cases import labels, ns_is, spec

from k8snet import policy, traffic

AND_PEER = {"namespaceSelector": ns_is("y"), "podSelector": labels(pod="b")}
OR_PEERS = [{"namespaceSelector": ns_is("y")}, {"podSelector": labels(pod="c")}]


def explain(model, src: str, dst: str, port: int = 80, protocol: str = "TCP") -> tuple[policy.Explanation, str]:
    e = policy.explain(model.cluster, src, dst, port, protocol)
    return e, str(e)


def sections(text: str) -> tuple[str, str]:
    """The egress and ingress parts of a walkthrough, in that order."""
    egress_at, ingress_at = text.find("\nEgress"), text.find("\nIngress")
    assert 0 < egress_at < ingress_at, f"expected an Egress section, then an Ingress section:\n{text}"
    return text[egress_at:ingress_at], text[ingress_at:]


def peer_lines(section: str) -> list[str]:
    return [ln.strip() for ln in section.splitlines() if ln.strip().startswith(("from ", "to ", "or from ", "or to "))]


def probe_connected(model, src: str, dst_pod: str, port: int = 80) -> bool:
    ns, name = src.split("/")
    return traffic.connect(model.cluster, traffic.PodRef(ns, name, "cont-80-tcp"), model.pod_ips[dst_pod],
                           port).connected


def test_one_peer_with_both_selectors_is_explained_as_requiring_both(model):
    model.policy("x", "and-peer", spec(labels(pod="a"), ingress=[{"from": [AND_PEER]}]))
    verdicts = {"y/b": True, "y/a": False, "x/b": False, "z/b": False}  # by hand: namespace y AND pod b
    for src, want in verdicts.items():
        e, text = explain(model, src, "x/a")
        assert e.allowed is want, text
        assert probe_connected(model, src, "x/a") is want, f"{src} → x/a probe disagrees with {want}"
        assert text.splitlines()[0] == f"{src} → x/a on 80/TCP: {'ALLOWED' if want else 'DROPPED'}", text
        _, ingress = sections(text)
        assert "x/and-peer" in ingress
        lines = peer_lines(ingress)
        assert len(lines) == 1, f"one peer, one line:\n{text}"
        assert "AND" in lines[0] and "both must match" in lines[0], lines[0]
        assert (": yes —" in lines[0]) is want, lines[0]
    # the reason names the selector that failed
    assert "lacks pod=b" in explain(model, "y/a", "x/a")[1]
    assert "lacks kubernetes.io/metadata.name=y" in explain(model, "z/b", "x/a")[1]


def test_separate_peers_are_explained_as_alternatives(model):
    model.policy("x", "or-peers", spec(labels(pod="b"), ingress=[{"from": OR_PEERS}]))
    verdicts = {"y/a": True, "x/c": True, "x/a": False, "z/c": False}  # by hand: namespace y OR pod c in x
    for src, want in verdicts.items():
        e, text = explain(model, src, "x/b")
        assert e.allowed is want, text
        assert probe_connected(model, src, "x/b") is want, f"{src} → x/b probe disagrees with {want}"
        _, ingress = sections(text)
        lines = peer_lines(ingress)
        assert len(lines) == 2, f"two peers, two lines:\n{text}"
        assert not any("AND" in ln for ln in lines), lines
        assert lines[0].startswith("from ") and lines[1].startswith("or from "), lines
        matched = [": yes —" in ln for ln in lines]
        assert any(matched) is want, lines
    y_a = peer_lines(sections(explain(model, "y/a", "x/b")[1])[1])
    assert ": yes —" in y_a[0] and ": no —" in y_a[1], y_a  # the namespace peer admits y/a, the pod peer does not
    x_c = peer_lines(sections(explain(model, "x/c", "x/b")[1])[1])
    assert ": no —" in x_c[0] and ": yes —" in x_c[1], x_c


def test_egress_of_the_source_is_walked_first_and_can_drop_on_its_own(model):
    """"Both the egress policy on the source pod and the ingress policy on the destination pod need to allow the
    connection" (NP docs): x/c's egress deny drops x/c → x/b even though x/b's ingress admits x/c."""
    model.policy("x", "or-peers", spec(labels(pod="b"), ingress=[{"from": OR_PEERS}]))
    model.policy("x", "deny-egress-c", spec(labels(pod="c"), egress=[]))
    e, text = explain(model, "x/c", "x/b")
    assert not e.allowed and text.startswith("x/c → x/b on 80/TCP: DROPPED"), text
    egress, ingress = sections(text)
    assert "x/deny-egress-c" in egress and "no egress rules" in egress and "DROPPED" in egress, egress
    assert "x/or-peers" in ingress and "ALLOWED" in ingress, ingress
    assert not probe_connected(model, "x/c", "x/b")


def test_unselected_pods_are_explained_as_not_isolated(model):
    model.policy("x", "deny-ingress-a", spec(labels(pod="a"), ingress=[]))
    e, text = explain(model, "y/a", "x/b")
    assert e.allowed, text
    egress, ingress = sections(text)
    assert "not isolated" in egress and "not isolated" in ingress, text


def test_ports_and_named_ports_are_explained(model):
    model.policy("x", "named", spec(labels(pod="a"), ingress=[{"ports": [{"port": "serve-81-tcp"}]}]))
    e80, text80 = explain(model, "y/a", "x/a", 80)
    e81, text81 = explain(model, "y/a", "x/a", 81)
    assert not e80.allowed and e81.allowed, text80 + "\n\n" + text81
    assert "serve-81-tcp" in text80 and "81" in text80, text80
    assert probe_connected(model, "y/a", "x/a", 81) and not probe_connected(model, "y/a", "x/a", 80)


def test_a_service_target_is_explained_for_the_pod_behind_it(model):
    """Policies judge the connection after kube-proxy's DNAT: explaining ``svc:x/s-x-a`` walks through x/a."""
    model.policy("x", "and-peer", spec(labels(pod="a"), ingress=[{"from": [AND_PEER]}]))
    e, text = explain(model, "y/b", "svc:x/s-x-a")
    assert e.allowed, text
    assert "(ingress to x/a)" in sections(text)[1], text
