"""Sidecar injection asked for where there is none: a Warning on the pod.

The installation (kind/manifests/istio-ambient.yaml) leaves out the sidecar injector's MutatingWebhookConfiguration
on both backends: sidecar mode is not part of the course. A pod that asks for a sidecar the way Istio's injector
reads it (pkg/kube/inject/webhook.go injectRequired: the pod label ``sidecar.istio.io/inject=true``, or its
namespace labelled ``istio-injection=enabled`` or ``istio.io/rev``, with no ``sidecar.istio.io/inject=false`` on
the pod) therefore starts without one. While istiod is installed, such a pod gets a Warning event, once, that says
so and points to ambient mode; nothing else changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ...store import Event
from .. import Controller, Key
from ..events import record
from . import names

if TYPE_CHECKING:
    from ...instance import Sandbox

REASON = "NotEmulated"


def controller(sb: Sandbox) -> Controller:
    return Controller("istio-sidecar-injection", reconcile, {"pods": _new_pod})


def _new_pod(sb: Sandbox, event: Event) -> Iterable[Key]:
    if event.type != "ADDED":
        return []
    meta = event.obj["metadata"]
    return [(meta.get("namespace", ""), meta["name"])]


def asks_for_sidecar(pod: dict[str, Any], namespace: dict[str, Any] | None) -> str | None:
    """What asks for a sidecar (the label that does), or None."""
    labels = pod["metadata"].get("labels") or {}
    annotations = pod["metadata"].get("annotations") or {}
    if (pod.get("spec") or {}).get("hostNetwork"):
        return None  # injectRequired: host-network pods are never injected
    pod_says = labels.get(names.SIDECAR_INJECT, annotations.get(names.SIDECAR_INJECT))
    if pod_says is not None and pod_says.lower() in ("false", "n", "no", "off"):
        return None
    if pod_says is not None and pod_says.lower() in ("true", "y", "yes", "on", ""):
        return f"the pod label {names.SIDECAR_INJECT}={pod_says}"
    ns_labels = ((namespace or {}).get("metadata") or {}).get("labels") or {}
    if ns_labels.get(names.INJECTION_NAMESPACE_LABEL) == "enabled":
        return f"the namespace label {names.INJECTION_NAMESPACE_LABEL}=enabled"
    if names.REV in ns_labels and ns_labels.get(names.INJECTION_NAMESPACE_LABEL) != "disabled":
        return f"the namespace label {names.REV}={ns_labels[names.REV]}"
    return None


def reconcile(sb: Sandbox, key: Key) -> float | None:
    pod = sb.store.get("pods", *key)
    if pod is None or sb.store.get("configmaps", names.ISTIO_NAMESPACE, "istio-sidecar-injector") is None:
        return None  # Istio is not installed: the label means nothing to anyone
    why = asks_for_sidecar(pod, sb.store.get("namespaces", "", key[0]))
    if why is None:
        return None
    uid = pod["metadata"].get("uid")
    if any(e.get("reason") == REASON and (e.get("involvedObject") or {}).get("uid") == uid
           and names.SIDECAR_INJECT in e.get("message", "") for e in sb.store.list("events", key[0])):
        return None
    record(sb, pod, REASON, f"k8snet: {why} asks for an Istio sidecar, but sidecar mode is not emulated (the "
           f"installation has no sidecar injector on either backend: {names.SIDECAR_INJECT} and "
           f"{names.INJECTION_NAMESPACE_LABEL} do nothing). The pod runs without a sidecar; to put it in the mesh, "
           f"label its namespace {names.DATAPLANE_MODE}={names.DATAPLANE_MODE_AMBIENT} (ambient mode).",
           "k8snet-sandbox", type_="Warning")
    return None
