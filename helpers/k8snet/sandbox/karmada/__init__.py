"""The sandbox as a Karmada control plane: a Kubernetes API server where workloads are only templates.

Karmada (github.com/karmada-io/karmada) runs its own kube-apiserver, the *karmada-apiserver*: it has no nodes and
no pods; a Deployment applied to it is a resource template that Karmada propagates to member clusters. A sandbox
started with ``--karmada`` (``k8snet sandbox up --name karmada --karmada``) is that API server, with:

- no Nodes, no kube-system add-ons and none of the workload controllers: only what the karmada-apiserver's
  kube-controller-manager runs (``--controllers=namespace,garbagecollector,serviceaccount-token,
  ttl-after-finished,bootstrapsigner,csrcleaner,csrsigning,clusterrole-aggregation``,
  operator/pkg/controlplane/manifests.go); here the namespace, garbage-collector, csrsigning, csrcleaner and
  clusterrole-aggregation controllers;
- Karmada's kinds (``crds/karmada.io.yaml``): PropagationPolicy, ClusterPropagationPolicy, ResourceBinding, Work
  and Cluster, and karmada-webhook's defaulting of policies (:mod:`.webhook`);
- karmada-controller-manager's and karmada-scheduler's chain, one module each: the resource detector
  (:mod:`.detector`: template + policy → ResourceBinding, and namespaces to every member), the scheduler
  (:mod:`.scheduler`: ``spec.clusters``, the arithmetic in :mod:`.division`), the binding controller
  (:mod:`.binding`: a Work per cluster in ``karmada-es-<cluster>``, and the status aggregated back), and the
  execution, work-status and cluster-status controllers (:mod:`.execution`), which reach each member cluster
  through its own Kubernetes API with the credentials of the Cluster's secret, as Push mode does.

Member clusters join with :func:`k8snet.federation.join` (``karmadactl join``). The choice is kept in the store
(the meta key :data:`META_KEY`, as the CNI plugin is): a restart keeps it, and a store made as one kind of cluster
is not started as the other (:class:`Mismatch`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ..apiserver import WriteOptions

if TYPE_CHECKING:
    from ..controllers import Controller
    from ..instance import Sandbox

META_KEY = "karmada"
"""The store's meta key: ``"true"`` for a Karmada control plane (absent or ``"false"``: an ordinary cluster)."""
CRD_DOCUMENT = "karmada.io.yaml"
NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")
"""What a fresh kube-apiserver (the karmada-apiserver) creates: no local-path-storage, no add-ons."""
CLUSTER_NAMESPACE = "karmada-cluster"
"""names.NamespaceKarmadaCluster: where ``karmadactl join`` keeps each member's credentials."""


class Mismatch(Exception):
    """The store was made as a Karmada control plane and asked to run as an ordinary cluster, or the reverse."""


def choose(sb: Sandbox, requested: bool | None) -> bool:
    """Whether this sandbox is a Karmada control plane: the stored choice, or ``requested`` for a fresh store.

    Raises:
        Mismatch: the store's cluster was made the other way.
    """
    stored = sb.store.meta(META_KEY)
    fresh = sb.store.get("namespaces", "", "default") is None
    have = (stored == "true") if stored is not None else (bool(requested) if fresh else False)
    if requested is not None and requested != have:
        made = "a Karmada control plane" if have else "an ordinary cluster"
        raise Mismatch(f"this state directory holds {made}: a cluster is not turned into "
                       f"{'an ordinary cluster' if have else 'a Karmada control plane'} in place. Start it "
                       f"{'with' if have else 'without'} --karmada, or remove its state directory to make a new one.")
    sb.store.set_meta(META_KEY, "true" if have else "false")
    return have


def bootstrap(sb: Sandbox) -> None:
    """What a new karmada-apiserver starts with: the system namespaces, ``default/kubernetes`` and the default
    RBAC roles; no Nodes, no kube-dns, no add-ons."""
    from ..auth import policy

    opts = WriteOptions(field_manager="kube-apiserver")
    rt = sb.registry.lookup
    for ns in NAMESPACES:
        sb.api.create(rt("", "v1", "namespaces"), "", {"metadata": {"name": ns}}, opts)
    sb.api.create(rt("", "v1", "services"), "default", {
        "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"clusterIP": sb.shape.kubernetes_ip,
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}}, opts)
    policy.install(sb)


def install(sb: Sandbox) -> None:
    """Karmada's CRDs (``crds/karmada.io.yaml``) the store lacks, and karmada-webhook's admission."""
    from .. import crddocs
    from . import webhook

    crd_rt = sb.registry.lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    assert crd_rt is not None
    opts = WriteOptions(field_manager="karmada-operator", compile_rules=False)
    for doc in crddocs.load(CRD_DOCUMENT, sb.state_dir):  # separate objects: YAML aliases are separate copies
        if sb.store.get(crd_rt.group_resource, "", doc["metadata"]["name"]) is None:
            sb.api.create(crd_rt, "", doc, opts)
    if not any(h.name == webhook.NAME for h in sb.api.webhooks):
        sb.api.webhooks.append(webhook.webhook())


def controllers(sb: Sandbox) -> list[Controller]:
    """The karmada-apiserver's kube-controller-manager's controllers, then Karmada's own."""
    from ..controllers import clusterroles, crds, csrcleaner, csrsigning, gc, namespaces
    from . import binding, clusters, detector, scheduler

    return [namespaces.controller(sb), gc.controller(sb), crds.controller(sb), clusterroles.controller(sb),
            csrsigning.controller(sb), csrcleaner.controller(sb),
            clusters.controller(sb), *detector.controllers(sb), scheduler.controller(sb), *binding.controllers(sb)]


def start(sb: Sandbox) -> None:
    """Start the controllers that talk to member clusters (:mod:`.execution`) beside the manager's, stopped with
    it."""
    from .execution import Syncer

    assert sb.manager is not None
    syncer = Syncer(sb)
    sb.manager.tasks.append(asyncio.get_running_loop().create_task(syncer.run(), name="karmada-execution"))
