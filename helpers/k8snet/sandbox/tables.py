"""Server-side printing: objects as a ``meta.k8s.io/v1`` Table, as kube-apiserver prints them.

``kubectl get`` asks for ``application/json;as=Table;v=v1;g=meta.k8s.io`` and
prints whatever columns the server sends, so the columns and cells here decide
what a learner sees. They follow kube-apiserver v1.33:

* column definitions and row cells: k8s.io/kubernetes/pkg/printers/internalversion/printers.go
  (``AddHandlers`` and the ``print*`` functions);
* the Table envelope and the ``includeObject`` policy:
  k8s.io/apiserver/pkg/endpoints/handlers/response.go (``asTable``) and
  k8s.io/kubernetes/pkg/printers/tablegenerator.go (``GenerateTable``);
* kinds without a printer (CRDs): k8s.io/apiextensions-apiserver/pkg/registry/customresource/tableconvertor.

The server always prints *wide* (pkg/printers/storage: ``GenerateOptions{Wide: true}``): every
row carries the cells of the priority-1 columns too, and kubectl hides those
columns unless ``-o wide``. Per-kind behaviour is data: :data:`PRINTERS` maps
``(group, plural)`` to a :class:`Printer` (its columns and its row function), so a
new kind is one more entry, and a CRD registers its ``additionalPrinterColumns``
with :func:`register_crd_columns`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from k8snet.sandbox.errors import bad_request
from k8snet.sandbox.registry import ResourceType
from k8snet.sandbox.schema import upstream_definitions

Obj = Mapping[str, Any]
Cell = Any
RowFn = Callable[[Obj, datetime], list[Cell]]

TABLE_API_VERSION = "meta.k8s.io/v1"
INCLUDE_POLICIES = ("None", "Metadata", "Object")

# --------------------------------------------------------------------------- descriptions
# Column descriptions are the Go SwaggerDoc() strings upstream quotes. They are
# taken from the v1.33 OpenAPI of the served group-version (the same generated
# text); upstream quotes some of them from older group-versions
# (extensions/v1beta1, discovery/v1beta1) whose wording can differ slightly.
DESC_NAME = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources may "
    "allow a client to request the generation of an appropriate name automatically. Name is primarily intended "
    "for creation idempotence and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
DESC_AGE = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
    "guaranteed to be set in happens-before order across separate operations. Clients may not set this value. "
    "It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. "
    "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
DESC_CONTAINERS = "Names of each container in the template."
DESC_IMAGES = "Images referenced by each container in the template."
DESC_POD_IP = "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated."
DESC_NODE_NAME = (
    "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by "
    "the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible "
    "for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled "
    "on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename"
)
DESC_NOMINATED_NODE = (
    "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right "
    "away as preemption victims receive their graceful termination periods. This field does not guarantee that the "
    "pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become "
    "available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that "
    "is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is "
    "scheduled."
)
DESC_READINESS_GATES = (
    "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers "
    'are ready AND all conditions specified in the readiness gates have status equal to "True" More info: '
    "https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates"
)
DESC_SVC_TYPE = (
    "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, "
    'NodePort, and LoadBalancer. "ClusterIP" allocates a cluster-internal IP address for load-balancing to '
    "endpoints. Endpoints are determined by the selector or if that is not specified, by manual construction of an "
    'Endpoints object or EndpointSlice objects. If clusterIP is "None", no virtual IP is allocated and the '
    'endpoints are published as a set of endpoints rather than a virtual IP. "NodePort" builds on ClusterIP and '
    "allocates a port on every node which routes to the same endpoints as the clusterIP. \"LoadBalancer\" builds on "
    "NodePort and creates an external load-balancer (if supported in the current cloud) which routes to the same "
    'endpoints as the clusterIP. "ExternalName" aliases this service to the specified externalName. Several other '
    "fields do not apply to ExternalName services. More info: "
    "https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types"
)
DESC_SVC_CLUSTER_IP = (
    "clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified "
    "manually, is in-range (as per system configuration), and is not in use, it will be allocated to the service; "
    "otherwise creation of the service will fail. This field may not be changed through updates unless the type "
    "field is also being changed to ExternalName (which requires this field to be blank) or the type field is being "
    "changed from ExternalName (in which case this field may optionally be specified, as describe above).  Valid "
    'values are "None", empty string (""), or a valid IP address. Setting this to "None" makes a "headless '
    'service" (no virtual IP), which is useful when direct endpoint connections are preferred and proxying is not '
    "required.  Only applies to types ClusterIP, NodePort, and LoadBalancer. If this field is specified when "
    "creating a Service of type ExternalName, creation will fail. This field will be wiped when updating a Service "
    "to type ExternalName. More info: "
    "https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies"
)
DESC_SVC_EXTERNAL_IPS = (
    "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this "
    "service.  These IPs are not managed by Kubernetes.  The user is responsible for ensuring that traffic arrives "
    "at a node with this IP.  A common example is external load-balancers that are not part of the Kubernetes "
    "system."
)
DESC_SVC_PORTS = (
    "The list of ports that are exposed by this service. More info: "
    "https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies"
)
DESC_SVC_SELECTOR = (
    "Route service traffic to pods with label keys and values matching this selector. If empty or not present, "
    "the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify. "
    "Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: "
    "https://kubernetes.io/docs/concepts/services-networking/service/"
)
DESC_EP_SUBSETS = (
    "The set of all endpoints is the union of all subsets. Addresses are placed into subsets according to the IPs "
    "they share. A single address with multiple ports, some of which are ready and some of which are not (because "
    "they come from different containers) will result in the address being displayed in different subsets for the "
    "different ports. No address will appear in both Addresses and NotReadyAddresses in the same subset. Sets of "
    "addresses and ports that comprise a service."
)
DESC_EPS_ADDRESS_TYPE = (
    "addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice must be "
    "the same type. This field is immutable after creation. The following address types are currently supported: "
    "* IPv4: Represents an IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: Represents a Fully Qualified "
    "Domain Name. (Deprecated) The EndpointSlice controller only generates, and kube-proxy only processes, slices of "
    'addressType "IPv4" and "IPv6". No semantics are defined for the "FQDN" type.'
)
DESC_EPS_PORTS = (
    "ports specifies the list of network ports exposed by each endpoint in this slice. Each port must have a unique "
    "name. Each slice may include a maximum of 100 ports. Services always have at least 1 port, so EndpointSlices "
    "generated by the EndpointSlice controller will likewise always have at least 1 port. EndpointSlices used for "
    "other purposes may have an empty ports list."
)
DESC_EPS_ENDPOINTS = (
    "endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of 1000 endpoints."
)
DESC_DEPLOY_UPDATED = (
    "Total number of non-terminating pods targeted by this deployment that have the desired template spec."
)
DESC_DEPLOY_AVAILABLE = (
    "Total number of available non-terminating pods (ready for at least minReadySeconds) targeted by this deployment."
)
DESC_DEPLOY_SELECTOR = (
    "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this "
    "deployment. It must match the pod template's labels."
)
DESC_RS_SPEC_REPLICAS = (
    "Replicas is the number of desired pods. This is a pointer to distinguish between explicit zero and "
    "unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset"
)
DESC_RS_STATUS_REPLICAS = (
    "Replicas is the most recently observed number of non-terminating pods. More info: "
    "https://kubernetes.io/docs/concepts/workloads/controllers/replicaset"
)
DESC_RS_READY = "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition."
DESC_RS_SELECTOR = (
    "Selector is a label query over pods that should match the replica count. Label keys and values that must "
    "match in order to be controlled by this replica set. It must match the pod template's labels. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"
)
DESC_NETPOL_POD_SELECTOR = (
    "podSelector selects the pods to which this NetworkPolicy object applies. The array of ingress rules is applied "
    "to any pods selected by this field. Multiple network policies can select the same set of pods. In this case, "
    "the ingress rules for each are combined additively. This field is NOT optional and follows standard label "
    "selector semantics. An empty podSelector matches all pods in this namespace."
)
DESC_NODE_ADDRESSES = (
    "List of addresses reachable to the node. Queried from cloud provider, if available. More info: "
    "https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, "
    "but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers "
    "should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should "
    "assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this "
    "may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the "
    "downward API (status.hostIP)."
)
DESC_EVENT_FIELD_PATH = (
    "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go "
    "field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is "
    'to a container within a pod, this would take on a value like: "spec.containers{name}" (where "name" refers '
    'to the name of the container that triggered the event) or if no container name is specified '
    '"spec.containers[2]" (container with index 2 in this pod). This syntax is chosen only to have some '
    "well-defined way of referencing a part of an object."
)
DESC_SECRET_TYPE = (
    "Used to facilitate programmatic handling of secret data. More info: "
    "https://kubernetes.io/docs/concepts/configuration/secret/#secret-types"
)
DESC_SECRET_DATA = (
    "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The "
    "serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly "
    "non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4"
)
DESC_SA_SECRETS = (
    "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed "
    'to use. Pods are only limited to this list if this service account has a "kubernetes.io/enforce-mountable-'
    'secrets" annotation set to "true". The "kubernetes.io/enforce-mountable-secrets" annotation is deprecated '
    "since v1.32. Prefer separate namespaces to isolate access to mounted secrets. This field should not be used to "
    "find auto-generated service account token secrets for use outside of pods. Instead, tokens can be requested "
    "directly using the TokenRequest API, or service account token secrets can be manually created. More info: "
    "https://kubernetes.io/docs/concepts/configuration/secret"
)
DESC_CM_DATA = (
    "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. "
    "Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap "
    "with the keys in the BinaryData field, this is enforced during validation process."
)


# --------------------------------------------------------------------------- data model
@dataclass(frozen=True)
class Column:
    """One ``TableColumnDefinition``.

    Every field is serialized, empty or not: the Go struct has no ``omitempty``
    tags, so kube-apiserver sends ``"format": ""`` and ``"priority": 0``.
    """

    name: str
    type: str = "string"
    description: str = ""
    format: str = ""
    priority: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "format": self.format,
                "description": self.description, "priority": self.priority}


@dataclass(frozen=True)
class Printer:
    """How one kind prints: its columns and a function from (object, now) to the row's cells.

    ``conditions`` optionally marks rows (upstream only marks finished pods
    ``Completed``), which lets clients de-emphasise them.
    """

    columns: tuple[Column, ...]
    row: RowFn
    conditions: Callable[[Obj], list[dict[str, str]]] | None = field(default=None)


def _name_col() -> Column:
    return Column("Name", "string", DESC_NAME, format="name")


def _age_col() -> Column:
    return Column("Age", "string", DESC_AGE)


# --------------------------------------------------------------------------- time
def parse_time(value: str | None) -> datetime | None:
    """Parse an RFC3339 ``Time`` or ``MicroTime``; None for missing or unparsable values."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _micros(d: timedelta) -> int:
    return (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds


def _trunc_div(a: int, b: int) -> int:
    """Integer division truncating toward zero, like Go's ``/`` on ints."""
    q = abs(a) // b
    return q if a >= 0 else -q


def human_duration(d: timedelta) -> str:
    """``duration.HumanDuration``: ~2-3 significant figures, as ``kubectl get`` AGE shows.

    Port of k8s.io/apimachinery/pkg/util/duration/duration.go; up to 2s in the
    future counts as "now" to tolerate clock skew, beyond that is ``<invalid>``.
    """
    us = _micros(d)
    seconds = _trunc_div(us, 1_000_000)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        s = seconds % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def since(timestamp: str | None, now: datetime) -> str:
    """``translateTimestampSince``: the age of a timestamp, ``<unknown>`` when unset."""
    t = parse_time(timestamp)
    if t is None:
        return "<unknown>"
    return human_duration(now - t)


def age(obj: Obj, now: datetime) -> str:
    """The AGE cell: time since ``metadata.creationTimestamp``."""
    return since(_meta(obj).get("creationTimestamp"), now)


# --------------------------------------------------------------------------- small helpers
def _meta(obj: Obj) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _name(obj: Obj) -> str:
    return _meta(obj).get("name", "")


def _spec(obj: Obj) -> Mapping[str, Any]:
    return obj.get("spec") or {}


def _status(obj: Obj) -> Mapping[str, Any]:
    return obj.get("status") or {}


def _present(mapping: Mapping[str, Any] | None, key: str) -> bool:
    """Whether a Go pointer field would be non-nil: the key is there and not null."""
    return bool(mapping) and mapping.get(key) is not None


def format_labels(labels: Mapping[str, str] | None) -> str:
    """``labels.FormatLabels``: sorted ``k=v`` pairs, ``<none>`` when empty."""
    text = ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items()))
    return text or "<none>"


def _requirement_string(key: str, op: str, values: Sequence[str]) -> str:
    if op == "Exists":
        return key
    if op == "DoesNotExist":
        return "!" + key
    joined = values[0] if len(values) == 1 else ",".join(sorted(values))
    word = {"In": " in ", "NotIn": " notin "}.get(op)
    if word is None:
        raise ValueError(op)
    return f"{key}{word}({joined})"


def selector_string(selector: Mapping[str, Any] | None) -> str:
    """``metav1.LabelSelectorAsSelector(sel).String()``; ``<invalid>`` for an unknown operator.

    Requirements are sorted by key; ``In``/``NotIn`` values are sorted on output.
    A nil or empty selector prints as the empty string.
    """
    if not selector:
        return ""
    reqs: list[tuple[str, str]] = [(k, f"{k}={v}") for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        try:
            reqs.append((expr.get("key", ""),
                         _requirement_string(expr.get("key", ""), expr.get("operator", ""), expr.get("values") or [])))
        except (ValueError, IndexError):
            return "<invalid>"
    reqs.sort(key=lambda r: r[0])
    return ",".join(text for _, text in reqs)


def format_label_selector(selector: Mapping[str, Any] | None) -> str:
    """``metav1.FormatLabelSelector``: the selector string, ``<none>`` when it selects by nothing."""
    text = selector_string(selector)
    if text == "<invalid>":
        return "<error>"
    return text or "<none>"


def layout_container_cells(containers: Iterable[Obj] | None) -> tuple[str, str]:
    """``layoutContainerCells``: container names and images, each comma-joined."""
    cs = list(containers or [])
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _template_containers(obj: Obj) -> list[Obj]:
    return (((_spec(obj).get("template") or {}).get("spec") or {}).get("containers")) or []


def join_host_port(host: str, port: int | str) -> str:
    """``net.JoinHostPort``: IPv6 hosts get brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _list_with_more(items: list[str], more: bool, count: int, limit: int) -> str:
    """``listWithMoreString``: ``a,b,c + N more...``, ``<unset>`` for nothing."""
    text = ",".join(items)
    if more:
        return f"{text} + {count - limit} more..."
    return text or "<unset>"


# --------------------------------------------------------------------------- pods
POD_SUCCESS_CONDITIONS = [{"type": "Completed", "status": "True", "reason": "Succeeded",
                           "message": "The pod has completed successfully."}]
POD_FAILED_CONDITIONS = [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]
NODE_UNREACHABLE_POD_REASON = "NodeLost"  # k8s.io/kubernetes/pkg/util/node


def _pod_conditions(pod: Obj) -> list[dict[str, str]]:
    phase = _status(pod).get("phase")
    if phase == "Succeeded":
        return POD_SUCCESS_CONDITIONS
    if phase == "Failed":
        return POD_FAILED_CONDITIONS
    return []


def _has_condition(pod: Obj, ctype: str) -> bool:
    return any(c.get("type") == ctype and c.get("status") == "True" for c in _status(pod).get("conditions") or [])


def _later(current: datetime | None, candidate: str | None) -> datetime | None:
    """Keep the later of two restart times (``lastRestartDate.Before(&terminatedDate)``)."""
    t = parse_time(candidate)
    if t is None:
        return current
    return t if current is None or current < t else current


def _last_finished(cs: Obj) -> str | None:
    terminated = (cs.get("lastState") or {}).get("terminated")
    return terminated.get("finishedAt") if terminated else None


def _terminated_reason(terminated: Obj, prefix: str = "") -> str:
    if terminated.get("reason"):
        return prefix + terminated["reason"]
    if terminated.get("signal"):
        return f"{prefix}Signal:{terminated['signal']}"
    return f"{prefix}ExitCode:{terminated.get('exitCode', 0)}"


@dataclass
class _PodTally:
    reason: str
    ready: int = 0
    total: int = 0
    restarts: int = 0
    last_restart: datetime | None = None


def _tally_init_containers(pod: Obj, tally: _PodTally) -> tuple[bool, int, datetime | None]:
    """Walk init container statuses as printPod does: init reason, sidecar restarts and readiness."""
    spec, status = _spec(pod), _status(pod)
    init_specs = {c.get("name"): c for c in spec.get("initContainers") or []}
    sidecar_restarts, sidecar_last = 0, None
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        restart_count = int(cs.get("restartCount") or 0)
        tally.restarts += restart_count
        tally.last_restart = _later(tally.last_restart, _last_finished(cs))
        sidecar = (init_specs.get(cs.get("name")) or {}).get("restartPolicy") == "Always"
        if sidecar:
            sidecar_restarts += restart_count
            sidecar_last = _later(sidecar_last, _last_finished(cs))
        state = cs.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated is not None and int(terminated.get("exitCode") or 0) == 0:
            continue
        if sidecar and cs.get("started"):
            if cs.get("ready"):
                tally.ready += 1
            continue
        if terminated is not None:
            tally.reason = _terminated_reason(terminated, "Init:")
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            tally.reason = "Init:" + waiting["reason"]
        else:
            tally.reason = f"Init:{i}/{len(spec.get('initContainers') or [])}"
        return True, sidecar_restarts, sidecar_last
    return False, sidecar_restarts, sidecar_last


def _tally_containers(pod: Obj, tally: _PodTally) -> None:
    """Walk app container statuses last to first; the first container's state wins the reason."""
    has_running = False
    for cs in reversed(_status(pod).get("containerStatuses") or []):
        tally.restarts += int(cs.get("restartCount") or 0)
        tally.last_restart = _later(tally.last_restart, _last_finished(cs))
        state = cs.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if waiting is not None and waiting.get("reason"):
            tally.reason = waiting["reason"]
        elif terminated is not None:
            tally.reason = _terminated_reason(terminated)
        elif cs.get("ready") and state.get("running") is not None:
            has_running = True
            tally.ready += 1
    if tally.reason == "Completed" and has_running:
        tally.reason = "Running" if _has_condition(pod, "Ready") else "NotReady"


def pod_status_reason(pod: Obj) -> _PodTally:
    """The READY/STATUS/RESTARTS facts of ``printPod`` (the logic behind CrashLoopBackOff, Init:0/1, ...)."""
    spec, status, meta = _spec(pod), _status(pod), _meta(pod)
    phase = status.get("phase") or ""
    tally = _PodTally(reason=status.get("reason") or phase)
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            tally.reason = "SchedulingGated"
    tally.total = len(spec.get("containers") or []) + sum(
        1 for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always")

    initializing, sidecar_restarts, sidecar_last = _tally_init_containers(pod, tally)
    if not initializing or _has_condition(pod, "Initialized"):
        tally.restarts, tally.last_restart = sidecar_restarts, sidecar_last
        _tally_containers(pod, tally)

    if meta.get("deletionTimestamp") and status.get("reason") == NODE_UNREACHABLE_POD_REASON:
        tally.reason = "Unknown"
    elif meta.get("deletionTimestamp") and phase not in ("Failed", "Succeeded"):
        tally.reason = "Terminating"
    return tally


def _readiness_gates(pod: Obj) -> str:
    gates = _spec(pod).get("readinessGates") or []
    if not gates:
        return "<none>"
    conditions = _status(pod).get("conditions") or []
    true_count = 0
    for gate in gates:
        match = next((c for c in conditions if c.get("type") == gate.get("conditionType")), None)
        if match is not None and match.get("status") == "True":
            true_count += 1
    return f"{true_count}/{len(gates)}"


def _pod_ip(pod: Obj) -> str:
    status = _status(pod)
    ips = status.get("podIPs") or []
    # v1 -> internal conversion fills podIPs from podIP when only the latter is set.
    ip = ips[0].get("ip", "") if ips else status.get("podIP", "")
    return ip or "<none>"


def print_pod(pod: Obj, now: datetime) -> list[Cell]:
    """``printPod``: NAME READY STATUS RESTARTS AGE | IP NODE NOMINATED NODE READINESS GATES."""
    tally = pod_status_reason(pod)
    restarts = str(tally.restarts)
    if tally.restarts != 0 and tally.last_restart is not None:
        restarts = f"{tally.restarts} ({human_duration(now - tally.last_restart)} ago)"
    spec, status = _spec(pod), _status(pod)
    return [
        _name(pod), f"{tally.ready}/{tally.total}", tally.reason, restarts, age(pod, now),
        _pod_ip(pod), spec.get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>",
        _readiness_gates(pod),
    ]


POD_COLUMNS = (
    _name_col(),
    Column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    Column("Status", "string", "The aggregate status of the containers in this pod."),
    Column("Restarts", "string", "The number of times the containers in this pod have been restarted and when the "
                                 "last container in this pod has restarted."),
    _age_col(),
    Column("IP", "string", DESC_POD_IP, priority=1),
    Column("Node", "string", DESC_NODE_NAME, priority=1),
    Column("Nominated Node", "string", DESC_NOMINATED_NODE, priority=1),
    Column("Readiness Gates", "string", DESC_READINESS_GATES, priority=1),
)


# --------------------------------------------------------------------------- services
LOAD_BALANCER_WIDTH = 16


def load_balancer_status(lb: Obj | None, wide: bool = True) -> str:
    """``loadBalancerStatusStringer``: sorted unique ingress IPs (else hostnames).

    Clipped to 16 characters only for non-wide output; the server always prints
    wide, so tables from kube-apiserver are never clipped.
    """
    found = set()
    for ing in (lb or {}).get("ingress") or []:
        if ing.get("ip"):
            found.add(ing["ip"])
        elif ing.get("hostname"):
            found.add(ing["hostname"])
    text = ",".join(sorted(found))
    if not wide and len(text) > LOAD_BALANCER_WIDTH:
        text = text[: LOAD_BALANCER_WIDTH - 3] + "..."
    return text


def service_external_ip(svc: Obj, wide: bool = True) -> str:
    """``getServiceExternalIP``: externalIPs, LB ingress, ``<pending>`` or the ExternalName."""
    spec = _spec(svc)
    svc_type = spec.get("type") or "ClusterIP"
    external_ips = list(spec.get("externalIPs") or [])
    if svc_type in ("ClusterIP", "NodePort"):
        return ",".join(external_ips) if external_ips else "<none>"
    if svc_type == "LoadBalancer":
        lb_ips = load_balancer_status(_status(svc).get("loadBalancer"), wide)
        if external_ips:
            return ",".join((lb_ips.split(",") if lb_ips else []) + external_ips)
        return lb_ips or "<pending>"
    if svc_type == "ExternalName":
        return spec.get("externalName", "")
    return "<unknown>"


def service_ports(ports: Iterable[Obj] | None) -> str:
    """``makePortString``: ``80/TCP`` or, with a node port, ``80:30080/TCP``."""
    pieces = []
    for p in ports or []:
        proto = p.get("protocol") or "TCP"
        if p.get("nodePort"):
            pieces.append(f"{p.get('port')}:{p['nodePort']}/{proto}")
        else:
            pieces.append(f"{p.get('port')}/{proto}")
    return ",".join(pieces)


def print_service(svc: Obj, now: datetime) -> list[Cell]:
    """``printService``: NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE | SELECTOR."""
    spec = _spec(svc)
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return [
        _name(svc), spec.get("type") or "ClusterIP", cluster_ips[0] if cluster_ips else "<none>",
        service_external_ip(svc), service_ports(spec.get("ports")) or "<none>", age(svc, now),
        format_labels(spec.get("selector")),
    ]


SERVICE_COLUMNS = (
    _name_col(),
    Column("Type", "string", DESC_SVC_TYPE),
    Column("Cluster-IP", "string", DESC_SVC_CLUSTER_IP),
    Column("External-IP", "string", DESC_SVC_EXTERNAL_IPS),
    Column("Port(s)", "string", DESC_SVC_PORTS),
    _age_col(),
    Column("Selector", "string", DESC_SVC_SELECTOR, priority=1),
)


# --------------------------------------------------------------------------- endpoints, endpointslices
def format_endpoints(endpoints: Obj, ports: set[str] | None = None) -> str:
    """``formatEndpoints``: up to three ``ip:port``, then ``+ N more...``; ``<none>`` without subsets."""
    subsets = endpoints.get("subsets") or []
    if not subsets:
        return "<none>"
    shown: list[str] = []
    limit, more, count = 3, False, 0
    for ss in subsets:
        addresses = ss.get("addresses") or []
        if not ss.get("ports"):
            # Headless services can have no ports.
            count += len(addresses)
            for addr in addresses:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(addr.get("ip", ""))
            continue
        for port in ss["ports"]:
            if ports is None or port.get("name", "") in ports:
                count += len(addresses)
                for addr in addresses:
                    if len(shown) == limit:
                        more = True
                        break
                    shown.append(join_host_port(addr.get("ip", ""), port.get("port", 0)))
    text = ",".join(shown)
    return f"{text} + {count - limit} more..." if more else text


def print_endpoints(obj: Obj, now: datetime) -> list[Cell]:
    """``printEndpoints``: NAME ENDPOINTS AGE."""
    return [_name(obj), format_endpoints(obj), age(obj, now)]


def format_discovery_ports(ports: Iterable[Obj] | None) -> str:
    """``formatDiscoveryPorts``: port numbers (or names, or ``*``), three at most."""
    shown: list[str] = []
    limit, more, count = 3, False, 0
    for port in ports or []:
        if len(shown) < limit:
            if port.get("port") is not None:
                shown.append(str(port["port"]))
            elif port.get("name") is not None:
                shown.append(port["name"])
            else:
                shown.append("*")
        elif len(shown) == limit:
            more = True
        count += 1
    return _list_with_more(shown, more, count, limit)


def format_discovery_endpoints(endpoints: Iterable[Obj] | None) -> str:
    """``formatDiscoveryEndpoints``: endpoint addresses, three at most."""
    shown: list[str] = []
    limit, more, count = 3, False, 0
    for ep in endpoints or []:
        for address in ep.get("addresses") or []:
            if len(shown) < limit:
                shown.append(address)
            elif len(shown) == limit:
                more = True
            count += 1
    return _list_with_more(shown, more, count, limit)


def print_endpoint_slice(obj: Obj, now: datetime) -> list[Cell]:
    """``printEndpointSlice``: NAME ADDRESSTYPE PORTS ENDPOINTS AGE."""
    return [_name(obj), obj.get("addressType", ""), format_discovery_ports(obj.get("ports")),
            format_discovery_endpoints(obj.get("endpoints")), age(obj, now)]


ENDPOINTS_COLUMNS = (_name_col(), Column("Endpoints", "string", DESC_EP_SUBSETS), _age_col())
ENDPOINT_SLICE_COLUMNS = (
    _name_col(),
    Column("AddressType", "string", DESC_EPS_ADDRESS_TYPE),
    Column("Ports", "string", DESC_EPS_PORTS),
    Column("Endpoints", "string", DESC_EPS_ENDPOINTS),
    _age_col(),
)


# --------------------------------------------------------------------------- workloads
def _replicas(obj: Obj) -> int:
    """``spec.replicas`` as the defaulted internal object holds it (nil defaults to 1)."""
    value = _spec(obj).get("replicas")
    return 1 if value is None else int(value)


def print_deployment(obj: Obj, now: datetime) -> list[Cell]:
    """``printDeployment``: NAME READY UP-TO-DATE AVAILABLE AGE | CONTAINERS IMAGES SELECTOR."""
    status = _status(obj)
    names, images = layout_container_cells(_template_containers(obj))
    return [
        _name(obj), f"{int(status.get('readyReplicas') or 0)}/{_replicas(obj)}",
        int(status.get("updatedReplicas") or 0), int(status.get("availableReplicas") or 0), age(obj, now),
        names, images, selector_string(_spec(obj).get("selector")),
    ]


def print_replica_set(obj: Obj, now: datetime) -> list[Cell]:
    """``printReplicaSet``: NAME DESIRED CURRENT READY AGE | CONTAINERS IMAGES SELECTOR."""
    status = _status(obj)
    names, images = layout_container_cells(_template_containers(obj))
    return [
        _name(obj), _replicas(obj), int(status.get("replicas") or 0), int(status.get("readyReplicas") or 0),
        age(obj, now), names, images, format_label_selector(_spec(obj).get("selector")),
    ]


def _has_condition(obj: Obj, ctype: str) -> bool:
    return any(c.get("type") == ctype and c.get("status") == "True" for c in _status(obj).get("conditions") or [])


def print_job(obj: Obj, now: datetime) -> list[Cell]:
    """``printJob``: NAME STATUS COMPLETIONS DURATION AGE | CONTAINERS IMAGES SELECTOR."""
    spec, status = _spec(obj), _status(obj)
    succeeded = int(status.get("succeeded") or 0)
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{spec['completions']}"
    else:
        parallelism = int(spec.get("parallelism") or 0)
        completions = f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"
    start, end = parse_time(status.get("startTime")), parse_time(status.get("completionTime"))
    took = "" if start is None else human_duration((end or now) - start)
    for ctype, word in (("Complete", "Complete"), ("Failed", "Failed")):
        if _has_condition(obj, ctype):
            state = word
            break
    else:
        state = "Terminating" if obj["metadata"].get("deletionTimestamp") else next(
            (word for ctype, word in (("Suspended", "Suspended"), ("FailureTarget", "FailureTarget"),
                                      ("SuccessCriteriaMet", "SuccessCriteriaMet")) if _has_condition(obj, ctype)),
            "Running")
    names, images = layout_container_cells(_template_containers(obj))
    return [_name(obj), state, completions, took, age(obj, now), names, images,
            selector_string(spec.get("selector"))]


def print_cron_job(obj: Obj, now: datetime) -> list[Cell]:
    """``printCronJob``: NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE AGE | CONTAINERS IMAGES SELECTOR."""
    spec, status = _spec(obj), _status(obj)
    last = parse_time(status.get("lastScheduleTime"))
    suspend = spec.get("suspend")
    job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    names, images = layout_container_cells(((job_spec.get("template") or {}).get("spec") or {}).get("containers")
                                           or [])
    return [_name(obj), spec.get("schedule", ""), spec.get("timeZone") or "<none>",
            "<unset>" if suspend is None else str(bool(suspend)).capitalize(), len(status.get("active") or []),
            "<none>" if last is None else human_duration(now - last), age(obj, now), names, images,
            selector_string(job_spec.get("selector"))]


JOB_WIDE_COLUMNS = (
    Column("Containers", "string", "Names of each container in the template.", priority=1),
    Column("Images", "string", "Images referenced by each container in the template.", priority=1),
    Column("Selector", "string", "A label query over pods that should match the pod count. Normally, the system "
                                 "sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/"
                                 "working-with-objects/labels/#label-selectors", priority=1),
)
"""``kubectl get jobs|cronjobs -o wide``'s extra columns (printJob and printCronJob share them)."""
JOB_COLUMNS = (
    _name_col(),
    Column("Status", "string", "Status of the job."),
    Column("Completions", "string", "The number of pods which reached phase Succeeded. The value increases "
                                    "monotonically for a given spec. However, it may decrease in reaction to scale "
                                    "down of elastic indexed jobs."),
    Column("Duration", "string", "Time required to complete the job."),
    _age_col(),
    *JOB_WIDE_COLUMNS,
)
CRON_JOB_COLUMNS = (
    _name_col(),
    Column("Schedule", "string", "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."),
    Column("Timezone", "string", "The time zone name for the given schedule, see "
                                 "https://en.wikipedia.org/wiki/List_of_tz_database_time_zones."),
    Column("Suspend", "boolean", "This flag tells the controller to suspend subsequent executions, it does not apply "
                                 "to already started executions.  Defaults to false."),
    Column("Active", "integer", "A list of pointers to currently running jobs."),
    Column("Last Schedule", "string", "Information when was the last time the job was successfully scheduled."),
    _age_col(),
    *JOB_WIDE_COLUMNS,
)


DEPLOYMENT_COLUMNS = (
    _name_col(),
    Column("Ready", "string", "Number of the pod with ready state"),
    Column("Up-to-date", "string", DESC_DEPLOY_UPDATED),
    Column("Available", "string", DESC_DEPLOY_AVAILABLE),
    _age_col(),
    Column("Containers", "string", DESC_CONTAINERS, priority=1),
    Column("Images", "string", DESC_IMAGES, priority=1),
    Column("Selector", "string", DESC_DEPLOY_SELECTOR, priority=1),
)
REPLICA_SET_COLUMNS = (
    _name_col(),
    Column("Desired", "integer", DESC_RS_SPEC_REPLICAS),
    Column("Current", "integer", DESC_RS_STATUS_REPLICAS),
    Column("Ready", "integer", DESC_RS_READY),
    _age_col(),
    Column("Containers", "string", DESC_CONTAINERS, priority=1),
    Column("Images", "string", DESC_IMAGES, priority=1),
    Column("Selector", "string", DESC_RS_SELECTOR, priority=1),
)


def print_replication_controller(obj: Obj, now: datetime) -> list[Cell]:
    """``printReplicationController``: NAME DESIRED CURRENT READY AGE | CONTAINERS IMAGES SELECTOR."""
    status = _status(obj)
    names, images = layout_container_cells(_template_containers(obj))
    return [_name(obj), _replicas(obj), int(status.get("replicas") or 0), int(status.get("readyReplicas") or 0),
            age(obj, now), names, images, format_labels(_spec(obj).get("selector"))]


DAEMON_SET_COLUMNS = (
    _name_col(),
    Column("Desired", "integer", "The desired number of daemon pods"),
    Column("Current", "integer", "The current number of daemon pods"),
    Column("Ready", "integer", "The number of daemon pods that are ready"),
    Column("Up-to-date", "integer", "The number of daemon pods that are up to date"),
    Column("Available", "integer", "The number of daemon pods that are available"),
    Column("Node Selector", "string", "Which nodes the daemon pods run on"),
    _age_col(),
    Column("Containers", "string", DESC_CONTAINERS, priority=1),
    Column("Images", "string", DESC_IMAGES, priority=1),
    Column("Selector", "string", DESC_RS_SELECTOR, priority=1),
)


def print_daemon_set(obj: Obj, now: datetime) -> list[Cell]:
    """``printDaemonSet``: NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR AGE | …"""
    status = _status(obj)
    names, images = layout_container_cells(_template_containers(obj))
    template_spec = ((_spec(obj).get("template") or {}).get("spec") or {})
    return [_name(obj), *(int(status.get(k) or 0) for k in ("desiredNumberScheduled", "currentNumberScheduled",
                                                           "numberReady", "updatedNumberScheduled",
                                                           "numberAvailable")),
            format_labels(template_spec.get("nodeSelector")), age(obj, now), names, images,
            format_label_selector(_spec(obj).get("selector"))]


STATEFUL_SET_COLUMNS = (
    _name_col(),
    Column("Ready", "string", "Number of the pod with ready state"),
    _age_col(),
    Column("Containers", "string", DESC_CONTAINERS, priority=1),
    Column("Images", "string", DESC_IMAGES, priority=1),
)


def print_stateful_set(obj: Obj, now: datetime) -> list[Cell]:
    """``printStatefulSet``: NAME READY AGE | CONTAINERS IMAGES."""
    names, images = layout_container_cells(_template_containers(obj))
    ready = int(_status(obj).get("readyReplicas") or 0)
    return [_name(obj), f"{ready}/{_replicas(obj)}", age(obj, now), names, images]


CONTROLLER_REVISION_COLUMNS = (
    _name_col(),
    Column("Controller", "string", "Controller of the object"),
    Column("Revision", "string", "Revision indicates the revision of the state represented by Data."),
    _age_col(),
)


def print_controller_revision(obj: Obj, now: datetime) -> list[Cell]:
    """``printControllerRevision``: NAME CONTROLLER REVISION AGE; the controller as ``daemonset.apps/web``
    (formatResourceName of its controller reference's group and kind)."""
    ref = next((r for r in (obj.get("metadata") or {}).get("ownerReferences") or [] if r.get("controller")), None)
    controller = "<none>"
    if ref is not None:
        group = ref.get("apiVersion", "").rpartition("/")[0]
        controller = (ref.get("kind", "") + (f".{group}" if group else "")).lower() + "/" + ref.get("name", "")
    return [_name(obj), controller, int(obj.get("revision") or 0), age(obj, now)]


# --------------------------------------------------------------------------- networking
def format_hosts(rules: Sequence[Obj] | None) -> str:
    """``formatHosts``: up to three rule hosts, ``*`` when no rule names a host."""
    rules = list(rules or [])
    shown: list[str] = []
    limit, more = 3, False
    for rule in rules:
        if len(shown) == limit:
            more = True
        if not more and rule.get("host"):
            shown.append(rule["host"])
    if not shown:
        return "*"
    text = ",".join(shown)
    return f"{text} + {len(rules) - limit} more..." if more else text


def print_ingress(obj: Obj, now: datetime) -> list[Cell]:
    """``printIngress``: NAME CLASS HOSTS ADDRESS PORTS AGE."""
    spec = _spec(obj)
    return [
        _name(obj), spec.get("ingressClassName") or "<none>", format_hosts(spec.get("rules")),
        load_balancer_status(_status(obj).get("loadBalancer")), "80, 443" if spec.get("tls") else "80",
        age(obj, now),
    ]


def print_ingress_class(obj: Obj, now: datetime) -> list[Cell]:
    """``printIngressClass``: NAME CONTROLLER PARAMETERS AGE; parameters as ``Kind[.group]/name``."""
    spec = _spec(obj)
    params = spec.get("parameters")
    text = "<none>"
    if params is not None:
        text = params.get("kind", "")
        if params.get("apiGroup") is not None:
            text += "." + params["apiGroup"]
        text += "/" + params.get("name", "")
    return [_name(obj), spec.get("controller", ""), text, age(obj, now)]


def print_network_policy(obj: Obj, now: datetime) -> list[Cell]:
    """``printNetworkPolicy``: NAME POD-SELECTOR AGE; an empty selector prints ``<none>``."""
    return [_name(obj), format_label_selector(_spec(obj).get("podSelector") or {}), age(obj, now)]


INGRESS_COLUMNS = (
    _name_col(),
    Column("Class", "string", "The name of the IngressClass resource that should be used for additional configuration"),
    Column("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
    Column("Address", "string", "Address is a list containing ingress points for the load-balancer"),
    Column("Ports", "string", "Ports of TLS configurations that open"),
    _age_col(),
)
INGRESS_CLASS_COLUMNS = (
    _name_col(),
    Column("Controller", "string", "Controller that is responsible for handling this class"),
    Column("Parameters", "string", "A reference to a resource with additional parameters"),
    _age_col(),
)
NETWORK_POLICY_COLUMNS = (_name_col(), Column("Pod-Selector", "string", DESC_NETPOL_POD_SELECTOR), _age_col())


# --------------------------------------------------------------------------- leases
def print_lease(obj: Obj, now: datetime) -> list[Cell]:
    """``printLease``: NAME HOLDER AGE."""
    return [_name(obj), _spec(obj).get("holderIdentity") or "<unknown>", age(obj, now)]


LEASE_COLUMNS = (_name_col(), Column("Holder", "string", "Name of the Lease holder"), _age_col())


# --------------------------------------------------------------------------- events
def format_event_source(event: Obj) -> str:
    """``formatEventSource``: ``component, host``, falling back to reportingComponent/Instance."""
    source = event.get("source") or {}
    component = source.get("component") or event.get("reportingComponent") or ""
    instance = source.get("host") or event.get("reportingInstance") or ""
    return f"{component}, {instance}" if instance else component


def print_event(event: Obj, now: datetime) -> list[Cell]:
    """``printEvent`` (wide): LAST SEEN TYPE REASON OBJECT | SUBOBJECT SOURCE | MESSAGE | FIRST SEEN COUNT NAME.

    core/v1 Events written through events.k8s.io carry ``eventTime``/``series``
    instead of first/lastTimestamp/count; upstream falls back to those.
    """
    first = since(event.get("firstTimestamp"), now)
    if parse_time(event.get("firstTimestamp")) is None:
        first = since(event.get("eventTime"), now)
    last = since(event.get("lastTimestamp"), now)
    if parse_time(event.get("lastTimestamp")) is None:
        last = first
    count = int(event.get("count") or 0)
    series = event.get("series")
    if series is not None:
        last = since(series.get("lastObservedTime"), now)
        count = int(series.get("count") or 0)
    elif count == 0:
        count = 1  # singleton events don't set count in the new API
    involved = event.get("involvedObject") or {}
    kind = (involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    return [
        last, event.get("type", ""), event.get("reason", ""), target, involved.get("fieldPath", ""),
        format_event_source(event), (event.get("message") or "").strip(), first, count, _name(event),
    ]


EVENT_COLUMNS = (
    Column("Last Seen", "string", "The time at which the most recent occurrence of this event was recorded."),
    Column("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future"),
    Column("Reason", "string", "This should be a short, machine understandable string that gives the reason for the "
                               "transition into the object's current status."),
    Column("Object", "string", "The object that this event is about."),
    Column("Subobject", "string", DESC_EVENT_FIELD_PATH, priority=1),
    Column("Source", "string", "The component reporting this event. Should be a short machine understandable string.",
           priority=1),
    Column("Message", "string", "A human-readable description of the status of this operation."),
    Column("First Seen", "string", "The time at which the event was first recorded. (Time of server receipt is in "
                                   "TypeMeta.)", priority=1),
    Column("Count", "string", "The number of times this event has occurred.", priority=1),
    Column("Name", "string", DESC_NAME, format="name", priority=1),
)


# --------------------------------------------------------------------------- nodes, namespaces, config
LABEL_NODE_ROLE_PREFIX = "node-role.kubernetes.io/"
NODE_LABEL_ROLE = "kubernetes.io/role"


def node_roles(node: Obj) -> list[str]:
    """``findNodeRoles``: ``node-role.kubernetes.io/<role>`` keys and ``kubernetes.io/role`` values, sorted."""
    roles = set()
    for key, value in (_meta(node).get("labels") or {}).items():
        if key.startswith(LABEL_NODE_ROLE_PREFIX):
            role = key[len(LABEL_NODE_ROLE_PREFIX):]
            if role:
                roles.add(role)
        elif key == NODE_LABEL_ROLE and value:
            roles.add(value)
    return sorted(roles)


def node_status(node: Obj) -> str:
    """``printNode`` STATUS: Ready/NotReady/Unknown, plus SchedulingDisabled when cordoned."""
    ready = {c.get("type"): c for c in _status(node).get("conditions") or []}.get("Ready")
    parts = [] if ready is None else ["Ready" if ready.get("status") == "True" else "NotReady"]
    parts = parts or ["Unknown"]
    if _spec(node).get("unschedulable"):
        parts.append("SchedulingDisabled")
    return ",".join(parts)


def _node_address(node: Obj, kind: str) -> str:
    for address in _status(node).get("addresses") or []:
        if address.get("type") == kind:
            return address.get("address", "")
    return "<none>"


def print_node(node: Obj, now: datetime) -> list[Cell]:
    """``printNode``: NAME STATUS ROLES AGE VERSION | INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME."""
    info = _status(node).get("nodeInfo") or {}
    return [
        _name(node), node_status(node), ",".join(node_roles(node)) or "<none>", age(node, now),
        info.get("kubeletVersion", ""), _node_address(node, "InternalIP"), _node_address(node, "ExternalIP"),
        info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def print_namespace(obj: Obj, now: datetime) -> list[Cell]:
    """``printNamespace``: NAME STATUS AGE."""
    return [_name(obj), _status(obj).get("phase", ""), age(obj, now)]


def print_config_map(obj: Obj, now: datetime) -> list[Cell]:
    """``printConfigMap``: NAME DATA AGE; DATA counts data and binaryData keys."""
    return [_name(obj), len(obj.get("data") or {}) + len(obj.get("binaryData") or {}), age(obj, now)]


def print_secret(obj: Obj, now: datetime) -> list[Cell]:
    """``printSecret``: NAME TYPE DATA AGE."""
    return [_name(obj), obj.get("type", ""), len(obj.get("data") or {}), age(obj, now)]


def print_service_account(obj: Obj, now: datetime) -> list[Cell]:
    """``printServiceAccount``: NAME SECRETS AGE."""
    return [_name(obj), len(obj.get("secrets") or []), age(obj, now)]


NODE_COLUMNS = (
    _name_col(),
    Column("Status", "string", "The status of the node"),
    Column("Roles", "string", "The roles of the node"),
    _age_col(),
    Column("Version", "string", "Kubelet Version reported by the node."),
    Column("Internal-IP", "string", DESC_NODE_ADDRESSES, priority=1),
    Column("External-IP", "string", DESC_NODE_ADDRESSES, priority=1),
    Column("OS-Image", "string", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 "
                                 "(wheezy)).", priority=1),
    Column("Kernel-Version", "string", "Kernel Version reported by the node from 'uname -r' (e.g. "
                                       "3.16.0-0.bpo.4-amd64).", priority=1),
    Column("Container-Runtime", "string", "ContainerRuntime Version reported by the node through runtime remote API "
                                          "(e.g. containerd://1.4.2).", priority=1),
)
NAMESPACE_COLUMNS = (_name_col(), Column("Status", "string", "The status of the namespace"), _age_col())
CONFIG_MAP_COLUMNS = (_name_col(), Column("Data", "string", DESC_CM_DATA), _age_col())
SECRET_COLUMNS = (_name_col(), Column("Type", "string", DESC_SECRET_TYPE), Column("Data", "string", DESC_SECRET_DATA),
                  _age_col())
SERVICE_ACCOUNT_COLUMNS = (_name_col(), Column("Secrets", "string", DESC_SA_SECRETS), _age_col())


def subjects_strings(subjects: Iterable[Obj] | None) -> tuple[list[str], list[str], list[str]]:
    """pkg/apis/rbac/v1 ``SubjectsStrings``: users, groups and ``namespace/name`` of service accounts."""
    users: list[str] = []
    groups: list[str] = []
    accounts: list[str] = []
    for subject in subjects or []:
        kind = subject.get("kind")
        if kind == "ServiceAccount":
            accounts.append(f"{subject.get('namespace', '')}/{subject.get('name', '')}")
        elif kind == "User":
            users.append(subject.get("name", ""))
        elif kind == "Group":
            groups.append(subject.get("name", ""))
    return users, groups, accounts


def print_role_binding(obj: Obj, now: datetime) -> list[Cell]:
    """``printRoleBinding`` / ``printClusterRoleBinding``: NAME ROLE AGE | USERS GROUPS SERVICEACCOUNTS."""
    ref = obj.get("roleRef") or {}
    users, groups, accounts = subjects_strings(obj.get("subjects"))
    return [_name(obj), f"{ref.get('kind', '')}/{ref.get('name', '')}", age(obj, now), ", ".join(users),
            ", ".join(groups), ", ".join(accounts)]


def _binding_columns(kind: str, role_ref: str) -> tuple[Column, ...]:
    return (_name_col(), Column("Role", "string", role_ref), _age_col(),
            Column("Users", "string", f"Users in the {kind}", priority=1),
            Column("Groups", "string", f"Groups in the {kind}", priority=1),
            Column("ServiceAccounts", "string", f"ServiceAccounts in the {kind}", priority=1))


ROLE_BINDING_COLUMNS = _binding_columns(
    "roleBinding", "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. "
    "If the RoleRef cannot be resolved, the Authorizer must return an error. This field is immutable.")
CLUSTER_ROLE_BINDING_COLUMNS = _binding_columns(
    "clusterRoleBinding", "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be "
    "resolved, the Authorizer must return an error. This field is immutable.")


# --------------------------------------------------------------------------- certificates.k8s.io
def _described(definition: str, prop: str) -> str:
    """A property's description in the served version's OpenAPI (what SwaggerDoc() returns upstream)."""
    return upstream_definitions()[definition]["properties"][prop]["description"]


def csr_condition(csr: Obj) -> str:
    """``extractCSRStatus``: Denied, else Approved, else Pending; then ``,Failed`` and ``,Issued``."""
    types = {c.get("type") for c in _status(csr).get("conditions") or []}
    status = "Denied" if "Denied" in types else "Approved" if "Approved" in types else "Pending"
    if "Failed" in types:
        status += ",Failed"
    if _status(csr).get("certificate"):
        status += ",Issued"
    return status


def print_certificate_signing_request(csr: Obj, now: datetime) -> list[Cell]:
    """``printCertificateSigningRequest``: NAME AGE SIGNERNAME REQUESTOR REQUESTEDDURATION CONDITION."""
    spec = _spec(csr)
    seconds = spec.get("expirationSeconds")
    requested = human_duration(timedelta(seconds=seconds)) if isinstance(seconds, int) else "<none>"
    return [_name(csr), age(csr, now), spec.get("signerName") or "<none>", spec.get("username") or "", requested,
            csr_condition(csr)]


_CSR_SPEC, _CSR_STATUS = ("io.k8s.api.certificates.v1.CertificateSigningRequestSpec",
                          "io.k8s.api.certificates.v1.CertificateSigningRequestStatus")
CSR_COLUMNS = (
    _name_col(), _age_col(),
    Column("SignerName", "string", _described(_CSR_SPEC, "signerName")),
    Column("Requestor", "string", _described(_CSR_SPEC, "request")),
    Column("RequestedDuration", "string", _described(_CSR_SPEC, "expirationSeconds")),
    Column("Condition", "string", _described(_CSR_STATUS, "conditions")),
)


# --------------------------------------------------------------------------- registry of printers
DEFAULT_COLUMNS = (
    _name_col(),
    Column("Created At", "date", "CreationTimestamp is a timestamp representing the server time when this object "
                                 "was created."),
)


def print_default(obj: Obj, now: datetime) -> list[Cell]:
    """k8s.io/apiserver rest.defaultTableConvertor: NAME and CREATED AT, for kinds with no printer of their own."""
    return [_name(obj), (obj.get("metadata") or {}).get("creationTimestamp")]


PRINTERS: dict[tuple[str, str], Printer] = {
    **{("authorization.k8s.io", plural): Printer(DEFAULT_COLUMNS, print_default)
       for plural in ("localsubjectaccessreviews", "selfsubjectaccessreviews", "selfsubjectrulesreviews",
                      "subjectaccessreviews")},
    **{("authentication.k8s.io", plural): Printer(DEFAULT_COLUMNS, print_default)
       for plural in ("selfsubjectreviews", "tokenreviews")},
    # Roles print with the registry's default table convertor (NAME, CREATED AT), bindings with printers.go's
    ("rbac.authorization.k8s.io", "roles"): Printer(DEFAULT_COLUMNS, print_default),
    ("rbac.authorization.k8s.io", "clusterroles"): Printer(DEFAULT_COLUMNS, print_default),
    ("rbac.authorization.k8s.io", "rolebindings"): Printer(ROLE_BINDING_COLUMNS, print_role_binding),
    ("rbac.authorization.k8s.io", "clusterrolebindings"): Printer(CLUSTER_ROLE_BINDING_COLUMNS, print_role_binding),
    ("", "pods"): Printer(POD_COLUMNS, print_pod, _pod_conditions),
    ("", "services"): Printer(SERVICE_COLUMNS, print_service),
    ("", "endpoints"): Printer(ENDPOINTS_COLUMNS, print_endpoints),
    ("", "events"): Printer(EVENT_COLUMNS, print_event),
    ("", "nodes"): Printer(NODE_COLUMNS, print_node),
    ("", "namespaces"): Printer(NAMESPACE_COLUMNS, print_namespace),
    ("", "configmaps"): Printer(CONFIG_MAP_COLUMNS, print_config_map),
    ("", "secrets"): Printer(SECRET_COLUMNS, print_secret),
    ("", "serviceaccounts"): Printer(SERVICE_ACCOUNT_COLUMNS, print_service_account),
    ("apps", "deployments"): Printer(DEPLOYMENT_COLUMNS, print_deployment),
    ("apps", "replicasets"): Printer(REPLICA_SET_COLUMNS, print_replica_set),
    ("", "replicationcontrollers"): Printer(REPLICA_SET_COLUMNS, print_replication_controller),
    ("apps", "daemonsets"): Printer(DAEMON_SET_COLUMNS, print_daemon_set),
    ("apps", "statefulsets"): Printer(STATEFUL_SET_COLUMNS, print_stateful_set),
    ("apps", "controllerrevisions"): Printer(CONTROLLER_REVISION_COLUMNS, print_controller_revision),
    ("batch", "jobs"): Printer(JOB_COLUMNS, print_job),
    ("batch", "cronjobs"): Printer(CRON_JOB_COLUMNS, print_cron_job),
    ("discovery.k8s.io", "endpointslices"): Printer(ENDPOINT_SLICE_COLUMNS, print_endpoint_slice),
    ("networking.k8s.io", "ingresses"): Printer(INGRESS_COLUMNS, print_ingress),
    ("networking.k8s.io", "ingressclasses"): Printer(INGRESS_CLASS_COLUMNS, print_ingress_class),
    ("networking.k8s.io", "networkpolicies"): Printer(NETWORK_POLICY_COLUMNS, print_network_policy),
    ("coordination.k8s.io", "leases"): Printer(LEASE_COLUMNS, print_lease),
    ("certificates.k8s.io", "certificatesigningrequests"): Printer(CSR_COLUMNS, print_certificate_signing_request),
    # apiextensions-apiserver registers CRDs with rest.NewDefaultTableConvertor: NAME, CREATED AT
    ("apiextensions.k8s.io", "customresourcedefinitions"): Printer(DEFAULT_COLUMNS, print_default),
}
"""Per-kind printers keyed by (group, plural); kinds absent here print with :func:`crd_printer`."""


# --------------------------------------------------------------------------- CRD columns and JSONPath
_TOKEN = re.compile(
    r"""\.(?P<field>(?:[A-Za-z0-9_\-/$]|\\\.)+)                # .field (\. escapes a dot, client-go jsonpath)
      | \[\s*'(?P<squoted>[^']*)'\s*\]                        # ['key.with.dots']
      | \[\s*"(?P<dquoted>[^"]*)"\s*\]                        # ["key"]
      | \[\s*(?P<index>-?\d+)\s*\]                            # [0]
      | \[\s*(?P<star>\*)\s*\]                                # [*]
      | \[\s*\?\(\s*@\.(?P<fkey>[A-Za-z0-9_.\-]+)\s*==\s*     # [?(@.type=="Ready")]
            (?:"(?P<fdq>[^"]*)"|'(?P<fsq>[^']*)')\s*\)\s*\]
    """,
    re.VERBOSE,
)


def parse_json_path(path: str) -> list[tuple[str, Any]]:
    """Parse the JSONPath subset CRD printer columns use into steps.

    Supported: ``.a.b``, ``['a.b']``, ``[0]``, ``[*]`` and ``[?(@.k=="v")]``,
    optionally wrapped in ``{...}``. Anything else raises ValueError, as an
    unparsable ``additionalPrinterColumns`` entry is rejected upstream.
    """
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    steps: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ValueError(f"unrecognized column definition {path!r}")
        if m.group("field") is not None:
            steps.append(("key", m.group("field").replace("\\.", ".")))
        elif m.group("squoted") is not None or m.group("dquoted") is not None:
            steps.append(("key", m.group("squoted") if m.group("squoted") is not None else m.group("dquoted")))
        elif m.group("index") is not None:
            steps.append(("index", int(m.group("index"))))
        elif m.group("star") is not None:
            steps.append(("all", None))
        else:
            want = m.group("fdq") if m.group("fdq") is not None else m.group("fsq")
            steps.append(("filter", (m.group("fkey").split("."), want)))
        pos = m.end()
    return steps


def _step(values: list[Any], kind: str, arg: Any) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if kind == "key" and isinstance(value, Mapping) and arg in value:
            out.append(value[arg])
        elif kind == "index" and isinstance(value, list) and -len(value) <= arg < len(value):
            out.append(value[arg])
        elif kind == "all" and isinstance(value, list):
            out.extend(value)
        elif kind == "all" and isinstance(value, Mapping):
            out.extend(value.values())
        elif kind == "filter" and isinstance(value, list):
            keys, want = arg
            for item in value:
                got: Any = item
                for k in keys:
                    got = got.get(k) if isinstance(got, Mapping) else None
                if got is not None and _jsonpath_text(got) == want:
                    out.append(item)
    return out


def json_path_find(obj: Any, path: str | list[tuple[str, Any]]) -> list[Any]:
    """All values ``path`` selects in ``obj`` (missing keys select nothing, like AllowMissingKeys)."""
    steps = parse_json_path(path) if isinstance(path, str) else path
    values = [obj]
    for kind, arg in steps:
        values = _step(values, kind, arg)
    return values


def _go_float(value: float) -> str:
    """Go's ``%v`` for a float64: shortest digits, exponent form below 1e-4 or from 1e+06."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if str(value).startswith("-") else "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    exp10 = len(text) - 1 + int(exponent)
    prefix = "-" if sign else ""
    if exp10 < -4 or exp10 >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    return prefix + format(Decimal(text).scaleb(exp10 - len(text) + 1), "f")


def _jsonpath_text(value: Any) -> str:
    """How Go's jsonpath prints one value: strings raw, scalars via %v, maps/lists as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if value is None:
        return "<nil>"
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _cell_for_json_value(column_type: str, value: Any, now: datetime) -> Cell:
    """``cellForJSONValue``: coerce a JSONPath result to the column's declared type, else null."""
    if value is None:
        return None
    if column_type == "integer" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    if column_type == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if column_type == "boolean" and isinstance(value, bool):
        return value
    if column_type == "date" and isinstance(value, str):
        if value in ("", "null"):
            return "<unknown>"  # metav1.Time unmarshals these to the zero time
        t = parse_time(value)
        return "<invalid>" if t is None else human_duration(now - t)
    return None


DEFAULT_CRD_COLUMNS = ({"name": "Age", "type": "date", "description": DESC_AGE,
                        "jsonPath": ".metadata.creationTimestamp"},)


def crd_printer(columns: Sequence[Mapping[str, Any]] | None = None) -> Printer:
    """A printer from CRD ``additionalPrinterColumns`` (the apiextensions tableconvertor).

    No columns means the CRD default, a single AGE column from
    ``.metadata.creationTimestamp``; the result always starts with NAME.
    Column descriptions default to ``Custom resource definition column (in
    JSONPath format): <path>``. ``string`` cells print the first match as Go's
    jsonpath would; other types are coerced, and a missing value is null
    (kubectl shows ``<none>``).
    """
    specs = list(columns or DEFAULT_CRD_COLUMNS)
    parsed = [_parse_or_none(c.get("jsonPath", "")) for c in specs]
    defs = [_name_col()] + [
        Column(c["name"], c.get("type", "string"),
               c.get("description") or f"Custom resource definition column (in JSONPath format): {c['jsonPath']}",
               format=c.get("format", ""), priority=int(c.get("priority", 0)))
        for c in specs
    ]

    def row(obj: Obj, now: datetime) -> list[Cell]:
        cells: list[Cell] = [_name(obj)]
        for col, steps in zip(defs[1:], parsed, strict=True):
            found = json_path_find(obj, steps) if steps is not None else []
            if not found or found[0] is None:
                cells.append(None)
            elif col.type == "string":
                cells.append(_jsonpath_text(found[0]))
            else:
                cells.append(_cell_for_json_value(col.type, found[0], now))
        return cells

    return Printer(tuple(defs), row)


def _parse_or_none(path: str) -> list[tuple[str, Any]] | None:
    """A column's parsed JSONPath; None (cells print empty) for a path beyond the subset parse_json_path knows,
    which CRD validation accepts (it checks only the leading dot)."""
    try:
        return parse_json_path(path)
    except ValueError:
        return None


def register_crd_columns(group: str, plural: str, columns: Sequence[Mapping[str, Any]] | None) -> Printer:
    """Register a CRD kind's printer columns (e.g. cert-manager Certificates: READY SECRET AGE)."""
    printer = crd_printer(columns)
    PRINTERS[(group, plural)] = printer
    return printer


def printer_for(rt: ResourceType) -> Printer:
    """The registered printer of a resource type, else the CRD default (NAME, AGE)."""
    return PRINTERS.get((rt.group, rt.plural)) or crd_printer(None)


# --------------------------------------------------------------------------- the Table
def _row_object(rt: ResourceType, obj: Obj, include_object: str, table_api_version: str) -> Any:
    """``asTable``: what a row embeds for each ``includeObject`` policy."""
    if include_object == "Object":
        full = dict(obj)
        full.setdefault("apiVersion", rt.api_version)
        full.setdefault("kind", rt.kind)
        return full
    if include_object == "None":
        return None  # an empty RawExtension marshals as null
    return {"kind": "PartialObjectMetadata", "apiVersion": table_api_version, "metadata": dict(_meta(obj))}


def _table_metadata(list_meta: Mapping[str, Any] | None) -> dict[str, Any]:
    """ListMeta with omitempty fields: resourceVersion, continue, remainingItemCount."""
    out: dict[str, Any] = {}
    for key in ("resourceVersion", "continue", "remainingItemCount"):
        if list_meta and list_meta.get(key) not in (None, ""):
            out[key] = list_meta[key]
    return out


def to_table(
    rt: ResourceType,
    objects: list[dict],
    now: datetime,
    *,
    include_object: str = "Metadata",
    list_meta: dict | None = None,
    no_headers: bool = False,
    columns: Sequence[Mapping[str, Any]] | None = None,
    api_version: str = TABLE_API_VERSION,
) -> dict:
    """Render objects as the ``Table`` kube-apiserver answers ``as=Table`` requests with.

    Args:
        rt: The resource type; selects the printer by (group, plural).
        objects: The objects (a LIST's items, or the one object of a GET).
        now: The clock AGE and "ago" cells are computed against.
        include_object: ``Metadata`` (default; rows embed a PartialObjectMetadata),
            ``Object`` (the full object) or ``None`` (``object: null``); the
            ``includeObject`` query parameter. "" means Metadata.
        list_meta: ListMeta of the LIST (resourceVersion, continue,
            remainingItemCount); for a GET pass the object's resourceVersion.
        no_headers: Omit column definitions (``columnDefinitions: null``), as
            watch events after the first do.
        columns: CRD ``additionalPrinterColumns`` to print with instead of the
            registered printer.
        api_version: ``meta.k8s.io/v1`` or ``meta.k8s.io/v1beta1``, as requested.

    Raises:
        ApiError: 400 for an unrecognized ``includeObject`` value, as upstream.
    """
    policy = include_object or "Metadata"
    if policy not in INCLUDE_POLICIES:
        raise bad_request(f"unrecognized includeObject value: {json.dumps(include_object)}")
    printer = crd_printer(columns) if columns else printer_for(rt)
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": printer.row(obj, now)}
        conditions = printer.conditions(obj) if printer.conditions else None
        if conditions:
            row["conditions"] = [dict(c) for c in conditions]
        row["object"] = _row_object(rt, obj, policy, api_version)
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": api_version,
        "metadata": _table_metadata(list_meta),
        "columnDefinitions": None if no_headers else [c.to_dict() for c in printer.columns],
        "rows": rows,
    }
