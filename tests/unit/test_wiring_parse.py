"""k8snet.cni.wiring's readers of ``ip addr``, ``ip route`` and ``traceroute`` on the formats both backends print:
iproute2 (netshoot, kind's nodes) with its extra words and ``-o`` lines, busybox (agnhost), the kernel's route
choice and the veth pair's ifindexes."""

from __future__ import annotations

from k8snet.cni.wiring import Interface, find_host_side, lookup, parse_addr, parse_routes, parse_traceroute

IPROUTE2_ADDR = """\
1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
    inet 127.0.0.1/8 scope host lo
       valid_lft forever preferred_lft forever
    inet6 ::1/128 scope host
       valid_lft forever preferred_lft forever
4: eth0@if12: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1480 qdisc noqueue state UP group default qlen 1000
    link/ether 6e:1c:0a:f4:31:43 brd ff:ff:ff:ff:ff:ff link-netnsid 0
    inet 10.244.49.67/32 scope global eth0
       valid_lft forever preferred_lft forever
2: tunl0@NONE: <NOARP> mtu 1480 qdisc noop state DOWN group default qlen 1000
    link/ipip 0.0.0.0 brd 0.0.0.0
"""
ONELINE = ("1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n"
           "9: eth0    inet 10.244.1.5/24 brd 10.244.1.255 scope global eth0\\       valid_lft forever "
           "preferred_lft forever\n")


def test_ip_addr_links_peers_mtus_and_addresses():
    links = {i.name: i for i in parse_addr(IPROUTE2_ADDR)}
    assert links["eth0"] == Interface(4, "eth0", 12, 1480, ("10.244.49.67/32",))
    assert links["tunl0"].peer is None and links["tunl0"].addresses == ()
    assert links["lo"].address == "127.0.0.1/8"


def test_ip_o_addr_has_address_lines_only():
    eth0 = {i.name: i for i in parse_addr(ONELINE)}["eth0"]
    assert (eth0.index, eth0.address, eth0.mtu) == (9, "10.244.1.5/24", 0)


def test_routes_and_the_kernels_choice():
    routes = parse_routes("""\
default via 10.244.1.144 dev eth0 mtu lock 1450
10.244.0.0/16 via 172.18.0.2 dev eth0 metric 50
10.244.2.0/24 via 172.18.0.3 dev eth0 metric 200
10.244.2.0/24 via 172.18.0.4 dev eth0 metric 100
blackhole 10.244.49.64/26 proto bird
10.244.113.192/26 via 172.18.0.4 dev tunl0 proto bird onlink
10.244.49.67 dev calia7a3e029a7b scope link
""")
    assert routes[0].destination == "0.0.0.0/0" and routes[0].mtu == 1450
    assert lookup(routes, "10.244.2.7").gateway == "172.18.0.4"  # /24 beats /16; then the lower metric
    assert lookup(routes, "10.244.3.7").gateway == "172.18.0.2"
    assert lookup(routes, "8.8.8.8").short == "default via 10.244.1.144 dev eth0 mtu 1450"
    assert lookup(routes, "10.244.49.70").type == "blackhole"
    assert lookup(routes, "10.244.49.67").device == "calia7a3e029a7b"  # a /32 inside the blackholed block
    tunnel = lookup(routes, "10.244.113.196")
    assert (tunnel.device, tunnel.onlink, tunnel.short) == ("tunl0", True,
                                                            "10.244.113.192/26 via 172.18.0.4 dev tunl0 onlink")
    assert lookup(parse_routes("10.0.0.0/8 dev eth0"), "192.168.1.1") is None


def test_traceroute_hops_from_linux_and_busybox():
    linux = "traceroute to 10.244.2.3 (10.244.2.3), 8 hops max, 60 byte packets\n 1  10.244.1.1  0.051 ms\n 2  *\n"
    busybox = " 3  10.244.2.3 (10.244.2.3)  0.130 ms\n"
    assert [(h.ttl, h.address) for h in parse_traceroute(linux + busybox)] == [
        (1, "10.244.1.1"), (2, ""), (3, "10.244.2.3")]


def test_the_host_side_is_the_link_the_pods_eth0_names_back():
    eth0 = Interface(4, "eth0", 12, 1500, ("10.244.1.5/32",))
    node = [Interface(2, "eth0", None, 1500, ("172.18.0.3/16",)), Interface(12, "lxc0123456789ab", 4, 1500),
            Interface(13, "lxcba9876543210", 4, 1500)]
    assert find_host_side(eth0, "10.244.1.5", node, []).name == "lxc0123456789ab"
    unpaired = [Interface(12, "cali1", 2, 1480), Interface(13, "cali2", 4, 1480)]  # @if12 names back another
    routes = parse_routes("10.244.1.5 dev cali2 scope link\n")
    assert find_host_side(eth0, "10.244.1.5", unpaired, routes).name == "cali2"  # then the /32 route's device
    assert find_host_side(eth0, "10.244.1.5", unpaired, parse_routes("10.244.1.0/24 dev cali1\n")) is None
