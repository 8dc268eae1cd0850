"""What ``istioctl`` shows about the ambient mesh, read from the API as istiod reads it.

- :func:`workloads` is ``istioctl ztunnel-config workloads``: every pod with its address and node, and
  ``HBONE`` when istio-cni has captured it (the ``ambient.istio.io/redirection: enabled`` annotation the
  node agent writes), else ``TCP``.
- :func:`waypoint_of` is the waypoint a Service uses (``istio.io/use-waypoint`` on the Service, else on its
  namespace; ``none`` opts out), as istiod binds it.
- :func:`policies_for` lists the AuthorizationPolicies and PeerAuthentications that apply to a pod, and
  where each is enforced: the destination's ztunnel (selector, namespace or mesh-wide policies) or a
  waypoint (``targetRefs``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..table import Table

if TYPE_CHECKING:
    from ..cluster import Cluster

REDIRECTION = "ambient.istio.io/redirection"
USE_WAYPOINT = "istio.io/use-waypoint"
ROOT_NAMESPACE = "istio-system"


def _custom(cluster: Cluster, api_version: str, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
    try:
        res = cluster.dynamic.resources.get(api_version=api_version, kind=kind)
    except Exception:  # the kind is not installed (no mesh yet): nothing applies
        return []
    return [item.to_dict() for item in res.get(namespace=namespace).items]


def workloads(cluster: Cluster, namespace: str | None = None) -> Table:
    """Pods as ztunnel knows them: NAMESPACE POD NAME ADDRESS NODE WAYPOINT PROTOCOL."""
    pods = (cluster.core.list_namespaced_pod(namespace) if namespace else cluster.core.list_pod_for_all_namespaces()).items
    rows = []
    for p in sorted(pods, key=lambda p: (p.metadata.namespace, p.metadata.name)):
        if p.spec.host_network or not p.status.pod_ip:
            continue
        captured = (p.metadata.annotations or {}).get(REDIRECTION) == "enabled"
        rows.append([p.metadata.namespace, p.metadata.name, p.status.pod_ip, p.spec.node_name or "", "None",
                     "HBONE" if captured else "TCP"])
    return Table(["NAMESPACE", "POD NAME", "ADDRESS", "NODE", "WAYPOINT", "PROTOCOL"], rows)


def waypoint_of(cluster: Cluster, service: str, namespace: str = "default") -> str | None:
    """The waypoint Gateway (``NS/NAME``) that serves a Service, or None."""
    svc = cluster.core.read_namespaced_service(service, namespace)
    labels = svc.metadata.labels or {}
    ns_labels = cluster.core.read_namespace(namespace).metadata.labels or {}
    source = labels if USE_WAYPOINT in labels else ns_labels
    name = source.get(USE_WAYPOINT)
    if not name or name == "none":
        return None
    gw_ns = source.get("istio.io/use-waypoint-namespace") or namespace
    gateways = _custom(cluster, "gateway.networking.k8s.io/v1", "Gateway", gw_ns)
    if not any(g["metadata"]["name"] == name and g["spec"].get("gatewayClassName") == "istio-waypoint"
               for g in gateways):
        return None
    return f"{gw_ns}/{name}"


def policies_for(cluster: Cluster, pod: str, namespace: str = "default") -> Table:
    """The Istio policies that apply to a pod, with where each is enforced."""
    p = cluster.core.read_namespaced_pod(pod, namespace)
    labels = p.metadata.labels or {}
    services = [s for s in cluster.core.list_namespaced_service(namespace).items
                if s.spec.selector and all(labels.get(k) == v for k, v in s.spec.selector.items())]
    rows = []
    for kind in ("AuthorizationPolicy", "PeerAuthentication"):
        for pol in _custom(cluster, "security.istio.io/v1", kind):
            meta, spec = pol["metadata"], pol.get("spec") or {}
            refs = spec.get("targetRefs") or ([spec["targetRef"]] if spec.get("targetRef") else [])
            where = ""
            if refs:
                names = {s.metadata.name for s in services}
                if meta["namespace"] == namespace and any(r.get("kind") == "Service" and r.get("name") in names
                                                          for r in refs):
                    where = "waypoint"
            elif meta["namespace"] in (namespace, ROOT_NAMESPACE):
                sel = (spec.get("selector") or {}).get("matchLabels")
                if sel is None and meta["namespace"] == ROOT_NAMESPACE:
                    where = "ztunnel (mesh-wide)"
                elif sel is None:
                    where = "ztunnel (namespace)"
                elif all(labels.get(k) == v for k, v in sel.items()):
                    where = "ztunnel (selector)"
            if where:
                mode = (spec.get("mtls") or {}).get("mode", "") if kind == "PeerAuthentication" else \
                    spec.get("action", "ALLOW")
                rows.append([kind, f"{meta['namespace']}/{meta['name']}", mode, where])
    return Table(["KIND", "POLICY", "ACTION/MODE", "ENFORCED BY"], rows)
