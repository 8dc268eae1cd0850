"""ztunnel's authorization as istiod converts the policies and ztunnel evaluates them.

Cases follow Istio 1.31's pilot/pkg/serviceregistry/ambient/authorization_test.go
(TestConvertAuthorizationPolicyStatus) and istio/ztunnel src/state.rs (assert_rbac) and src/rbac.rs tests."""

from __future__ import annotations

from k8snet.sandbox.dataplane.mesh import authz

CART = "spiffe://cluster.local/ns/shop/sa/cart"
OTHER = "spiffe://cluster.local/ns/shop/sa/other"


def policy(name: str, ns: str = "shop", **spec) -> dict:
    return {"metadata": {"name": name, "namespace": ns, "creationTimestamp": "2026-12-06T00:00:00Z"}, "spec": spec}


def pod(labels: dict | None = None, ns: str = "shop") -> dict:
    return {"metadata": {"name": "payments-1", "namespace": ns, "labels": labels or {"app": "payments"}}}


def verdict(pols: list, peer_auths: list | None = None, identity: str | None = CART, port: int = 8080,
            target: dict | None = None) -> authz.Verdict:
    bound = authz.workload_policies(target or pod(), pols, peer_auths or [])
    return authz.assert_rbac(bound, authz.Peer("10.244.1.5", "10.244.2.4", port, identity))


def test_no_status_when_a_policy_has_target_refs_it_is_for_a_waypoint():
    pol = policy("p", targetRefs=[{"kind": "Service", "group": "", "name": "payments"}])
    assert authz.convert_authorization_policy(pol) == (None, None)


def test_unsupported_audit_and_custom_actions_are_reported_as_istiod_does():
    for action in ("AUDIT", "CUSTOM"):
        pol, message = authz.convert_authorization_policy(policy("p", action=action))
        assert pol is None and message == f"ztunnel does not support the {action} action"


def test_http_attributes_are_reported_sorted_with_the_allow_boilerplate():
    _, message = authz.convert_authorization_policy(policy("p", rules=[{
        "from": [{"source": {"requestPrincipals": ["example.com/sub-1"]}}],
        "to": [{"operation": {"methods": ["GET"]}}],
        "when": [{"key": "request.auth.presenter", "values": ["presenter.example.com"]}]}]))
    assert message == ("ztunnel does not support HTTP attributes (found: methods, request.auth.presenter, "
                       "requestPrincipals). In ambient mode you must use a waypoint proxy to enforce HTTP rules. "
                       "Within an ALLOW policy, rules matching HTTP attributes are omitted. This will be more "
                       "restrictive than requested.")


def test_no_policy_allows_everything():
    assert verdict([]).allowed


def test_allow_by_principal_admits_that_identity_only():
    pols = [policy("cart-only", selector={"matchLabels": {"app": "payments"}},
                   rules=[{"from": [{"source": {"principals": ["cluster.local/ns/shop/sa/cart"]}}]}])]
    assert verdict(pols).allowed
    denied = verdict(pols, identity=OTHER)
    assert not denied.allowed and denied.reason == "allow policies exist, but none allowed"
    assert not verdict(pols, identity=None).allowed  # plaintext has no principal


def test_a_selector_for_other_workloads_does_not_bind():
    pols = [policy("cart-only", selector={"matchLabels": {"app": "orders"}},
                   rules=[{"from": [{"source": {"principals": ["cluster.local/ns/shop/sa/cart"]}}]}])]
    assert verdict(pols, identity=OTHER).allowed


def test_deny_wins_and_names_the_policy():
    pols = [policy("allow-all", rules=[{}]),
            policy("no-other", action="DENY", rules=[{"from": [{"source": {"namespaces": ["shop"]}}],
                                                      "to": [{"operation": {"ports": ["8080"]}}]}])]
    v = verdict(pols, identity=OTHER)
    assert not v.allowed and v.reason == "explicitly denied by: shop/no-other"
    assert verdict(pols, identity=OTHER, port=9090).allowed


def test_an_allow_rule_with_http_attributes_never_matches_at_ztunnel():
    pols = [policy("get-only", selector={"matchLabels": {"app": "payments"}},
                   rules=[{"from": [{"source": {"principals": ["cluster.local/ns/shop/sa/cart"]}}],
                           "to": [{"operation": {"methods": ["GET"]}}]}])]
    assert not verdict(pols).allowed  # l4-policy docs: "ztunnel will deny the connection"


def test_a_deny_rule_whose_operation_is_only_http_leaves_an_empty_match_that_ztunnel_skips():
    # istiod keeps the rule (handleRule appends a Match with no ports) and ztunnel skips empty matches, so the
    # "to" clause never holds (rbac.rs Authorization::matches): the code, not the status text, decides
    pols = [policy("no-post", action="DENY", rules=[{"to": [{"operation": {"methods": ["POST"]}}]}])]
    assert authz.convert_authorization_policy(pols[0])[1].endswith(authz.HTTP_DENY)
    assert verdict(pols).allowed
    pols = [policy("no-post-8080", action="DENY", rules=[{"to": [{"operation": {"methods": ["POST"],
                                                                               "ports": ["8080"]}}]}])]
    assert not verdict(pols).allowed  # the port stays: denied on 8080 whatever the method


def test_an_allow_policy_without_rules_denies_everything_and_an_empty_rule_allows_everything():
    assert not verdict([policy("nothing")]).allowed
    assert verdict([policy("everything", rules=[{}])]).allowed


def test_root_namespace_policy_without_selector_is_global():
    pols = [policy("mesh-deny", ns="istio-system", action="DENY", rules=[{"from": [{"source": {
        "notNamespaces": ["shop"]}}]}])]
    assert authz.convert_authorization_policy(pols[0])[0].scope == "GLOBAL"
    assert not verdict(pols, identity="spiffe://cluster.local/ns/web/sa/default").allowed
    assert verdict(pols).allowed


def test_service_accounts_and_wildcards():
    pols = [policy("sa", rules=[{"from": [{"source": {"serviceAccounts": ["cart"]}}]}])]
    assert verdict(pols).allowed and not verdict(pols, identity=OTHER).allowed
    pols = [policy("suffix", rules=[{"from": [{"source": {"principals": ["*/sa/cart"]}}]}])]
    assert verdict(pols).allowed and not verdict(pols, identity=OTHER).allowed


def test_ip_blocks_and_l4_when_keys():
    pols = [policy("ip", rules=[{"from": [{"source": {"ipBlocks": ["10.244.1.0/24"]}}],
                                 "when": [{"key": "destination.port", "values": ["8080"]}]}])]
    assert verdict(pols).allowed and not verdict(pols, port=9090).allowed


def test_peer_authentication_strict_rejects_plaintext_mesh_wide():
    strict = [policy("default", ns="istio-system", mtls={"mode": "STRICT"})]
    v = verdict([], strict, identity=None)
    assert not v.allowed and v.reason == f"explicitly denied by: istio-system/{authz.STATIC_STRICT}"
    assert verdict([], strict).allowed  # mTLS with any identity passes


def test_a_namespace_permissive_policy_overrides_a_strict_mesh():
    pas = [policy("default", ns="istio-system", mtls={"mode": "STRICT"}),
           policy("default", mtls={"mode": "PERMISSIVE"})]
    assert verdict([], pas, identity=None).allowed


def test_port_level_permissive_under_a_strict_workload_policy():
    pas = [policy("payments", selector={"matchLabels": {"app": "payments"}}, mtls={"mode": "STRICT"},
                  portLevelMtls={"9090": {"mode": "PERMISSIVE"}})]
    assert not verdict([], pas, identity=None, port=8080).allowed
    assert verdict([], pas, identity=None, port=9090).allowed


def test_port_level_strict_under_a_permissive_mesh():
    pas = [policy("payments", selector={"matchLabels": {"app": "payments"}},
                  portLevelMtls={"8080": {"mode": "STRICT"}})]
    assert not verdict([], pas, identity=None, port=8080).allowed
    assert verdict([], pas, identity=None, port=9090).allowed
