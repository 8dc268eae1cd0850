"""Ingress in the sandbox: what the data plane knows about the cluster's Traefik.

Traefik itself is the real binary (:mod:`k8snet.sandbox.components.traefik`), its release, objects and static
arguments :mod:`k8snet.traefik_config` (shared with the kind backend). What stays here: ``admission``
(DefaultIngressClass, kube-apiserver's part) and ``program`` (the Traefik container's listening ports). The
port of Traefik's Kubernetes providers that explains where a request went is the learner side's, on both
backends: :mod:`k8snet.ingress.traefik`.

:class:`Ingress` is the data plane's view: which pods are Traefik's, and the host's way in through kind's port
mapping onto the Traefik Service's nodePorts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ....traefik_config import EDGE_CLIENT_IP, LABELS, NAMESPACE, NODE_PORTS
from ..model import Connection

if TYPE_CHECKING:
    from ...instance import Sandbox

__all__ = ["Ingress"]


class Ingress:
    """The ingress side of one sandbox's data plane."""

    def __init__(self, sandbox: Sandbox, dataplane: Any):
        self.sb = sandbox
        self.dp = dataplane
        self._pods: tuple[Any, int, list[dict[str, Any]]] | None = None  # (store, its pods' generation, the pods)

    def pods(self) -> list[dict[str, Any]]:
        """The Traefik pods (namespace ``traefik``, its Deployment's labels). Every line Traefik writes (its access
        log: one a request) goes to their logs, so the list is kept until a pod is written."""
        store = self.sb.store
        generation = store.generation("pods")
        cached = self._pods
        if cached is None or cached[0] is not store or cached[1] != generation:
            found = [p for p in store.list("pods", NAMESPACE)
                     if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in LABELS.items())]
            cached = self._pods = (store, generation, found)
        return list(cached[2])

    def edge_connect(self, entrypoint: str) -> Connection:
        """A connection from the host to Traefik's nodePort on the control plane, as kind's port mapping makes it.

        kube-proxy chooses the Traefik pod and rewrites the source (Cluster traffic policy: the node's address),
        and NetworkPolicies in ``traefik`` apply. Raises NetError when nothing accepts it.
        """
        node_ip = self.dp.sb.shape.control_plane.internal_ip  # kind maps the edge onto the control plane's nodePorts
        return self.dp.connect(None, node_ip, NODE_PORTS[entrypoint], "TCP", src_ip=EDGE_CLIENT_IP)
