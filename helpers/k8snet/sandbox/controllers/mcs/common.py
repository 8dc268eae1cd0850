"""What Cilium's MCS-API reconcilers share: names, keys, the switch that enables them, conditions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ...errors import ApiError
from ...registry import ResourceType
from ...store import Event
from .. import Key

if TYPE_CHECKING:
    from ...instance import Sandbox

Obj = dict[str, Any]

GROUP = "multicluster.x-k8s.io"
VERSION = "v1beta1"
"""The storage version of mcs-api v0.5.0; Cilium's operator reads and writes it (mcsapiv1beta1)."""
EXPORTS = f"serviceexports.{GROUP}"
IMPORTS = f"serviceimports.{GROUP}"
SLICES = "endpointslices.discovery.k8s.io"
LABEL_SERVICE_NAME = "multicluster.kubernetes.io/service-name"
LABEL_SOURCE_CLUSTER = "multicluster.kubernetes.io/source-cluster"
"""mcs-api pkg/apis/v1beta1/well_known_labels.go."""
DERIVED_SERVICE = "multicluster.kubernetes.io/derived-service"
"""mcs-api controllers/common.go DerivedServiceAnnotation: set on a ServiceImport, names its derived Service."""
SUPPORTED_IP_FAMILIES = "clustermesh.cilium.io/supported-ip-families"
GLOBAL_SERVICE = "service.cilium.io/global"
GLOBAL_NAMESPACE = "clustermesh.cilium.io/global"
"""Cilium pkg/annotation/k8s.go: SupportedIPFamilies, GlobalService, GlobalNamespace."""
OPERATOR = "cilium-operator-generic"
"""The field manager of the operator's writes (controller-runtime's client names itself after the binary)."""
CONFIG = ("kube-system", "cilium-config")
ENABLE_KEY = "clustermesh-enable-mcs-api"
CLUSTER_NAME_KEY = "cluster-name"
DEFAULT_GLOBAL_KEY = "clustermesh-default-global-namespace"


def cilium_config(sb: Sandbox) -> dict[str, str]:
    cm = sb.store.get("configmaps", *CONFIG) or {}
    return cm.get("data") or {}


def enabled(sb: Sandbox) -> bool:
    """Whether the operator runs its MCS-API controllers: a Cilium cluster, MCS-API enabled, the CRDs served."""
    return sb.cni == "cilium" and cilium_config(sb).get(ENABLE_KEY) == "true" and \
        sb.registry.lookup(GROUP, VERSION, "serviceimports") is not None and \
        sb.registry.lookup(GROUP, VERSION, "serviceexports") is not None


def cluster_name(sb: Sandbox) -> str:
    """The ``cluster-name`` of cilium-config (ClusterInfo.Name; the chart's default is ``default``)."""
    return cilium_config(sb).get(CLUSTER_NAME_KEY) or "default"


def is_global(sb: Sandbox, namespace: Obj) -> bool:
    """pkg/clustermesh/namespace IsGlobalNamespaceByObject: the ``clustermesh.cilium.io/global`` annotation, else
    clustermesh-default-global-namespace (true by default)."""
    value = ((namespace.get("metadata") or {}).get("annotations") or {}).get(GLOBAL_NAMESPACE)
    if value is not None:
        return value.lower() == "true"
    return cilium_config(sb).get(DEFAULT_GLOBAL_KEY, "true").lower() == "true"


def rt(sb: Sandbox, plural: str) -> ResourceType:
    found = sb.registry.lookup(GROUP, VERSION, plural) if plural != "services" else \
        sb.registry.lookup("", "v1", "services")
    if found is None:
        raise ApiError(f"the server could not find the requested resource ({plural}.{GROUP})", 404, "NotFound")
    return found


def derived_name(namespace: str, name: str) -> str:
    """mcs-api controllers/common.go derivedName: ``derived-`` and ten characters of the base32hex SHA-256 of
    ``<namespace>/<name>``, lower case."""
    import base64
    import hashlib

    digest = hashlib.sha256(f"{namespace}/{name}".encode()).digest()
    return "derived-" + base64.b32hexencode(digest).decode().rstrip("=").lower()[:10]


def set_condition(conditions: list[Obj], ctype: str, status: str, reason: str, message: str, now: str) -> bool:
    """apimachinery meta.SetStatusCondition: lastTransitionTime moves only when the status does. Returns whether
    anything changed."""
    for c in conditions:
        if c.get("type") == ctype:
            before = dict(c)
            if c.get("status") != status:
                c["status"], c["lastTransitionTime"] = status, now
            c["reason"], c["message"] = reason, message
            return c != before
    conditions.append({"type": ctype, "status": status, "lastTransitionTime": now, "reason": reason,
                       "message": message})
    return True


def remove_condition(conditions: list[Obj], ctype: str) -> bool:
    kept = [c for c in conditions if c.get("type") != ctype]
    changed = len(kept) != len(conditions)
    conditions[:] = kept
    return changed


def every_key(sb: Sandbox, resource: str) -> list[Key]:
    return [(o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in sb.store.list(resource)]


def on_config(*resources: str):
    """A mapper that requeues every object of ``resources`` when cilium-config changes (MCS-API switched on or
    off, another cluster name)."""
    def mapper(sb: Sandbox, event: Event) -> Iterable[Key]:
        meta = event.obj["metadata"]
        if (meta.get("namespace"), meta["name"]) != CONFIG:
            return []
        return [k for r in resources for k in every_key(sb, r)]
    return mapper
