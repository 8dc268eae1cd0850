"""Istio 1.31 in ambient mode: the work of the programs behind its images, done by the sandbox while they run.

``k8snet mesh install istio`` applies the same manifest on both backends (kind/manifests/istio-ambient.yaml): the
CRDs, istiod, the istio-cni node agent and ztunnel. A container is a program: on kind those pods do the mesh's
work; in the sandbox their images are emulated programs (dataplane/istioimages.py: logs, ports, health answers),
and what they do in the cluster's API is done here, only while their pods run:

* names.py: the labels, annotations and objects Istio writes and reads (``ambient.istio.io/redirection`` …);
* nodes.py: which istiod, istio-cni and ztunnel pods run, and where (:func:`ztunnel_for_node`);
* ca.py: istiod's CA: the self-signed root in ``istio-ca-secret`` and workload certificates as it signs ztunnel's
  CSRs (:func:`mesh_ca`, :meth:`MeshCA.workload`), for the data path;
* istiod.py: the CA Secret, ``istio-ca-root-cert`` in every namespace, the GatewayClasses and their status;
* waypoints.py: istiod's gateway deployment controller for class ``istio-waypoint`` and the Gateways' status;
* nodeagent.py: the istio-cni node agent's ambient enrolment of pods (the CNI plugin at pod start, the informer
  for running pods) and its annotation;
* injection.py: a Warning for pods that ask for a sidecar (sidecar mode is not part of the installation);
* meshstatus.py: the status istiod writes on AuthorizationPolicies (ZtunnelAccepted, WaypointAccepted), Services
  (istio.io/WaypointBound) and mesh HTTPRoutes, and a Warning on VirtualService/DestinationRule.

The data path (ztunnel's HBONE and mTLS, PeerAuthentication, AuthorizationPolicy, waypoints' L7) reads these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .ca import MeshCA, WorkloadCert, mesh_ca, spiffe_id
from .names import (
    AMBIENT_REDIRECTION,
    DATAPLANE_MODE,
    DATAPLANE_MODE_AMBIENT,
    DATAPLANE_MODE_NONE,
    REDIRECTION_ENABLED,
    REDIRECTION_PENDING,
    USE_WAYPOINT,
    WAYPOINT_FOR,
)
from .nodes import cni_agent_for_node, istiod_pods, ztunnel_for_node

if TYPE_CHECKING:
    from ...instance import Sandbox
    from .. import Controller

__all__ = ["AMBIENT_REDIRECTION", "DATAPLANE_MODE", "DATAPLANE_MODE_AMBIENT", "DATAPLANE_MODE_NONE", "MeshCA",
           "REDIRECTION_ENABLED", "REDIRECTION_PENDING", "USE_WAYPOINT", "WAYPOINT_FOR", "WorkloadCert",
           "cni_agent_for_node", "controllers", "install", "istiod_pods", "mesh_ca", "spiffe_id",
           "ztunnel_for_node"]


def controllers(sb: Sandbox) -> list[Controller]:
    """istiod's (CA, namespaces, GatewayClasses; waypoints), the node agent's, and the sidecar warning."""
    from . import injection, istiod, meshstatus, nodeagent, waypoints

    return [istiod.controller(sb), waypoints.controller(sb), nodeagent.controller(sb), injection.controller(sb),
            meshstatus.controller(sb)]


def install(sb: Sandbox) -> None:
    """Put istio-cni's plugin into every node's CNI chain (it acts only where the agent runs)."""
    from . import nodeagent

    if nodeagent.on_pod_sandbox not in sb.cni_chain:
        sb.cni_chain.append(nodeagent.on_pod_sandbox)
