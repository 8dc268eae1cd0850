"""Cilium's Global Services, as their annotations say (Documentation/network/clustermesh/global-services.rst,
affinity.rst): read by kube-proxy's emulation (which backends a Service has) and by the Cluster Mesh export."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

PREFIX = "service.cilium.io/"
GLOBAL = "service.cilium.io/global"
SHARED = "service.cilium.io/shared"
AFFINITY = "service.cilium.io/affinity"
"""Cilium's Global Service annotations (Documentation/network/clustermesh/global-services.rst, affinity.rst)."""
AFFINITIES = ("local", "remote", "none")


def annotation_true(svc: Obj, key: str, default: bool) -> bool:
    """An annotation read as Cilium reads it: ``"true"``/``"false"`` in any case, else the default
    (pkg/annotation, strings.ToLower(value) == "true")."""
    value = ((svc.get("metadata") or {}).get("annotations") or {}).get(key)
    return default if value is None else value.strip().lower() == "true"


def is_global(svc: Obj) -> bool:
    return annotation_true(svc, GLOBAL, False)


def is_shared(svc: Obj) -> bool:
    """A global Service shares its backends unless ``service.cilium.io/shared: "false"``."""
    return is_global(svc) and annotation_true(svc, SHARED, True)


def affinity(svc: Obj) -> str:
    """``service.cilium.io/affinity``: local, remote or none (the default, and any other value)."""
    value = (((svc.get("metadata") or {}).get("annotations") or {}).get(AFFINITY) or "none").strip().lower()
    return value if value in AFFINITIES else "none"
