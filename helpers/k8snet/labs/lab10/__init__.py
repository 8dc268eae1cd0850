"""Lab 10 — multi-cluster: two Cilium clusters in one Cluster Mesh, a cloud region and an on-premises data centre.

The lab runs on two clusters of the set, ``cloud`` (the one it is loaded with) and ``onprem`` (:data:`MEMBERS`,
started by :func:`k8snet.labs.load` if it is not running), both Cilium 1.20. Each exercise's setup meshes them as
lesson 09 does (:func:`ensure_mesh`: ``clustermesh.connect``, 30 ms of round trip, the MCS API on both), and each
exercise has its namespace in both clusters (:attr:`k8snet.labs.Exercise.peers`):

1. **failover** — checkout is a global Service in both clusters, and cloud's requests are balanced over both, half
   of them paying the round trip twice: keep cloud's requests in cloud while it has healthy pods, and let them fail
   over to onprem when it has none (``service.cilium.io/affinity: local`` on cloud's Service);
2. **export** — inventory runs in onprem only, and cloud's pods need it by one name,
   ``inventory.<ns>.svc.clusterset.local``: the ServiceExport the cloud team wrote sits in cloud, next to their
   client, where there is no Service to export (``NoService``), and as long as it does, Cilium's operator in cloud
   does not import the name from onprem either;
3. **policy** — onprem's payments must take requests from cloud's checkout and nobody else: the NetworkPolicy it
   had when checkout ran in onprem selects ``app: checkout`` pods of onprem only (``policy-default-local-cluster``,
   Cilium's default since 1.19), and a CiliumNetworkPolicy can name the cluster.

Every check sends requests from the exercise's pods (curl, ``nslookup``) and grades who answered them, in which
cluster (:func:`k8snet.cni.clustermesh.owners`), or how the request failed; the failover check also runs a drill
(cloud's checkout scaled to 0, then back) and says so. Hints quote the Services' Cilium annotations, the
ServiceExports' conditions and the ServiceImport, and onprem's Hubble.

Semantics: docs.cilium.io Documentation/network/clustermesh/ (global-services.rst: global, shared; affinity.rst:
"load-balance across healthy local backends, and only use remote endpoints if and only if all of local backends
are not available or unhealthy"; policy.rst and the 1.19 upgrade notes on ``policy-default-local-cluster``;
mcsapi.rst), Cilium's ServiceImport reconciler (pkg/clustermesh/mcsapi/serviceimport_controller.go: a local
ServiceExport whose Service is missing gets Valid=False ``NoService`` and the reconciliation stops there, before
any ServiceImport is written) and sigs.k8s.io/mcs-api (KEP-1645: export in the cluster that has the Service,
namespace sameness, ``<svc>.<ns>.svc.clusterset.local``).
"""

from __future__ import annotations

from .. import Exercise
from .common import (
    CLOUD,
    LAB,
    MCS,
    MEMBERS,
    ONPREM,
    RTT_MS,
    answered_by,
    ensure_mesh,
    mcs_api_on,
    ready_pods,
    start_manifest,
)
from .export import after_export, check_export, clusterset_name, exports_table, setup_export
from .failover import check_failover, failover_timeline, setup_failover
from .policy import after_policy, calls_table, check_policy, drops_table, policy_calls, setup_policy

__all__ = ["LAB", "MCS", "MEMBERS", "RTT_MS", "after_export", "answered_by", "calls_table", "clusterset_name",
           "drops_table", "ensure_mesh", "exercises", "exports_table", "failover_timeline", "mcs_api_on",
           "policy_calls", "ready_pods", "start_manifest"]


def exercises() -> list[Exercise]:
    return [
        Exercise("failover", "Stay in cloud, fail over to onprem", "lab10-failover", setup_failover, check_failover,
                 "failover.yaml",
                 ["Symptom: cloud's client's requests to http://checkout/ are answered by both clusters' pods, and "
                  "those from onprem take some 60 ms instead of 1 (the 30 ms round trip, twice).",
                  "kubectl --context k8snet-cloud get svc checkout -n lab10-failover -o yaml: its annotations say "
                  "how Cilium treats it across clusters. global shares the backends; which annotation tells a "
                  "cluster to prefer its own, and which cluster's Service does cloud's load balancer read?",
                  "Annotate cloud's Service checkout with service.cilium.io/affinity: local (keep "
                  "service.cilium.io/global: \"true\"): Cilium then uses onprem's pods only when cloud has no "
                  "healthy one."],
                 peers=(ONPREM,)),
        Exercise("export", "One name for inventory, from cloud", "lab10-export", setup_export, check_export,
                 "export.yaml",
                 ["Symptom: from cloud's client, nslookup inventory.lab10-export.svc.clusterset.local says NXDOMAIN.",
                  "kubectl get serviceexports,serviceimports -n lab10-export on both contexts (k8snet-cloud, "
                  "k8snet-onprem), with -o yaml for the conditions: where is the Service inventory, where is the "
                  "export, and what does its Valid condition say?",
                  "Apply a ServiceExport named inventory in onprem's lab10-export (apiVersion "
                  "multicluster.x-k8s.io/v1alpha1, no spec), and delete cloud's ServiceExport inventory: while it "
                  "says NoService, cloud imports nothing by that name."],
                 after_solution=after_export, cluster=ONPREM, peers=(CLOUD,)),
        Exercise("policy", "Payments for cloud's checkout only", "lab10-policy", setup_policy, check_policy,
                 "policy.yaml",
                 ["Symptom: cloud's checkout's curl http://payments/hostname times out (curl 28), as does everyone "
                  "else's.",
                  "kubectl --context k8snet-onprem exec -n kube-system ds/cilium -- hubble observe --namespace "
                  "lab10-policy --verdict DROPPED: which policy denied checkout's SYN, and which cluster's pods does "
                  "its podSelector app: checkout select since Cilium 1.19?",
                  "In onprem, a CiliumNetworkPolicy with endpointSelector app: payments and one ingress rule: "
                  "fromEndpoints [{matchLabels: {app: checkout, io.cilium.k8s.policy.cluster: cloud}}] on port "
                  "8080/TCP; delete the NetworkPolicy payments-from-checkout, which admits nobody that exists."],
                 after_solution=after_policy, cluster=ONPREM, peers=(CLOUD,)),
    ]
