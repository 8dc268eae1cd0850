"""The emulated outside world (sandbox/dataplane/outside.py), through kubectl exec: the hosts' names through
CoreDNS's forward (after the search list, ndots:5), their HTTP and HTTPS answers, the kind host's address they see
after the node's masquerade and Docker's, unrouted addresses and closed ports, and a NetworkPolicy ``ipBlock``
egress rule meeting real outside addresses."""

from __future__ import annotations

import json

import pytest

from k8snet.sandbox import process

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
PAYMENTS, GITHUB, EXAMPLE = "203.0.113.10", "203.0.113.20", "198.51.100.10"
PUBLIC = "192.0.2.1"  # the kind host's address on the (emulated) internet


@pytest.fixture
def client(sandbox, ns):
    sandbox.kubectl("apply", "-n", ns, "-f", "-", input=f"""
apiVersion: v1
kind: Pod
metadata: {{name: client, labels: {{app: client}}}}
spec: {{nodeName: k8snet-worker, containers: [{{name: c, image: "{AGNHOST}", args: [pause]}}]}}
""")
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/client", "--timeout=30s")
    return ns


def run(sandbox, ns: str, *argv: str):
    return sandbox.kubectl("-n", ns, "exec", "client", "--", *argv, check=False)


def connect(sandbox, ns: str, target: str) -> str:
    done = run(sandbox, ns, "/agnhost", "connect", target, "--timeout=1s")
    return done.stderr.strip().splitlines()[0] if done.returncode else ""


def test_an_outside_api_answers_json_and_sees_the_kind_hosts_address(sandbox, client):
    pod_ip = sandbox.kubectl_json("-n", client, "get", "pod", "client")["status"]["podIP"]
    for scheme in ("http", "https"):  # HTTPS verifies: the image's CA bundle trusts the emulated public CA
        done = run(sandbox, client, "curl", "-sS", f"{scheme}://api.payments.example/v1/charges")
        assert done.returncode == 0, done.stderr
        body = json.loads(done.stdout)
        assert (body["host"], body["path"], body["scheme"]) == ("api.payments.example", "/v1/charges", scheme)
        ip, _, port = body["client"].rpartition(":")
        assert ip == PUBLIC and ip != pod_ip and port.isdigit()  # masqueraded twice: node, then the kind host
    page = run(sandbox, client, "wget", "-qO-", "http://example.com/")
    assert page.stdout.startswith(f"example.com: GET / over HTTP from {PUBLIC}:")
    trace = process.admin(sandbox.running, "trace", {"namespace": client, "pod": "client",
                                                     "url": "http://api.payments.example/"})
    nat = [h["detail"] for h in trace["hops"] if h["kind"] == "nat"]
    assert nat == [{"from": pod_ip, "to": "172.18.0.3", "node": "k8snet-worker"},  # kindnet's masquerade
                   {"from": "172.18.0.3", "to": PUBLIC}]  # Docker's, on the kind host
    assert trace["hops"][-1]["kind"] == "outside" and trace["answeredBy"] == "api.payments.example"


def test_nslookup_walks_the_search_list_then_gets_the_forwarded_answer(sandbox, client):
    done = run(sandbox, client, "nslookup", "api.payments.example")
    assert done.stdout == ("Server:\t\t10.96.0.10\nAddress:\t10.96.0.10#53\n\nNon-authoritative answer:\n"
                           f"Name:\tapi.payments.example\nAddress: {PAYMENTS}\n\n")
    short = run(sandbox, client, "dig", "+short", "api.github.example")
    assert short.stdout == f"{GITHUB}\n"
    dig = run(sandbox, client, "dig", "example.com").stdout
    assert ";; flags: qr rd ra;" in dig and f"example.com.\t\t60\tIN\tA\t{EXAMPLE}\n" in dig
    missing = run(sandbox, client, "nslookup", "nosuch.example")
    assert "** server can't find nosuch.example: NXDOMAIN" in missing.stdout and missing.returncode == 1


def test_unrouted_addresses_and_closed_ports_time_out(sandbox, client):
    assert connect(sandbox, client, "api.github.example:443") == ""
    assert connect(sandbox, client, "203.0.113.99:80") == "TIMEOUT"  # no host has it
    assert connect(sandbox, client, "api.github.example:22") == "TIMEOUT"  # the host's firewall drops it
    assert connect(sandbox, client, "downloads.example:443") == "TIMEOUT"  # HTTP only
    assert connect(sandbox, client, "nosuch.example:80") == "DNS: lookup nosuch.example on 10.96.0.10:53: no such host"


def test_networkpolicy_ipblock_egress_to_an_outside_range(sandbox, client):
    """NetworkPolicy egress ``ipBlock`` (kubernetes.io/docs/concepts/services-networking/network-policies): the
    pod may reach 203.0.113.0/24 on 80 and 443, and kube-dns on 53; 198.51.100.0/24 is not allowed."""
    sandbox.kubectl("apply", "-n", client, "-f", "-", input="""
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-to-203-0-113}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 203.0.113.0/24, except: [203.0.113.20/32]}}]
    ports: [{port: 80}, {port: 443}]
  - to: [{namespaceSelector: {}, podSelector: {matchLabels: {k8s-app: kube-dns}}}]
    ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
""")
    assert run(sandbox, client, "curl", "-sS", "-m", "2", "https://api.payments.example/").returncode == 0
    assert connect(sandbox, client, "api.github.example:443") == "TIMEOUT"  # the except
    assert connect(sandbox, client, "example.com:80") == "TIMEOUT"  # outside the block
    timed = run(sandbox, client, "curl", "-sS", "-m", "2", "http://example.com/")
    assert timed.returncode == 28 and "Connection timed out" in timed.stderr
    sandbox.kubectl("apply", "-n", client, "-f", "-", input="""
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-to-203-0-113}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 203.0.113.0/24}}]
""")  # no DNS egress: names no longer resolve, addresses still connect
    assert connect(sandbox, client, f"{PAYMENTS}:80") == ""
    assert run(sandbox, client, "nslookup", "api.payments.example").stdout.startswith(";; connection timed out")


def test_the_hosts_are_nginx_answering_from_the_file_kind_runs(sandbox, client):
    """The hosts' answers come from k8snet.outside.nginx_conf, the file the real nginx reads on kind: nginx's
    headers, the server's default_type, its 400 for plain HTTP on an HTTPS port (ngx_http_special_response.c)."""
    head = run(sandbox, client, "curl", "-sSI", "http://api.payments.example/v1")
    assert head.returncode == 0, head.stderr
    lines = head.stdout.replace("\r", "").splitlines()
    assert lines[0] == "HTTP/1.1 200 OK" and "Server: nginx/1.29.1" in lines
    assert "Content-Type: application/json" in lines
    page = run(sandbox, client, "curl", "-sSi", "http://downloads.example/file.tar.gz").stdout.replace("\r", "")
    assert "Content-Type: text/plain; charset=utf-8" in page  # types {}: not by the extension
    assert page.endswith(f"downloads.example: GET /file.tar.gz over HTTP from {PUBLIC}:" + page.rsplit(":", 1)[1])
    plain = run(sandbox, client, "curl", "-sS", "http://api.payments.example:443/")
    assert "<title>400 The plain HTTP request was sent to HTTPS port</title>" in plain.stdout
