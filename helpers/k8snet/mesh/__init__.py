"""The service mesh: Istio 1.31 in ambient mode, installed and used the same way on the sandbox and on kind.

- :func:`install` (``k8snet mesh install istio``): the CRDs, istiod, the istio-cni node agent and ztunnel, from
  one manifest, waiting until they run on every node; :func:`uninstall` removes them (the CRDs stay, as helm
  keeps them).
- :func:`enroll`: a namespace into the ambient mesh (``istio.io/dataplane-mode=ambient``); its pods show
  ``ambient.istio.io/redirection: enabled`` once their node's agent has captured them.
- :func:`waypoint` (``k8snet mesh waypoint NS``): ``istioctl waypoint apply --enroll-namespace --wait``.
- :mod:`.metrics`: the proxies' standard metrics, golden signals and who talked to whom; :mod:`.views`:
  ``istioctl``'s views (workloads and their protocol, a Service's waypoint, the policies for a pod).

Example:
    >>> from k8snet import mesh
    >>> mesh.install(cluster, "istio")
    >>> mesh.enroll(cluster, "shop")
    >>> mesh.waypoint(cluster, "shop")
"""

from __future__ import annotations

from . import metrics, reach, views
from .install import Installed, install, uninstall
from .waypoints import enroll, gateway, waypoint

REDIRECTION = "ambient.istio.io/redirection"
"""The annotation the istio-cni node agent writes on a pod it captured (``enabled``; ``pending`` while its node's
ztunnel has not taken it); it removes it when the pod leaves the mesh."""

__all__ = ["Installed", "REDIRECTION", "enroll", "gateway", "install", "metrics", "reach", "uninstall", "views", "waypoint"]
