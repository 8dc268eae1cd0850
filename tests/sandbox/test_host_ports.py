"""NodePorts from the host: 127.0.0.1:<nodePort> stands for <node IP>:<nodePort> (kind's nodes are reachable from
a Linux host; the "Use a Service to Access an Application in a Cluster" and "Exposing an External IP Address"
tutorials curl them), through kube-proxy and the pod's program, with a Warning where the host port is taken."""

from __future__ import annotations

import json
import random
import socket
import urllib.request

from tests.conftest import wait_for

from k8snet.sandbox import process

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"


def get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
        return resp.read().decode()


def answers(port: int, path: str) -> str | None:
    try:
        return get(port, path)
    except OSError:
        return None


def service(name: str, svc_type: str, node_port: int | None = None, **spec) -> str:
    port = {"port": 80, "targetPort": 8080, **({"nodePort": node_port} if node_port else {})}
    return json.dumps({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                       "spec": {"type": svc_type, "selector": {"app": "web"}, "ports": [port], **spec}})


def free_node_port() -> int:
    """A nodePort no other sandbox on this machine listens on (test sandboxes allocate the same seeded ones)."""
    while True:
        port = random.randint(30100, 32000)
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port


def listening(sandbox) -> dict[str, str]:
    """The nodePorts this sandbox listens on (``k8snet sandbox status``'s source)."""
    return process.admin(sandbox.running, "status")["nodePorts"]["listening"]


def test_a_nodeport_and_a_loadbalancer_answer_on_loopback_at_their_node_ports(sandbox, ns):
    sandbox.kubectl("create", "deployment", "web", "-n", ns, f"--image={AGNHOST}", "--replicas=2", "--",
                    "/agnhost", "netexec", "--http-port=8080")
    sandbox.kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=30s")
    pods = {p["metadata"]["name"] for p in sandbox.kubectl_json("get", "pods", "-n", ns)["items"]}
    for name, kind in (("np", "NodePort"), ("lb", "LoadBalancer")):
        port = free_node_port()
        sandbox.kubectl("apply", "-n", ns, "-f", "-", input=service(name, kind, port))
        wait_for(lambda port=port, name=name: listening(sandbox).get(str(port)) == f"{ns}/{name}", what="the listener")
        first = wait_for(lambda port=port: answers(port, "/hostname"), what=f"127.0.0.1:{port}")
        seen = {first} | {get(port, "/hostname") for _ in range(12)}
        assert seen <= pods and len(seen) == 2  # kube-proxy chose among both pods
        # the source is what kube-proxy's SNAT makes it on kind (a node's address), not the host's
        assert get(port, "/clientip").rsplit(":", 1)[0].startswith(("172.18.0.", "10.244."))
    port = sandbox.kubectl_json("get", "svc", "np", "-n", ns)["spec"]["ports"][0]["nodePort"]
    sandbox.kubectl("delete", "svc", "np", "-n", ns)
    wait_for(lambda: str(port) not in listening(sandbox) and answers(port, "/hostname") is None,
             what="the listener to close with its Service")


def test_a_taken_host_port_is_a_warning_event_on_the_service(sandbox, ns):
    sandbox.kubectl("create", "deployment", "web", "-n", ns, f"--image={AGNHOST}", "--", "/agnhost", "netexec",
                    "--http-port=8080")
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    taken = holder.getsockname()[1]
    if not 30000 <= taken <= 32767:  # the OS chose a port outside the NodePort range: take one inside it
        holder.close()
        holder = socket.socket()
        for candidate in range(31990, 32050):
            try:
                holder.bind(("127.0.0.1", candidate))
                taken = candidate
                break
            except OSError:
                continue
    holder.listen(1)
    try:
        sandbox.kubectl("apply", "-n", ns, "-f", "-", input=service("busy", "NodePort", taken))
        events = wait_for(lambda: sandbox.kubectl_json("get", "events", "-n", ns, "--field-selector",
                                                       "reason=NodePortNotOnHost")["items"], what="the Warning")
        assert events[0]["type"] == "Warning" and f"127.0.0.1:{taken}" in events[0]["message"]
        assert "already in use on this machine" in events[0]["message"]
    finally:
        holder.close()


def test_pipelined_requests_behind_a_slow_one_are_answered_in_order(sandbox, ns):
    """RFC 9112 section 9.3.2: a server answers pipelined requests in the order they came. httpbin's /delay/1
    holds the requests behind it on the connection (the relay waits for that answer, then serves the rest)."""
    sandbox.kubectl("-n", ns, "create", "deployment", "httpbin", "--image=docker.io/kennethreitz/httpbin")
    sandbox.kubectl("-n", ns, "rollout", "status", "deployment/httpbin", "--timeout=30s")
    port = free_node_port()
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "httpbin"},
           "spec": {"type": "NodePort", "selector": {"app": "httpbin"},
                    "ports": [{"port": 8000, "targetPort": 80, "nodePort": port}]}}
    sandbox.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(svc))
    wait_for(lambda: answers(port, "/get"), what=f"httpbin at 127.0.0.1:{port}")
    paths = ["/delay/1", "/get?n=2", "/anything/3"]
    requests = [f"GET {path} HTTP/1.1\r\nHost: httpbin\r\n\r\n" for path in paths[:-1]]
    requests.append(f"GET {paths[-1]} HTTP/1.1\r\nHost: httpbin\r\nConnection: close\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall("".join(requests).encode())  # one write: all three arrive before the first is answered
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    bodies = [json.loads(part.split(b"\r\n\r\n", 1)[1]) for part in data.split(b"HTTP/1.1 200 OK")[1:]]
    assert [body["url"] for body in bodies] == [f"http://httpbin{path}" for path in paths]
