"""NetworkPolicy peers from another cluster of a Cilium Cluster Mesh, judged as Cilium judges them
(pkg/k8s/network_policy.go parseNetworkPolicyPeer: policy-default-local-cluster, isPodSelectorSelectingCluster)."""

from k8snet.netpol import CLUSTER_LABEL, Peer, PolicySet, selects_cluster


def policy(peer: dict) -> dict:
    return {"metadata": {"name": "p", "namespace": "shop"},
            "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"],
                     "ingress": [{"from": [peer]}]}}


WEB = Peer(ip="10.2.1.5", namespace="shop", name="web", labels={"app": "web", CLUSTER_LABEL: "west"})
REMOTE = Peer(ip="10.1.1.9", namespace="shop", name="client", labels={"app": "client", CLUSTER_LABEL: "east"},
              cluster="east")
LOCAL = Peer(ip="10.2.1.9", namespace="shop", name="client", labels={"app": "client", CLUSTER_LABEL: "west"})


def allowed(peer: dict, src: Peer, indexed: bool = True) -> bool:
    return PolicySet([policy(peer)]).evaluate(src, WEB, 8080, indexed=indexed).allowed


def test_a_podselector_that_names_no_cluster_selects_local_pods_only():
    for indexed in (True, False):
        assert allowed({"podSelector": {"matchLabels": {"app": "client"}}}, LOCAL, indexed)
        assert not allowed({"podSelector": {"matchLabels": {"app": "client"}}}, REMOTE, indexed)


def test_a_podselector_that_names_a_cluster_selects_that_clusters_pods_and_not_the_local_ones():
    east = {"podSelector": {"matchLabels": {"app": "client", CLUSTER_LABEL: "east"}}}
    any_cluster = {"podSelector": {"matchLabels": {"app": "client"},
                                   "matchExpressions": [{"key": CLUSTER_LABEL, "operator": "Exists"}]}}
    for indexed in (True, False):
        assert allowed(east, REMOTE, indexed) and not allowed(east, LOCAL, indexed)
        assert allowed(any_cluster, REMOTE, indexed) and allowed(any_cluster, LOCAL, indexed)


def test_an_ipblock_never_selects_a_pod_of_another_cluster():
    for indexed in (True, False):
        assert not allowed({"ipBlock": {"cidr": "10.0.0.0/8"}}, REMOTE, indexed)


def test_selects_cluster_reads_match_labels_and_expressions():
    assert selects_cluster({"matchLabels": {CLUSTER_LABEL: "east"}})
    assert selects_cluster({"matchExpressions": [{"key": CLUSTER_LABEL, "operator": "In", "values": ["a"]}]})
    assert not selects_cluster({"matchLabels": {"app": "x"}}) and not selects_cluster(None)
