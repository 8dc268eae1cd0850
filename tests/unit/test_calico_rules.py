"""Calico's tiered evaluation (dataplane/calico/rules.py) as pure functions, against felix's chain layout
(felix/rules/endpoints.go: tiers in order, policies in order, Pass to the next tier, "End of tier <name>. Drop if
no policies passed packet" unless defaultAction Pass, then the profile) and its sort orders
(felix/calc/policy_sorter.go TierLess, PolKVLess)."""

from __future__ import annotations

from k8snet.sandbox.dataplane.calico import rules
from k8snet.sandbox.dataplane.calico.labels import Endpoint, pod_labels

TIERS = {"default": rules.Tier("default", 1_000_000), "security": rules.Tier("security", 100),
         "platform": rules.Tier("platform", 50, "Pass")}


def pod(name: str, labels: dict[str, str], ip: str, sa: str = "default") -> Endpoint:
    obj = {"metadata": {"name": name, "namespace": "shop", "labels": labels}, "spec": {"serviceAccountName": sa}}
    return Endpoint(ip=ip, labels=pod_labels(obj, {"team": "shop"}, {}), namespace="shop", name=name,
                    ports=(("pg", 5432, "TCP"),))


DB, API, WEB = pod("db", {"app": "db"}, "10.244.1.5"), pod("api", {"tier": "app"}, "10.244.2.7"), \
    pod("web", {"tier": "web"}, "10.244.2.8")
OUTSIDE = Endpoint(ip="172.18.0.1")


def gnp(name: str, tier: str, ingress: list, order: float | None = None, selector: str = "app == 'db'") -> rules.Policy:
    return rules.Policy(rules.GNP, None, name, tier, order, {"selector": selector, "ingress": ingress})


def ingress(policies: list[rules.Policy], src: Endpoint, port: int = 5432) -> rules.DirectionResult:
    return rules.evaluate(TIERS, policies, rules.INGRESS, DB, src, DB, port, "TCP")


def test_tiers_go_in_order_and_pass_hands_on_to_the_next_tier():
    guard = gnp("guard", "security", [{"action": "Pass", "source": {"selector": "tier == 'app'"}},
                                      {"action": "Deny"}])
    allow = gnp("allow", "default", [{"action": "Allow"}])
    passed = ingress([allow, guard], API)
    assert passed.allowed and passed.tiers == ["security", "default"]
    assert [str(s) for s in passed.steps] == ["tier security: GlobalNetworkPolicy guard rule 1: Pass",
                                              "tier default: GlobalNetworkPolicy allow rule 1: Allow"]
    denied = ingress([allow, guard], WEB)
    assert not denied.allowed and denied.tiers == ["security"]  # the default tier never sees it
    assert "denied by tier security: GlobalNetworkPolicy guard rule 2: Deny" in denied.why


def test_end_of_tier_drop_unless_default_action_pass_and_log_goes_on():
    log = gnp("log", "platform", [{"action": "Log"}])
    result = ingress([log], WEB)
    assert result.allowed and [s.action for s in result.steps] == ["Log", "Pass"]  # platform's defaultAction Pass
    selective = gnp("only-app", "security", [{"action": "Allow", "source": {"selector": "tier == 'app'"}}])
    dropped = ingress([selective], WEB)
    assert not dropped.allowed and "end of tier security" in dropped.why
    assert ingress([], WEB).allowed  # no policy selects it: the kns profile allows


def test_policy_order_then_name_namespace_kind():
    deny = gnp("b-deny", "default", [{"action": "Deny"}], order=10)
    allow = gnp("a-allow", "default", [{"action": "Allow"}], order=10)
    assert ingress([deny, allow], WEB).allowed  # same order: "a-allow/…" sorts first
    assert not ingress([rules.Policy(rules.GNP, None, "b-deny", "default", 5, deny.spec), allow], WEB).allowed
    unset = gnp("z", "default", [{"action": "Deny"}])
    assert ingress([unset, gnp("y", "default", [{"action": "Allow"}], order=1e9)], WEB).allowed  # unset is last


def test_kubernetes_networkpolicies_are_default_tier_policies_at_order_1000():
    knp = rules.Policy(rules.KNP, "shop", "allow-api", rules.DEFAULT_TIER, rules.KNP_ORDER, {"types": ["Ingress"]},
                       knp_rule=0)
    late = gnp("late-deny", "default", [{"action": "Deny"}], order=2000)
    early = gnp("early-deny", "default", [{"action": "Deny"}], order=500)
    assert ingress([knp, late], WEB).allowed
    assert not ingress([knp, early], WEB).allowed
    unmatched = rules.Policy(rules.KNP, "shop", "other", rules.DEFAULT_TIER, rules.KNP_ORDER, {"types": ["Ingress"]})
    assert not ingress([unmatched], WEB).allowed  # it selects the pod, no rule matched: end of the default tier


def test_a_missing_tier_sorts_last():
    ordered = ingress([gnp("x", "gone", [{"action": "Deny"}]), gnp("y", "default", [{"action": "Pass"}])], WEB)
    assert ordered.tiers == ["default", "gone"] and not ordered.allowed


def test_rule_fields_nets_ports_protocols_and_namespaced_selectors():
    def matches(rule: dict, src: Endpoint = WEB, port: int = 5432, ns: str | None = "shop") -> bool:
        return rules.rule_matches(rule, ns, src, DB, port, "TCP")

    assert matches({"source": {"nets": ["172.18.0.0/16"]}}, OUTSIDE)
    assert not matches({"source": {"notNets": ["172.18.0.1/32"]}}, OUTSIDE)
    assert not matches({"source": {"selector": "all()"}}, OUTSIDE)  # a bare address matches no selector
    assert matches({"source": {"nets": ["10.244.2.8/32"]}})  # nets match pods' addresses too
    assert matches({"protocol": "TCP", "destination": {"ports": ["pg"]}})
    assert matches({"protocol": 6, "destination": {"ports": ["5000:5500"]}})
    assert not matches({"protocol": "UDP"}) and not matches({"notProtocol": "TCP"})
    assert not matches({"destination": {"notPorts": [5432]}})
    assert matches({"source": {"namespaceSelector": "team == 'shop'"}})
    assert not matches({"source": {"namespaceSelector": "team == 'other'"}})
    assert not matches({"source": {"selector": "tier == 'web'"}}, ns="elsewhere")  # the policy's own namespace
    assert matches({"source": {"selector": "tier == 'web'"}}, ns=None)  # a global policy's: any namespace
    assert matches({"source": {"serviceAccounts": {"names": ["default"]}}})
    assert not matches({"source": {"notSelector": "tier == 'web'"}})
    assert matches({"source": {"ports": [1234]}}) is False  # the client's ephemeral port is not known


def test_network_policy_selects_in_its_namespace_and_by_service_account():
    np = rules.Policy(rules.NP, "shop", "p", "default", None, {"selector": "app == 'db'"})
    assert np.selects(DB) and not np.selects(API)
    assert not rules.Policy(rules.NP, "other", "p", "default", None, {"selector": "app == 'db'"}).selects(DB)
    g = rules.Policy(rules.GNP, None, "g", "default", None, {"namespaceSelector": "team == 'shop'",
                                                             "serviceAccountSelector": "all()"})
    assert g.selects(WEB) and not g.selects(OUTSIDE)


def test_not_emulated_fields_are_named():
    obj = {"spec": {"doNotTrack": True, "ingress": [{"action": "Allow", "http": {"methods": ["GET"]},
                                                     "destination": {"services": {"name": "x"}}}]}}
    found = rules.not_emulated(obj)
    assert any(m.startswith("spec.doNotTrack") for m in found)
    assert any(m.startswith("spec.ingress[0].http: ") for m in found)
    assert any(m.startswith("spec.ingress[0].destination.services") for m in found)


def test_the_trace_hop_names_the_tier_policy_and_rule():
    """The engine over an in-process sandbox's store: the ``calico`` hop, for a pod and for the outside client."""
    from k8snet.sandbox.apiserver import WriteOptions
    from k8snet.sandbox.controllers import calico
    from k8snet.sandbox.dataplane.calico.engine import CalicoPolicyEngine
    from k8snet.sandbox.instance import Sandbox, install_crds

    sb = Sandbox(None, seed=3, cni="calico")
    try:
        sb.bootstrap()
        install_crds(sb)
        calico.install(sb)
        opts, rt = WriteOptions(field_manager="test"), sb.registry.lookup
        sb.api.create(rt("projectcalico.org", "v3", "tiers"), "", {"metadata": {"name": "security"},
                                                                   "spec": {"order": 100}}, opts)
        sb.api.create(rt("projectcalico.org", "v3", "globalnetworkpolicies"), "", {
            "metadata": {"name": "guard"}, "spec": {"tier": "security", "selector": "app == 'db'", "ingress": [
                {"action": "Pass", "source": {"selector": "tier == 'app'"}}, {"action": "Deny"}]}}, opts)

        def pod(name: str, labels: dict[str, str], ip: str) -> dict:
            return {"metadata": {"name": name, "namespace": "default", "labels": labels},
                    "spec": {"nodeName": "k8snet-worker", "containers": [{"name": "c"}]}, "status": {"podIP": ip}}

        engine = CalicoPolicyEngine(sb)
        db = pod("db", {"app": "db"}, "10.244.1.5")
        allowed, hops = engine.verdict(pod("web", {"tier": "web"}, "10.244.1.6"), "10.244.1.6", db, 5432, "TCP")
        assert not allowed and hops[0].kind == "calico"
        assert hops[0].summary == ("default/web → default/db 5432/TCP: dropped (ingress to default/db: denied by "
                                   "tier security: GlobalNetworkPolicy guard rule 2: Deny)")
        assert {k: hops[0].detail["ingress"][k] for k in ("tier", "policy", "rule", "action")} == {
            "tier": "security", "policy": "GlobalNetworkPolicy guard", "rule": 2, "action": "Deny"}
        allowed, hops = engine.verdict(pod("api", {"tier": "app"}, "10.244.1.7"), "10.244.1.7", db, 5432, "TCP")
        assert allowed and hops[0].detail["ingress"]["steps"] == ["tier security: GlobalNetworkPolicy guard rule 1: "
                                                                  "Pass"]
        allowed, hops = engine.verdict(None, "172.18.0.1", db, 5432, "TCP")
        assert not allowed and hops[0].summary.startswith("172.18.0.1 → default/db")
    finally:
        sb.close()
