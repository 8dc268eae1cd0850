"""Cilium's policies in a sandbox made with ``--cni cilium``, through kubectl: the cilium.io CRDs, CiliumEndpoints
and CiliumIdentities, cilium-cli's connectivity-test policies (cilium-cli/connectivity/manifests in
github.com/cilium/cilium) against its echo server and two clients, deny precedence and default deny
(docs.cilium.io security/policy/language), a Kubernetes NetworkPolicy together with a CiliumNetworkPolicy, Envoy's
403, and ``hubble observe`` in the agent pods. One sandbox for the module."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from tests.conftest import private_sandbox, wait_for

NS = "cilium-test"
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
ECHO = "echo\n"  # http-echo -text=echo
DENIED = "Access denied\n"  # Envoy's 403 body (cilium/proxy l7policy.cc), CRLF read as text
APP = f"""
apiVersion: v1
kind: Namespace
metadata: {{name: {NS}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: echo, namespace: {NS}, labels: {{kind: echo}}}}
spec:
  nodeName: k8snet-worker2
  containers:
  - {{name: echo, image: "hashicorp/http-echo:1.0.0", args: ["-listen=:8080", "-text=echo"],
      ports: [{{containerPort: 8080, name: http}}]}}
---
apiVersion: v1
kind: Service
metadata: {{name: echo, namespace: {NS}}}
spec: {{selector: {{kind: echo}}, ports: [{{port: 8080}}]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: client, namespace: {NS}, labels: {{kind: client}}}}
spec: {{nodeName: k8snet-worker, containers: [{{name: c, image: "{AGNHOST}", args: [pause]}}]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: client2, namespace: {NS}, labels: {{kind: client, other: client}}}}
spec: {{nodeName: k8snet-worker, containers: [{{name: c, image: "{AGNHOST}", args: [pause]}}]}}
"""

# cilium-cli/connectivity/manifests/echo-ingress-l7-http.yaml, verbatim
ECHO_INGRESS_L7_HTTP = f"""
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  namespace: {NS}
  name: echo-ingress-l7-http
spec:
  description: "Allow other client to GET on echo"
  endpointSelector:
    matchLabels:
      kind: echo
  ingress:
  - fromEndpoints:
    - matchLabels:
        k8s:other: client
    toPorts:
    - ports:
      - port: "8080"
        protocol: TCP
      rules:
        http:
        - method: "GET"
          path: "/$"
        - method: "GET"
          path: "/public$"
        - method: "GET"
          path: "/private$"
          headers:
          - "X-Very-Secret-Token: 42"
"""

# client-egress-only-dns.yaml's rule (the L7 tests rely on it), then client-egress-l7-http.yaml
EGRESS_DNS = """
  - toEndpoints:
    - matchLabels:
        k8s:io.kubernetes.pod.namespace: kube-system
        k8s:k8s-app: kube-dns
    toPorts:
    - ports:
      - port: "53"
        protocol: ANY
      rules:
        dns:
        - matchPattern: "*"
"""
CLIENT_EGRESS_L7_HTTP = f"""
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  namespace: {NS}
  name: client-egress-l7-http
spec:
  description: "Allow GET one.one.one.one:80/ and GET <echo>:8080/ from client2"
  endpointSelector:
    matchLabels:
      other: client
  egress:
  - toEndpoints:
    - matchLabels:
        kind: echo
    toPorts:
    - ports:
      - port: "8080"
        protocol: TCP
      rules:
        http:
        - method: "GET"
          path: "/"
  - toFQDNs:
    - matchName: "one.one.one.one"
    toPorts:
    - ports:
      - port: "80"
        protocol: TCP
      rules:
        http:
        - method: "GET"
          path: "/"
{EGRESS_DNS}"""

CLIENT_EGRESS_L7_HTTP_METHOD = f"""
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  namespace: {NS}
  name: client-egress-l7-http-method
spec:
  description: "Allow POST <echo>:8080/(public|private) from client2"
  endpointSelector:
    matchLabels:
      other: client
  egress:
  - toEndpoints:
    - matchLabels:
        kind: echo
    toPorts:
    - ports:
      - port: "8080"
        protocol: TCP
      rules:
        http:
        - method: "POST"
          path: "/public$"
        - method: "POST"
          path: "/private$"
{EGRESS_DNS}"""

# allow-all-except-world.yaml
ALLOW_ALL_EXCEPT_WORLD = f"""
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  namespace: {NS}
  name: allow-all-except-world
spec:
  endpointSelector: {{}}
  egress:
  - toEntities:
    - host
    - remote-node
    - cluster
    - init
    - health
    - kube-apiserver
  - toEndpoints:
    - {{}}
  ingress:
  - fromEntities:
    - host
    - remote-node
    - cluster
    - init
    - health
    - kube-apiserver
  - fromEndpoints:
    - {{}}
"""


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    with private_sandbox(tmp_path_factory.mktemp("cilium"), cni="cilium") as env:
        env.kubectl("apply", "-f", "-", input=APP)
        env.kubectl("-n", NS, "wait", "--for=condition=Ready", "pod", "--all", "--timeout=30s")
        wait_for(lambda: len(env.kubectl_json("-n", NS, "get", "cep")["items"]) == 3, timeout=15,
                 what="a CiliumEndpoint per pod")
        yield env


@pytest.fixture
def policies(box):
    """Policies a test applies, deleted after it."""
    applied: list[str] = []

    def apply(text: str) -> None:
        box.kubectl("apply", "-f", "-", input=text)
        applied.append(text)

    yield apply
    for text in applied:
        box.kubectl("delete", "-f", "-", "--wait=false", input=text, check=False)


def curl(box, pod: str, path: str, *flags: str) -> tuple[str, str]:
    """(status code, body) of one request from ``pod`` to the echo Service."""
    out = box.kubectl("-n", NS, "exec", pod, "--", "curl", "-sS", "-m", "2", *flags, "-w", "\n%{http_code}",
                      f"http://echo:8080{path}", check=False).stdout
    body, _, code = out.rpartition("\n")
    return code, body


def raw(box, *args: str) -> bytes:
    """kubectl's standard output as bytes (CRLF kept)."""
    env = {**os.environ, "KUBECONFIG": str(box.kubeconfig), "HOME": str(box.home)}
    return subprocess.run(["kubectl", *args], capture_output=True, env=env, timeout=60, check=True).stdout


def connects(box, pod: str, target: str = "echo:8080") -> str:
    """agnhost connect's verdict: '' when connected, else TIMEOUT/REFUSED."""
    done = box.kubectl("-n", NS, "exec", pod, "--", "/agnhost", "connect", target, "--timeout=1s", check=False)
    return done.stderr.strip().splitlines()[0] if done.returncode else ""


def agent_on(box, node: str) -> str:
    pods = box.kubectl_json("-n", "kube-system", "get", "pods", "-l", "k8s-app=cilium",
                            "--field-selector", f"spec.nodeName={node}")["items"]
    return pods[0]["metadata"]["name"]


def hubble(box, node: str, *args: str) -> str:
    return box.kubectl("-n", "kube-system", "exec", agent_on(box, node), "--", "hubble", "observe", *args).stdout


def test_crds_endpoints_and_identities(box):
    names = box.kubectl("get", "crd", "-o", "name").stdout
    for crd in ("ciliumnetworkpolicies", "ciliumclusterwidenetworkpolicies", "ciliumendpoints", "ciliumidentities"):
        assert f"customresourcedefinition.apiextensions.k8s.io/{crd}.cilium.io" in names
    table = box.kubectl("-n", NS, "get", "cep").stdout.splitlines()
    assert table[0].split() == ["NAME", "SECURITY", "IDENTITY", "ENDPOINT", "STATE", "IPV4", "IPV6"]
    cep = box.kubectl_json("-n", NS, "get", "cep", "client2")
    pod = box.kubectl_json("-n", NS, "get", "pod", "client2")
    assert cep["metadata"]["ownerReferences"][0]["uid"] == pod["metadata"]["uid"]
    status = cep["status"]
    assert status["networking"]["addressing"] == [{"ipv4": pod["status"]["podIP"]}]
    assert status["networking"]["node"] == "172.18.0.3" and status["state"] == "ready"
    assert 1 <= status["id"] <= 4095 and 256 <= status["identity"]["id"] <= 65535
    assert "k8s:other=client" in status["identity"]["labels"]
    assert f"k8s:io.kubernetes.pod.namespace={NS}" in status["identity"]["labels"]
    ident = box.kubectl_json("get", "ciliumidentities", str(status["identity"]["id"]))
    assert ident["security-labels"]["k8s:other"] == "client"
    assert ident["metadata"]["labels"]["io.kubernetes.pod.namespace"] == NS
    listed = box.kubectl("get", "ciliumid", "-l", "other=client").stdout.splitlines()
    assert listed[0].split() == ["NAME", "NAMESPACE", "AGE"] and listed[1].split()[:2] == [
        str(status["identity"]["id"]), NS]
    others = {box.kubectl_json("-n", NS, "get", "cep", p)["status"]["identity"]["id"] for p in ("client", "echo")}
    assert status["identity"]["id"] not in others  # different labels, different identities
    wide = box.kubectl("-n", NS, "get", "cep", "echo", "-o", "wide").stdout.splitlines()
    assert "INGRESS ENFORCEMENT" in wide[0] and "non-enforcing" in wide[1]


def test_echo_ingress_l7_http(box, policies):
    policies(ECHO_INGRESS_L7_HTTP)
    wait_for(lambda: box.kubectl_json("-n", NS, "get", "cep", "echo")["status"]["policy"]["ingress"]["enforcing"],
             timeout=10, what="echo's endpoint enforcing ingress")
    assert curl(box, "client2", "/") == ("200", ECHO)
    assert curl(box, "client2", "/public") == ("200", ECHO)
    assert curl(box, "client2", "/public/x") == ("403", DENIED)  # the path regex is anchored
    assert curl(box, "client2", "/private") == ("403", DENIED)
    assert curl(box, "client2", "/private", "-H", "X-Very-Secret-Token: 42") == ("200", ECHO)
    assert curl(box, "client2", "/private", "-H", "X-Very-Secret-Token: 41")[0] == "403"
    assert curl(box, "client2", "/public", "-X", "POST")[0] == "403"
    head = raw(box, "-n", NS, "exec", "client2", "--", "curl", "-sS", "-i", "http://echo:8080/private").decode()
    assert head.startswith("HTTP/1.1 403 Forbidden\r\n")
    assert "content-type: text/plain\r\n" in head and "server: envoy\r\n" in head
    assert "content-length: 15\r\n" in head and head.endswith("\r\n\r\nAccess denied\r\n")
    assert connects(box, "client") == "TIMEOUT"  # not other=client: dropped at L3, not a 403
    assert connects(box, "client2") == ""


def test_client_egress_l7_http(box, policies):
    policies(CLIENT_EGRESS_L7_HTTP)
    wait_for(lambda: box.kubectl_json("-n", NS, "get", "cep", "client2")["status"]["policy"]["egress"]["enforcing"],
             timeout=10, what="client2's endpoint enforcing egress")
    assert curl(box, "client2", "/") == ("200", ECHO)  # DNS through the dns rule, then GET / through Envoy
    assert curl(box, "client2", "/public") == ("403", DENIED)
    assert curl(box, "client", "/public") == ("200", ECHO)  # client has no policy
    events = box.kubectl_json("-n", NS, "get", "events", "--field-selector",
                              "involvedObject.name=client-egress-l7-http")["items"]
    assert [e["message"] for e in events if e["reason"] == "NotEmulated"] == []  # toFQDNs and rules.dns are
    # emulated; one.one.one.one is no name of the emulated outside world (test_cilium_fqdn.py has those)
    done = box.kubectl("-n", NS, "exec", "client2", "--", "/agnhost", "connect", "one.one.one.one:80",
                       "--timeout=1s", check=False)
    assert "DNS: lookup one.one.one.one on 10.96.0.10:53: no such host" in done.stderr


def test_client_egress_l7_http_method(box, policies):
    policies(CLIENT_EGRESS_L7_HTTP_METHOD)
    wait_for(lambda: box.kubectl_json("-n", NS, "get", "cep", "client2")["status"]["policy"]["egress"]["enforcing"],
             timeout=10, what="client2's endpoint enforcing egress")
    assert curl(box, "client2", "/public", "-X", "POST")[0] == "200"
    assert curl(box, "client2", "/private", "-X", "POST")[0] == "200"
    assert curl(box, "client2", "/public") == ("403", DENIED)


def test_allow_all_except_world_keeps_the_cluster_reachable(box, policies):
    policies(ALLOW_ALL_EXCEPT_WORLD)
    wait_for(lambda: box.kubectl_json("-n", NS, "get", "cep", "client")["status"]["policy"]["egress"]["enforcing"],
             timeout=10, what="client's endpoint enforcing egress")
    assert connects(box, "client") == ""  # DNS (cluster) and echo (toEndpoints {})
    assert curl(box, "client2", "/")[0] == "200"
    assert connects(box, "client", "kubernetes.default:443") == ""  # kube-apiserver entity


def test_deny_wins_over_every_allow(box, policies):
    policies(f"""
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {{name: echo-allow-and-deny, namespace: {NS}}}
spec:
  endpointSelector: {{matchLabels: {{kind: echo}}}}
  ingress:
  - fromEndpoints: [{{}}]
  ingressDeny:
  - fromEndpoints: [{{matchLabels: {{other: client}}}}]
    toPorts: [{{ports: [{{port: "8080", protocol: TCP}}]}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: allow-client2, namespace: {NS}}}
spec:
  podSelector: {{matchLabels: {{kind: echo}}}}
  ingress: [{{from: [{{podSelector: {{matchLabels: {{other: client}}}}}}]}}]
""")
    assert connects(box, "client2") == "TIMEOUT"  # denied though both policies allow it
    assert connects(box, "client") == ""
    drops = hubble(box, "k8snet-worker2", "--verdict", "DROPPED", "--from-pod", f"{NS}/client2", "--last", "1")
    ident = box.kubectl_json("-n", NS, "get", "cep", "client2")["status"]["identity"]["id"]
    assert f" (ID:{ident}) <> {NS}/echo:8080 " in drops
    assert drops.rstrip().endswith("Policy denied DROPPED (TCP Flags: SYN)")


def test_default_deny_and_enable_default_deny(box, policies):
    # only a deny rule, with enableDefaultDeny off: client is denied, everything else stays allowed
    policies(f"""
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {{name: deny-client-only, namespace: {NS}}}
spec:
  endpointSelector: {{matchLabels: {{kind: echo}}}}
  enableDefaultDeny: {{ingress: false}}
  ingressDeny:
  - fromEndpoints: [{{matchLabels: {{kind: client}}, matchExpressions: [{{key: other, operator: DoesNotExist}}]}}]
""")
    assert connects(box, "client") == "TIMEOUT"
    assert connects(box, "client2") == ""
    cep = box.kubectl_json("-n", NS, "get", "cep", "echo")
    assert cep["status"]["policy"]["ingress"]["state"] == "non-enforcing"
    # the documented default-deny policy: an empty ingress rule selects nothing
    policies(f"""
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {{name: default-deny, namespace: {NS}}}
spec:
  endpointSelector: {{matchLabels: {{kind: echo}}}}
  ingress: [{{}}]
""")
    assert connects(box, "client2") == "TIMEOUT"
    wait_for(lambda: box.kubectl_json("-n", NS, "get", "cep", "echo")["status"]["policy"]["ingress"]["state"]
             == "enforcing", timeout=10, what="echo enforcing ingress")


def test_networkpolicy_and_ciliumnetworkpolicy_add_up(box, policies):
    knp = f"""
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: echo-from-client2, namespace: {NS}}}
spec:
  podSelector: {{matchLabels: {{kind: echo}}}}
  ingress: [{{from: [{{podSelector: {{matchLabels: {{other: client}}}}}}]}}]
"""
    cnp = f"""
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {{name: echo-from-clients, namespace: {NS}}}
spec:
  endpointSelector: {{matchLabels: {{kind: echo}}}}
  ingress:
  - fromEndpoints: [{{matchLabels: {{kind: client}}}}]
    toPorts: [{{ports: [{{port: "8080"}}]}}]
"""
    policies(knp)
    assert (connects(box, "client"), connects(box, "client2")) == ("TIMEOUT", "")
    policies(cnp)
    assert (connects(box, "client"), connects(box, "client2")) == ("", "")  # the union of both
    box.kubectl("delete", "-f", "-", input=knp)
    assert (connects(box, "client"), connects(box, "client2")) == ("", "")


def test_hubble_observe_shows_l7_and_the_helper_reads_every_node(box, policies):
    from k8snet import connect
    from k8snet.cni import hubble as hubble_helper

    policies(ECHO_INGRESS_L7_HTTP)
    curl(box, "client2", "/private")
    connects(box, "client")
    out = hubble(box, "k8snet-worker2", "--pod", f"{NS}/client2", "--last", "3")
    assert f"-> {NS}/echo:8080 " in out
    assert "http-request DROPPED (HTTP/1.1 GET http://echo:8080/private)" in out
    assert "http-response FORWARDED (HTTP/1.1 403 " in out and f"{NS}/echo:8080 (ID:" in out
    listed = box.kubectl("-n", "kube-system", "exec", agent_on(box, "k8snet-worker2"), "--", "cilium-dbg",
                         "endpoint", "list").stdout
    echo = box.kubectl_json("-n", NS, "get", "cep", "echo")["status"]
    assert any(line.split()[:4] == [str(echo["id"]), "Enabled", "Disabled", str(echo["identity"]["id"])]
               for line in listed.splitlines())
    cluster = connect()
    table = hubble_helper.observe(cluster, namespace=NS, verdict="DROPPED", last=50)
    assert any(row[4] == "Policy denied" and row[2].startswith(f"{NS}/client:") for row in table.rows)
    assert any(row[4] == "http-request" for row in table.rows)
    found = hubble_helper.flows(cluster, pod=f"{NS}/client", last=None)
    assert {f.node for f in found} >= {"k8snet-worker", "k8snet-worker2"}  # both nodes' agents were read
    edges = hubble_helper.edges(found)
    assert any(e.source == f"{NS}/client" and e.destination == f"{NS}/echo" and e.dropped for e in edges)
    raw = json.loads(hubble(box, "k8snet-worker2", "-o", "jsonpb", "--verdict", "DROPPED", "--last", "1"))
    assert raw["flow"]["drop_reason_desc"] == "POLICY_DENIED" and raw["flow"]["verdict"] == "DROPPED"


def test_bad_policies_get_the_apiservers_answer(box):
    done = box.kubectl("apply", "-f", "-", check=False, input=f"""
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {{name: bad, namespace: {NS}}}
spec:
  endpointSelector: {{}}
  ingress: [{{toPorts: [{{ports: [{{port: "80", protocol: HTTP}}]}}]}}]
""")
    assert done.returncode == 1
    assert 'spec.ingress[0].toPorts[0].ports[0].protocol: Unsupported value: "HTTP"' in done.stderr
    assert "the server could not find the requested resource" not in done.stderr


def test_policy_enforcement_modes_always_and_never(box, policies):
    """docs.cilium.io policy/intro "Policy Enforcement Modes": with ``enable-policy: always`` every endpoint is
    enforced, so traffic no rule allows is dropped even where no policy selects anything; with ``never`` nothing
    is enforced, a deny-all policy included."""
    def mode(value: str) -> None:
        box.kubectl("-n", "kube-system", "patch", "configmap", "cilium-config", "--type=merge", "-p",
                    json.dumps({"data": {"enable-policy": value}}))

    echo = box.kubectl_json("-n", NS, "get", "pod", "echo")["status"]["podIP"] + ":8080"
    try:
        assert connects(box, "client", echo) == ""  # default: no policy selects echo
        mode("always")
        assert connects(box, "client", echo) == "TIMEOUT"  # (and by name: the lookup to kube-dns is dropped too)
        assert connects(box, "client").startswith("DNS: lookup echo")
        mode("never")
        policies(f"""
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {{name: deny-all, namespace: {NS}}}
spec:
  endpointSelector: {{}}
  ingress: [{{}}]
""")
        assert connects(box, "client", echo) == ""  # never: the deny-all policy is not enforced
    finally:
        mode("default")
    assert connects(box, "client", echo) == "TIMEOUT"  # default again: the deny-all policy applies
