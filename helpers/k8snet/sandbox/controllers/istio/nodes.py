"""Which Istio program runs where: the istiod, istio-cni and ztunnel pods, found by the images they run.

A pod counts as one of them when one of its containers runs that Istio image (``istio/pilot`` with ``discovery``,
``istio/install-cni``, ``istio/ztunnel``) and the kubelet has started it: phase Running, the container running, the
pod not being deleted. That is when the program exists in a real cluster too: istiod does its control-plane work,
the istio-cni agent answers its CNI plugin, ztunnel takes pods, only while their process runs. Readiness is not
asked for: each is at work before its readiness probe passes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .names import ISTIO_NAMESPACE

if TYPE_CHECKING:
    from ...instance import Sandbox

Pod = dict[str, Any]

PILOT, INSTALL_CNI, ZTUNNEL, PROXYV2 = "istio/pilot", "istio/install-cni", "istio/ztunnel", "istio/proxyv2"
"""Image repository paths (registry, tag and digest left off)."""


def repository(image: str) -> str:
    """``docker.io/istio/ztunnel:1.31.0-distroless`` → ``istio/ztunnel`` (the kubelet's view of an image)."""
    from ...dataplane.workloads import image_path

    return image_path(image)


def runs(pod: Pod, image_path: str) -> str | None:
    """The name of the pod's container that runs ``image_path`` and is running, else None."""
    status = pod.get("status") or {}
    if status.get("phase") != "Running" or pod["metadata"].get("deletionTimestamp"):
        return None
    running = {cs["name"] for cs in status.get("containerStatuses") or [] if (cs.get("state") or {}).get("running")}
    for c in pod["spec"].get("containers") or []:
        if c["name"] in running and repository(c.get("image", "")) == image_path:
            if image_path == PILOT and "discovery" not in (c.get("args") or []):
                continue
            return c["name"]
    return None


def _on_node(sb: Sandbox, image_path: str, node_name: str) -> Pod | None:
    found = [p for p in sb.store.list("pods", ISTIO_NAMESPACE) if (p.get("spec") or {}).get("nodeName") == node_name
             and runs(p, image_path)]
    found.sort(key=lambda p: p["metadata"].get("creationTimestamp", ""), reverse=True)  # the newest, in a rollout
    return found[0] if found else None


def ztunnel_for_node(sb: Sandbox, node_name: str) -> Pod | None:
    """The ztunnel pod whose process runs on ``node_name`` (the newest, while a rollout overlaps two), else None:
    the node proxy that carries the traffic of the node's captured pods. Only ``istio-system``'s count: istiod
    trusts the node proxies of that namespace alone (its ``CA_TRUSTED_NODE_ACCOUNTS=istio-system/ztunnel``)."""
    return _on_node(sb, ZTUNNEL, node_name)


def cni_agent_for_node(sb: Sandbox, node_name: str) -> Pod | None:
    """The istio-cni node agent pod running on ``node_name``, else None."""
    return _on_node(sb, INSTALL_CNI, node_name)


def istiod_pods(sb: Sandbox, namespace: str = ISTIO_NAMESPACE) -> list[Pod]:
    """The istiod pods of ``namespace`` whose ``discovery`` process runs."""
    return [p for p in sb.store.list("pods", namespace) if runs(p, PILOT)]


def is_istio_pod(pod: Pod) -> bool:
    """Whether any container of the pod runs an Istio image (of any of the four programs)."""
    return any(repository(c.get("image", "")).startswith("istio/") for c in (pod.get("spec") or {}).get("containers")
               or [])
