"""karmada-controller-manager's resource detector and namespace sync controller.

The detector (pkg/detector/detector.go) watches every resource template on the karmada-apiserver outside the
reserved namespaces (``karmada-*``, ``kube-*``) and finds the policy that claims it: the PropagationPolicies of its
namespace first, then the ClusterPropagationPolicies, each kind choosing the highest ``spec.priority``, then the
closest selector (a name beats a label selector beats a bare kind: selector.go ResourceSelectorPriority), then the
smaller name (getHighestPriorityPropagationPolicy). A claimed template gets the policy's permanent-id label and
name annotations (ClaimPolicyForObject), and a ResourceBinding ``<name>-<kind>`` in its namespace
(BuildResourceBinding): owned by the template, the policy's placement copied in, the replicas read from the
template (the default interpreter's GetReplicas: a Deployment's ``spec.replicas``). A template no policy selects is
left alone; when its policy goes, the claim labels are removed and the binding stays (as upstream, the member
copies stay too).

The namespace sync controller (pkg/controllers/namespace/namespace_sync_controller.go) puts every namespace but
``default`` and the reserved ones on every member, unless it is labelled
``namespace.karmada.io/skip-auto-propagation: "true"``: a Work per cluster, owned by the namespace.

Not emulated (karmada-webhook's emulation warns when such a policy is applied): ClusterPropagationPolicies for
cluster-scoped resources (ClusterResourceBindings are not served).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..apiserver import WriteOptions
from ..controllers import ANY_RESOURCE, Controller, Key
from ..registry import ResourceType
from ..selectors import match_label_selector
from ..store import Event
from . import works
from .webhook import CPP_FINALIZER, CPP_ID_LABEL, PP_FINALIZER, PP_ID_LABEL

if TYPE_CHECKING:
    from ..instance import Sandbox

Obj = dict[str, Any]
MANAGER = "karmada-controller-manager"
COMPONENT = "resource-detector"
POLICY_GROUP = "policy.karmada.io"
KARMADA_GROUPS = frozenset({POLICY_GROUP, "work.karmada.io", "cluster.karmada.io", "config.karmada.io",
                            "apiextensions.k8s.io", "apiregistration.k8s.io"})
NOT_TEMPLATES = frozenset({"events", "events.events.k8s.io", "endpoints", "endpointslices.discovery.k8s.io",
                           "leases.coordination.k8s.io"})
PP, CPP = "propagationpolicies.policy.karmada.io", "clusterpropagationpolicies.policy.karmada.io"
RB = "resourcebindings.work.karmada.io"
PP_NAME, PP_NAMESPACE = "propagationpolicy.karmada.io/name", "propagationpolicy.karmada.io/namespace"
CPP_NAME = "clusterpropagationpolicy.karmada.io/name"
RB_ID_LABEL = "resourcebinding.karmada.io/permanent-id"
BINDING_FINALIZER = "karmada.io/binding-controller"
SKIP_AUTO_PROPAGATION = "namespace.karmada.io/skip-auto-propagation"
MATCH_ALL, MATCH_LABELS, MATCH_NAME = 1, 2, 3


def reserved(namespace: str) -> bool:
    """names.IsReservedNamespace plus the default ``--skipped-propagating-namespaces=kube-.*``."""
    return namespace.startswith("karmada-") or namespace.startswith("kube-")


def template_types(sb: Sandbox) -> list[ResourceType]:
    """The namespaced kinds the detector watches (not Karmada's own, not events, endpoints or leases)."""
    return [rt for rt in sb.registry.types
            if rt.namespaced and rt.group not in KARMADA_GROUPS and rt.group_resource not in NOT_TEMPLATES
            and "create" in rt.verbs]


def template_key(rt: ResourceType, ns: str, name: str) -> Key:
    return ns, f"{rt.group_resource}/{name}"


def selector_priority(obj: Obj, selector: Obj) -> int:
    """util.ResourceSelectorPriority: 0 for no match."""
    meta = obj.get("metadata") or {}
    if obj.get("apiVersion") != selector.get("apiVersion") or obj.get("kind") != selector.get("kind"):
        return 0
    if selector.get("namespace") and meta.get("namespace", "") != selector["namespace"]:
        return 0
    if selector.get("name"):
        return MATCH_NAME if selector["name"] == meta.get("name") else 0
    if selector.get("labelSelector") is None:
        return MATCH_ALL
    return MATCH_LABELS if match_label_selector(selector["labelSelector"], meta.get("labels") or {}) else 0


def best_policy(obj: Obj, policies: Iterable[Obj]) -> Obj | None:
    """getHighestPriorityPropagationPolicy: explicit priority, then implicit, then the smaller name."""
    best: Obj | None = None
    best_key: tuple[int, int] | None = None
    for policy in policies:
        if policy["metadata"].get("deletionTimestamp"):
            continue
        implicit = max((selector_priority(obj, s) for s in (policy.get("spec") or {}).get("resourceSelectors") or []),
                       default=0)
        if implicit == 0:
            continue
        key = (int((policy.get("spec") or {}).get("priority") or 0), implicit)
        if best is None or best_key is None or key > best_key or \
                (key == best_key and policy["metadata"]["name"] < best["metadata"]["name"]):
            best, best_key = policy, key
    return best


def _policy_events(sb: Sandbox, event: Event) -> Iterable[Key]:
    """A policy changed: every template its selectors match now or matched before, and every template it claims."""
    out: list[Key] = []
    cluster_wide = event.resource == CPP
    for policy in (event.obj, event.old):
        if not policy:
            continue
        ns = None if cluster_wide else policy["metadata"].get("namespace", "")
        selectors = (policy.get("spec") or {}).get("resourceSelectors") or []
        kinds = {(s.get("apiVersion"), s.get("kind")) for s in selectors}
        for rt in template_types(sb):
            if (rt.api_version, rt.kind) not in kinds:
                continue
            for obj in sb.store.list(rt.group_resource, ns):
                out.append(template_key(rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]))
    if event.obj is not None and event.type != "DELETED":
        out.append(("policy", f"{event.resource}/{event.obj['metadata'].get('namespace', '')}/"
                              f"{event.obj['metadata']['name']}"))
    return out


def _template_events(sb: Sandbox, event: Event) -> Iterable[Key]:
    if event.resource in (PP, CPP):
        return _policy_events(sb, event)
    meta = event.obj["metadata"]
    ns = meta.get("namespace", "")
    if not ns or reserved(ns):
        return []
    rt = next((t for t in template_types(sb) if t.group_resource == event.resource), None)
    if rt is None:
        return []
    return [template_key(rt, ns, meta["name"])]


def reconcile(sb: Sandbox, key: Key) -> float | None:
    if key[0] == "policy":
        return _reconcile_policy(sb, key[1])
    ns, ref = key
    group_resource, _, name = ref.partition("/")
    rt = next((t for t in template_types(sb) if t.group_resource == group_resource), None)
    obj = sb.store.get(group_resource, ns, name) if rt is not None else None
    if rt is None or obj is None or obj["metadata"].get("deletionTimestamp"):
        return None  # the binding goes with its owner (the garbage collector)
    obj = sb.api.view(rt, obj)
    policy = best_policy(obj, sb.store.list(PP, ns))
    cluster_wide = policy is None
    if policy is None:
        policy = best_policy(obj, sb.store.list(CPP))
    if policy is None:
        _unclaim(sb, rt, obj)
        return None
    obj = _claim(sb, rt, obj, policy, cluster_wide)
    _ensure_binding(sb, rt, obj, policy, cluster_wide)
    return None


def _claim(sb: Sandbox, rt: ResourceType, obj: Obj, policy: Obj, cluster_wide: bool) -> Obj:
    """ClaimPolicyForObject / ClaimClusterPolicyForObject: the policy's id label and name annotations."""
    pmeta = policy["metadata"]
    labels, annotations = (pmeta.get("labels") or {}), {}
    want_labels: dict[str, str | None]
    if cluster_wide:
        want_labels = {CPP_ID_LABEL: labels.get(CPP_ID_LABEL, ""), PP_ID_LABEL: None}
        annotations = {CPP_NAME: pmeta["name"], PP_NAME: None, PP_NAMESPACE: None}
    else:
        want_labels = {PP_ID_LABEL: labels.get(PP_ID_LABEL, ""), CPP_ID_LABEL: None}
        annotations = {PP_NAME: pmeta["name"], PP_NAMESPACE: pmeta.get("namespace", ""), CPP_NAME: None}
    return _set_meta(sb, rt, obj, want_labels, annotations)


def _unclaim(sb: Sandbox, rt: ResourceType, obj: Obj) -> None:
    """CleanupResourceTemplateClaimMetadata: no policy selects the template any more."""
    _set_meta(sb, rt, obj, {PP_ID_LABEL: None, CPP_ID_LABEL: None},
              {PP_NAME: None, PP_NAMESPACE: None, CPP_NAME: None})


def _set_meta(sb: Sandbox, rt: ResourceType, obj: Obj, labels: dict[str, str | None],
              annotations: dict[str, str | None]) -> Obj:
    updated = copy.deepcopy(obj)
    meta = updated["metadata"]
    for field, want in (("labels", labels), ("annotations", annotations)):
        have = dict(meta.get(field) or {})
        for k, v in want.items():
            if v is None:
                have.pop(k, None)
            else:
                have[k] = v
        if have:
            meta[field] = have
        else:
            meta.pop(field, None)
    if updated == obj:
        return obj
    return sb.api.update(rt, meta.get("namespace", ""), meta["name"], updated, WriteOptions(field_manager=MANAGER))


def replicas_of(obj: Obj) -> int:
    """The default interpreter's GetReplicas (pkg/resourceinterpreter/default/native/replica.go): Deployments,
    StatefulSets and ReplicaSets their ``spec.replicas`` (1 when unset), Jobs their parallelism; others none."""
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        value = spec.get("replicas")
        return 1 if value is None else int(value)
    if kind == "Job":
        value = spec.get("parallelism")
        return 1 if value is None else int(value)
    return 0


def _ensure_binding(sb: Sandbox, rt: ResourceType, obj: Obj, policy: Obj, cluster_wide: bool) -> None:
    from . import division

    rb_rt = sb.registry.lookup("work.karmada.io", "v1alpha2", "resourcebindings")
    assert rb_rt is not None
    meta = obj["metadata"]
    ns, name = meta.get("namespace", ""), division.binding_name(obj["kind"], meta["name"])
    pspec, pmeta = policy.get("spec") or {}, policy["metadata"]
    id_label = CPP_ID_LABEL if cluster_wide else PP_ID_LABEL
    labels = {id_label: (pmeta.get("labels") or {}).get(id_label, "")}
    annotations = {CPP_NAME: pmeta["name"]} if cluster_wide else \
        {PP_NAME: pmeta["name"], PP_NAMESPACE: pmeta.get("namespace", "")}
    spec: Obj = {"resource": {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "namespace": ns,
                              "name": meta["name"], "uid": meta["uid"],
                              "resourceVersion": meta["resourceVersion"]},
                 "placement": copy.deepcopy(pspec.get("placement") or {}),
                 "conflictResolution": pspec.get("conflictResolution") or "Abort"}
    for field in ("propagateDeps", "schedulerName", "failover", "preserveResourcesOnDeletion"):
        if pspec.get(field) is not None:
            spec[field] = copy.deepcopy(pspec[field])
    replicas = replicas_of(obj)
    if replicas:
        spec["replicas"] = replicas
    existing = sb.store.get(RB, ns, name)
    opts = WriteOptions(field_manager=MANAGER)
    if existing is None:
        body = {"apiVersion": "work.karmada.io/v1alpha2", "kind": "ResourceBinding",
                "metadata": {"name": name, "namespace": ns, "finalizers": [BINDING_FINALIZER],
                             "labels": {**labels, RB_ID_LABEL: sb.api.new_uid()}, "annotations": annotations,
                             "ownerReferences": [{"apiVersion": obj["apiVersion"], "kind": obj["kind"],
                                                  "name": meta["name"], "uid": meta["uid"], "controller": True,
                                                  "blockOwnerDeletion": True}]},
                "spec": spec}
        sb.api.create(rb_rt, ns, body, opts)
        return
    if existing["metadata"].get("deletionTimestamp"):
        return
    updated = copy.deepcopy(existing)
    um = updated["metadata"]
    um["labels"] = {k: v for k, v in (um.get("labels") or {}).items() if k not in (PP_ID_LABEL, CPP_ID_LABEL)}
    um["labels"].update(labels)
    um["annotations"] = {k: v for k, v in (um.get("annotations") or {}).items()
                         if k not in (PP_NAME, PP_NAMESPACE, CPP_NAME)}
    um["annotations"].update(annotations)
    kept = {k: v for k, v in (existing.get("spec") or {}).items() if k in ("clusters", "rescheduleTriggeredAt")}
    updated["spec"] = {**spec, **kept}
    if updated != existing:
        sb.api.update(rb_rt, ns, name, updated, opts)


def _reconcile_policy(sb: Sandbox, ref: str) -> float | None:
    """A policy being deleted: its templates and bindings lose the claim (HandlePropagationPolicyDeletion), then
    its finalizer goes."""
    resource, ns, name = ref.split("/", 2)
    policy = sb.store.get(resource, ns, name)
    if policy is None or not policy["metadata"].get("deletionTimestamp"):
        return None
    cluster_wide = resource == CPP
    id_label = CPP_ID_LABEL if cluster_wide else PP_ID_LABEL
    policy_id = (policy["metadata"].get("labels") or {}).get(id_label)
    for rt in template_types(sb):
        for obj in sb.store.list(rt.group_resource, None if cluster_wide else ns):
            if policy_id and (obj["metadata"].get("labels") or {}).get(id_label) == policy_id:
                _unclaim(sb, rt, sb.api.view(rt, obj))
    rb_rt = sb.registry.lookup("work.karmada.io", "v1alpha2", "resourcebindings")
    assert rb_rt is not None
    for rb in sb.store.list(RB, None if cluster_wide else ns):
        if policy_id and (rb["metadata"].get("labels") or {}).get(id_label) == policy_id:
            _set_meta(sb, rb_rt, rb, {id_label: None}, {PP_NAME: None, PP_NAMESPACE: None, CPP_NAME: None})
    finalizer = CPP_FINALIZER if cluster_wide else PP_FINALIZER
    rt = sb.registry.lookup(POLICY_GROUP, "v1alpha1", resource.split(".")[0])
    assert rt is not None
    updated = copy.deepcopy(policy)
    updated["metadata"]["finalizers"] = [f for f in policy["metadata"].get("finalizers") or [] if f != finalizer]
    sb.api.update(rt, ns, name, updated, WriteOptions(field_manager=MANAGER))  # its DELETED event re-runs the
    return None  # templates it selected, which another policy may claim now


# -- namespaces ------------------------------------------------------------------------------------------------

def namespace_synced(namespace: str) -> bool:
    """namespaceShouldBeSynced: not default, not reserved."""
    return namespace != "default" and not reserved(namespace)


def reconcile_namespace(sb: Sandbox, key: Key) -> float | None:
    name = key[1]
    if not namespace_synced(name):
        return None
    ns = sb.store.get("namespaces", "", name)
    if ns is None or ns["metadata"].get("deletionTimestamp"):
        return None  # its Works go with it (they are owned by it)
    if str((ns["metadata"].get("labels") or {}).get(SKIP_AUTO_PROPAGATION, "")).lower() == "true":
        return None
    ns = {"apiVersion": "v1", "kind": "Namespace", **{k: v for k, v in ns.items() if k not in ("apiVersion", "kind")}}
    for cluster in sb.store.list("clusters.cluster.karmada.io"):
        if cluster["metadata"].get("deletionTimestamp"):
            continue
        works.ensure(sb, cluster["metadata"]["name"], ns, ns["metadata"]["uid"], {}, {}, owner=ns)
    return None


def _namespace_events(sb: Sandbox, event: Event) -> Iterable[Key]:
    if event.resource == "namespaces":
        return [("", event.obj["metadata"]["name"])]
    return [("", ns["metadata"]["name"]) for ns in sb.store.list("namespaces")]  # a cluster joined


def controllers(sb: Sandbox) -> list[Controller]:
    return [Controller("karmada-resource-detector", reconcile, {ANY_RESOURCE: _template_events,
                                                                 PP: _template_events, CPP: _template_events}),
            Controller("karmada-namespace-sync", reconcile_namespace,
                       {"namespaces": _namespace_events, "clusters.cluster.karmada.io": _namespace_events})]

