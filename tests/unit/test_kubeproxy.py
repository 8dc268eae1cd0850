"""Reading one Service's rules out of iptables-save output, and what its probabilities add up to."""

from __future__ import annotations

from kubernetes.client import V1ServicePort, V1ServiceSpec

from k8snet.kubeproxy import service_rules, shape, written_as

SAVED = """*nat
-A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m comment --comment "kube-system/kube-dns:dns cluster IP" -m udp --dport 53 -j KUBE-SVC-TCOU7JCQXEZGVUNU
-A KUBE-SERVICES -d 10.96.5.5/32 -p tcp -m comment --comment "shop/web cluster IP" -m tcp --dport 80 -j KUBE-SVC-AAAA
-A KUBE-SVC-AAAA ! -s 10.244.0.0/16 -d 10.96.5.5/32 -p tcp -m comment --comment "shop/web cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
-A KUBE-SVC-AAAA -m comment --comment "shop/web -> 10.244.1.4:8080" -m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-ONE --mask 255.255.255.255 --rsource -j KUBE-SEP-ONE
-A KUBE-SVC-AAAA -m comment --comment "shop/web -> 10.244.1.4:8080" -m statistic --mode random --probability 0.25000000000 -j KUBE-SEP-ONE
-A KUBE-SVC-AAAA -m comment --comment "shop/web -> 10.244.1.5:8080" -m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-TWO
-A KUBE-SVC-AAAA -m comment --comment "shop/web -> 10.244.2.4:8080" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-THREE
-A KUBE-SVC-AAAA -m comment --comment "shop/web -> 10.244.2.9:8080" -j KUBE-SEP-FOUR
-A KUBE-SEP-FOUR -p tcp -m comment --comment "shop/web" -m tcp -j DNAT --to-destination 10.244.2.9:8080
-A KUBE-SEP-ONE -p tcp -m comment --comment "shop/web" -m tcp -j DNAT --to-destination 10.244.1.4:8080
-A KUBE-SEP-TWO -p tcp -m comment --comment "shop/web" -m tcp -j DNAT --to-destination 10.244.1.5:8080
-A KUBE-SEP-THREE -p tcp -m comment --comment "shop/web" -m tcp -j DNAT --to-destination 10.244.2.4:8080
-A KUBE-SERVICES -d 10.96.5.6/32 -p tcp -m comment --comment "shop/web-admin cluster IP" -m tcp --dport 80 -j KUBE-SVC-BBBB
COMMIT
"""


def test_one_services_lines_in_the_order_they_are_walked():
    rules = service_rules(SAVED, "shop", "web")
    chains = [line.split()[1] for line in rules.lines]
    assert chains[0] == "KUBE-SERVICES" and "KUBE-SVC-BBBB" not in str(rules) and "kube-dns" not in str(rules)
    assert [c for c in chains if c.startswith("KUBE-SEP-")] == ["KUBE-SEP-ONE", "KUBE-SEP-TWO", "KUBE-SEP-THREE",
                                                               "KUBE-SEP-FOUR"]


def test_probabilities_of_the_remainder_make_equal_shares():
    shares = service_rules(SAVED, "shop", "web").shares()
    assert list(shares) == ["10.244.1.4:8080", "10.244.1.5:8080", "10.244.2.4:8080", "10.244.2.9:8080"]
    assert all(abs(v - 0.25) < 1e-6 for v in shares.values())


def spec(**fields) -> V1ServiceSpec:
    return V1ServiceSpec(cluster_ip="10.96.5.5", ports=[V1ServicePort(port=80, protocol="TCP")], **fields)


FOUR = {"10.244.1.4", "10.244.1.5", "10.244.2.4", "10.244.2.9"}


def test_rules_read_back_say_what_the_service_asks_for():
    """wait_synced's test: the ClusterIP's ports and chain, session affinity and the endpoints, from the rules."""
    written = shape(service_rules(SAVED, "shop", "web"), "10.96.5.5")
    assert written == written_as(spec(session_affinity="ClientIP"), FOUR)
    assert written != written_as(spec(session_affinity="None"), FOUR)  # affinity not written yet
    assert written != written_as(spec(session_affinity="ClientIP", internal_traffic_policy="Local"), FOUR)
    assert written != written_as(spec(session_affinity="ClientIP"), FOUR - {"10.244.2.9"})
    assert written_as(spec(), set())["to"] == "REJECT"  # no endpoints: kube-proxy rejects in the filter table


def test_the_load_balancer_leaves_out_the_slices_of_another_clusters_backends():
    """Cilium's agents watch EndpointSlices with managed-by!=endpointslice-mesh-controller.cilium.io: the operator's
    slices of a remote cluster's backends are for other readers (CoreDNS, controllers), the Cluster Mesh already
    gives the load balancer those backends."""
    from k8snet.sandbox.dataplane.proxy import Synced

    def slice_(name: str, ip: str, managed_by: str) -> dict:
        return {"metadata": {"name": name, "namespace": "shop",
                             "labels": {"kubernetes.io/service-name": "web",
                                        "endpointslice.kubernetes.io/managed-by": managed_by}},
                "addressType": "IPv4", "ports": [{"name": "", "port": 8080, "protocol": "TCP"}],
                "endpoints": [{"addresses": [ip], "conditions": {"ready": True}}]}

    synced = Synced(0.0, 1, [], [slice_("web-abcde", "10.244.1.5", "endpointslice-controller.k8s.io"),
                                 slice_("web-west", "10.245.1.7", "endpointslice-mesh-controller.cilium.io")], None)
    assert [e.ip for e in synced.endpoints("shop", "web")] == ["10.244.1.5"]
