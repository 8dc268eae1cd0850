"""Per-kind write strategies, as kube-apiserver's registry strategies do them.

What differs between kinds on the write path lives here as small named
hooks: which kinds track ``metadata.generation``, how status is reset on
create and protected on update, Service address allocation, pod graceful
deletion and namespace termination.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import crds, errors, ipam
from .certificates import admission as csr_admission
from .certificates import csr as csrs
from .certificates import strategy as csr_strategy
from .certificates import validation as csr_validation
from .errors import Cause
from .jsoncopy import clone
from .randomness import Randomness
from .registry import ResourceType

if TYPE_CHECKING:
    from .apiserver import Api
    from .auth.rbac import Authorizer

Obj = dict[str, Any]

BUILTIN_GROUPS = {"", "apps", "batch", "discovery.k8s.io", "networking.k8s.io", "coordination.k8s.io",
                  "apiextensions.k8s.io", "rbac.authorization.k8s.io", "authorization.k8s.io",
                  "authentication.k8s.io", csrs.GROUP}
GENERATION_KINDS = {"Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "Job", "CronJob", "Ingress", "IngressClass", "NetworkPolicy",
                    "EndpointSlice", "CustomResourceDefinition"}
STATUS_KINDS = {"Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "Job", "CronJob", "Service", "Ingress", "Pod", "Namespace", "Node"}
CREATE_ON_UPDATE_KINDS = {"Endpoints"}
TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"
"""apps/v1 carries a DaemonSet's spec.templateGeneration in this annotation (pkg/apis/apps/v1 conversion)."""

NODE_PORT_RANGE = (30000, 32767)


@dataclass
class Allocators:
    """Address and port pools shared by strategies and controllers."""

    randomness: Randomness
    service_cidr: str
    """The cluster's Service range (kube-apiserver's --service-cluster-ip-range: the sandbox's shape)."""
    service_ips: ipam.IPAllocator = field(init=False)
    node_ports: ipam.RangeAllocator = field(init=False)
    pod_ips: dict[str, ipam.SequentialIPAllocator] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.service_ips = ipam.IPAllocator(self.service_cidr, self.randomness.stream("service-ips"))
        self.node_ports = ipam.RangeAllocator(*NODE_PORT_RANGE, self.randomness.stream("node-ports"))


def _is(rt: ResourceType, group: str, kind: str) -> bool:
    return rt.group == group and rt.kind == kind


# -- create / update ------------------------------------------------------------------


def prepare_create(api: Api, rt: ResourceType, obj: Obj, user: Any = None) -> None:
    """Reset status and allocate what the apiserver allocates at create time (``user``: who creates, an
    auth.users.UserInfo, or None for the sandbox itself)."""
    if rt.kind in STATUS_KINDS and rt.group in BUILTIN_GROUPS:
        obj["status"] = initial_status(rt, obj)
    if _is(rt, "", "Service"):
        allocate_service(api, obj, None)
    if _is(rt, "batch", "Job"):
        generate_job_selector(obj)
    if _is(rt, "apps", "DaemonSet"):  # daemonset strategy.go PrepareForCreate: TemplateGeneration at least 1
        annotations = obj["metadata"].get("annotations") or {}
        if _template_generation(obj) < 1:
            annotations[TEMPLATE_GENERATION] = "1"
        obj["metadata"]["annotations"] = annotations
    if _is(rt, "networking.k8s.io", "Ingress"):  # the DefaultIngressClass admission plugin
        from .dataplane.ingress.admission import default_ingress_class

        default_ingress_class(api.store, obj)
    if _is(rt, crds.GROUP, "CustomResourceDefinition"):
        crds.prepare_create(obj)
    if _is(rt, csrs.GROUP, csrs.KIND):
        csr_strategy.prepare_create(obj, user)
    sv = api.custom(rt)
    if sv is not None and sv.status:  # customresource strategy.go PrepareForCreate: status is the /status's
        obj.pop("status", None)


def sandbox_warnings(rt: ResourceType, subresource: str) -> list[str]:
    """Warnings for writes the sandbox stores faithfully but whose effect it cannot produce (named, never silent)."""
    from ..traefik_config import DIRECT_DIAL_KINDS, direct_dial_warning

    if not subresource and (rt.group, rt.kind) in DIRECT_DIAL_KINDS:
        return [direct_dial_warning(rt.group, rt.kind)]
    return []


def generate_job_selector(job: Obj) -> None:
    """pkg/registry/batch/job/strategy.go generateSelector: unless ``manualSelector``, the Job selects its pods
    by its own uid, and its template carries the labels (the ``batch.kubernetes.io/`` ones and the legacy
    unprefixed pair)."""
    spec = job.setdefault("spec", {})
    if spec.get("manualSelector"):
        return
    uid, name = job["metadata"]["uid"], job["metadata"]["name"]
    meta = spec.setdefault("template", {}).setdefault("metadata", {})
    labels = meta.get("labels") or {}
    labels.update({"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
                   "controller-uid": uid, "job-name": name})
    meta["labels"] = labels
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}


def initial_status(rt: ResourceType, obj: Obj) -> Obj:
    if rt.kind == "Pod":
        return {"phase": "Pending", "qosClass": qos_class(obj)}
    if rt.kind == "Namespace":
        return {"phase": "Active"}
    if rt.kind in ("Service", "Ingress"):
        return {"loadBalancer": {}}
    if rt.kind == "Node":
        return obj.get("status") or {}
    if rt.kind == "DaemonSet":  # the four counts DaemonSetStatus serializes without omitempty
        return {"currentNumberScheduled": 0, "desiredNumberScheduled": 0, "numberMisscheduled": 0, "numberReady": 0}
    if rt.kind == "StatefulSet":
        return {"availableReplicas": 0, "replicas": 0}
    return {}


def _template_generation(ds: Obj) -> int:
    try:
        return int((ds["metadata"].get("annotations") or {}).get(TEMPLATE_GENERATION, "0"))
    except ValueError:
        return 0


def qos_class(pod: Obj) -> str:
    """Pod QoS class from requests and limits (pkg/apis/core/helper/qos)."""
    containers = (pod.get("spec") or {}).get("containers") or []
    resources = [c.get("resources") or {} for c in containers]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    guaranteed = all(
        r.get("limits", {}).get(k) and r.get("requests", {}).get(k, r["limits"][k]) == r["limits"][k]
        for r in resources for k in ("cpu", "memory"))
    return "Guaranteed" if guaranteed else "Burstable"


def prepare_update(api: Api, rt: ResourceType, obj: Obj, old: Obj, subresource: str = "") -> None:
    if _is(rt, csrs.GROUP, csrs.KIND):
        csr_strategy.prepare_update(obj, old, subresource, api.now())
    if _is(rt, crds.GROUP, "CustomResourceDefinition"):
        crds.prepare_update(obj, old)
    if _is(rt, "", "Service"):
        drop_type_dependent_fields(obj, old)
        allocate_service(api, obj, old)
    if _is(rt, "apps", "DaemonSet"):
        keep_template_generation(obj, old)


def keep_template_generation(ds: Obj, old: Obj) -> None:
    """daemonset strategy.go PrepareForUpdate: a write cannot set TemplateGeneration; a changed template
    increments it (the annotation holds it in apps/v1)."""
    generation = _template_generation(old) + ((ds.get("spec") or {}).get("template") !=
                                              (old.get("spec") or {}).get("template"))
    annotations = ds["metadata"].get("annotations") or {}
    if generation:
        annotations[TEMPLATE_GENERATION] = str(generation)
    else:
        annotations.pop(TEMPLATE_GENERATION, None)
    if annotations:
        ds["metadata"]["annotations"] = annotations
    else:
        ds["metadata"].pop("annotations", None)


def drop_type_dependent_fields(svc: Obj, old: Obj) -> None:
    """A type change wipes the fields the old type needed (pkg/registry/core/service/storage dropTypeDependentFields)."""
    spec, old_spec = svc.setdefault("spec", {}), old.get("spec") or {}
    new_type, old_type = spec.get("type", "ClusterIP"), old_spec.get("type", "ClusterIP")
    if new_type == old_type:
        return
    if new_type not in ("NodePort", "LoadBalancer"):
        if spec.get("externalTrafficPolicy") == old_spec.get("externalTrafficPolicy"):
            spec.pop("externalTrafficPolicy", None)
        for port in spec.get("ports") or []:
            port.pop("nodePort", None)
    if new_type != "LoadBalancer":
        if spec.get("allocateLoadBalancerNodePorts") == old_spec.get("allocateLoadBalancerNodePorts"):
            spec.pop("allocateLoadBalancerNodePorts", None)
        if spec.get("loadBalancerClass") == old_spec.get("loadBalancerClass"):
            spec.pop("loadBalancerClass", None)
        if svc.get("status", {}).get("loadBalancer"):
            svc["status"]["loadBalancer"] = {}


def keep_status(rt: ResourceType, obj: Obj, old: Obj) -> Obj:
    """A write to the main resource cannot change status (kinds with a status subresource)."""
    if rt.kind in STATUS_KINDS and rt.group in BUILTIN_GROUPS or "status" in rt.subresources:
        if "status" in old:
            obj["status"] = clone(old["status"])
        else:
            obj.pop("status", None)
    return obj


def keep_spec(rt: ResourceType, obj: Obj, old: Obj) -> Obj:
    """A write to /status changes only status (and nothing of spec or the object's identity); a Pod's may also
    change its labels and annotations (pkg/registry/core/pod/strategy.go podStatusStrategy.PrepareForUpdate keeps
    only the old spec, deletionTimestamp and ownerReferences), which is how node agents mark pods with the lower
    privilege of pods/status (istio-cni's ``ambient.istio.io/redirection``)."""
    out = clone(old)
    out["status"] = obj.get("status", {})
    if _is(rt, "", "Pod"):
        for key in ("labels", "annotations"):
            if obj["metadata"].get(key):
                out["metadata"][key] = clone(obj["metadata"][key])
            else:
                out["metadata"].pop(key, None)
    out["metadata"]["resourceVersion"] = obj["metadata"].get("resourceVersion", old["metadata"]["resourceVersion"])
    return out


def keep_all_but_ephemeral(obj: Obj, old: Obj) -> Obj:
    """A write to pods/ephemeralcontainers changes only ``spec.ephemeralContainers``."""
    out = clone(old)
    out["spec"]["ephemeralContainers"] = clone((obj.get("spec") or {}).get("ephemeralContainers") or [])
    if not out["spec"]["ephemeralContainers"]:
        out["spec"].pop("ephemeralContainers")
    out["metadata"]["resourceVersion"] = obj["metadata"].get("resourceVersion", old["metadata"]["resourceVersion"])
    return out


def generation_changed(rt: ResourceType, obj: Obj, old: Obj) -> bool:
    """What bumps metadata.generation: spec changes; for a custom resource without a status subresource, any change
    but metadata (customresource strategy.go PrepareForUpdate)."""
    if rt.crd and "status" not in rt.subresources:
        return {k: v for k, v in obj.items() if k != "metadata"} != {k: v for k, v in old.items() if k != "metadata"}
    return spec_changed(obj, old)


def spec_changed(obj: Obj, old: Obj) -> bool:
    """True when anything but metadata and status changed (what bumps metadata.generation)."""
    skip = ("metadata", "status")
    return {k: v for k, v in obj.items() if k not in skip} != {k: v for k, v in old.items() if k not in skip}


def allow_create_on_update(rt: ResourceType) -> bool:
    return rt.kind in CREATE_ON_UPDATE_KINDS


def kind_validator(rt: ResourceType, subresource: str) -> Callable[[Obj, Obj | None], list[Cause]] | None:
    """The validation of kinds whose rules depend on the subresource written (CertificateSigningRequests'
    ``/status`` and ``/approval``); None: the kind's entry in validation.VALIDATORS."""
    if _is(rt, csrs.GROUP, csrs.KIND):
        return lambda obj, old: csr_validation.validate(obj, old, subresource)
    return None


def admit(authorizer: Authorizer, rt: ResourceType, obj: Obj, old: Obj | None, user: Any, subresource: str) -> None:
    """Validating admission that depends on who writes, after validation (the certificates plugins)."""
    if _is(rt, csrs.GROUP, csrs.KIND):
        csr_admission.admit(authorizer, user, obj, old, subresource)


def before_store(api: Api, rt: ResourceType, obj: Obj, old: Obj | None) -> None:
    """Last hook before an object is stored (after validation)."""


# -- delete ---------------------------------------------------------------------------


def grace_period(rt: ResourceType, obj: Obj, requested: int | None) -> int | None:
    """Pods terminate gracefully once scheduled (pkg/registry/core/pod/strategy.go CheckGracefulDelete)."""
    if not _is(rt, "", "Pod"):
        return None
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
        return 0
    if requested is not None:
        return max(requested, 0) if requested > 0 else 0
    return spec.get("terminationGracePeriodSeconds", 30)


def needs_termination(rt: ResourceType, obj: Obj) -> bool:
    """Namespaces always go through Terminating while the namespace controller empties them."""
    return _is(rt, "", "Namespace")


def mark_terminating(rt: ResourceType, obj: Obj) -> None:
    if _is(rt, "", "Namespace"):
        obj.setdefault("status", {})["phase"] = "Terminating"


def deletes_when_finalized(rt: ResourceType) -> bool:
    """Whether removing the last finalizer removes the object (pods wait for the kubelet instead)."""
    return not _is(rt, "", "Pod") and not _is(rt, "", "Namespace")


def release(api: Api, rt: ResourceType, obj: Obj) -> None:
    """Give back what the object held (ClusterIPs, NodePorts)."""
    if _is(rt, "", "Service"):
        spec = obj.get("spec") or {}
        for ip in spec.get("clusterIPs") or []:
            if ip and ip != "None":
                api.allocators.service_ips.release(ip)
        for port in spec.get("ports") or []:
            if port.get("nodePort"):
                api.allocators.node_ports.release(port["nodePort"])


# -- Service allocation (pkg/registry/core/service/storage/alloc.go) -----------------------


def allocate_service(api: Api, svc: Obj, old: Obj | None) -> None:
    """Allocate ClusterIPs and NodePorts, keeping the ones an update leaves out."""
    spec = svc.setdefault("spec", {})
    old_spec = (old or {}).get("spec") or {}
    stype = spec.get("type", "ClusterIP")
    name = svc["metadata"].get("name", "")
    alloc = api.allocators
    if stype == "ExternalName":
        return
    if old is not None and not spec.get("clusterIP") and old_spec.get("clusterIP"):
        spec["clusterIP"], spec["clusterIPs"] = old_spec["clusterIP"], list(old_spec.get("clusterIPs") or [])
    if old is None or old_spec.get("type") == "ExternalName":
        requested = spec.get("clusterIP") or None
        if requested != "None":
            if requested and not alloc.service_ips.contains(requested):
                raise errors.invalid("Service", "", name, [errors.field_error(
                    "Service", f"failed to allocate IP {requested}: the provided IP ({requested}) is not in the "
                    f"valid range. The range of valid IPs is {alloc.service_cidr}", "spec.clusterIPs",
                    [requested])])
            try:
                ip = alloc.service_ips.allocate(requested)
            except ipam.Taken:
                raise errors.invalid("Service", "", name, [errors.field_error(
                    "Service", f"failed to allocate IP {requested}: provided IP is already allocated",
                    "spec.clusterIPs", [requested])]) from None
            spec["clusterIP"], spec["clusterIPs"] = ip, [ip]
        else:
            spec["clusterIPs"] = ["None"]
    if stype in ("NodePort", "LoadBalancer"):
        old_ports = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort") for p in old_spec.get("ports") or []}
        for i, port in enumerate(spec.get("ports") or []):
            if stype == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is False:
                continue
            kept = old_ports.get((port.get("port"), port.get("protocol", "TCP")))
            if not port.get("nodePort") and kept:
                port["nodePort"] = kept
                continue
            if port.get("nodePort") and port["nodePort"] == kept:
                continue
            try:
                port["nodePort"] = alloc.node_ports.allocate(port.get("nodePort"))
            except ipam.Taken:
                raise errors.invalid("Service", "", name, [errors.field_error(
                    "Service", "provided port is already allocated", f"spec.ports[{i}].nodePort",
                    port["nodePort"])]) from None
            except ipam.OutOfRange:
                raise errors.invalid("Service", "", name, [errors.field_error(
                    "Service", f"provided port is not in the valid range. The range of valid ports is "
                    f"{NODE_PORT_RANGE[0]}-{NODE_PORT_RANGE[1]}", f"spec.ports[{i}].nodePort",
                    port["nodePort"])]) from None
    elif old is not None:
        for port in spec.get("ports") or []:
            if port.pop("nodePort", None):
                pass
        for port in old_spec.get("ports") or []:
            if port.get("nodePort"):
                alloc.node_ports.release(port["nodePort"])


def rebuild(api: Api) -> None:
    """Re-mark every stored Service's addresses and ports as used (after a restart)."""
    for svc in api.store.list("services"):
        spec = svc.get("spec") or {}
        for ip in spec.get("clusterIPs") or []:
            if ip and ip != "None" and api.allocators.service_ips.contains(ip):
                api.allocators.service_ips.reserve(ip)
        for port in spec.get("ports") or []:
            if port.get("nodePort"):
                api.allocators.node_ports.used.add(port["nodePort"])
