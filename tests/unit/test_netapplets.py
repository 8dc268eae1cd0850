"""The network tools of debugging guides, as the images' builds print them (busybox 1.37 ping/nc/ip/route,
iputils ping and OpenBSD netcat in netshoot, BIND 9.18 dig/host), over the emulated network."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tests.unit.test_commands import running, sb  # noqa: F401  (the sandbox fixture)

from k8snet.sandbox.apiserver import WriteOptions
from k8snet.sandbox.instance import Sandbox


def run(sb: Sandbox, pod: dict[str, Any], *argv: str, stdin: bytes | None = None) -> tuple[str, str, int]:  # noqa: F811
    result = asyncio.run(sb.dataplane.exec(pod, "main", list(argv), stdin))
    return result.stdout.decode(), result.stderr.decode(), result.exit_code


@pytest.fixture
def net(sb: Sandbox) -> dict[str, Any]:  # noqa: F811
    server = running(sb, "server", args=["netexec"], ports=[{"containerPort": 8080}])
    box = running(sb, "box", image="busybox:1.36", command=["sleep", "3600"])
    shoot = running(sb, "shoot", image="nicolaka/netshoot:v0.13", command=["sleep", "3600"])
    svc = sb.api.create(sb.registry.lookup("", "v1", "services"), "default",
                        {"metadata": {"name": "web"}, "spec": {"selector": {"app": "none"},
                                                               "ports": [{"port": 80, "targetPort": 8080}]}},
                        WriteOptions(field_manager="test"))
    return {"server": server, "box": box, "shoot": shoot, "ip": server["status"]["podIP"],
            "vip": svc["spec"]["clusterIP"]}


def test_ping_a_pod_answers_and_a_cluster_ip_does_not(sb, net):  # noqa: F811
    out, _, code = run(sb, net["box"], "ping", "-c", "2", "-i", "0.2", net["ip"])
    lines = out.splitlines()
    assert lines[0] == f"PING {net['ip']} ({net['ip']}): 56 data bytes" and code == 0
    assert lines[1].startswith(f"64 bytes from {net['ip']}: seq=0 ttl=") and " time=" in lines[1]
    assert "2 packets transmitted, 2 packets received, 0% packet loss" in out
    out, _, code = run(sb, net["box"], "ping", "-c", "1", "-W", "1", net["vip"])
    assert "1 packets transmitted, 0 packets received, 100% packet loss" in out and code == 1
    out, _, code = run(sb, net["shoot"], "ping", "-c", "1", net["ip"])  # iputils wording
    assert "icmp_seq=1 ttl=" in out and "1 packets transmitted, 1 received, 0% packet loss" in out
    assert run(sb, net["box"], "ping", "-c", "1", "nowhere")[1] == "ping: bad address 'nowhere'\n"


def test_a_policy_that_names_ports_stops_ping_but_not_the_port(sb, net):  # noqa: F811
    sb.api.create(sb.registry.lookup("networking.k8s.io", "v1", "networkpolicies"), "default", {
        "metadata": {"name": "only-8080"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"],
                 "ingress": [{"ports": [{"port": 8080, "protocol": "TCP"}]}]}}, WriteOptions(field_manager="t"))
    assert run(sb, net["box"], "ping", "-c", "1", net["ip"])[2] == 1
    out, err, code = run(sb, net["box"], "nc", "-zv", "-w", "2", net["ip"], "8080")
    assert (err, code) == (f"{net['ip']} ({net['ip']}:8080) open\n", 0)
    _, err, code = run(sb, net["box"], "nc", "-zv", "-w", "2", net["ip"], "81")
    assert code == 1 and "Connection timed out" in err  # dropped by the policy: no RST comes back


def test_openbsd_netcat_in_netshoot_words_it_its_way(sb, net):  # noqa: F811
    # netcat.c report_connect: " (ADDRESS)" only when the host given was a name
    _, err, code = run(sb, net["shoot"], "nc", "-zv", net["ip"], "8080")
    assert (err, code) == (f"Connection to {net['ip']} 8080 port [tcp/http-alt] succeeded!\n", 0)
    _, err, code = run(sb, net["shoot"], "nc", "-zv", net["ip"], "9")
    assert code == 1 and err == f"nc: connect to {net['ip']} ({net['ip']}) port 9 (tcp) failed: Connection refused\n"


def test_nc_sends_what_it_is_given_and_prints_the_reply(sb, net):  # noqa: F811
    out, _, code = run(sb, net["box"], "nc", net["ip"], "8080", stdin=b"GET /hostname HTTP/1.0\r\n\r\n")
    assert out.startswith("HTTP/1.1 200 OK\r\n") and out.endswith("\r\n\r\nserver") and code == 0


def test_the_pod_s_interfaces_routes_and_sockets(sb, net):  # noqa: F811
    own = net["box"]["status"]["podIP"]
    out = run(sb, net["box"], "ip", "addr")[0]
    assert f"inet {own}/24 " in out and "inet 127.0.0.1/8 scope host lo" in out
    one = run(sb, net["box"], "ip", "addr", "show", "dev", "eth0")[0]
    index = one.split(":")[0]
    assert one.startswith(f"{index}: eth0@") and "lo" not in one.split() and f"inet {own}/24 " in one
    oneline = run(sb, net["box"], "ip", "-o", "addr")[0].splitlines()  # iproute2's -oneline: one address a line
    assert oneline == ["1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever",
                       f"{index}: eth0    inet {own}/24 brd {own.rsplit('.', 1)[0]}.255 scope global eth0\\       "
                       "valid_lft forever preferred_lft forever"], oneline
    assert [line.split(":")[1].strip() for line in run(sb, net["box"], "ip", "-o", "link")[0].splitlines()] == \
        ["lo", one.split(":")[1].strip()]
    assert run(sb, net["box"], "ip", "link", "show", "wlan0")[1:] == ("ip: can't find device 'wlan0'\n", 1)
    assert run(sb, net["shoot"], "ip", "addr", "show", "wlan0")[1:] == ('Device "wlan0" does not exist.\n', 1)
    route = run(sb, net["box"], "ip", "route")[0].splitlines()
    assert route[0].startswith("default via 10.244.") and route[0].endswith(" dev eth0 ")
    assert f"inet addr:{own}" in run(sb, net["box"], "ifconfig")[0]
    assert "0.0.0.0         10.244." in run(sb, net["box"], "route", "-n")[0]
    sockets = run(sb, net["server"], "netstat", "-tln")[0]
    assert ":::8080" in sockets and "LISTEN" in sockets


def test_dig_and_host_resolve_through_cluster_dns(sb, net):  # noqa: F811
    assert run(sb, net["shoot"], "dig", "+short", "web.default.svc.cluster.local")[0] == f"{net['vip']}\n"
    out = run(sb, net["shoot"], "dig", "web.default.svc.cluster.local")[0]
    assert "status: NOERROR" in out and f"web.default.svc.cluster.local.\t\t30\tIN\tA\t{net['vip']}" in out
    assert run(sb, net["shoot"], "host", "web")[0] == f"web.default.svc.cluster.local has address {net['vip']}\n"
    assert "status: NXDOMAIN" in run(sb, net["shoot"], "dig", "web")[0]  # dig does not use the search list
    assert run(sb, net["box"], "sh", "-c", "dig web") == ("", "sh: dig: not found\n", 127)  # not in busybox


def test_traceroute_crosses_the_nodes_and_stops_at_a_cluster_ip(sb, net):  # noqa: F811
    """Hops as kindnet routes them: the pod's gateway on its node, the other node's eth0, the pod; a
    ClusterIP answers nothing past the node (traceroute's UDP ports are not the Service's)."""
    box, server = net["box"], net["server"]
    out, _, code = run(sb, box, "traceroute", "-n", net["ip"])
    lines = out.splitlines()
    assert lines[0] == f"traceroute to {net['ip']} ({net['ip']}), 30 hops max, 46 byte packets" and code == 0
    gateway = sb.dataplane.proxy.gateway(box["spec"]["nodeName"])
    expected = [gateway] + ([] if box["spec"]["nodeName"] == server["spec"]["nodeName"] else
                            [sb.dataplane.proxy.node_ips()[server["spec"]["nodeName"]]]) + [net["ip"]]
    assert [line.split()[1] for line in lines[1:]] == expected
    assert lines[1].startswith(f" 1  {gateway}  ") and lines[1].count(" ms") == 3  # -n: the address alone
    out, _, _ = run(sb, box, "traceroute", "-m", "2", "-w", "1", net["vip"])
    assert out.splitlines()[1].startswith(f" 1  {gateway} ({gateway})  ") and out.splitlines()[2] == " 2  *  *  *"
    out, _, _ = run(sb, net["shoot"], "traceroute", "-m", "2", "-w", "1", "-q", "1", net["vip"])
    assert out.splitlines()[0].endswith("60 byte packets") and out.splitlines()[2] == " 2  *"
    attached, _, _ = run(sb, net["shoot"], "traceroute", "-m2", "-w1", "-q1", net["vip"])  # getopt's -q1
    assert attached.splitlines()[2] == " 2  *" and len(attached.splitlines()) == 3


def test_a_shell_waiting_on_a_listening_job_sleeps_instead_of_spinning(sb, net):  # noqa: F811
    """``nc -l -p 9000 & wait``: with nothing to read, the script's steps ask to wait for input (AnyOf), never
    to be run again at once (a bare None would spin a quarter of a CPU); a client's connection wakes it."""
    from k8snet.sandbox.dataplane import commands
    from k8snet.sandbox.dataplane.context import AnyOf, Budget

    steps = commands._steps(sb.dataplane, net["box"], "main", ["sh", "-c", "nc -l -p 9000 & wait"], None, False,
                            Budget())
    seen = [next(steps) for _ in range(6)]
    assert isinstance(seen[-1], AnyOf) and all(isinstance(s, AnyOf) for s in seen[-3:])
    conn = sb.dataplane.connect(net["shoot"], net["box"]["status"]["podIP"], 9000)
    assert sb.dataplane.workloads.exchange(conn, b"hello\n") == b""
    assert seen[-1].ready(0.0)
    rest = list(steps)
    assert all(not isinstance(s, AnyOf) for s in rest)  # the job printed what came and both ended
