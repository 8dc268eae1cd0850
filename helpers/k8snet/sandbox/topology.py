"""The sandbox cluster's fixed shape, as kind lays its clusters out: the nodes, their pod ranges and addresses,
and the cluster DNS address. The API server, the controllers and the data plane all read it from here."""

from __future__ import annotations

CLUSTER_NAME = "k8snet"
POD_CIDR = "10.244.0.0/16"
NODES = [
    # name, podCIDR, InternalIP (kind puts nodes on the docker network 172.18.0.0/16)
    (f"{CLUSTER_NAME}-control-plane", "10.244.0.0/24", "172.18.0.2"),
    (f"{CLUSTER_NAME}-worker", "10.244.1.0/24", "172.18.0.3"),
    (f"{CLUSTER_NAME}-worker2", "10.244.2.0/24", "172.18.0.4"),
]
KUBE_DNS_IP = "10.96.0.10"
