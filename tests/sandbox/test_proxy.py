"""The proxy subresources as kube-apiserver serves them (pkg/registry/core/service/storage ResourceLocation,
pod ResourceLocation), through ``kubectl get --raw`` and ``kubectl proxy``."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request

from tests.conftest import KUBECTL, wait_for

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"


def web(sandbox, ns: str) -> None:
    sandbox.kubectl("-n", ns, "create", "deployment", "web", f"--image={AGNHOST}", "--", "/agnhost", "netexec",
                    "--http-port=8080")
    sandbox.kubectl("-n", ns, "expose", "deployment", "web", "--port=80", "--target-port=8080")
    sandbox.kubectl("-n", ns, "rollout", "status", "deployment/web", "--timeout=30s")


def test_service_proxy_reaches_an_endpoint_by_port_number_or_default(sandbox, ns):
    web(sandbox, ns)
    for name in ("web", "web:80", "http:web:80"):
        answer = sandbox.kubectl("get", "--raw", f"/api/v1/namespaces/{ns}/services/{name}/proxy/hostname")
        assert answer.stdout.startswith("web-"), name
    echoed = sandbox.kubectl("get", "--raw", f"/api/v1/namespaces/{ns}/services/web/proxy/echo?msg=hi")
    assert echoed.stdout == "hi"


def test_service_proxy_errors_are_the_api_server_s(sandbox, ns):
    web(sandbox, ns)
    wrong_port = sandbox.kubectl("get", "--raw", f"/api/v1/namespaces/{ns}/services/web:81/proxy/", check=False)
    assert 'no service port 81 found for service "web"' in wrong_port.stderr
    sandbox.kubectl("-n", ns, "create", "service", "clusterip", "empty", "--tcp=80:80")
    empty = sandbox.kubectl("get", "--raw", f"/api/v1/namespaces/{ns}/services/empty/proxy/", check=False)
    assert 'no endpoints available for service "empty"' in empty.stderr
    missing = sandbox.kubectl("get", "--raw", f"/api/v1/namespaces/{ns}/services/nope/proxy/", check=False)
    assert 'services "nope" not found' in missing.stderr


def test_pod_proxy_and_the_trailing_slash_redirect(sandbox, ns):
    web(sandbox, ns)
    pod = sandbox.kubectl_json("-n", ns, "get", "pods", "-l", "app=web")["items"][0]["metadata"]["name"]
    answer = sandbox.kubectl("get", "--raw", f"/api/v1/namespaces/{ns}/pods/{pod}:8080/proxy/hostname")
    assert answer.stdout == pod
    redirected = sandbox.kubectl("get", "--raw", f"/api/v1/namespaces/{ns}/services/web/proxy")  # 301 to …/proxy/
    assert redirected.stdout.startswith("NOW: ")
    refused = sandbox.kubectl("get", "--raw", f"/api/v1/namespaces/{ns}/pods/{pod}/proxy/", check=False)
    assert "error trying to reach service" in refused.stderr and "connection refused" in refused.stderr


def test_kubectl_proxy_serves_the_service_on_localhost(sandbox, ns):
    web(sandbox, ns)
    env = {"KUBECONFIG": str(sandbox.kubeconfig), "HOME": str(sandbox.home), "PATH": "/usr/bin:/bin"}
    proxy = subprocess.Popen([KUBECTL, "proxy", "--port=0"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = proxy.stdout.readline()  # "Starting to serve on 127.0.0.1:PORT"
        port = int(line.rsplit(":", 1)[1])
        base = f"http://127.0.0.1:{port}/api/v1/namespaces/{ns}/services/web:80/proxy"

        def fetch(path: str) -> tuple[int, str]:
            try:
                with urllib.request.urlopen(base + path, timeout=10) as resp:
                    return resp.status, resp.read().decode()
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read().decode()

        status, body = wait_for(lambda: fetch("/hostname"), what="kubectl proxy to answer")
        assert status == 200 and body.startswith("web-")
        status, body = fetch("/clientip")
        assert status == 200 and body.startswith("172.18.0.")  # the control-plane node's address
        sandbox.kubectl("-n", ns, "scale", "deployment", "web", "--replicas=0")
        wait_for(lambda: fetch("/hostname")[0] == 503, what="the endpoints to go")
        assert json.loads(fetch("/hostname")[1])["reason"] == "ServiceUnavailable"
    finally:
        proxy.terminate()
        proxy.wait(10)
