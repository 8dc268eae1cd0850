"""tcpdump in netshoot sees the emulated connections as each end's eth0 carries them: the client's side goes to
the ClusterIP it dialed, the server's side comes from the client to the pod's own port (kube-proxy's DNAT
happened on the node in between); -A shows the HTTP text, and over TLS only unreadable records."""

from __future__ import annotations

import json

from tests.conftest import wait_for

import k8snet
from k8snet import kubeproxy

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"


def test_tcpdump_on_both_ends_of_a_service_connection(sandbox, ns):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}},
           "spec": {"containers": [
               {"name": "web", "image": AGNHOST, "args": ["netexec", "--http-port=8080"]},
               # after its 6 packets tcpdump exits and, with restartPolicy Always, would start again with an empty
               # log before the test reads it: the shell keeps the container (and its log) after the capture
               {"name": "sniff", "image": "nicolaka/netshoot",
                "command": ["sh", "-c", "tcpdump -nn -A -c 6 tcp port 8080; sleep 3600"]}]}}
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(pod))
    sandbox.kubectl("-n", ns, "expose", "pod", "web", "--port=80", "--target-port=8080")
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/web", "--timeout=30s")
    web_ip = sandbox.kubectl_json("-n", ns, "get", "pod", "web")["status"]["podIP"]
    vip = sandbox.kubectl_json("-n", ns, "get", "svc", "web")["spec"]["clusterIP"]
    kubeproxy.wait_synced(k8snet.connect(), "k8snet-worker", ns, "web")  # kube-proxy has written the Service
    sandbox.kubectl("-n", ns, "run", "client", "--image=nicolaka/netshoot", "--restart=Never", "--", "sh", "-c",
                    "tcpdump -nn -c 3 tcp port 80 & sleep 1; curl -s http://web/hostname; echo; wait")
    client_log = wait_for(lambda: "packets captured" in (log := sandbox.kubectl("-n", ns, "logs", "client",
                                                                                   check=False).stdout)
                          and log, what="the client's capture")
    client_ip = sandbox.kubectl_json("-n", ns, "get", "pod", "client")["status"]["podIP"]
    assert "listening on eth0, link-type EN10MB (Ethernet), snapshot length 262144 bytes" in client_log
    syn = next(line for line in client_log.splitlines() if "Flags [S]" in line)
    assert f" IP {client_ip}." in syn and f" > {vip}.80: Flags [S], seq " in syn  # the ClusterIP it dialed
    assert "3 packets captured" in client_log


    server_log = wait_for(lambda: "packets captured" in (log := sandbox.kubectl("-n", ns, "logs", "web", "-c",
                                                                                   "sniff").stdout) and log,
                          what="the server's capture")
    lines = server_log.splitlines()
    assert any(f" IP {client_ip}." in line and f" > {web_ip}.8080: Flags [S]" in line for line in lines)
    assert any(f" > {client_ip}." in line and "Flags [S.]" in line for line in lines)
    assert any("HTTP: GET /hostname HTTP/1.1" in line for line in lines)
    assert "Host: web\r" in server_log or "Host: web\n" in server_log  # -A: the request as text


def test_a_refused_port_is_a_syn_answered_by_rst_and_a_bad_filter_is_refused(sandbox, ns):
    sandbox.kubectl("-n", ns, "run", "target", f"--image={AGNHOST}", "--", "netexec", "--http-port=8080")
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/target", "--timeout=30s")
    ip = sandbox.kubectl_json("-n", ns, "get", "pod", "target")["status"]["podIP"]
    sandbox.kubectl("-n", ns, "run", "probe", "--image=nicolaka/netshoot", "--restart=Never", "--", "sh", "-c",
                    f"tcpdump -nn -c 2 host {ip} and port 9999 & sleep 1; nc -z -w 1 {ip} 9999; wait")
    log = wait_for(lambda: "packets captured" in (out := sandbox.kubectl("-n", ns, "logs", "probe",
                                                                        check=False).stdout) and out,
                   what="the capture")
    assert f"> {ip}.9999: Flags [S]" in log and f"IP {ip}.9999 > " in log and "Flags [R.]" in log
    sandbox.kubectl("-n", ns, "run", "bad", "--image=nicolaka/netshoot", "--command", "--", "sleep", "3600")
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/bad", "--timeout=30s")
    bad = sandbox.kubectl("-n", ns, "exec", "bad", "--", "tcpdump", "portrange", "1-2", check=False)
    assert bad.returncode == 1 and "tcpdump: syntax error in filter expression: portrange" in bad.stderr
    iperf = sandbox.kubectl("-n", ns, "exec", "bad", "--", "iperf3", "-c", ip, check=False)
    assert iperf.returncode == 1 and "iperf3 is not emulated" in iperf.stderr


def test_dns_queries_on_udp_port_53(sandbox, ns):
    sandbox.kubectl("-n", ns, "create", "service", "clusterip", "db", "--tcp=5432:5432")
    vip = sandbox.kubectl_json("-n", ns, "get", "svc", "db")["spec"]["clusterIP"]
    sandbox.kubectl("-n", ns, "run", "lookup", "--image=nicolaka/netshoot", "--restart=Never", "--", "sh", "-c",
                    "tcpdump -nn -c 2 udp port 53 & sleep 1; nslookup db >/dev/null; wait")
    log = wait_for(lambda: "packets captured" in (out := sandbox.kubectl("-n", ns, "logs", "lookup",
                                                                        check=False).stdout) and out,
                   what="the capture")
    lines = [line for line in log.splitlines() if " > " in line]
    assert " > 10.96.0.10.53: " in lines[0] and f"+ A? db.{ns}.svc.cluster.local. (" in lines[0]
    assert ".53 > " in lines[1] and f"1/0/0 A {vip}" in lines[1]
