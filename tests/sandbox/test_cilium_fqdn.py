"""Cilium's DNS-aware egress in a sandbox made with ``--cni cilium``, against the emulated outside world, through
kubectl: cilium-cli's ``to-fqdns`` scenario (connectivity/manifests/client-egress-to-fqdns.yaml re-expressed with
api.payments.example as its external target), the DNS proxy learning addresses from the answers a pod received and
forgetting them after the TTL, its REFUSED for names the DNS rules do not allow (and what nslookup, curl and agnhost
make of it), ``toEntities: [world]`` and ``toCIDRSet`` meeting outside addresses, and Hubble's DNS and world flows
(docs.cilium.io security/policy/language "DNS based"; pkg/fqdn). One sandbox for the module; the tests run in
order (the first one needs a cluster where nobody has resolved api.payments.example yet)."""

from __future__ import annotations

import json

import pytest
from tests.conftest import private_sandbox, wait_for

from k8snet.sandbox import process

NS = "cilium-fqdn"
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
PAYMENTS, GITHUB, EXAMPLE, DOWNLOADS = "203.0.113.10", "203.0.113.20", "198.51.100.10", "198.51.100.20"
DENIED = "Access denied\n"
APP = f"""
apiVersion: v1
kind: Namespace
metadata: {{name: {NS}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: client, namespace: {NS}, labels: {{kind: client}}}}
spec: {{nodeName: k8snet-worker, containers: [{{name: c, image: "{AGNHOST}", args: [pause]}}]}}
"""
DNS_TO_KUBE_DNS = """
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
        - matchPattern: "{pattern}"
"""
# cilium-cli connectivity/manifests/client-egress-to-fqdns.yaml, its ExternalTarget being api.payments.example
CLIENT_EGRESS_TO_FQDNS = f"""
apiVersion: "cilium.io/v2"
kind: CiliumNetworkPolicy
metadata:
  namespace: {NS}
  name: client-egress-to-fqdns
spec:
  endpointSelector:
    matchLabels:
      kind: client
  egress:
  - toPorts:
    - ports:
      - port: "80"
        protocol: TCP
      rules:
        http:
        - method: "GET"
          path: "/"
    toFQDNs:
    - matchName: "api.payments.example"
{DNS_TO_KUBE_DNS.format(pattern="*")}"""


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    with private_sandbox(tmp_path_factory.mktemp("cilium-fqdn"), cni="cilium") as env:
        env.kubectl("apply", "-f", "-", input=APP)
        env.kubectl("-n", NS, "wait", "--for=condition=Ready", "pod", "--all", "--timeout=30s")
        wait_for(lambda: env.kubectl_json("-n", NS, "get", "cep")["items"], timeout=15, what="the client's endpoint")
        yield env


@pytest.fixture
def policies(box):
    applied: list[str] = []

    def apply(text: str) -> None:
        box.kubectl("apply", "-f", "-", input=text)
        applied.append(text)
        wait_for(lambda: box.kubectl_json("-n", NS, "get", "cep", "client")["status"]["policy"]["egress"]
                 ["enforcing"], timeout=10, what="the client's endpoint enforcing egress")

    yield apply
    for text in applied:
        box.kubectl("delete", "-f", "-", "--wait=false", input=text, check=False)


def run(box, *argv: str):
    return box.kubectl("-n", NS, "exec", "client", "--", *argv, check=False)


def connects(box, target: str) -> str:
    done = run(box, "/agnhost", "connect", target, "--timeout=1s")
    return done.stderr.strip().splitlines()[0] if done.returncode else ""


def curl(box, url: str) -> tuple[str, str]:
    out = run(box, "curl", "-sS", "-m", "2", "-w", "\n%{http_code}", url).stdout
    body, _, code = out.rpartition("\n")
    return code, body


def hubble(box, *args: str) -> str:
    agent = box.kubectl_json("-n", "kube-system", "get", "pods", "-l", "k8s-app=cilium", "--field-selector",
                             "spec.nodeName=k8snet-worker")["items"][0]["metadata"]["name"]
    return box.kubectl("-n", "kube-system", "exec", agent, "--", "hubble", "observe", *args).stdout


def test_to_fqdns_allows_only_the_addresses_the_pod_resolved(box, policies):
    policies(CLIENT_EGRESS_TO_FQDNS)
    assert box.kubectl_json("-n", NS, "get", "events", "--field-selector",
                            "involvedObject.name=client-egress-to-fqdns")["items"] == []  # no NotEmulated
    assert connects(box, f"{PAYMENTS}:80") == "TIMEOUT"  # by IP, never resolved: no name labels the address
    code, body = curl(box, "http://api.payments.example/")
    assert code == "200" and json.loads(body)["host"] == "api.payments.example"
    assert curl(box, "http://api.payments.example/v1/charges") == ("403", DENIED)  # Envoy: GET / only
    assert curl(box, "http://api.github.example/")[0] == "000"  # resolves (DNS allows *), but not the FQDN rule
    assert connects(box, f"{PAYMENTS}:80") == ""  # now the DNS proxy has seen api.payments.example → 203.0.113.10
    assert connects(box, f"{GITHUB}:80") == "TIMEOUT"
    assert connects(box, "api.payments.example:443") == "TIMEOUT"  # the rule's port is 80
    process.admin(box.running, "clock", {"advance": 61})  # the answer's TTL (60 s) runs out: the address is forgotten
    assert connects(box, f"{PAYMENTS}:80") == "TIMEOUT"
    assert connects(box, "api.payments.example:80") == ""  # resolving again brings it back


def test_hubble_shows_the_dns_proxy_and_the_world(box, policies):
    policies(CLIENT_EGRESS_TO_FQDNS)
    assert curl(box, "http://api.payments.example/")[0] == "200"
    lines = hubble(box, "--from-pod", f"{NS}/client", "--last", "40").splitlines()
    ident = box.kubectl_json("-n", NS, "get", "cep", "client")["status"]["identity"]["id"]
    request = [x for x in lines if "dns-request proxy FORWARDED (DNS Query api.payments.example. A)" in x]
    assert request and f"{NS}/client:" in request[-1] and f"(ID:{ident}) -> kube-system/coredns-" in request[-1]
    responses = hubble(box, "--to-pod", f"{NS}/client", "--protocol", "dns", "--last", "40").splitlines()
    assert any(x.endswith('dns-response proxy FORWARDED (DNS Answer "203.0.113.10" TTL: 60 '
                          "(Proxy api.payments.example. A))") and f"(ID:{ident}) <- kube-system/coredns-" in x
               for x in responses), responses
    assert any("DNS Answer RCode: Non-Existent Domain TTL: 0 (Proxy api.payments.example.cilium-fqdn.svc.cluster."
               "local. A)" in x for x in responses)  # the search list's names go through the proxy too
    assert any(f"(ID:{ident}) -> api.payments.example:80 (world) to-stack FORWARDED (TCP Flags: SYN)" in x
               for x in lines), lines
    flows = [json.loads(x)["flow"] for x in hubble(box, "--from-pod", f"{NS}/client", "--last", "40", "-o",
                                                   "jsonpb").splitlines()]
    out = [f for f in flows if f["IP"]["destination"] == PAYMENTS][-1]
    assert out["destination_names"] == ["api.payments.example"] and out["destination"]["identity"] == 2


def test_dns_rules_refuse_other_names(box, policies):
    """The proxy answers REFUSED for names no DNS rule allows. BIND's nslookup stops at the first REFUSED (a
    search name here), musl's resolver too (curl on Alpine), Go's resolver goes on to the name as given."""
    policies(f"""
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {{name: only-payments, namespace: {NS}}}
spec:
  endpointSelector: {{matchLabels: {{kind: client}}}}
  egress:
  - toFQDNs: [{{matchPattern: "*.payments.example"}}]
  {DNS_TO_KUBE_DNS.format(pattern="*.payments.example").strip()}
""")
    refused = run(box, "nslookup", "api.github.example.")
    assert refused.stdout == ("Server:\t\t10.96.0.10\nAddress:\t10.96.0.10#53\n\n"
                              "** server can't find api.github.example: REFUSED\n\n") and refused.returncode == 1
    searched = run(box, "nslookup", "api.payments.example")
    assert f"** server can't find api.payments.example.{NS}.svc.cluster.local: REFUSED" in searched.stdout
    absolute = run(box, "nslookup", "api.payments.example.")
    assert f"Name:\tapi.payments.example\nAddress: {PAYMENTS}\n" in absolute.stdout
    assert connects(box, "api.payments.example:443") == ""  # Go: REFUSED, REFUSED, REFUSED, then the answer
    assert connects(box, "api.github.example:443") == ("DNS: lookup api.github.example on 10.96.0.10:53: "
                                                       "server misbehaving")
    failed = run(box, "curl", "-sS", "-m", "2", "https://api.payments.example/")
    assert failed.returncode == 6 and "Could not resolve host: api.payments.example" in failed.stderr
    assert "ANSWER: 0" in run(box, "dig", "api.github.example").stdout
    assert "status: REFUSED" in run(box, "dig", "api.github.example").stdout
    drops = hubble(box, "--from-pod", f"{NS}/client", "--verdict", "DROPPED", "--last", "5")
    assert "dns-request proxy DROPPED (DNS Query api.github.example. A)" in drops


def test_world_entity_and_cidr_rules_meet_outside_addresses(box, policies):
    policies(f"""
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {{name: world-http-and-a-cidr, namespace: {NS}}}
spec:
  endpointSelector: {{matchLabels: {{kind: client}}}}
  egress:
  - toEntities: [world]
    toPorts: [{{ports: [{{port: "80", protocol: TCP}}]}}]
  - toCIDRSet: [{{cidr: 198.51.100.0/24, except: [{DOWNLOADS}/32]}}]
  - toEntities: [cluster]
    toPorts: [{{ports: [{{port: "53", protocol: ANY}}]}}]
""")
    assert connects(box, f"{GITHUB}:80") == ""  # world, port 80: by IP too (no DNS needed for entities)
    assert connects(box, "api.github.example:443") == "TIMEOUT"
    assert connects(box, f"{EXAMPLE}:443") == ""  # the CIDR, any port
    assert connects(box, f"{DOWNLOADS}:80") == ""  # excepted from the CIDR, but world on 80
    assert connects(box, "203.0.113.99:80") == "TIMEOUT"  # allowed, but nothing answers there
    code, body = curl(box, "https://example.com/")
    assert code == "200" and "from 192.0.2.1:" in body  # the host sees the kind host's address
