"""What the mesh reads from a pod: whether istio-cni captured it, and its SPIFFE identity."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

REDIRECTION = "ambient.istio.io/redirection"
"""The pod annotation the istio-cni node agent writes once the pod's traffic is redirected to ztunnel."""
ISTIO_NAMESPACE = "istio-system"
TRUST_DOMAIN = "cluster.local"


def enrolled(pod: Obj | None) -> bool:
    """Whether istio-cni has redirected the pod's traffic to ztunnel."""
    if pod is None or (pod.get("spec") or {}).get("hostNetwork"):
        return False
    return (pod["metadata"].get("annotations") or {}).get(REDIRECTION) == "enabled"


def identity(pod: Obj) -> str:
    """The workload's SPIFFE identity: its namespace and ServiceAccount (istio.io "Security: identity")."""
    sa = (pod.get("spec") or {}).get("serviceAccountName") or "default"
    return f"spiffe://{TRUST_DOMAIN}/ns/{pod['metadata']['namespace']}/sa/{sa}"


def name(pod: Obj) -> str:
    return f"{pod['metadata'].get('namespace')}/{pod['metadata']['name']}"




def ready(pod: Obj) -> bool:
    """Running with its Ready condition True (how ztunnel and the waypoint's endpoints count a proxy as up)."""
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
