"""Service endpoints: EndpointSlices, the legacy Endpoints object and LoadBalancer addresses.

Three upstream controllers read the same Service and the pods it selects, so
they share one reconcile per Service key here:

- the EndpointSlice controller: pkg/controller/endpointslice driving the
  reconciler in staging/src/k8s.io/endpointslice (reconciler.go, utils.go,
  util/controller_utils.go, util/trigger_time_tracker.go);
- the Endpoints controller: pkg/controller/endpoint/endpoints_controller.go and
  pkg/api/v1/endpoints/util.go (RepackSubsets);
- the LoadBalancer part of k8s.io/cloud-provider/controllers/service as
  cloud-provider-kind runs it (sigs.k8s.io/cloud-provider-kind
  pkg/loadbalancer/server.go): one address on kind's docker network per
  LoadBalancer Service.

Every write happens only when the desired object differs from the stored one,
so a pod event that changes nothing a Service shows leaves its objects alone.
See https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/ .
"""

from __future__ import annotations

import copy
import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..apiserver import DeleteOptions, WriteOptions
from ..errors import ApiError
from ..store import Event
from . import Controller, Key, same_key
from .events import record
from .replicasets import is_ready

if TYPE_CHECKING:
    from ..instance import Sandbox

Obj = dict[str, Any]

MANAGER = "kube-controller-manager"
SLICES = "endpointslices.discovery.k8s.io"
SLICE_CONTROLLER = "endpointslice-controller.k8s.io"
LABEL_SERVICE_NAME = "kubernetes.io/service-name"
LABEL_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
LABEL_HEADLESS = "service.kubernetes.io/headless"
TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
MAX_ENDPOINTS_PER_SLICE = 100
"""kube-controller-manager's --max-endpoints-per-slice default."""

LB_MANAGER = "cloud-provider-kind"
LB_COMPONENT = "service-controller"
LB_FINALIZER = "service.kubernetes.io/load-balancer-cleanup"
LB_NETWORK = ipaddress.ip_network("172.18.0.0/16")
"""kind's docker network, shared by every cluster of the set; load balancer containers take the addresses after the
cluster's nodes (``sb.shape.load_balancer_first``: 172.18.0.5 for the default cluster, whose nodes hold .2-.4)."""


# -- selection -----------------------------------------------------------------------


def selector(svc: Obj) -> dict[str, str] | None:
    """The Service's selector, or None: an empty selector is nil once stored, and selects nothing."""
    return (svc.get("spec") or {}).get("selector") or None


def selects(sel: dict[str, str], labels: dict[str, str] | None) -> bool:
    labels = labels or {}
    return all(labels.get(k) == v for k, v in sel.items())


def services_for_pod(sb: Sandbox, event: Event) -> Iterable[Key]:
    """GetServicesToUpdateOnPodChange: the Services selecting the pod's old or new labels."""
    ns = event.obj["metadata"].get("namespace", "")
    label_sets = [(o.get("metadata") or {}).get("labels") for o in (event.obj, event.old) if o]
    out = []
    for svc in sb.store.list("services", ns):
        sel = selector(svc)
        if sel and any(selects(sel, labels) for labels in label_sets):
            out.append((ns, svc["metadata"]["name"]))
    return out


def service_of_slice(sb: Sandbox, event: Event) -> Iterable[Key]:
    """A change to a slice this controller manages (or managed) resyncs its Service, repairing edits."""
    out = []
    for obj in (event.obj, event.old):
        meta = (obj or {}).get("metadata") or {}
        labels = meta.get("labels") or {}
        if labels.get(LABEL_MANAGED_BY) == SLICE_CONTROLLER and labels.get(LABEL_SERVICE_NAME):
            out.append((meta.get("namespace", ""), labels[LABEL_SERVICE_NAME]))
    return out


def endpoints_deleted_or_listed(sb: Sandbox, event: Event) -> Iterable[Key]:
    """onEndpointsDelete, plus checkLeftoverEndpoints on the start-up list (rv 0) to drop orphans.

    Other Endpoints changes are not watched, as upstream: a user may write
    Endpoints before the selectorless Service they belong to.
    """
    if event.type == "DELETED" or event.rv == 0:
        return same_key(sb, event)
    return []


# -- one pod as an endpoint (endpointslice/utils.go, util/controller_utils.go) --------------


def should_be_in_endpoints(pod: Obj, include_terminating: bool) -> bool:
    """ShouldPodBeInEndpoints: not terminal, has an IP, and not terminating unless asked for."""
    status = pod.get("status") or {}
    if status.get("phase") in ("Succeeded", "Failed"):
        return False
    if not status.get("podIP") and not status.get("podIPs"):
        return False
    return include_terminating or not pod["metadata"].get("deletionTimestamp")


def pod_ipv4s(pod: Obj) -> list[str]:
    """getEndpointAddresses for addressType IPv4."""
    status = pod.get("status") or {}
    ips = [p["ip"] for p in status.get("podIPs") or [] if p.get("ip")] or [status.get("podIP", "")]
    return [ip for ip in ips if ip and ipaddress.ip_address(ip).version == 4]


def find_port(pod: Obj, svc_port: Obj) -> int | None:
    """FindPort: a number is used as is; a name is looked up in the pod's container ports (and sidecars)."""
    target = svc_port.get("targetPort", svc_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = svc_port.get("protocol", "TCP")
    spec = pod.get("spec") or {}
    sidecars = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    for container in (spec.get("containers") or []) + sidecars:
        for port in container.get("ports") or []:
            if port.get("name") == target and port.get("protocol", "TCP") == protocol:
                return port["containerPort"]
    return None


def should_set_hostname(pod: Obj, svc: Obj) -> bool:
    """ShouldSetHostname: the pod names this Service as its subdomain (DNS A records per pod)."""
    spec = pod.get("spec") or {}
    return (bool(spec.get("hostname")) and spec.get("subdomain") == svc["metadata"]["name"]
            and pod["metadata"].get("namespace") == svc["metadata"].get("namespace"))


def target_ref(pod: Obj) -> Obj:
    meta = pod["metadata"]
    return {"kind": "Pod", "namespace": meta.get("namespace", ""), "name": meta["name"], "uid": meta.get("uid", "")}


def endpoint_ports(svc: Obj, pod: Obj) -> list[Obj]:
    """getEndpointPorts: one per Service port the pod resolves; a port it cannot resolve is left out."""
    out = []
    for sp in (svc.get("spec") or {}).get("ports") or []:
        number = find_port(pod, sp)
        if number is None:
            continue
        port = {"name": sp.get("name", ""), "port": number, "protocol": sp.get("protocol", "TCP")}
        if sp.get("appProtocol"):
            port["appProtocol"] = sp["appProtocol"]
        out.append(port)
    return out


def pod_to_endpoint(pod: Obj, svc: Obj) -> Obj:
    """podToEndpoint: serving follows readiness, ready also needs not terminating (or publishNotReadyAddresses)."""
    serving = is_ready(pod)
    terminating = bool(pod["metadata"].get("deletionTimestamp"))
    ready = bool((svc.get("spec") or {}).get("publishNotReadyAddresses")) or (serving and not terminating)
    ep: Obj = {"addresses": pod_ipv4s(pod),
               "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
               "targetRef": target_ref(pod)}
    if (pod.get("spec") or {}).get("nodeName"):
        ep["nodeName"] = pod["spec"]["nodeName"]
    if should_set_hostname(pod, svc):
        ep["hostname"] = pod["spec"]["hostname"]
    # No zone: kind's nodes carry no topology.kubernetes.io/zone label.
    return ep


def endpoint_key(ep: Obj) -> tuple:
    """hashEndpoint: an endpoint is the same one when addresses, hostname and target pod match."""
    ref = ep.get("targetRef") or {}
    return (tuple(sorted(ep.get("addresses") or [])), ep.get("hostname", ""), ref.get("namespace", ""),
            ref.get("name", ""))


def ports_key(ports: list[Obj] | None) -> str:
    """NewPortMapKey: endpoints whose ports resolve the same way share slices (order does not matter)."""
    return json.dumps(sorted((ports or []), key=lambda p: json.dumps(p, sort_keys=True)), sort_keys=True)


def ip_order(ep: Obj) -> tuple:
    return tuple(int(ipaddress.ip_address(a)) for a in ep.get("addresses") or [])


# -- last-change-trigger-time (endpointslice/util/trigger_time_tracker.go) -------------------


@dataclass
class TriggerTimes:
    """TriggerTimeTracker: when the change that this sync publishes happened.

    A new Service reports its creation time; after that, the earliest pod Ready
    transition (or Service creation) newer than the previous sync, or nothing,
    which clears the annotation on the next write, as upstream does.
    """

    states: dict[Key, tuple[dict[str, str], str]] = field(default_factory=dict)

    def compute(self, key: Key, svc: Obj, pods: list[Obj]) -> str:
        known = key in self.states
        last_pods, last_svc = self.states.get(key, ({}, ""))
        changed = []
        pod_times = {}
        for pod in pods:
            ready = next((c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"),
                         None)
            t = (ready or {}).get("lastTransitionTime") or ""
            if t:
                pod_times[pod["metadata"]["name"]] = t
                if t > last_pods.get(pod["metadata"]["name"], ""):
                    changed.append(t)
        svc_time = svc["metadata"].get("creationTimestamp", "")
        if svc_time > last_svc:
            changed.append(svc_time)
        self.states[key] = (pod_times, svc_time)
        if not known:
            return svc_time
        return min(changed) if changed else ""

    def forget(self, key: Key) -> None:
        self.states.pop(key, None)


def set_or_drop(meta: Obj, field_name: str, key: str, value: str | None) -> None:
    """Set one label/annotation, or remove it; an empty map is left out as Go's omitempty does."""
    values = dict(meta.get(field_name) or {})
    if value is None:
        values.pop(key, None)
    else:
        values[key] = value
    if values:
        meta[field_name] = values
    else:
        meta.pop(field_name, None)


# -- EndpointSlices (staging/src/k8s.io/endpointslice/reconciler.go) -----------------------


def is_headless(svc: Obj) -> bool:
    """!isServiceIPSet."""
    return (svc.get("spec") or {}).get("clusterIP") in (None, "", "None")


def slice_labels(svc: Obj) -> dict[str, str]:
    """setEndpointSliceLabels: the Service's labels, except the reserved ones, which the controller sets."""
    reserved = (LABEL_SERVICE_NAME, LABEL_MANAGED_BY, LABEL_HEADLESS)
    labels = {k: v for k, v in (svc["metadata"].get("labels") or {}).items() if k not in reserved}
    if is_headless(svc):
        labels[LABEL_HEADLESS] = ""
    labels[LABEL_SERVICE_NAME] = svc["metadata"]["name"]
    labels[LABEL_MANAGED_BY] = SLICE_CONTROLLER
    return labels


def owner_ref(svc: Obj) -> Obj:
    """metav1.NewControllerRef for a v1 Service."""
    return {"apiVersion": "v1", "kind": "Service", "name": svc["metadata"]["name"], "uid": svc["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}


def owned_by(slice_: Obj, svc: Obj) -> bool:
    return any(r.get("uid") == svc["metadata"]["uid"] and r.get("kind") == "Service" and r.get("apiVersion") == "v1"
               for r in slice_["metadata"].get("ownerReferences") or [])


def new_slice(svc: Obj, ports: list[Obj] | None) -> Obj:
    """newEndpointSlice: named by generateName ``<service>-`` plus five random characters."""
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"generateName": svc["metadata"]["name"] + "-", "labels": slice_labels(svc),
                         "ownerReferences": [owner_ref(svc)]},
            "addressType": "IPv4", "ports": ports, "endpoints": []}


def slice_to_fill(slices: Iterable[Obj], count: int) -> Obj | None:
    """getSliceToFill: the unchanged slice that ends up closest to full after adding ``count``."""
    best, best_gap = None, MAX_ENDPOINTS_PER_SLICE
    for s in slices:
        gap = MAX_ENDPOINTS_PER_SLICE - (count + len(s.get("endpoints") or []))
        if 0 <= gap < best_gap:
            best, best_gap = s, gap
    return best


def reconcile_port_mapping(svc: Obj, existing: list[Obj], desired: dict[tuple, Obj],
                           ports: list[Obj]) -> tuple[list[Obj], list[Obj], list[Obj]]:
    """reconcileByPortMapping: change as few slices as possible for one set of resolved ports.

    1. keep the desired endpoints found in existing slices (updating changed
       ones), dropping the rest; 2. fill the slices already being updated,
       fullest first; 3. put what is left in the unchanged slice it fits best,
       or in new slices. Returns (create, update, delete).
    """
    want_labels = slice_labels(svc)
    updates: dict[str, Obj] = {}
    unchanged: dict[str, Obj] = {}
    deletes: list[Obj] = []
    for s in existing:
        current = s.get("endpoints") or []
        kept = [desired.pop(endpoint_key(ep)) for ep in current if endpoint_key(ep) in desired]
        if kept != current:
            if not kept:
                deletes.append(s)
                continue
            updates[s["metadata"]["name"]] = {**copy.deepcopy(s), "endpoints": kept}
        elif s["metadata"].get("labels") != want_labels:
            updates[s["metadata"]["name"]] = copy.deepcopy(s)
        else:
            unchanged[s["metadata"]["name"]] = s
    for s in updates.values():
        s["metadata"]["labels"] = dict(want_labels)
    remaining = sorted(desired.values(), key=ip_order)  # upstream pops in map order; sorted keeps runs repeatable
    for s in sorted(updates.values(), key=lambda s: -len(s["endpoints"])):
        while remaining and len(s["endpoints"]) < MAX_ENDPOINTS_PER_SLICE:
            s["endpoints"].append(remaining.pop(0))
    creates = []
    while remaining:
        target = slice_to_fill(unchanged.values(), len(remaining)) if len(remaining) < MAX_ENDPOINTS_PER_SLICE \
            else None
        if target is None:
            target = new_slice(svc, ports)
            creates.append(target)
        else:
            target = copy.deepcopy(unchanged.pop(target["metadata"]["name"]))
            target["endpoints"] = list(target.get("endpoints") or [])
            updates[target["metadata"]["name"]] = target
        while remaining and len(target["endpoints"]) < MAX_ENDPOINTS_PER_SLICE:
            target["endpoints"].append(remaining.pop(0))
    return creates, list(updates.values()), deletes


def is_placeholder_of(slice_: Obj, svc: Obj) -> bool:
    """placeholderSliceCompare: no endpoints, no ports, the Service's labels and owner."""
    return (not slice_.get("endpoints") and not slice_.get("ports") and slice_.get("addressType") == "IPv4"
            and slice_["metadata"].get("labels") == slice_labels(svc)
            and slice_["metadata"].get("ownerReferences") == [owner_ref(svc)])


def sync_slices(sb: Sandbox, svc: Obj, pods: list[Obj], trigger: str) -> None:
    """reconcileByAddressType for IPv4 (the sandbox is single-stack), then finalize."""
    ns, name = svc["metadata"].get("namespace", ""), svc["metadata"]["name"]
    rt = sb.registry.lookup("discovery.k8s.io", "v1", "endpointslices")
    assert rt is not None
    existing = [s for s in sb.store.list(SLICES, ns)
                if (s["metadata"].get("labels") or {}).get(LABEL_SERVICE_NAME) == name
                and (s["metadata"].get("labels") or {}).get(LABEL_MANAGED_BY) == SLICE_CONTROLLER
                and not s["metadata"].get("deletionTimestamp")]
    deletes = [s for s in existing if not owned_by(s, svc)]
    by_ports: dict[str, list[Obj]] = {}
    for s in existing:
        if owned_by(s, svc):
            by_ports.setdefault(ports_key(s.get("ports")), []).append(s)
    desired: dict[str, tuple[list[Obj], dict[tuple, Obj]]] = {}
    for pod in pods:
        if not should_be_in_endpoints(pod, include_terminating=True):  # terminating endpoints stay (1.26+)
            continue
        ports = endpoint_ports(svc, pod)
        ep = pod_to_endpoint(pod, svc)
        if ep["addresses"]:
            desired.setdefault(ports_key(ports), (ports, {}))[1][endpoint_key(ep)] = ep
    creates: list[Obj] = []
    updates: list[Obj] = []
    for key, (ports, eps) in desired.items():
        c, u, d = reconcile_port_mapping(svc, by_ports.pop(key, []), eps, ports)
        creates, updates, deletes = creates + c, updates + u, deletes + d
    for stale in by_ports.values():
        deletes += stale
    if len(existing) == len(deletes) and not creates:
        # A Service with no endpoints keeps one placeholder slice (endpoints and ports null).
        if len(deletes) == 1 and is_placeholder_of(deletes[0], svc):
            deletes = []
        else:
            creates.append({**new_slice(svc, None), "endpoints": None})
    # finalize: turn a create plus a delete into an update of the slice that would go.
    i = 0
    while i < len(deletes) and creates:
        if deletes[i].get("addressType") == "IPv4" and owned_by(deletes[i], svc):
            replacement = creates.pop()
            replacement["metadata"]["name"] = deletes.pop(i)["metadata"]["name"]
            updates.append(replacement)
        else:
            i += 1
    opts = WriteOptions(field_manager=MANAGER)
    for s in updates + ([] if svc["metadata"].get("deletionTimestamp") else creates):
        s["endpoints"] = s.get("endpoints") or None
        set_or_drop(s["metadata"], "annotations", TRIGGER_TIME, trigger or None)
        try:
            if s["metadata"].get("name"):
                sb.api.update(rt, ns, s["metadata"]["name"], s, opts)
            else:
                sb.api.create(rt, ns, s, opts)
        except ApiError as exc:
            if exc.code != 403:  # a terminating namespace refuses creates: drop them, as upstream
                raise
    for s in deletes:
        delete_quietly(sb, rt, ns, s["metadata"]["name"])


def delete_quietly(sb: Sandbox, rt: Any, ns: str, name: str) -> None:
    try:
        sb.api.delete(rt, ns, name, DeleteOptions())
    except ApiError as exc:
        if exc.code != 404:
            raise


# -- Endpoints (pkg/controller/endpoint) ----------------------------------------------------


def desired_subsets(svc: Obj, pods: list[Obj]) -> list[Obj]:
    """syncService's subsets: ready pods in addresses, the others in notReadyAddresses, repacked.

    Terminating pods are left out unless publishNotReadyAddresses is set
    (ShouldPodBeInEndpoints with includeTerminating = publishNotReadyAddresses).
    """
    spec = svc.get("spec") or {}
    publish = bool(spec.get("publishNotReadyAddresses"))
    entries: list[tuple[Obj, bool, Obj | None]] = []
    for pod in pods:
        ips = pod_ipv4s(pod)
        if not should_be_in_endpoints(pod, include_terminating=publish) or not ips:
            continue
        address: Obj = {"ip": ips[0], "nodeName": (pod.get("spec") or {}).get("nodeName", ""),
                        "targetRef": target_ref(pod)}
        if should_set_hostname(pod, svc):
            address["hostname"] = pod["spec"]["hostname"]
        ready = publish or is_ready(pod)
        if not spec.get("ports"):
            if spec.get("clusterIP") == "None":  # a headless Service may have no ports
                entries.append((address, ready, None))
            continue
        for sp in spec["ports"]:
            number = find_port(pod, sp)
            if number is None:
                continue
            port: Obj = {"name": sp.get("name", ""), "port": number, "protocol": sp.get("protocol", "TCP")}
            if sp.get("appProtocol"):
                port["appProtocol"] = sp["appProtocol"]
            entries.append((address, ready, {k: v for k, v in port.items() if v != ""}))
    return repack(entries)


def repack(entries: list[tuple[Obj, bool, Obj | None]]) -> list[Obj]:
    """RepackSubsets: one subset per distinct set of (address, ready), carrying every port they share.

    Addresses sort as LessEndpointAddress does (IP as a string, then pod UID);
    upstream orders ports and subsets by hash, here by content, so output is stable.
    """
    by_port: dict[str, dict[tuple, tuple[Obj, bool]]] = {}
    port_of: dict[str, Obj | None] = {}
    for address, ready, port in entries:
        key = json.dumps(port, sort_keys=True) if port else ""
        port_of[key] = port
        by_port.setdefault(key, {})[(address["ip"], address["targetRef"]["uid"])] = (address, ready)
    groups: dict[frozenset, tuple[dict[tuple, tuple[Obj, bool]], list[Obj]]] = {}
    for key, addresses in by_port.items():
        group = frozenset((k, r) for k, (_, r) in addresses.items())
        _, ports = groups.setdefault(group, (addresses, []))
        if port_of[key]:
            ports.append(port_of[key])  # type: ignore[arg-type]
    subsets = []
    for addresses, ports in groups.values():
        order = sorted(addresses.values(), key=lambda ar: (ar[0]["ip"], ar[0]["targetRef"]["uid"]))
        subset: Obj = {}
        if any(r for _, r in order):
            subset["addresses"] = [a for a, r in order if r]
        if any(not r for _, r in order):
            subset["notReadyAddresses"] = [a for a, r in order if not r]
        if ports:
            subset["ports"] = sorted(ports, key=lambda p: (p.get("name", ""), p["port"], p["protocol"]))
        subsets.append(subset)
    return sorted(subsets, key=lambda s: json.dumps(s, sort_keys=True))


def sync_endpoints(sb: Sandbox, svc: Obj, pods: list[Obj], trigger: str) -> None:
    """Write the Endpoints named after the Service when its subsets or labels differ."""
    ns, name = svc["metadata"].get("namespace", ""), svc["metadata"]["name"]
    rt = sb.registry.lookup("", "v1", "endpoints")
    assert rt is not None
    subsets = desired_subsets(svc, pods)
    svc_labels = svc["metadata"].get("labels") or {}
    current = sb.store.get("endpoints", ns, name)
    if current is not None:
        labels = {k: v for k, v in (current["metadata"].get("labels") or {}).items() if k != LABEL_HEADLESS}
        if ((current.get("subsets") or []) == subsets and labels == svc_labels
                and OVER_CAPACITY not in (current["metadata"].get("annotations") or {})):
            return
    new = copy.deepcopy(current) if current else {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name}}
    meta = new["metadata"]
    meta["labels"] = dict(svc_labels)
    set_or_drop(meta, "labels", LABEL_HEADLESS, "" if is_headless(svc) else None)
    set_or_drop(meta, "annotations", TRIGGER_TIME, trigger or None)
    set_or_drop(meta, "annotations", OVER_CAPACITY, None)  # no truncation: lessons stay far below 1000
    if subsets:
        new["subsets"] = subsets
    else:
        new.pop("subsets", None)
    opts = WriteOptions(field_manager=MANAGER)
    try:
        if current is None:
            sb.api.create(rt, ns, new, opts)
        else:
            sb.api.update(rt, ns, name, new, opts)
    except ApiError as exc:
        if exc.code != 403:  # namespace terminating: drop, as upstream
            raise


# -- LoadBalancer (cloud-provider service controller + cloud-provider-kind) ---------------


def wants_load_balancer(svc: Obj) -> bool:
    spec = svc.get("spec") or {}
    return spec.get("type") == "LoadBalancer" and not spec.get("loadBalancerClass")


def has_lb_finalizer(svc: Obj) -> bool:
    return LB_FINALIZER in (svc["metadata"].get("finalizers") or [])


def lb_fingerprint(svc: Obj) -> str:
    """What needsUpdate compares: a change to any of these re-ensures the load balancer (with events)."""
    spec = svc.get("spec") or {}
    keys = ("type", "ports", "sessionAffinity", "sessionAffinityConfig", "loadBalancerIP", "externalIPs",
            "loadBalancerSourceRanges", "externalTrafficPolicy", "healthCheckNodePort", "ipFamilies")
    return json.dumps([svc["metadata"].get("uid"), svc["metadata"].get("annotations"),
                       {k: spec.get(k) for k in keys}], sort_keys=True)


def lb_ip(sb: Sandbox, svc: Obj) -> str:
    """The load balancer container's address: kept if it has one, else the lowest free one after the nodes' (.5 up).

    Docker hands the next free address on the kind network to each new
    container; ``spec.loadBalancerIP`` is passed to docker as ``--ip``.
    """
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    current = next((i["ip"] for i in ingress if i.get("ip")), "")
    requested = (svc.get("spec") or {}).get("loadBalancerIP") or ""
    if current and (not requested or requested == current):
        return current
    used = {a.get("address") for n in sb.store.list("nodes") for a in (n.get("status") or {}).get("addresses") or []}
    for other in sb.store.list("services"):
        if other["metadata"].get("uid") != svc["metadata"].get("uid"):
            used |= {i.get("ip") for i in ((other.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []}
    if requested:
        if requested in used or ipaddress.ip_address(requested) not in LB_NETWORK:
            raise ValueError(f"the requested loadBalancerIP {requested} is not free on the kind network "
                             f"{LB_NETWORK}")
        return requested
    candidate = ipaddress.ip_address(sb.shape.load_balancer_first)
    while str(candidate) in used:
        candidate += 1
    if candidate not in LB_NETWORK or candidate == LB_NETWORK.broadcast_address:
        raise ValueError(f"no free address left on the kind network {LB_NETWORK}")
    return str(candidate)


def write_lb_status(sb: Sandbox, svc: Obj, status: Obj) -> None:
    """patchStatus: through the status subresource, only when it changed."""
    rt = sb.registry.lookup("", "v1", "services")
    assert rt is not None
    current = sb.store.get("services", svc["metadata"].get("namespace", ""), svc["metadata"]["name"])
    if current is None or ((current.get("status") or {}).get("loadBalancer") or {}) == status:
        return
    new = copy.deepcopy(current)
    new.setdefault("status", {})["loadBalancer"] = status
    sb.api.update(rt, current["metadata"].get("namespace", ""), current["metadata"]["name"], new,
                  WriteOptions(field_manager=LB_MANAGER), "status")


def set_lb_finalizer(sb: Sandbox, svc: Obj, present: bool) -> None:
    """addFinalizer / removeFinalizer: a Service with a load balancer is deleted only after it."""
    rt = sb.registry.lookup("", "v1", "services")
    assert rt is not None
    finalizers = [f for f in svc["metadata"].get("finalizers") or [] if f != LB_FINALIZER]
    if present:
        finalizers.append(LB_FINALIZER)
    if finalizers == (svc["metadata"].get("finalizers") or []):
        return
    sb.api.patch(rt, svc["metadata"].get("namespace", ""), svc["metadata"]["name"], "merge",
                 {"metadata": {"finalizers": finalizers or None}}, WriteOptions(field_manager=LB_MANAGER))


def sync_load_balancer(sb: Sandbox, svc: Obj, synced: dict[Key, str]) -> None:
    """syncLoadBalancerIfNeeded: ensure (finalizer, address, status) or clean up, with its Events."""
    key = (svc["metadata"].get("namespace", ""), svc["metadata"]["name"])
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress")
    cleanup = has_lb_finalizer(svc) and (bool(svc["metadata"].get("deletionTimestamp"))
                                         or (svc.get("spec") or {}).get("type") != "LoadBalancer")
    if not wants_load_balancer(svc) or cleanup:
        synced.pop(key, None)
        if not has_lb_finalizer(svc) and not ingress:
            return  # never had a load balancer: the service controller does not look at it
        # The finalizer says the load balancer exists (the apiserver may already have cleared the status).
        record(sb, svc, "DeletingLoadBalancer", "Deleting load balancer", LB_COMPONENT)
        set_lb_finalizer(sb, svc, present=False)  # the last finalizer gone, a deleted Service goes now
        record(sb, svc, "DeletedLoadBalancer", "Deleted load balancer", LB_COMPONENT)
        write_lb_status(sb, svc, {})  # the address goes back to the pool (a type change keeps the Service)
        return
    ports = [{"port": p["port"], "protocol": p.get("protocol", "TCP")} for p in svc["spec"].get("ports") or []]
    fingerprint = lb_fingerprint(svc)
    try:
        ip = lb_ip(sb, svc)
    except ValueError as exc:
        if synced.get(key) != "failed:" + fingerprint:
            record(sb, svc, "SyncLoadBalancerFailed", f"Error syncing load balancer: failed to ensure load "
                   f"balancer: {exc}", LB_COMPONENT, "Warning")
            synced[key] = "failed:" + fingerprint
        return
    status = {"ingress": [{"ip": ip, "ipMode": "Proxy", "ports": ports}]}
    current = (svc.get("status") or {}).get("loadBalancer") or {}
    if synced.get(key) == fingerprint and current == status and has_lb_finalizer(svc):
        return
    record(sb, svc, "EnsuringLoadBalancer", "Ensuring load balancer", LB_COMPONENT)
    set_lb_finalizer(sb, svc, present=True)
    record(sb, svc, "EnsuredLoadBalancer", "Ensured load balancer", LB_COMPONENT)
    write_lb_status(sb, svc, status)
    synced[key] = fingerprint


# -- the controller ---------------------------------------------------------------------------


def controller(sb: Sandbox) -> Controller:
    """One reconcile per Service: load balancer, then EndpointSlices and Endpoints."""
    triggers = TriggerTimes()
    synced_lbs: dict[Key, str] = {}

    def reconcile(sb: Sandbox, key: Key) -> float | None:
        ns, name = key
        svc = sb.store.get("services", ns, name)
        if svc is not None:
            sync_load_balancer(sb, svc, synced_lbs)
            svc = sb.store.get("services", ns, name)  # removing the last finalizer may have deleted it
        if svc is None:
            # Slices go with their owner (garbage collector); the Endpoints object has none.
            triggers.forget(key)
            synced_lbs.pop(key, None)
            rt = sb.registry.lookup("", "v1", "endpoints")
            if rt is not None and sb.store.get("endpoints", ns, name) is not None:
                delete_quietly(sb, rt, ns, name)
            return None
        sel = selector(svc)
        if svc.get("spec", {}).get("type") == "ExternalName" or sel is None:
            return None  # ExternalName and selectorless Services get no endpoints from these controllers
        pods = [p for p in sb.store.list("pods", ns) if selects(sel, p["metadata"].get("labels"))]
        trigger = triggers.compute(key, svc, pods)
        sync_slices(sb, svc, pods, trigger)
        sync_endpoints(sb, svc, pods, trigger)
        return None

    return Controller("endpoints", reconcile, {"services": same_key, "pods": services_for_pod,
                                               SLICES: service_of_slice, "endpoints": endpoints_deleted_or_listed})
