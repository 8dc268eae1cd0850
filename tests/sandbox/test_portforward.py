"""``kubectl port-forward``: a real TCP port on 127.0.0.1 whose bytes reach the pod's port, as kubectl 1.31+
speaks it (SPDY tunnelled in a WebSocket, client-go tools/portforward/tunneling_dialer.go)."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from tests.conftest import KUBECTL, KUBECTL_MINORS, wait_for

from k8snet.sandbox import spdy

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"


def test_the_header_dictionary_is_spdy3_s_and_header_blocks_round_trip():
    assert len(spdy.DICTIONARY) == 1423
    assert hashlib.sha256(spdy.DICTIONARY).hexdigest() == \
        "51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02"
    client, server = spdy.Codec(), spdy.Codec()
    wire = client.syn_stream(1, {"streamType": "error", "port": "8080", "requestID": "0"}) + \
        client.syn_stream(3, {"streamType": "data", "port": "8080", "requestID": "0"}) + client.data(3, b"hi", fin=True)
    frames = server.feed(wire[:5]) + server.feed(wire[5:])
    assert [(f.kind, f.stream) for f in frames] == [(spdy.SYN_STREAM, 1), (spdy.SYN_STREAM, 3), (0, 3)]
    assert frames[1].headers == {"streamtype": "data", "port": "8080", "requestid": "0"}
    assert frames[2].data == b"hi" and frames[2].fin


def forward(sandbox, *target: str, binary: str = KUBECTL) -> tuple[subprocess.Popen, int]:
    env = {**os.environ, "KUBECONFIG": str(sandbox.kubeconfig), "HOME": str(sandbox.home)}
    proc = subprocess.Popen([binary, "port-forward", *target], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    line = proc.stdout.readline()  # Forwarding from 127.0.0.1:PORT -> 8080
    match = re.search(r"127\.0\.0\.1:(\d+) -> (\d+)", line)
    assert match, line + proc.stderr.read() if proc.poll() is not None else line
    return proc, int(match.group(1))


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_port_forward_to_a_service_reaches_its_pods(sandbox, ns):
    sandbox.kubectl("-n", ns, "create", "deployment", "web", f"--image={AGNHOST}", "--", "/agnhost", "netexec",
                    "--http-port=8080")
    sandbox.kubectl("-n", ns, "expose", "deployment", "web", "--port=80", "--target-port=8080")
    sandbox.kubectl("-n", ns, "rollout", "status", "deployment/web", "--timeout=30s")
    proc, port = forward(sandbox, "-n", ns, "svc/web", ":80")
    try:
        status, body = wait_for(lambda: get(port, "/hostname"), what="the forwarded port to answer")
        assert status == 200 and body.startswith("web-")
        assert get(port, "/echo?msg=forwarded") == (200, "forwarded")
        status, body = get(port, "/clientip")
        assert status == 200 and body.startswith("127.0.0.1:")  # the forwarder connects inside the pod
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_port_nothing_listens_on_gets_the_kubelet_s_error(sandbox, ns):
    sandbox.kubectl("-n", ns, "run", "quiet", f"--image={AGNHOST}", "--", "netexec", "--http-port=8080")
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/quiet", "--timeout=30s")
    proc, port = forward(sandbox, "-n", ns, "pod/quiet", ":9999")
    try:
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read()
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "error forwarding port 9999" in err and "connection refused" in err


@pytest.mark.skipif(not Path(KUBECTL_MINORS[30]).exists(), reason="kubectl 1.30 is not installed")
def test_kubectl_1_30_which_speaks_plain_spdy_is_told_why(sandbox, ns):
    sandbox.kubectl("-n", ns, "run", "old", f"--image={AGNHOST}", "--", "netexec", "--http-port=8080")
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/old", "--timeout=30s")
    proc = sandbox.kubectl("-n", ns, "port-forward", "pod/old", ":8080", check=False, binary=KUBECTL_MINORS[30],
                           timeout=30)
    assert proc.returncode != 0 and "SPDY tunnelled in a WebSocket" in proc.stderr


def test_port_forward_to_a_netcat_listener_carries_raw_bytes(sandbox, ns):
    """A non-HTTP server (nc -l): the forwarded connection's bytes reach it as they are and its answer (its
    standard input) comes back."""
    import socket

    sandbox.kubectl("-n", ns, "run", "raw", "--image=busybox:1.36", "--restart=Never", "--", "sh", "-c",
                    "echo 'pong from the pod' | nc -l -p 9000")
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/raw", "--timeout=30s")
    proc, port = forward(sandbox, "-n", ns, "pod/raw", ":9000")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"ping from the laptop\n")
            s.shutdown(socket.SHUT_WR)
            received = b""
            while chunk := s.recv(4096):
                received += chunk
        assert received == b"pong from the pod\n"
    finally:
        proc.terminate()
        proc.wait(10)
    assert wait_for(lambda: sandbox.kubectl("-n", ns, "logs", "raw").stdout, what="the log") == "ping from the laptop\n"
