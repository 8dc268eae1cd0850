"""Calico's policies in a sandbox made with ``--cni calico``, through kubectl: the projectcalico.org/v3 kinds as
Calico's API server serves them (names, short names, the built-in tiers, defaulting, its validation errors), and
felix's tiered evaluation (docs.tigera.io calico/latest/network-policy/policy-tiers/tiered-policy,
reference/resources/tier; felix/rules/endpoints.go): tier order, policy order, Pass, Log, end-of-tier drop,
defaultAction Pass, Kubernetes NetworkPolicies in the default tier, nets/notNets with an outside client,
serviceAccounts and named ports. One sandbox for the module."""

from __future__ import annotations

import json
import random
import socket
import urllib.request

import pytest
from tests.conftest import private_sandbox, wait_for

NS = "shop"
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
APP = f"""
apiVersion: v1
kind: Namespace
metadata: {{name: {NS}, labels: {{team: shop}}}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: backend, namespace: {NS}, labels: {{role: backend}}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: db, namespace: {NS}, labels: {{app: db}}}}
spec:
  nodeName: k8snet-worker2
  containers:
  - {{name: db, image: "{AGNHOST}", args: [netexec, --http-port=5432], ports: [{{containerPort: 5432, name: pg}}]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: api, namespace: {NS}, labels: {{tier: app}}}}
spec: {{nodeName: k8snet-worker, serviceAccountName: backend, containers: [{{name: c, image: "{AGNHOST}", args: [pause]}}]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: web, namespace: {NS}, labels: {{tier: web}}}}
spec: {{nodeName: k8snet-worker, containers: [{{name: c, image: "{AGNHOST}", args: [pause]}}]}}
"""
ALLOW_ALL = f"""
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: allow-all, namespace: {NS}}}
spec:
  podSelector: {{}}
  policyTypes: [Ingress]
  ingress: [{{}}]
"""


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    with private_sandbox(tmp_path_factory.mktemp("calico"), cni="calico") as env:
        env.kubectl("apply", "-f", "-", input=APP)
        env.kubectl("-n", NS, "wait", "--for=condition=Ready", "pod", "--all", "--timeout=30s")
        yield env


@pytest.fixture
def policies(box):
    """Objects a test applies, deleted after it (policies before tiers)."""
    applied: list[str] = []

    def apply(text: str) -> None:
        box.kubectl("apply", "-f", "-", input=text)
        applied.append(text)

    yield apply
    for text in reversed(applied):
        box.kubectl("delete", "-f", "-", "--wait=false", input=text, check=False)


def connects(box, pod: str, port: int = 5432) -> str:
    """agnhost connect from ``pod`` to the db pod: '' when connected, else TIMEOUT/REFUSED."""
    ip = box.kubectl_json("-n", NS, "get", "pod", "db")["status"]["podIP"]
    done = box.kubectl("-n", NS, "exec", pod, "--", "/agnhost", "connect", f"{ip}:{port}", "--timeout=1s",
                       check=False)
    return done.stderr.strip().splitlines()[0] if done.returncode else ""


def tier(name: str, order: float | None = None, default_action: str | None = None) -> str:
    spec = {k: v for k, v in (("order", order), ("defaultAction", default_action)) if v is not None}
    return json.dumps({"apiVersion": "projectcalico.org/v3", "kind": "Tier", "metadata": {"name": name},
                       "spec": spec})


def test_the_kinds_are_served_with_the_api_servers_names_and_the_builtin_tiers(box):
    resources = box.kubectl("api-resources", "--api-group=projectcalico.org", "-o", "wide").stdout
    rows = {line.split()[0]: line.split() for line in resources.splitlines()[1:]}
    assert rows["networkpolicies"][1] == "cnp,caliconetworkpolicy,caliconetworkpolicies"
    assert rows["globalnetworkpolicies"][1] == "gnp,cgnp,calicoglobalnetworkpolicies"
    assert rows["networksets"][1] == "netsets" and {"tiers", "globalnetworksets"} <= set(rows)
    tiers = {t["metadata"]["name"]: t["spec"] for t in box.kubectl_json("get", "tiers.projectcalico.org")["items"]}
    # libcalico-go clientv3 EnsureInitialized
    assert tiers == {"kube-admin": {"order": 1000, "defaultAction": "Pass"},
                     "default": {"order": 1000000, "defaultAction": "Deny"},
                     "kube-baseline": {"order": 10000000, "defaultAction": "Pass"}}
    header = box.kubectl("get", "tiers").stdout.splitlines()[0].split()
    assert header == ["NAME", "CREATED", "AT"]  # the aggregated API server's default table


def test_a_policy_is_defaulted_as_the_api_server_does(box, policies):
    policies(f"""
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {{name: defaults, namespace: {NS}}}
spec:
  selector: app == 'nothing'
  egress: [{{action: Allow}}]
""")
    got = box.kubectl_json("-n", NS, "get", "networkpolicies.projectcalico.org", "defaults")
    assert got["spec"]["tier"] == "default" and got["spec"]["types"] == ["Egress"]
    assert got["metadata"]["labels"] == {"projectcalico.org/tier": "default"}
    assert box.kubectl("-n", NS, "get", "cnp", "-o", "name").stdout.strip() == \
        "networkpolicy.projectcalico.org/defaults"
    # the Kubernetes kind keeps its own name: networkpolicies (no group) is networking.k8s.io's
    assert "No resources found" in box.kubectl("-n", NS, "get", "networkpolicies").stderr


@pytest.mark.parametrize("spec,message", [
    ("selector: app = 'db'", 'Selector: Invalid value: "app = \'db\'": Reason: failed to validate Field: Selector '
                             "because of Tag: selector"),
    ("ingress: [{action: Drop}]", 'Action: Invalid value: "Drop": Reason: failed to validate Field: Action because '
                                  "of Tag: action"),
    ("ingress: [{action: Allow, destination: {ports: [5432]}}]",
     "Destination.Ports: Invalid value: [...]: Reason: rules with numeric port or port range must set protocol to "
     "TCP or UDP or SCTP"),
])
def test_validator_v3_errors_come_back_through_kubectl(box, spec, message):
    done = box.kubectl("apply", "-f", "-", check=False, input=f"""
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {{name: bad, namespace: {NS}}}
spec: {{{spec}}}
""")
    assert done.returncode != 0
    assert 'The NetworkPolicy "bad" is invalid: ' in done.stderr and message in done.stderr, done.stderr


def test_a_policy_in_a_missing_tier_is_refused_and_names_need_no_tier_prefix(box, policies):
    gnp = """
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: guard}
spec: {tier: security, selector: app == 'db', ingress: [{action: Pass}]}
"""
    done = box.kubectl("apply", "-f", "-", check=False, input=gnp)
    assert done.returncode != 0
    assert 'Error from server (NotFound): error when creating "STDIN": tiers.projectcalico.org "security" not found' \
        in done.stderr, done.stderr
    policies(tier("security", 100))
    policies(gnp)  # no "security." prefix needed (projectcalico/calico#11232)
    assert box.kubectl_json("get", "gnp", "guard")["metadata"]["labels"]["projectcalico.org/tier"] == "security"


def test_tiered_policy_security_tier_guards_db_whatever_the_namespace_allows(box, policies):
    """docs "Get started with policy tiers": a security tier evaluated before the default tier, where the
    application team's Kubernetes NetworkPolicy (allow all) cannot let in what the security tier denies."""
    policies(ALLOW_ALL)
    policies(tier("security", 100))
    policies("""
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: db-guard}
spec:
  tier: security
  order: 10
  selector: app == 'db'
  ingress:
  - {action: Pass, source: {selector: tier == 'app'}}
  - {action: Deny}
""")
    assert connects(box, "api") == ""  # passed on to the default tier, where allow-all allows it
    assert connects(box, "web") == "TIMEOUT"  # denied in the security tier: allow-all never sees it


def test_end_of_tier_drops_what_a_tier_selects_but_does_not_decide(box, policies):
    policies(tier("security", 100))
    policies("""
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: db-app-only}
spec:
  tier: security
  selector: app == 'db'
  ingress: [{action: Pass, source: {selector: tier == 'app'}}]
""")
    assert connects(box, "api") == ""  # passed; no policy in later tiers: the namespace's profile allows it
    assert connects(box, "web") == "TIMEOUT"  # no rule matched: "End of tier security. Drop"


def test_default_action_pass_and_log_rules_go_on(box, policies):
    policies(tier("platform", 50, "Pass"))
    policies("""
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: log-db}
spec:
  tier: platform
  selector: app == 'db'
  ingress: [{action: Log}]
""")
    assert connects(box, "web") == ""  # Log goes on; the tier's defaultAction Pass hands it on
    box.kubectl("apply", "-f", "-", input=tier("platform", 50, "Deny"))
    assert connects(box, "web") == "TIMEOUT"  # the same tier ending in Deny


def test_order_within_a_tier_decides_which_rule_acts_first(box, policies):
    deny = f"""
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {{name: deny-web, namespace: {NS}}}
spec:
  order: %s
  selector: app == 'db'
  ingress: [{{action: Deny, source: {{selector: tier == 'web'}}}}]
"""
    policies(deny % 10)
    policies(f"""
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {{name: allow-all, namespace: {NS}}}
spec:
  order: 20
  selector: app == 'db'
  ingress: [{{action: Allow}}]
""")
    assert connects(box, "web") == "TIMEOUT" and connects(box, "api") == ""
    box.kubectl("apply", "-f", "-", input=deny % 30)
    assert connects(box, "web") == ""  # allow-all (order 20) now acts first


def test_kubernetes_networkpolicies_sit_in_the_default_tier_at_order_1000(box, policies):
    policies(ALLOW_ALL)
    policies(f"""
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {{name: late-deny, namespace: {NS}}}
spec:
  order: 2000
  selector: app == 'db'
  ingress: [{{action: Deny}}]
""")
    assert connects(box, "web") == ""  # allow-all (order 1000) comes first
    box.kubectl("apply", "-f", "-", input=f"""
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {{name: late-deny, namespace: {NS}}}
spec:
  order: 500
  selector: app == 'db'
  ingress: [{{action: Deny}}]
""")
    assert connects(box, "web") == "TIMEOUT"


def test_service_accounts_and_named_ports(box, policies):
    policies(f"""
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {{name: db-from-backend, namespace: {NS}}}
spec:
  selector: app == 'db'
  ingress:
  - action: Allow
    protocol: TCP
    source: {{serviceAccounts: {{selector: role == 'backend'}}}}
    destination: {{ports: [pg]}}
""")
    assert connects(box, "api") == ""  # the backend service account, to the port named pg
    assert connects(box, "web") == "TIMEOUT"
    box.kubectl("apply", "-f", "-", input=f"""
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {{name: db-from-backend, namespace: {NS}}}
spec:
  selector: app == 'db'
  ingress:
  - action: Allow
    protocol: TCP
    source: {{serviceAccounts: {{names: [default]}}}}
    destination: {{ports: ["5000:5500"]}}
""")
    assert connects(box, "web") == "" and connects(box, "api") == "TIMEOUT"


def test_http_matches_get_a_not_emulated_warning(box, policies):
    policies(f"""
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {{name: http-only-get, namespace: {NS}}}
spec:
  selector: app == 'db'
  ingress: [{{action: Allow, http: {{methods: [GET]}}}}]
""")
    events = wait_for(lambda: [e for e in box.kubectl_json("-n", NS, "get", "events", "--field-selector",
                                                           "involvedObject.name=http-only-get")["items"]
                               if e["reason"] == "NotEmulated"], timeout=10, what="the NotEmulated event")
    assert events[0]["type"] == "Warning" and "spec.ingress[0].http" in events[0]["message"]
    assert connects(box, "web") == ""  # felix enforces the rule's L3/L4 part


def _free_node_port() -> int:
    while True:
        port = random.randint(30100, 32000)
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port


def _client_ip(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/clientip", timeout=5) as resp:
            return resp.read().decode().rsplit(":", 1)[0]
    except OSError:
        return None


def test_nets_and_not_nets_with_the_outside_client(box, policies):
    """The host (kind's 172.18.0.1) reaches a pod through a NodePort with externalTrafficPolicy Local, which keeps
    its address: a bare address to Calico, matched by nets, never by a selector."""
    port = _free_node_port()
    box.kubectl("apply", "-f", "-", input=f"""
apiVersion: v1
kind: Pod
metadata: {{name: edge, namespace: {NS}, labels: {{app: edge}}}}
spec:
  nodeName: k8snet-control-plane
  containers: [{{name: c, image: "{AGNHOST}", args: [netexec, --http-port=8080]}}]
---
apiVersion: v1
kind: Service
metadata: {{name: edge, namespace: {NS}}}
spec:
  type: NodePort
  externalTrafficPolicy: Local
  selector: {{app: edge}}
  ports: [{{port: 80, targetPort: 8080, nodePort: {port}}}]
""")
    box.kubectl("-n", NS, "wait", "--for=condition=Ready", "pod/edge", "--timeout=30s")
    assert wait_for(lambda: _client_ip(port), timeout=15, what="the NodePort from the host") == "172.18.0.1"
    policies(f"""
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {{name: edge-from-outside, namespace: {NS}}}
spec:
  selector: app == 'edge'
  ingress:
  - {{action: Deny, source: {{selector: all()}}}}
  - {{action: Allow, source: {{nets: [172.18.0.0/16], notNets: [172.18.0.2/32]}}}}
""")
    assert _client_ip(port) == "172.18.0.1"  # no selector matches a bare address; nets do
    box.kubectl("apply", "-f", "-", input=f"""
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {{name: edge-from-outside, namespace: {NS}}}
spec:
  selector: app == 'edge'
  ingress: [{{action: Allow, source: {{notNets: [172.18.0.1/32]}}}}]
""")
    assert _client_ip(port) is None  # not allowed: end of the default tier
    box.kubectl("-n", NS, "delete", "svc,pod", "edge", "--wait=false")


def test_builtin_tier_orders_and_tier_default_actions_are_validated(box):
    done = box.kubectl("apply", "-f", "-", check=False, input=tier("default", 5))
    assert 'The Tier "default" is invalid: TierSpec.Order: Invalid value: 5: Reason: default tier order must be ' \
           "1000000" in done.stderr, done.stderr
    done = box.kubectl("apply", "-f", "-", check=False, input=tier("team-a", 10, "Allow"))
    assert 'DefaultAction: Invalid value: "Allow": Reason: failed to validate Field: DefaultAction because of Tag: ' \
           "oneof" in done.stderr, done.stderr
    box.kubectl("apply", "-f", "-", input=tier("team-b"))
    assert box.kubectl_json("get", "tiers.projectcalico.org", "team-b")["spec"] == {
        "order": 1000000, "defaultAction": "Deny"}  # lib/resources/tier.go DefaultTierFields
    box.kubectl("delete", "tiers.projectcalico.org", "team-b")


def test_egress_to_the_outside_world_meets_nets_and_the_tiers(box, policies):
    """A connection to a host outside the cluster is judged by the source's egress only: ``nets`` meets the host's
    own address (before the node masquerades it), as felix's egress chain sees the packet."""
    policies(json.dumps({"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
                         "metadata": {"name": "no-payments-api"},
                         "spec": {"selector": "tier == 'web'", "types": ["Egress"],
                                  "egress": [{"action": "Deny", "protocol": "TCP",
                                              "destination": {"nets": ["203.0.113.0/24"]}},
                                             {"action": "Allow"}]}}))

    def get(pod: str, host: str) -> str:
        done = box.kubectl("-n", NS, "exec", pod, "--", "curl", "-s", "-m", "2", "-o", "/dev/null", "-w",
                           "%{http_code}", f"http://{host}/", check=False)
        return done.stdout.strip() if done.returncode == 0 else f"exit {done.returncode}"

    assert get("web", "api.payments.example") == "exit 28"  # 203.0.113.10: dropped, curl times out
    assert get("web", "example.com") == "200"  # 198.51.100.10: the next rule allows it
    assert get("api", "api.payments.example") == "200"  # no policy selects api: its profile allows
