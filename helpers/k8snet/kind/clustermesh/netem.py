"""Distance between kind clusters: ``tc … netem delay`` on every node, for traffic to the other cluster only.

All kind clusters share one docker network, so two "regions" are microseconds apart. To put ``rtt`` milliseconds
between two of them, each node delays what it sends to the other cluster by half of it (so a round trip pays it
once each way), and nothing else: the classic per-destination netem set-up of tc-prio(8) and tc-netem(8) on the
node's ``eth0`` (its interface on kind's network):

    tc qdisc add dev eth0 root handle 1: prio bands <3+N> priomap 1 2 2 2 1 2 0 0 1 1 1 1 1 1 1 1
    tc qdisc add dev eth0 parent 1:4 handle 14: netem delay 15ms
    tc filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip dst 172.18.0.5/32 flowid 1:4
    tc filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip dst 10.2.0.0/16 flowid 1:4

The prio qdisc's three usual bands and its default priomap (that of pfifo_fast) carry all other traffic as before;
one extra band per remote cluster has the netem child, and u32 filters send it the packets for the remote's node
addresses (where Cilium's VXLAN tunnel and the clustermesh-apiserver's NodePort go) and for its pod range (for
native routing). prio has at most 16 bands (TCQ_PRIO_BANDS), so 13 remote clusters per node.

The round trips themselves are kept where the sandbox keeps them (``$K8SNET_HOME/clusterset.json``,
:mod:`k8snet.sandbox.clustermesh.latency`), so ``latency_ms`` answers the same on both backends, and every change
rebuilds the nodes' qdiscs of the clusters it touches from that table. The kind node image has ``tc``: its
images/base/Dockerfile installs iproute2. Commands run with ``docker exec <node> tc …`` (argv, no shell).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ... import clusterset
from ...sandbox.clustermesh import latency
from .. import commands

DEVICE = "eth0"
PRIOMAP = ("1", "2", "2", "2", "1", "2", "0", "0", "1", "1", "1", "1", "1", "1", "1", "1")
"""prio's default priomap (tc-prio(8)): TOS priorities to bands 0-2, as pfifo_fast."""
BASE_BANDS = 3
MAX_BANDS = 16
MAX_PEERS = MAX_BANDS - BASE_BANDS
_NOTHING_TO_DELETE = ("Cannot delete qdisc with handle of zero", "No such file or directory", "Invalid handle")


@dataclass(frozen=True)
class Delay:
    """What one node delays: packets for ``destinations`` (CIDRs), by ``one_way_ms``."""

    peer: str
    one_way_ms: float
    destinations: tuple[str, ...]


def _ms(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") + "ms"


def tc_argv(node: str, *args: str) -> list[str]:
    return commands.docker_exec_argv(node, ["tc", *args])


def clear_argv(node: str) -> list[str]:
    """Remove the node's root qdisc (and the delays under it): the interface goes back to its default."""
    return tc_argv(node, "qdisc", "del", "dev", DEVICE, "root")


def plan(node: str, delays: list[Delay]) -> list[list[str]]:
    """The commands that set ``delays`` up on a node whose root qdisc was cleared (none for no delay).

    Raises:
        ValueError: more remote clusters than prio has bands for.
    """
    delays = [d for d in delays if d.one_way_ms > 0 and d.destinations]
    if not delays:
        return []
    if len(delays) > MAX_PEERS:
        raise ValueError(f"{node}: {len(delays)} remote clusters with a delay, but one node can keep at most "
                         f"{MAX_PEERS} (tc prio has {MAX_BANDS} bands, {BASE_BANDS} for other traffic)")
    argv = [tc_argv(node, "qdisc", "add", "dev", DEVICE, "root", "handle", "1:", "prio",
                    "bands", str(BASE_BANDS + len(delays)), "priomap", *PRIOMAP)]
    for i, delay in enumerate(sorted(delays, key=lambda d: d.peer)):
        band = BASE_BANDS + 1 + i
        argv.append(tc_argv(node, "qdisc", "add", "dev", DEVICE, "parent", f"1:{band}", "handle", f"{10 + band}:",
                            "netem", "delay", _ms(delay.one_way_ms)))
        for cidr in delay.destinations:
            argv.append(tc_argv(node, "filter", "add", "dev", DEVICE, "parent", "1:", "protocol", "ip", "prio", "1",
                                "u32", "match", "ip", "dst", str(ipaddress.ip_network(cidr)), "flowid", f"1:{band}"))
    return argv


def nodes(cluster: str) -> list[str]:
    """A kind cluster's node containers (empty when there is no such kind cluster)."""
    done = commands.run(commands.kind_node_names_argv(cluster), timeout=30)
    return sorted(line.strip() for line in done.stdout.splitlines() if line.strip())


def node_ips(containers: list[str]) -> list[str]:
    """The containers' addresses on kind's network."""
    if not containers:
        return []
    done = commands.run(commands.docker_network_ip_argv(containers), timeout=30)
    return [line.strip() for line in done.stdout.splitlines() if line.strip()]


def destinations(cluster: str) -> tuple[str, ...]:
    """Where a kind cluster's traffic goes: its nodes' addresses and its pod range (:mod:`k8snet.clusterset`)."""
    return tuple(f"{ip}/32" for ip in node_ips(nodes(cluster))) + (clusterset.shape(cluster).pod_cidr,)


def delays_of(cluster: str, table: dict[str, float]) -> list[Delay]:
    """The delays ``cluster``'s nodes apply: half of each round trip the table sets for a pair that includes it,
    toward the other member (only if that member is a kind cluster here)."""
    out = []
    for pair, rtt in sorted(table.items()):
        a, _, b = pair.partition(",")
        if cluster not in (a, b) or rtt <= 0:
            continue
        peer = b if a == cluster else a
        if nodes(peer):
            out.append(Delay(peer, rtt / 2, destinations(peer)))
    return out


def _run_clear(node: str) -> None:
    done = commands.run(clear_argv(node), check=False, timeout=30)
    if done.returncode != 0 and not any(m in done.stderr for m in _NOTHING_TO_DELETE):
        raise commands.CommandFailed(done.argv, done.returncode, done.stderr)


def apply(clusters: list[str]) -> dict[str, list[Delay]]:
    """Rebuild the delays on every node of ``clusters`` from the round-trip table; returns them per cluster.

    Raises:
        CommandFailed: ``tc`` refused (the fix names the likely cause: the host kernel's netem module).
    """
    table = latency.table()
    done: dict[str, list[Delay]] = {}
    for cluster in clusters:
        delays = delays_of(cluster, table)
        for node in nodes(cluster):
            _run_clear(node)
            for argv in plan(node, delays):
                try:
                    commands.run(argv, timeout=30)
                except commands.CommandFailed as exc:
                    raise commands.CommandFailed(
                        exc.argv, exc.returncode, exc.stderr,
                        fix="kind nodes share the host's kernel, and netem needs its sch_netem module (Linux: "
                            "`sudo modprobe sch_netem`; Docker Desktop: the kernel of its VM)") from exc
        done[cluster] = delays
    return done


def set_rtt(a: str, b: str, rtt_ms: float) -> dict[str, list[Delay]]:
    """Record the round trip between kind clusters ``a`` and ``b`` (0: none) and rebuild both clusters' nodes."""
    latency.set_rtt(a, b, float(rtt_ms))
    return apply([a, b])
