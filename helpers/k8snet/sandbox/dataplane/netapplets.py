"""The network tools of debugging guides: ping, nc, ip, ifconfig, route, netstat/ss, dig, host.

They see the emulated network as a pod sees it: its eth0 as the cluster's CNI plugin made it (:mod:`.podnet`:
kindnet's /24 per node with the node's .1 as the gateway, Cilium's /32 via cilium_host, Calico's /32 via
169.254.1.1), the Services' VIPs
that only kube-proxy's rules know, and the NetworkPolicies on the way. ``ping`` is the classic lesson: a
pod IP answers, a ClusterIP does not (kube-proxy's iptables rules only forward the Service's ports, and no
interface owns the address), and a NetworkPolicy rule that names ports lets no ICMP through. Each tool
prints as the image's build does: busybox 1.37 (busybox, Alpine, curl) or the packages agnhost and
netshoot add (iputils ping, OpenBSD netcat, iproute2, bind-tools); cited at each function.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Generator
from typing import Any

from . import podnet
from .context import Ctx, Pipe, connect
from .model import DnsError, NetError, Refused, Timeout

Step = float | Pipe | None
SERVICES = {21: "ftp", 22: "ssh", 25: "smtp", 53: "domain", 80: "http", 443: "https", 3306: "mysql",
            5432: "postgresql", 6379: "redis", 8080: "http-alt", 9090: "websm"}
"""Port names from /etc/services, as OpenBSD netcat prints them after ``[tcp/…]``."""


def _busybox(ctx: Ctx, tool: str) -> bool:
    """Whether ``tool`` is busybox's applet in this image (else the package the image adds)."""
    packaged = {"agnhost": {"nc", "ss", "dig", "host"},
                "netshoot": {"nc", "ss", "dig", "host", "ping", "ip", "ifconfig", "netstat", "route", "traceroute"}}
    return tool not in packaged.get(ctx.family or "", set())


def _node_of(ctx: Ctx) -> str:
    return ctx.pod["spec"].get("nodeName", "")


def _gateway(ctx: Ctx) -> str:
    return ctx.dp.proxy.gateway(_node_of(ctx))


# -- ping ---------------------------------------------------------------------------------------------


def echo_reply(ctx: Ctx, ip: str) -> int | None:
    """Whether an ICMP echo to ``ip`` is answered, and the reply's TTL (None: no reply)."""
    own = _node_of(ctx)
    if ipaddress.ip_address(ip).is_loopback or ip == ctx.pod_ip:
        return 64
    node = ctx.dp.proxy.node_of_ip(ip)
    if node is not None:
        return 64 if node == own else 63
    owners = [p for p in ctx.dp.sb.store.list("pods") if (p.get("status") or {}).get("podIP") == ip
              and (p.get("status") or {}).get("phase") == "Running"]
    if not owners:
        return None  # a Service VIP (no interface owns it), a gone pod, or outside the sandbox
    target = owners[0]
    allowed, _ = ctx.dp.policy.verdict(ctx.pod, ctx.pod_ip, target, 0, "ICMP")
    if not allowed:
        return None
    if getattr(ctx.dp.sb, "cni", "") == "cilium":
        return 63  # the eBPF datapath decrements the TTL once, at delivery (bpf/lib/l3.h ipv4_l3), wherever it runs
    return 63 if target["spec"].get("nodeName") == own else 62


def cmd_ping(ctx: Ctx, name: str, args: list[str]) -> Generator[Step, None, int]:
    """busybox ping (networking/ping.c) or iputils ping (netshoot): ``-c N``, ``-i S``, ``-W S``, ``-w S``,
    ``-q``; one echo a second of sandbox time; exit 0 when any reply came."""
    count, interval, quiet, host = None, 1.0, False, ""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-c", "-i", "-W", "-w", "-s", "-t") and i + 1 < len(args):
            if arg == "-c":
                count = int(args[i + 1]) if args[i + 1].isdigit() else None
            elif arg == "-i":
                interval = max(float(args[i + 1]), 0.2)
            elif arg == "-w" and count is None:
                count = max(int(float(args[i + 1])), 1)
            i += 2
            continue
        if arg.startswith("-c") and arg[2:].isdigit():
            count = int(arg[2:])
        elif arg == "-q":
            quiet = True
        elif arg.startswith("-") and arg not in ("-4", "-n"):
            ctx.error(f"k8snet sandbox: ping {arg} is not emulated (-c, -i, -W, -w, -q are)\n")
            return 2
        else:
            host = arg
        i += 1
    busybox = _busybox(ctx, "ping")
    if not host:
        ctx.error("BusyBox v1.37.0 (2024-12-13 17:06:28 UTC) multi-call binary.\n\nUsage: ping [OPTIONS] HOST\n"
                  if busybox else "ping: usage error: Destination address required\n")
        return 1 if busybox else 2
    try:
        ip = ctx.dp.network.resolve(ctx.pod, host, [])
    except DnsError:
        ctx.error(f"ping: bad address '{host}'\n" if busybox else f"ping: {host}: Name does not resolve\n")
        return 1 if busybox else 2
    rng = ctx.dp.sb.random.stream("ping")
    ctx.write(f"PING {host} ({ip}): 56 data bytes\n" if busybox else f"PING {host} ({ip}) 56(84) bytes of data.\n")
    sent, times = 0, []
    start = ctx.dp.sb.clock.time()
    while count is None or sent < count:
        if sent:
            yield ctx.dp.sb.clock.time() + interval
            if ctx.pipe is not None and ctx.pipe.interrupted:
                break
        ttl = echo_reply(ctx, ip)
        sent += 1
        if ttl is not None:
            rtt = rng.uniform(0.04, 0.09) if ttl >= 63 else rng.uniform(0.08, 0.2)
            times.append(rtt)
            if not quiet:
                ctx.write(f"64 bytes from {ip}: seq={sent - 1} ttl={ttl} time={rtt:.3f} ms\n" if busybox else
                          f"64 bytes from {ip}: icmp_seq={sent} ttl={ttl} time={rtt:.3f} ms\n")
    if count is not None and not times:
        yield ctx.dp.sb.clock.time() + 1.0  # the wait for a last reply that does not come
    lost = 100 - (100 * len(times) // sent if sent else 0)
    ctx.write(f"\n--- {host} ping statistics ---\n")
    if busybox:
        ctx.write(f"{sent} packets transmitted, {len(times)} packets received, {lost}% packet loss\n")
        if times:
            ctx.write(f"round-trip min/avg/max = {min(times):.3f}/{sum(times) / len(times):.3f}/{max(times):.3f} ms\n")
    else:
        elapsed = int((ctx.dp.sb.clock.time() - start) * 1000)
        ctx.write(f"{sent} packets transmitted, {len(times)} received, {lost}% packet loss, time {elapsed}ms\n")
        if times:
            mean = sum(times) / len(times)
            mdev = (sum((t - mean) ** 2 for t in times) / len(times)) ** 0.5
            ctx.write(f"rtt min/avg/max/mdev = {min(times):.3f}/{mean:.3f}/{max(times):.3f}/{mdev:.3f} ms\n")
    return 0 if times else 1


# -- traceroute -------------------------------------------------------------------------------------


def path_to(ctx: Ctx, ip: str) -> tuple[list[str], bool]:
    """The addresses that answer a probe from the pod to ``ip``, and whether the last is ``ip``
    (:data:`.podnet.NO_ANSWER` where a hop answers nothing): the hops the cluster's CNI plugin puts on the way to a
    pod (:func:`.podnet.pod_path`), the pod's node to reach another node. A ClusterIP has no interface and
    traceroute's UDP ports are none of the Service's, so after the node nothing answers (kube-proxy)."""
    own, gateway = _node_of(ctx), _gateway(ctx)
    if ipaddress.ip_address(ip).is_loopback or ip == ctx.pod_ip:
        return [ip], True
    hops = [] if ctx.pod["spec"].get("hostNetwork") else [gateway]
    node = ctx.dp.proxy.node_of_ip(ip)
    if node is not None:
        return ([] if node == own else hops) + [ip], True
    owners = [p for p in ctx.dp.sb.store.list("pods") if (p.get("status") or {}).get("podIP") == ip
              and (p.get("status") or {}).get("phase") == "Running"]
    if not owners:
        return hops, False
    target = owners[0]
    hops = podnet.pod_path(ctx.dp.sb, ctx.pod, target)
    allowed, _ = ctx.dp.policy.verdict(ctx.pod, ctx.pod_ip, target, 33434, "UDP")
    return (hops + [ip], True) if allowed else (hops, False)


def cmd_traceroute(ctx: Ctx, name: str, args: list[str]) -> Generator[Step, None, int]:
    """busybox traceroute (networking/traceroute.c) or Linux traceroute 2.1 (netshoot): ``-n``, ``-m MAX``,
    ``-w WAIT``, ``-q N``; UDP probes from port 33434, three a hop; a hop that does not answer waits
    ``-w`` seconds of sandbox time a probe and shows ``*``. A hop prints as ``name (address)``, the address
    standing for the name (no reverse lookup here), or with ``-n`` as the address alone (busybox
    print_inetname, traceroute 2.1 print_addr)."""
    max_hops, wait, queries, host, numeric = 30, 5.0, 3, "", False
    args = [part for arg in args for part in ([arg[:2], arg[2:]] if arg[:2] in ("-m", "-w", "-q") and arg[2:]
                                               else [arg])]  # getopt takes -q1 as -q 1
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-m", "-w", "-q") and i + 1 < len(args):
            value = args[i + 1]
            if arg == "-m":
                max_hops = int(value) if value.isdigit() else max_hops
            elif arg == "-w":
                wait = float(value)
            else:
                queries = int(value) if value.isdigit() else queries
            i += 2
            continue
        if arg.startswith("-") and arg not in ("-n", "-I", "-4"):
            ctx.error(f"k8snet sandbox: traceroute {arg} is not emulated (-n, -m, -w, -q are)\n")
            return 1
        numeric = numeric or arg == "-n"
        if not arg.startswith("-"):
            host = arg
        i += 1
    busybox = ctx.family != "netshoot"
    if not host:
        ctx.error("BusyBox v1.37.0 multi-call binary.\n\nUsage: traceroute [-46IFlnrv] [-f 1ST_TTL] [-m MAXTTL] "
                  "[-q PROBES] [-p PORT] HOST [BYTES]\n" if busybox else "Specify \"host\" missing argument.\n")
        return 1
    try:
        ip = ctx.dp.network.resolve(ctx.pod, host, [])
    except DnsError:
        ctx.error(f"traceroute: bad address '{host}'\n" if busybox else
                  f"{host}: Name does not resolve\nCannot handle \"host\" cmdline arg `{host}' on position 1 "
                  "(argc 1)\n")
        return 1 if busybox else 2
    ctx.write(f"traceroute to {host} ({ip}), {max_hops} hops max, {46 if busybox else 60} byte packets\n")
    routers, reached = path_to(ctx, ip)
    rng = ctx.dp.sb.random.stream("traceroute")
    for ttl in range(1, max_hops + 1):
        if ttl > len(routers):
            yield ctx.dp.sb.clock.time() + wait * queries
            ctx.write(f"{ttl:2d}  " + ("*  " * queries if busybox else "* " * queries).rstrip() + "\n")
            if ctx.pipe is not None and ctx.pipe.interrupted:
                return 130
            continue
        router = routers[ttl - 1]
        if router == podnet.NO_ANSWER:  # dropped on the way, and nothing says so (Cilium's eBPF datapath)
            yield ctx.dp.sb.clock.time() + wait * queries
            ctx.write(f"{ttl:2d}  " + ("*  " * queries if busybox else "* " * queries).rstrip() + "\n")
            continue
        times = "  ".join(f"{rng.uniform(0.003, 0.02) * ttl:.3f} ms" for _ in range(queries))
        ctx.write(f"{ttl:2d}  {router if numeric else f'{router} ({router})'}  {times}\n")
        if ttl == len(routers) and reached:
            return 0
    return 0


# -- tcpdump (netshoot) -------------------------------------------------------------------------------


def cmd_tcpdump(ctx: Ctx, name: str, args: list[str]) -> Generator[Step, None, int]:
    """tcpdump 4.99 on the pod's eth0 (:mod:`.capture`): ``-i eth0|any``, ``-n``/``-nn``, ``-c N``, ``-A``,
    ``-l``, ``-v``, and a filter of ``tcp``/``udp``/``host``/``port``/``src``/``dst`` with and/or/not. It
    runs until ``-c`` packets or Ctrl-C, then prints its counts."""
    from .capture import Tap, compile_filter

    count, ascii_dump, words, iface = 0, False, [], "eth0"
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-c", "-i", "-s", "-w") and i + 1 < len(args):
            if arg == "-c":
                count = int(args[i + 1]) if args[i + 1].isdigit() else 0
            elif arg == "-i":
                iface = args[i + 1]
            elif arg == "-w":
                ctx.error("k8snet sandbox: tcpdump -w (a pcap file) is not emulated; the sandbox prints what it "
                          "captures\n")
                return 1
            i += 2
            continue
        if arg.startswith("-") and len(arg) > 1:
            flags = arg[1:]
            if unknown := set(flags) - set("nAlvqtSe"):
                ctx.error(f"k8snet sandbox: tcpdump -{''.join(sorted(unknown))} is not emulated (-i, -n, -c, -A, "
                          "-l, -v are)\n")
                return 1
            ascii_dump = ascii_dump or "A" in flags
        else:
            words.append(arg)
        i += 1
    if iface not in ("eth0", "any"):
        ctx.error(f"tcpdump: {iface}: No such device exists\n(SIOCGIFHWADDR: No such device)\n")
        return 1
    try:
        accept = compile_filter(words)
    except ValueError as exc:
        ctx.error(f"tcpdump: {exc}\n")
        return 1
    link = "LINUX_SLL2 (Linux cooked v2)" if iface == "any" else "EN10MB (Ethernet)"
    ctx.error("tcpdump: verbose output suppressed, use -v[v]... for full protocol decode\n"
              f"listening on {iface}, link-type {link}, snapshot length 262144 bytes\n")
    tap = Tap(ctx.pod_ip, accept)
    ctx.dp.capture.open(tap)
    captured = 0
    try:
        while not count or captured < count:
            for packet in tap.take():
                ctx.write(packet.line(ascii_dump) + "\n")
                captured += 1
                if count and captured >= count:
                    break
            if count and captured >= count:
                break
            if ctx.pipe is not None and ctx.pipe.interrupted:
                ctx.write("^C")
                break
            yield tap.arrivals
    finally:
        ctx.dp.capture.close(tap)
    ctx.error(f"{captured} packet{'s' if captured != 1 else ''} captured\n"
              f"{captured + tap.dropped} packet{'s' if captured + tap.dropped != 1 else ''} received by filter\n"
              f"{tap.dropped} packet{'s' if tap.dropped != 1 else ''} dropped by kernel\n")
    return 0


def cmd_iptables(ctx: Ctx, name: str, args: list[str]) -> int:
    """``iptables-save [-t TABLE]`` and ``iptables [-t TABLE] -S [CHAIN]`` (iptables 1.8.10, nf_tables) over
    kube-proxy's rules (:mod:`.iptables`): the node's when the pod is on the host network, none in a pod's own
    network namespace; NET_ADMIN is needed to read them."""
    from . import iptables
    from .workloads import container_spec

    table, chain, listing = None, None, name == "iptables-save"
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-t", "--table") and i + 1 < len(args):
            table, i = args[i + 1], i + 2
            continue
        if arg in ("-S", "--list-rules"):
            listing = True
            if i + 1 < len(args) and not args[i + 1].startswith("-"):
                chain, i = args[i + 1], i + 1
        elif arg in ("-n", "-v", "--numeric", "-c"):
            pass
        elif arg in ("-L", "--list"):
            ctx.error("k8snet sandbox: iptables -L is not emulated; iptables -S and iptables-save print the same "
                      "rules as commands\n")
            return 1
        else:
            ctx.error(f"k8snet sandbox: {name} {arg} is not emulated (-t TABLE, -S [CHAIN] are; the sandbox's rules "
                      "are kube-proxy's and cannot be changed)\n")
            return 1
        i += 1
    if not listing:
        ctx.error(f"{name} v1.8.10 (nf_tables): no command specified\nTry `{name} -h' or '{name} --help' for more "
                  "information.\n")
        return 2
    if table not in (None, "nat", "filter"):
        ctx.error("k8snet sandbox: only the filter and nat tables are emulated (kube-proxy's rules)\n")
        return 1
    if not iptables.may_read(container_spec(ctx.pod, ctx.container) or {}):
        ctx.error(f"{name} v1.8.10 (nf_tables): Could not fetch rule set generation id: Permission denied (you "
                  "must be root)\n")
        return 4 if name == "iptables" else 1
    if not ctx.pod["spec"].get("hostNetwork"):
        return 0  # the pod's own network namespace: kube-proxy writes its rules on the node, none here
    node = _node_of(ctx)
    if name == "iptables-save":
        ctx.write(iptables.iptables_save(ctx.dp.sb, node, table, ctx.dp.sb.clock.now()))
        return 0
    rules = iptables.chain_rules(ctx.dp.sb, node, table or "filter", chain)
    if rules is None:
        ctx.error("iptables: No chain/target/match by that name.\n")
        return 1
    ctx.write(rules)
    return 0


def cmd_iperf3(ctx: Ctx, name: str, args: list[str]) -> int:
    """iperf3 measures a link's bandwidth; the emulated network has none to measure, and a number the
    sandbox made up would teach nothing true, so it says so."""
    ctx.error("k8snet sandbox: iperf3 is not emulated: the sandbox's network carries requests, not bytes at a "
              "rate, so there is no throughput to measure. Run it on kind (make lab BACKEND=kind).\n")
    return 1


# -- nc -----------------------------------------------------------------------------------------------


def cmd_nc(ctx: Ctx, name: str, args: list[str]) -> Generator[Step, None, int]:
    """``nc [-zvnu] [-w S] HOST PORT`` and ``nc -l``: busybox's nc (netcat 1.10 style, busybox images) or
    OpenBSD netcat (agnhost, netshoot). Connecting sends what is on stdin and prints the answer; listening
    (:mod:`.streams`) prints what a client sends and answers with stdin."""
    flags, timeout, rest, local_port = set(), None, [], ""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-w", "-W", "-p", "-q", "-i") and i + 1 < len(args):
            if arg == "-w":
                timeout = args[i + 1]
            if arg == "-p":
                local_port = args[i + 1]
            i += 2
            continue
        if arg.startswith("-w") and arg[2:].isdigit():
            timeout = arg[2:]
        elif arg.startswith("-p") and arg[2:].isdigit():
            local_port = arg[2:]
        elif arg.startswith("-") and len(arg) > 1:
            flags.update(arg[1:])
        else:
            rest.append(arg)
        i += 1
    busybox = _busybox(ctx, "nc")
    del timeout  # a dropped connection is reported as timed out whatever the wait
    if "l" in flags:
        return (yield from _listen(ctx, flags, local_port, rest, busybox))
    if unsupported := flags - set("zvnuNcCdD46"):
        ctx.error(f"k8snet sandbox: nc -{''.join(sorted(unsupported))} is not emulated (-z, -v, -w, -u, -n are)\n")
        return 1
    if len(rest) < 2 or not rest[1].isdigit():
        ctx.error("BusyBox v1.37.0 (2024-12-13 17:06:28 UTC) multi-call binary.\n\nUsage: nc [OPTIONS] HOST PORT  "
                  "- connect\nnc [OPTIONS] -l -p PORT [HOST] [PORT]  - listen\n" if busybox else
                  "usage: nc [-46CDdFhklNnrStUuvZz] [-I length] [-i interval] [-M ttl]\n")
        return 1
    host, port = rest[0], int(rest[1])
    protocol = "UDP" if "u" in flags else "TCP"
    verbose = "v" in flags
    try:
        ip = ctx.dp.network.resolve(ctx.pod, host, [], stub="libc")
    except DnsError:
        ctx.error(f"nc: bad address '{host}'\n" if busybox else
                  f'nc: getaddrinfo for host "{host}" port {port}: Name does not resolve\n')
        return 1
    service = SERVICES.get(port, "*")
    try:
        conn = yield from connect(ctx, ip, port, protocol)
    except NetError as exc:
        if protocol == "UDP" and isinstance(exc, Timeout):  # UDP has no handshake: nothing says it failed
            conn = None
        else:
            why = "Connection refused" if isinstance(exc, Refused) else "Connection timed out"
            if busybox:
                ctx.error(f"nc: {host} ({ip}:{port}): {why}\n")
            elif isinstance(exc, Refused):
                ctx.error(f"nc: connect to {host} ({ip}) port {port} ({protocol.lower()}) failed: {why}\n")
            else:
                ctx.error(f"nc: connect to {host} ({ip}) port {port} ({protocol.lower()}) timed out: "
                          "Operation now in progress\n")
            return 1
    if verbose:
        ctx.error(f"{host} ({ip}:{port}) open\n" if busybox else
                  f"Connection to {host}{'' if host == ip else f' ({ip})'} {port} port "
                  f"[{protocol.lower()}/{service}] succeeded!\n")  # netcat.c: the address only for a name
    if "z" in flags or conn is None:
        return 0
    if protocol == "UDP":
        answer = ctx.dp.workloads.serve_udp(conn, ctx.stdin.decode(errors="replace")) if ctx.stdin else None
        ctx.write((answer or "").encode())
        return 0
    ctx.write(ctx.dp.workloads.exchange(conn, ctx.stdin))  # what was piped in, sent; the answer as it comes
    return 0


def _listen(ctx: Ctx, flags: set[str], port_text: str, rest: list[str],
            busybox: bool) -> Generator[Step, None, int]:
    """netcat listening: bind the port in the pod's network namespace, print what each client sends, answer
    with stdin; busybox takes one connection (``-lk`` only with ``-e``), OpenBSD's ``-k`` keeps listening."""
    from .streams import StreamServer

    if not port_text and not busybox and rest and rest[-1].isdigit():
        port_text = rest[-1]  # OpenBSD: nc -l 8080
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        ctx.error("k8snet sandbox: nc -l needs a port: nc -l -p PORT (busybox) or nc -l PORT (OpenBSD)\n")
        return 1
    if unsupported := flags - set("lkvnu46"):
        ctx.error(f"k8snet sandbox: nc -l with -{''.join(sorted(unsupported))} is not emulated "
                  "(-l, -p, -k, -v, -u, -n are)\n")
        return 1
    port, protocol = int(port_text), "UDP" if "u" in flags else "TCP"
    keep = "k" in flags and not busybox
    stdin = {"data": ctx.stdin}

    def reply() -> bytes:
        if ctx.pipe is not None:  # a terminal or held-open stdin: what has been typed so far
            data, ctx.pipe.data[:] = bytes(ctx.pipe.data), b""
            return data
        data, stdin["data"] = stdin["data"], b""
        return data

    server = StreamServer(ctx.pod["metadata"].get("uid", ""), ctx.container, port, protocol, keep, reply)
    if ctx.dp.workloads.listening(ctx.pod, port, protocol) or not ctx.dp.streams.listen(server):
        ctx.error("nc: bind: Address in use\n" if busybox else "nc: Address in use\n")
        return 1
    if "v" in flags:
        ctx.error(f"listening on [::]:{port} ...\n" if busybox else f"Listening on 0.0.0.0 {port}\n")
    try:
        while True:
            for client, data in server.take():
                ip, _, client_port = client.rpartition(":")
                if "v" in flags:
                    ctx.error(f"connect to [::ffff:{ctx.pod_ip}]:{port} from [::ffff:{ip}]:{client_port} "
                              f"([::ffff:{ip}]:{client_port})\n" if busybox else
                              f"Connection received on {ip} {client_port}\n")
                    yield None  # written before the data, as netcat does
                ctx.write(data)
            if server.closed:
                return 0
            if ctx.pipe is not None and ctx.pipe.interrupted:
                return 130
            yield server.arrivals
    finally:
        ctx.dp.streams.close(server)


# -- interfaces and routes --------------------------------------------------------------------------

KIND_NETWORK = podnet.KIND_NETWORK
Link, View = podnet.Link, podnet.View


def view(ctx: Ctx) -> View:
    """The pod's network namespace as its CNI plugin made it, or for a hostNetwork pod (``kubectl debug node/…``)
    its node's (:mod:`.podnet`)."""
    if not ctx.pod["spec"].get("hostNetwork"):
        return podnet.pod_view(ctx.dp.sb, ctx.pod, ctx.pod_ip)
    return podnet.node_view(ctx.dp.sb, _node_of(ctx), ctx.pod_ip)


def cmd_ip(ctx: Ctx, name: str, args: list[str]) -> int:
    """``ip addr``, ``ip route``, ``ip link`` (busybox's ip applet, or iproute2 in netshoot, alike here), each
    with ``show [dev] NAME`` for one interface, and ``-o`` (``-oneline``): one line per record, its line breaks
    written as ``\\`` (iproute2 ipaddress.c: an address record is ``N: name    inet …``)."""
    oneline = any(a in ("-o", "-oneline") for a in args)
    words = [a for a in args if not a.startswith("-")]
    obj = words[0] if words else ""
    rest = [w for w in words[1:] if w not in ("show", "list", "dev")]
    v = view(ctx)
    lo = ("1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN qlen 1000\n"
          "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n")
    lo_inet = "    inet 127.0.0.1/8 scope host lo\n       valid_lft forever preferred_lft forever\n"
    links = v.links
    show_lo = True
    if rest and obj in ("a", "ad", "addr", "address", "l", "li", "link"):
        wanted = rest[0]
        links = [link for link in v.links if link.name == wanted]
        show_lo = wanted == "lo"
        if not links and not show_lo:  # iproute2's words, or busybox's (ll_map.c xll_name_to_index)
            ctx.error(f'Device "{wanted}" does not exist.\n' if ctx.family == "netshoot" else
                      f"ip: can't find device '{wanted}'\n")
            return 1

    def one(record: str) -> str:
        return record.rstrip("\n").replace("\n", "\\") + "\n" if oneline else record

    def head(link: Link) -> str:
        at = f"@{link.peer_name}" if link.peer_name else f"@if{link.peer}" if link.peer is not None else ""
        state = "UNKNOWN" if link.kind == "ipip" else "UP"
        flags = link.flags + (",M-DOWN" if link.peer is not None and not link.peer_name else "")
        hw = ("    link/ipip 0.0.0.0 brd 0.0.0.0\n" if link.kind == "ipip" else
              f"    link/ether {link.mac} brd ff:ff:ff:ff:ff:ff\n")
        return f"{link.index}: {link.name}{at}: <{flags}> mtu {link.mtu} qdisc noqueue state {state} \n{hw}"

    if obj in ("a", "ad", "addr", "address"):
        out = ""
        for index, link_name, link_head, inet in ([(1, "lo", lo, lo_inet)] if show_lo else []) + [
                (link.index, link.name, head(link), _inet(link)) for link in links]:
            if oneline:  # the address records only, each after its interface's index and name
                out += one(f"{index}: {link_name}{inet}") if inet else ""
            else:
                out += link_head + inet
        ctx.write(out)
        return 0
    if obj in ("r", "ro", "route"):
        ctx.write("".join(line + "\n" for *_, line in v.routes))
        return 0
    if obj in ("l", "li", "link"):
        ctx.write("".join(one(record) for record in ([lo] if show_lo else []) + [head(link) for link in links]))
        return 0
    ctx.error(f"k8snet sandbox: `ip {' '.join(args)}` is not emulated (ip addr, ip route, ip link are)\n")
    return 1


def _inet(link: Link) -> str:
    """An interface's IPv4 address record (none for an interface without one)."""
    if not link.address:
        return ""
    brd = f" brd {link.broadcast}" if link.broadcast else ""
    return (f"    inet {link.address}{brd} scope global {link.name}\n"
            "       valid_lft forever preferred_lft forever\n")


def cmd_ifconfig(ctx: Ctx, name: str, args: list[str]) -> int:
    """busybox ifconfig (networking/interface.c): the interfaces, then lo."""
    out = ""
    for link in view(ctx).links:
        inet = ""
        if link.address:
            address, length = link.address.split("/")
            mask = str(ipaddress.ip_network(f"0.0.0.0/{length}").netmask)
            bcast = f"  Bcast:{link.broadcast}" if link.broadcast else ""
            inet = f"          inet addr:{address}{bcast}  Mask:{mask}\n"
        encap = "UNSPEC" if link.kind == "ipip" else f"Ethernet  HWaddr {link.mac.upper()}"
        out += (f"{link.name:<10}Link encap:{encap}  \n{inet}"
                f"          UP BROADCAST RUNNING MULTICAST  MTU:{link.mtu}  Metric:1\n\n")
    ctx.write(out + "lo        Link encap:Local Loopback  \n"
              "          inet addr:127.0.0.1  Mask:255.0.0.0\n"
              "          UP LOOPBACK RUNNING  MTU:65536  Metric:1\n\n")
    return 0


def cmd_route(ctx: Ctx, name: str, args: list[str]) -> int:
    """busybox ``route -n``: the kernel IP routing table."""
    numeric = "-n" in args
    out = ("Kernel IP routing table\n"
           "Destination     Gateway         Genmask         Flags Metric Ref    Use Iface\n")
    for dest, gw, dev, line in view(ctx).routes:
        if line.startswith("blackhole"):
            continue  # busybox route prints no reject routes without -e
        net = ipaddress.ip_network(dest)
        shown = "default" if dest == "0.0.0.0/0" and not numeric else str(net.network_address)
        flags = "U" + ("G" if gw else "") + ("H" if net.prefixlen == 32 else "")
        out += f"{shown:<16}{gw or '0.0.0.0':<16}{str(net.netmask):<16}{flags:<6}0      0        0 {dev}\n"
    ctx.write(out)
    return 0


def cmd_netstat(ctx: Ctx, name: str, args: list[str]) -> int:
    """``netstat -tuln`` / ``ss -tuln``: the sockets the pod's programs listen on (the pod's network
    namespace, shared by its containers)."""
    listening = []
    for c in ctx.pod["spec"].get("containers") or []:
        program = ctx.dp.workloads.program(ctx.pod, c["name"])
        for (port, protocol), _role in sorted(program.ports.items()):
            listening.append((protocol, port))
    uid = ctx.pod["metadata"].get("uid", "")
    listening += [(protocol, port) for port, protocol in ctx.dp.streams.held(uid)]
    ss = name == "ss"
    if ss:
        ctx.write("Netid State  Recv-Q Send-Q Local Address:Port  Peer Address:Port\n")
        for protocol, port in listening:
            state = "LISTEN" if protocol == "TCP" else "UNCONN"
            ctx.write(f"{protocol.lower():<5} {state:<6} 0      {4096 if protocol == 'TCP' else 0:<6} "
                      f"{'*:' + str(port):<19} {'*:*':<17}\n")
        return 0
    ctx.write("Active Internet connections (only servers)\n"
              "Proto Recv-Q Send-Q Local Address           Foreign Address         State       \n")
    for protocol, port in listening:
        ctx.write(f"{protocol.lower() + '6' if protocol == 'TCP' else protocol.lower():<5}       0      0 "
                  f"{':::' + str(port):<23} {':::*':<23} {'LISTEN' if protocol == 'TCP' else '':<11}\n")
    return 0


# -- dig and host (bind-tools 9.18 in agnhost and netshoot) -------------------------------------------


def cmd_dig(ctx: Ctx, name: str, args: list[str]) -> int:
    """``dig [+short] [@server] NAME [TYPE]``: BIND's dig resolves the name as given (no search list
    unless ``+search``)."""
    short = "+short" in args
    search = "+search" in args
    words = [a for a in args if not a.startswith(("+", "@", "-"))]
    if not words:
        ctx.error("k8snet sandbox: dig with no name (the root servers) is not emulated\n")
        return 1
    types = ("A", "SRV", "CNAME", "AAAA", "PTR")
    if len(words) > 1 and words[0].upper() in types and words[1].upper() not in types:
        words = [words[1], words[0]]  # dig takes a type word wherever it stands: ``dig SRV name`` too
    qname = words[0]
    qtype = words[1].upper() if len(words) > 1 and words[1].upper() in types else "A"
    fq = qname if qname.endswith(".") or search else qname + "."
    answer = ctx.dp.dns.lookup(ctx.pod, qname if search else fq, qtype, stop_at_nodata=True)
    records = list(answer.records)
    if short:
        for r in records:
            ctx.write(f"{_rdata(r)}\n")
        return 0
    server = answer.server or ctx.dp.sb.shape.dns_ip
    status = answer.rcode if answer.rcode in ("NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED") else "SERVFAIL"
    # CoreDNS answers its zone with AA and without RA; what it forwards carries the upstream's "rd ra"; Cilium's DNS
    # proxy refuses with a reply built from the request (miekg/dns SetRcode: RD copied, RA clear)
    recursion = answer.authoritative or status == "REFUSED"
    flags = "qr rd" if status == "REFUSED" else ("qr aa rd" if answer.authoritative else "qr rd ra")
    ctx.write(f"\n; <<>> DiG 9.18.33 <<>> {' '.join(args)}\n;; global options: +cmd\n;; Got answer:\n"
              f";; ->>HEADER<<- opcode: QUERY, status: {status}, id: {ctx.dp.workloads.ephemeral_port()}\n"
              f";; flags: {flags}; QUERY: 1, ANSWER: {len(records)}, AUTHORITY: 0, ADDITIONAL: 1\n"
              + (";; WARNING: recursion requested but not available\n" if recursion else "") + "\n"
              f";; QUESTION SECTION:\n;{answer.name if answer.name.endswith('.') else answer.name + '.'}\t\t\tIN\t"
              f"{qtype}\n\n")
    if records:
        ctx.write(";; ANSWER SECTION:\n")
        for r in records:
            ctx.write(f"{r.name}.\t\t{r.ttl}\tIN\t{r.type}\t{_rdata(r)}\n")
        ctx.write("\n")
    ctx.write(f";; Query time: 0 msec\n;; SERVER: {server}#53({server}) (UDP)\n"
              f";; WHEN: {ctx.dp.sb.clock.now().strftime('%a %b %d %H:%M:%S UTC %Y')}\n;; MSG SIZE  rcvd: 106\n\n")
    return 0


def _rdata(r: Any) -> str:
    """A record's data as dig prints it: an address, a name with its dot, SRV's ``priority weight port target.``."""
    if r.type == "A":
        return r.data
    if r.type == "SRV":
        return f"{r.priority} {r.weight} {r.port} {r.data}."
    return f"{r.data}."


def cmd_host(ctx: Ctx, name: str, args: list[str]) -> int:
    """``host NAME``: BIND's host uses the search list; ``NAME has address IP`` per A record."""
    words = [a for a in args if not a.startswith("-")]
    if not words:
        ctx.error("Usage: host [-aCdilrTvVw] [-c class] [-N ndots] [-t type] [-W time]\n")
        return 1
    answer = ctx.dp.dns.lookup(ctx.pod, words[0], "A")
    if not answer.addresses:
        ctx.write(f"Host {words[0]} not found: 3(NXDOMAIN)\n")
        return 1
    for address in answer.addresses:
        ctx.write(f"{answer.name.rstrip('.')} has address {address}\n")
    return 0


HANDLERS = {"iperf3": cmd_iperf3, "iptables": cmd_iptables, "iptables-save": cmd_iptables, "ip": cmd_ip, "ifconfig": cmd_ifconfig, "route": cmd_route, "netstat": cmd_netstat,
            "ss": cmd_netstat, "dig": cmd_dig, "host": cmd_host}
STEPWISE = {"ping": cmd_ping, "nc": cmd_nc, "traceroute": cmd_traceroute, "tcpdump": cmd_tcpdump}
