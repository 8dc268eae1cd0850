"""widgets.policy_panel against the sandbox: toggles change the cluster, and the measured matrix follows.

A checkbox click in the browser sets the widget's ``value``; the tests set it
the same way, and also drive ``panel.set``. The expectation is written by hand
from the network-policies documentation, as in test_policy_api.py.
"""

from __future__ import annotations

import base64

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from tests.policy.conftest import ALL, CART_TO_PAYMENT_API, DENY_ALL_INGRESS, netpol

from k8snet import policy, widgets

DENY = netpol("payments", "default-deny", DENY_ALL_INGRESS)
ALLOW_CART = netpol("payments", "allow-cart", CART_TO_PAYMENT_API)


def isolated_payments() -> policy.Matrix:
    """default-deny plus allow-cart: only cart (and each pod itself) reaches the payments pods."""
    want = policy.expect(ALL, ALL, ports=[8080]).set("*", "payments/*", False)
    for p in ("payments/payment-api", "payments/ledger"):
        want.set(p, p, True)
    return want.set("shop/cart", "payments/payment-api", True)


def exists(cluster, name: str) -> bool:
    try:
        client.NetworkingV1Api(cluster.api).read_namespaced_network_policy(name, "payments")
        return True
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise


def png(panel) -> bytes:
    (out,) = panel.output.outputs
    return base64.b64decode(out["data"]["image/png"])


def test_the_panel_starts_as_the_cluster_is(cluster):
    cluster.apply(DENY)
    panel = widgets.policy_panel(cluster, [DENY, ALLOW_CART], ALL, ALL, ports=[8080], expected=isolated_payments())
    assert panel.state == {"payments/default-deny": True, "payments/allow-cart": False}
    assert [b.value for b in panel.toggles.values()] == [True, False]
    assert panel.toggles["payments/default-deny"].description == \
        "payments/default-deny — every pod: deny all ingress"
    assert panel.status_line() == "1 policy on · 1 wrong, 24 correct"
    assert panel.matrix.kind == "measured" and panel.matrix.allowed("shop/cart", "payments/payment-api") is False
    assert png(panel).startswith(b"\x89PNG")


def test_set_applies_and_deletes_through_the_api(cluster):
    panel = widgets.policy_panel(cluster, [DENY, ALLOW_CART], ALL, ALL, ports=[8080], expected=isolated_payments())
    assert panel.status_line() == "0 policies on · 7 wrong, 18 correct"
    before = png(panel)

    panel.set("payments/default-deny", True)
    panel.set("payments/allow-cart", True)
    assert exists(cluster, "default-deny") and exists(cluster, "allow-cart")
    managers = {f.manager for f in client.NetworkingV1Api(cluster.api)
                .read_namespaced_network_policy("allow-cart", "payments").metadata.managed_fields}
    assert managers == {"k8snet"}  # server-side apply, as cluster.apply does
    assert panel.matrix.compare(isolated_payments()).ok
    assert panel.status_line() == "2 policies on · 0 wrong, 25 correct"
    assert [b.value for b in panel.toggles.values()] == [True, True]
    assert png(panel) != before

    panel.set("payments/default-deny", False)
    assert not exists(cluster, "default-deny")
    # allow-cart alone still isolates payment-api: only cart reaches it; ledger is open again
    assert panel.matrix.allowed("shop/frontend", "payments/ledger") is True
    assert panel.matrix.allowed("shop/frontend", "payments/payment-api") is False
    assert panel.state == {"payments/default-deny": False, "payments/allow-cart": True}


def test_ticking_a_checkbox_does_what_set_does(cluster):
    panel = widgets.policy_panel(cluster, [DENY, ALLOW_CART], ALL, ALL, ports=[8080], expected=isolated_payments())
    panel.toggles["payments/default-deny"].value = True
    assert exists(cluster, "default-deny") and panel.state["payments/default-deny"]
    assert panel.status_line() == "1 policy on · 1 wrong, 24 correct"
    wrong = sorted(a.get_gid() for a in panel.figure.axes[0].patches if (a.get_gid() or "").startswith("wrong:"))
    assert wrong == ["wrong:shop/cart>payments/payment-api:8080/TCP"]
    panel.toggles["payments/default-deny"].value = False
    assert not exists(cluster, "default-deny")
    assert panel.status_line() == "0 policies on · 7 wrong, 18 correct"


def test_a_failed_apply_is_shown_and_the_box_unticked(cluster):
    stray = netpol("nope", "deny", DENY_ALL_INGRESS)
    panel = widgets.policy_panel(cluster, [stray], ["shop/cart"], ["shop/frontend"], ports=[8080])
    panel.toggles["nope/deny"].value = True
    assert panel.state == {"nope/deny": False} and panel.toggles["nope/deny"].value is False
    assert panel.status_line() == ("0 policies on · 1 of 1 probes connected · could not apply nope/deny: "
                                   'Error from server (NotFound): namespaces "nope" not found — the namespace does '
                                   "not exist (a notebook's clean-up deletes its namespaces at the end): run the "
                                   "notebook again from the top to recreate them")
    assert "could not apply nope/deny" in panel.status.value and "color:#D55E00" in panel.status.value


def test_without_an_expectation_the_status_counts_connections(cluster):
    panel = widgets.policy_panel(cluster, [DENY], ALL, ["payments/ledger"], ports=[8080])
    assert panel.status_line() == "0 policies on · 5 of 5 probes connected"
    panel.set("payments/default-deny", True)
    assert panel.status_line() == "1 policy on · 1 of 5 probes connected"


def test_the_panel_displays_as_its_widget(cluster):
    panel = widgets.policy_panel(cluster, [DENY, ALLOW_CART], ALL, ALL, ports=[8080])
    bundle = panel._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == panel.widget.model_id
    assert bundle["text/plain"].splitlines() == [
        "[ ] payments/default-deny — every pod: deny all ingress",
        "[ ] payments/allow-cart — pods app=payment-api: allow ingress from ns {kubernetes.io/metadata.name=shop} "
        "& pods {app=cart} on http",
        "0 policies on · 25 of 25 probes connected"]


def test_bad_arguments_are_refused(cluster):
    with pytest.raises(ValueError, match="takes NetworkPolicy manifests"):
        widgets.policy_panel(cluster, [{"kind": "Pod", "metadata": {"name": "x"}}], ALL, ALL)
    with pytest.raises(ValueError, match="payments/default-deny is given twice"):
        widgets.policy_panel(cluster, [DENY, DENY], ALL, ALL)
    panel = widgets.policy_panel(cluster, [DENY], ["shop/cart"], ["shop/frontend"], ports=[8080])
    with pytest.raises(KeyError, match="not on this panel; it has: payments/default-deny"):
        panel.set("payments/nope", True)


@pytest.mark.parametrize(("spec", "words"), [
    ({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}, "every pod: deny all ingress; deny all egress"),
    ({"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [{}]}, "pods app=db: allow all ingress"),
    ({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
        "to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
        "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53}]}]},
     "every pod: allow egress to all namespaces & pods {k8s-app=kube-dns} on 53/UDP,53"),
    ({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}],
                                      "ports": [{"port": 80, "endPort": 90}]}]},
     "every pod: allow ingress from 10.0.0.0/8 except 10.1.0.0/16 on 80-90"),
])
def test_describe_policy(spec, words):
    assert widgets.describe_policy(netpol("x", "p", spec)) == words


def test_a_prediction_is_text_then_buttons_and_reveal_compares():
    guess = widgets.predict("60 requests to 3 pods: how many reach each?", ["exactly 20", "about 20, not exactly"])
    assert repr(guess).splitlines() == ["Predict, then run: 60 requests to 3 pods: how many reach each?",
                                        "  (a) exactly 20", "  (b) about 20, not exactly"]
    guess.reveal("about 20, not exactly")
    assert guess.verdict == "The measurement says: about 20, not exactly."
    guess.buttons.value = "exactly 20"
    guess.reveal("about 20, not exactly", "Each connection is a new draw.")
    assert guess.verdict == ("You predicted 'exactly 20'; the measurement says: about 20, not exactly. Each "
                             "connection is a new draw.")
    guess.buttons.value = "about 20, not exactly"
    guess.reveal("about 20, not exactly")
    assert guess.verdict.startswith("You predicted 'about 20, not exactly', and so it is")
    with pytest.raises(ValueError, match="not one of the choices"):
        guess.reveal("maybe")
