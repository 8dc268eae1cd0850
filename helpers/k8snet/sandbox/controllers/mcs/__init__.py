"""Cilium's Multi-Cluster Services API controllers (cilium-operator, pkg/clustermesh/mcsapi), the part that acts
inside one cluster.

They run in a Cilium cluster whose ``cilium-config`` has ``clustermesh-enable-mcs-api: "true"`` (what
``helm upgrade --set clustermesh.mcsapi.enabled=true`` renders; cell.go registerMCSAPIController registers nothing
otherwise) and while the multicluster.x-k8s.io CRDs are served. The real operator reads its configuration at
start; here a change of the ConfigMap takes effect at once (no operator restart to wait for).

- :mod:`.exports`: the ServiceImport reconciler (serviceimport_controller.go): the local ServiceExport's conditions
  Valid, Ready and Conflict, and the ServiceImport merged from the local export and the peers' (:mod:`.remote`);
- :mod:`.derived`: the derived Service of each ServiceImport (service_controller.go), and ``spec.ips`` from its
  ClusterIP;
- :mod:`.mirror`: the local EndpointSlices of an exported Service mirrored onto the derived Service
  (endpointslice_mirror_controller.go), labelled ``multicluster.kubernetes.io/service-name`` and
  ``multicluster.kubernetes.io/source-cluster``;
- :mod:`.merge`: the pure merge of every cluster's export (ports, type, affinity, conflicts).

Not here: the cluster mesh itself (peers, their exports and endpoints, cross-cluster connections), which feeds
:mod:`.remote`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import Controller
from . import derived, exports, mirror
from .common import derived_name, enabled

if TYPE_CHECKING:
    from ...instance import Sandbox

__all__ = ["controllers", "derived_name", "enabled"]


def controllers(sb: Sandbox) -> list[Controller]:
    """The operator's MCS-API reconcilers, in a Cilium cluster."""
    if sb.cni != "cilium":
        return []
    return [exports.controller(sb), derived.controller(sb), mirror.controller(sb)]
