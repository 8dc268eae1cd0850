"""karmada-controller-manager's cluster controller: each Cluster's execution namespace.

pkg/controllers/cluster/cluster_controller.go: a joined cluster gets the namespace ``karmada-es-<cluster>``
(createExecutionSpace) where the binding controller writes its Works; when the Cluster goes, the namespace goes,
and with it the Works (removeExecutionSpace; upstream holds the Cluster with the finalizer
``karmada.io/cluster-controller`` until then, the sandbox lets the Cluster go and empties the namespace after).
The taints by readiness are set with the cluster status (:mod:`.execution`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..apiserver import DeleteOptions, WriteOptions
from ..controllers import Controller, Key
from ..errors import ApiError
from ..store import Event
from . import division

if TYPE_CHECKING:
    from ..instance import Sandbox

CLUSTERS = "clusters.cluster.karmada.io"
MANAGER = "karmada-controller-manager"


def reconcile(sb: Sandbox, key: Key) -> float | None:
    name = key[1]
    ns_rt = sb.registry.lookup("", "v1", "namespaces")
    assert ns_rt is not None
    space = division.execution_namespace(name)
    cluster = sb.store.get(CLUSTERS, "", name)
    existing = sb.store.get("namespaces", "", space)
    if cluster is not None and not cluster["metadata"].get("deletionTimestamp"):
        if existing is None:
            sb.api.create(ns_rt, "", {"metadata": {"name": space, "labels": {"karmada.io/managed": "true"}}},
                          WriteOptions(field_manager=MANAGER))
        return None
    if existing is not None and not existing["metadata"].get("deletionTimestamp"):
        try:
            sb.api.delete(ns_rt, "", space, DeleteOptions())
        except ApiError as exc:
            if exc.code != 404:
                raise
    return None


def _events(sb: Sandbox, event: Event) -> Iterable[Key]:
    return [("", event.obj["metadata"]["name"])]


def controller(sb: Sandbox) -> Controller:
    return Controller("karmada-cluster", reconcile, {CLUSTERS: _events})
