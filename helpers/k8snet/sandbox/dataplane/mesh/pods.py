"""What the mesh reads from a pod: whether istio-cni captured it, and its SPIFFE identity."""

from __future__ import annotations

from typing import Any

from ...controllers.istio.ca import spiffe_id
from ...controllers.istio.names import AMBIENT_REDIRECTION as REDIRECTION
from ...controllers.istio.names import ISTIO_NAMESPACE, REDIRECTION_ENABLED  # noqa: F401  (the package's vocabulary)

Obj = dict[str, Any]


def enrolled(pod: Obj | None) -> bool:
    """Whether istio-cni has redirected the pod's traffic to ztunnel."""
    if pod is None or (pod.get("spec") or {}).get("hostNetwork"):
        return False
    return (pod["metadata"].get("annotations") or {}).get(REDIRECTION) == REDIRECTION_ENABLED


def identity(pod: Obj) -> str:
    """The workload's SPIFFE identity: its namespace and ServiceAccount (istio.io "Security: identity")."""
    return spiffe_id(pod["metadata"]["namespace"], (pod.get("spec") or {}).get("serviceAccountName") or "default")


def name(pod: Obj) -> str:
    return f"{pod['metadata'].get('namespace')}/{pod['metadata']['name']}"




def ready(pod: Obj) -> bool:
    """Running with its Ready condition True (how ztunnel and the waypoint's endpoints count a proxy as up)."""
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
