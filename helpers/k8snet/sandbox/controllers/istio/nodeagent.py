"""The istio-cni node agent's ambient enrolment: which pods its node captures, and the annotation that says so.

A port of what github.com/istio/istio release-1.31 cni/pkg/nodeagent does with the Kubernetes API, for each node
whose ``istio-cni-node`` pod runs (:mod:`.nodes`):

- **Who is captured** (cni/pkg/util/enablement_selector.go Matches): not a host-network pod, not a pod with a
  sidecar (``sidecar.istio.io/status``), and a match of one of the istio-cni ConfigMap's
  ``AMBIENT_ENABLEMENT_SELECTOR`` entries (the chart's: the pod labelled ``istio.io/dataplane-mode=ambient``, or the
  namespace labelled so and the pod not labelled ``istio.io/dataplane-mode=none``), outside the ConfigMap's
  ``EXCLUDE_NAMESPACES`` (``kube-system``). The ztunnel pods of istio-system are never enrolled.
- **New pods** are captured by the istio-cni CNI plugin when the kubelet creates the pod's sandbox, before any of
  its containers starts (cni/pkg/plugin, nodeagent/cni-watcher.go ReconcileCNIAddEvent): in the sandbox the
  kubelet's start calls :func:`on_pod_sandbox`, and the annotation is in the status write that makes the pod
  Running.
- **Pods already running** when a namespace or pod is labelled (or when the agent starts: its informers'
  initial list) are captured by the agent's informer (nodeagent/informers.go reconcilePod): in-pod mode needs no
  restart.
- **The annotation** ``ambient.istio.io/redirection`` (cni/pkg/util/podutil.go, a merge patch of ``pods/status``):
  ``enabled`` once redirection is in place and the node's ztunnel has the pod (meshdataplane_linux.go
  AddPodToMesh); ``pending`` while the node has no ztunnel to take it (the agent annotates the partial state and
  retries until ``enabled``). When a pod no longer matches (a label removed, ``none`` added, the namespace
  unlabelled) or has ended (Succeeded, Failed), the annotation is **removed** (RemovePodFromMesh, AnnotateUnenrollPod):
  there is no "disabled" value.

Differences that stay: upstream's CNI plugin fails the pod's sandbox (the pod waits in ContainerCreating) when the
agent or ztunnel cannot take it; here such a pod starts, ``pending`` (or not annotated, with no agent), and is
captured as soon as they run. Without a running agent on its node, nothing changes a pod's annotation, as on a
node whose agent is down.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import yaml

from ...apiserver import WriteOptions
from ...errors import ApiError
from ...store import Event
from ...validation import selector_matches
from .. import Controller, Key
from . import names, nodes

if TYPE_CHECKING:
    from ...instance import Sandbox

Pod = dict[str, Any]
FIELD_MANAGER = "install-cni"
DEFAULT_SELECTORS = [
    {"podSelector": {"matchLabels": {names.DATAPLANE_MODE: names.DATAPLANE_MODE_AMBIENT}}},
    {"podSelector": {"matchExpressions": [{"key": names.DATAPLANE_MODE, "operator": "NotIn",
                                           "values": [names.DATAPLANE_MODE_NONE]}]},
     "namespaceSelector": {"matchLabels": {names.DATAPLANE_MODE: names.DATAPLANE_MODE_AMBIENT}}},
]
"""manifests/charts/istio-cni/values.yaml ambient.enablementSelectors (read from the ConfigMap when it exists)."""


def controller(sb: Sandbox) -> Controller:
    return Controller("istio-cni-node", reconcile, {
        "pods": _on_pod,
        "namespaces": _on_namespace,
        "configmaps": _on_config,
    })


def _on_pod(sb: Sandbox, event: Event) -> Iterable[Key]:
    meta = event.obj["metadata"]
    keys = [(meta.get("namespace", ""), meta["name"])]
    if meta.get("namespace") == names.ISTIO_NAMESPACE and any(
            nodes.repository(c.get("image", "")) in (nodes.INSTALL_CNI, nodes.ZTUNNEL)
            for c in (event.obj.get("spec") or {}).get("containers") or []):
        node = (event.obj.get("spec") or {}).get("nodeName")  # an agent or ztunnel came or went: its node's pods
        keys += [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in sb.store.list("pods")
                 if node and (p.get("spec") or {}).get("nodeName") == node]
    return keys


def _on_namespace(sb: Sandbox, event: Event) -> Iterable[Key]:
    """enqueueNamespace: a namespace whose enrolment changed (or a new one) brings its pods."""
    name = event.obj["metadata"]["name"]
    if event.type == "MODIFIED" and event.old is not None:
        selectors = enablement_selectors(sb)
        if _namespace_matches(selectors, event.old) == _namespace_matches(selectors, event.obj):
            return []
        _log_namespace(sb, name, _namespace_matches(selectors, event.obj))
    return [(name, p["metadata"]["name"]) for p in sb.store.list("pods", name)]


def _on_config(sb: Sandbox, event: Event) -> Iterable[Key]:
    meta = event.obj["metadata"]
    if meta["name"] != names.ISTIO_CNI_CONFIG or meta.get("namespace") != names.ISTIO_NAMESPACE:
        return []
    return [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in sb.store.list("pods")]


# -- the enablement selectors --------------------------------------------------------------------------------------


def _config(sb: Sandbox) -> dict[str, str]:
    cm = sb.store.get("configmaps", names.ISTIO_NAMESPACE, names.ISTIO_CNI_CONFIG) or {}
    return cm.get("data") or {}


def enablement_selectors(sb: Sandbox) -> list[dict[str, Any]]:
    """AMBIENT_ENABLEMENT_SELECTOR from the istio-cni ConfigMap (the chart's default without one)."""
    raw = _config(sb).get("AMBIENT_ENABLEMENT_SELECTOR")
    if not raw or not isinstance(raw, str):
        return DEFAULT_SELECTORS
    return _parse_selectors(raw)


@functools.lru_cache(maxsize=8)
def _parse_selectors(raw: str) -> list[dict[str, Any]]:
    """The YAML text parsed once per text, not once per pod (a pure function of it; callers only read it)."""
    try:
        parsed = yaml.safe_load(raw)
    except yaml.YAMLError:
        return DEFAULT_SELECTORS
    return parsed if isinstance(parsed, list) else DEFAULT_SELECTORS


def excluded_namespaces(sb: Sandbox) -> set[str]:
    """EXCLUDE_NAMESPACES (util.SplitExcludeNamespaces)."""
    raw = _config(sb).get("EXCLUDE_NAMESPACES", "kube-system")
    return {ns.strip() for ns in raw.split(",") if ns.strip()}


def _matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """metav1.LabelSelectorAsSelector, where an empty (or absent) selector means everything (labels.Everything,
    NewCompiledEnablementSelectors)."""
    if not selector:
        return True
    return bool(selector_matches(selector, labels))


def _namespace_matches(selectors: list[dict[str, Any]], ns: dict[str, Any] | None) -> bool:
    """MatchesNamespace: a non-empty namespaceSelector that matches."""
    labels = ((ns or {}).get("metadata") or {}).get("labels") or {}
    return any(s.get("namespaceSelector") and _matches(s["namespaceSelector"], labels) for s in selectors)


def should_capture(sb: Sandbox, pod: Pod) -> bool:
    """enablementSelector.Matches and not in an excluded namespace: the pod is meant to be in the ambient mesh."""
    if (pod.get("spec") or {}).get("hostNetwork"):
        return False
    meta = pod["metadata"]
    if names.SIDECAR_STATUS in (meta.get("annotations") or {}):
        return False
    if meta.get("namespace") in excluded_namespaces(sb):
        return False
    ns = sb.store.get("namespaces", "", meta.get("namespace", "")) or {}
    ns_labels = (ns.get("metadata") or {}).get("labels") or {}
    labels = meta.get("labels") or {}
    return any(_matches(s.get("podSelector"), labels) and _matches(s.get("namespaceSelector"), ns_labels)
               for s in enablement_selectors(sb))


def _is_ztunnel(pod: Pod) -> bool:
    """util.IsZtunnelPod: the system namespace's pods labelled app=ztunnel."""
    return pod["metadata"].get("namespace") == names.ISTIO_NAMESPACE and \
        (pod["metadata"].get("labels") or {}).get("app") == "ztunnel"


def redirection(pod: Pod) -> str | None:
    """The pod's ``ambient.istio.io/redirection`` annotation (``enabled``, ``pending``), or None."""
    return (pod["metadata"].get("annotations") or {}).get(names.AMBIENT_REDIRECTION)


# -- the CNI plugin: pods captured as their sandbox is made ---------------------------------------------------------


def on_pod_sandbox(sb: Sandbox, pod: Pod) -> None:
    """The istio-cni plugin in the node's CNI chain, at the kubelet's pod sandbox creation (``pod`` is the object
    the kubelet is about to write as started, with its IP): an ambient pod is annotated before it runs."""
    node = (pod.get("spec") or {}).get("nodeName", "")
    if not node or nodes.cni_agent_for_node(sb, node) is None or _is_ztunnel(pod) or not should_capture(sb, pod):
        return
    value = names.REDIRECTION_ENABLED if nodes.ztunnel_for_node(sb, node) else names.REDIRECTION_PENDING
    pod["metadata"].setdefault("annotations", {})[names.AMBIENT_REDIRECTION] = value
    _log(sb, node, "adding pod to the mesh", pod)


# -- the agent's informer: pods whose enrolment changes ---------------------------------------------------------------


def reconcile(sb: Sandbox, key: Key) -> float | None:
    pod = sb.store.get("pods", *key)
    if pod is None:
        return None
    node = (pod.get("spec") or {}).get("nodeName")
    if not node or _is_ztunnel(pod) or nodes.cni_agent_for_node(sb, node) is None:
        return None  # no agent runs on the pod's node (or it is not scheduled yet)
    current = redirection(pod)
    enrolled, partial = current == names.REDIRECTION_ENABLED, current == names.REDIRECTION_PENDING
    should = should_capture(sb, pod)
    terminated = (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
    if (enrolled or partial) and terminated:
        _annotate(sb, pod, None)
        _log(sb, node, "removing pod from mesh", pod, deleted="true")
        return None
    if terminated or (enrolled == should and not partial):
        return None  # no change needed
    if not should:
        _annotate(sb, pod, None)
        _log(sb, node, "removing pod from mesh", pod, deleted="false")
        return None
    if not (pod.get("status") or {}).get("podIP"):
        return None  # no IP yet: the CNI plugin will add it when the sandbox is made
    if nodes.ztunnel_for_node(sb, node) is None:
        if not partial:
            _annotate(sb, pod, names.REDIRECTION_PENDING)
        return None  # retried when a ztunnel starts on the node (_on_pod)
    if not partial:
        _log(sb, node, "adding pod to the mesh", pod)
    _annotate(sb, pod, names.REDIRECTION_ENABLED)
    return None


def _annotate(sb: Sandbox, pod: Pod, value: str | None) -> None:
    """The agent's merge patch of pods/status (podutil.go): the annotation set, or removed (null)."""
    rt = sb.registry.lookup("", "v1", "pods")
    assert rt is not None
    meta = pod["metadata"]
    try:
        sb.api.patch(rt, meta["namespace"], meta["name"], "merge",
                     {"metadata": {"annotations": {names.AMBIENT_REDIRECTION: value}}},
                     WriteOptions(field_manager=FIELD_MANAGER), subresource="status")
    except ApiError as exc:
        if exc.code not in (404, 409):
            raise


def _log(sb: Sandbox, node: str, message: str, pod: Pod, **labels: str) -> None:
    """A line in the node's agent log, in Istio's format with the ``cni-agent`` scope and the pod's labels."""
    agent = nodes.cni_agent_for_node(sb, node)
    if agent is None:
        return
    container = nodes.runs(agent, nodes.INSTALL_CNI)
    fields = " ".join(f"{k}={v}" for k, v in (("ns", pod["metadata"].get("namespace", "")),
                                                ("name", pod["metadata"]["name"]), *labels.items()))
    stamp = sb.clock.now().strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    sb.dataplane.logs.append(agent["metadata"]["uid"], container or "install-cni",
                             f"{stamp}\tinfo\tcni-agent\t{message}\t{fields}")


def _log_namespace(sb: Sandbox, namespace: str, enabled: bool) -> None:
    """enqueueNamespace's line in every agent's log."""
    stamp = sb.clock.now().strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    state = "enabled in" if enabled else "disabled from"
    for agent in sb.store.list("pods", names.ISTIO_NAMESPACE):
        container = nodes.runs(agent, nodes.INSTALL_CNI)
        if container:
            sb.dataplane.logs.append(agent["metadata"]["uid"], container,
                                     f"{stamp}\tinfo\tcni-agent\tNamespace {namespace} is {state} ambient mesh")
