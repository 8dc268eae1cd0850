"""How Cilium merges the exports of one Service name across a cluster set into one ServiceImport: a pure function.

Every cluster that exports ``<ns>/<name>`` contributes an :class:`Export` (Cilium's ``MCSAPIServiceSpec``,
pkg/clustermesh/mcsapi/types/mcsapiservicespec.go: what each cluster publishes in its kvstore under
``cilium/state/serviceexports/v1/<cluster>/<ns>/<name>``). Each cluster's operator merges all of them the same way
(pkg/clustermesh/mcsapi/serviceimport_controller.go), so every member computes the same ServiceImport and the same
Conflict condition for its own ServiceExport:

- exports are ordered oldest first by the ServiceExport's creationTimestamp, ties broken by cluster name
  (orderSvcExportByPriority): "the oldest ServiceExport will have precedence to resolve the conflict"
  (docs.cilium.io, Multi-Cluster Services API; KEP-1645 "Conflict resolution");
- ports are the union of all exports' ports, a port being its number and protocol (mergePorts); the oldest export
  keeps a port name, a later export's port that reuses the name for another number/protocol is dropped; a port
  whose name or appProtocol differs from the oldest's, or any export whose own port list is not the merged one,
  raises ``PortConflict``;
- IP families are the intersection of all exports' (intersectIPFamilies), an export sharing none is skipped and
  raises ``IPFamilyConflict``;
- type (ClusterSetIP/Headless), sessionAffinity, sessionAffinityConfig.clientIP, exported annotations and labels,
  internalTrafficPolicy and trafficDistribution come from the oldest export; the first field some later export
  disagrees on raises ``TypeConflict``, ``SessionAffinityConflict``, ... (checkConflictExport), one reason at a
  time, ports first, then IP families, then these fields in this order.

The messages are Cilium's, formatted as Go's fmt formats them there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]

CLUSTER_SET_IP, HEADLESS = "ClusterSetIP", "Headless"
NO_CONFLICTS = "NoConflicts"
PORT_CONFLICT = "PortConflict"
TYPE_CONFLICT = "TypeConflict"
SESSION_AFFINITY_CONFLICT = "SessionAffinityConflict"
SESSION_AFFINITY_CONFIG_CONFLICT = "SessionAffinityConfigConflict"
ANNOTATIONS_CONFLICT = "AnnotationsConflict"
LABELS_CONFLICT = "LabelsConflict"
INTERNAL_TRAFFIC_POLICY_CONFLICT = "InternalTrafficPolicyConflict"
TRAFFIC_DISTRIBUTION_CONFLICT = "TrafficDistributionConflict"
IP_FAMILY_CONFLICT = "IPFamilyConflict"
"""The Conflict condition's reasons: sigs.k8s.io/mcs-api v0.5.0 pkg/apis/v1beta1/serviceexport.go."""


@dataclass(frozen=True)
class Port:
    """An MCS ServicePort (mcs-api v1beta1 ServicePort)."""

    port: int
    protocol: str = "TCP"
    name: str = ""
    app_protocol: str | None = None

    def similar(self, other: Port) -> bool:
        """isSimilarPort: the same number and protocol."""
        return self.port == other.port and self.protocol == other.protocol

    def go(self) -> str:
        """``%v`` of the Go struct {Name Protocol AppProtocol Port}; a set appProtocol pointer prints its value here
        (Go would print the pointer's address)."""
        return f"{{{self.name} {self.protocol} {self.app_protocol if self.app_protocol is not None else '<nil>'} " \
               f"{self.port}}}"

    def to_json(self) -> Obj:
        out: Obj = {"port": self.port}
        if self.name:
            out["name"] = self.name
        if self.protocol:
            out["protocol"] = self.protocol
        if self.app_protocol is not None:
            out["appProtocol"] = self.app_protocol
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Port:
        return cls(int(data["port"]), data.get("protocol") or "", data.get("name") or "", data.get("appProtocol"))


@dataclass(frozen=True)
class Export:
    """One cluster's export of ``namespace/name``: Cilium's MCSAPIServiceSpec (JSON as in its kvstore)."""

    cluster: str
    namespace: str
    name: str
    created: str
    """The ServiceExport's creationTimestamp (RFC 3339): the conflict-resolution priority."""
    ports: tuple[Port, ...] = ()
    type: str = CLUSTER_SET_IP
    session_affinity: str = "None"
    session_affinity_timeout: int | None = None
    ip_families: tuple[str, ...] = ()
    internal_traffic_policy: str | None = None
    traffic_distribution: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def time(self) -> datetime:
        return datetime.strptime(self.created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)

    def session_affinity_config(self) -> Obj | None:
        if self.session_affinity_timeout is None:
            return None
        return {"clientIP": {"timeoutSeconds": self.session_affinity_timeout}}

    def to_json(self) -> Obj:
        """The kvstore value's JSON (mcsapiservicespec.go field tags)."""
        out: Obj = {"cluster": self.cluster, "name": self.name, "namespace": self.namespace,
                    "exportCreationTimestamp": self.created, "ports": [p.to_json() for p in self.ports],
                    "type": self.type, "sessionAffinity": self.session_affinity}
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.labels:
            out["labels"] = dict(self.labels)
        if (config := self.session_affinity_config()) is not None:
            out["sessionAffinityConfig"] = config
        if self.ip_families:
            out["ipFamilies"] = list(self.ip_families)
        if self.internal_traffic_policy is not None:
            out["internalTrafficPolicy"] = self.internal_traffic_policy
        if self.traffic_distribution is not None:
            out["trafficDistribution"] = self.traffic_distribution
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Export:
        """An export from its JSON.

        Raises:
            ValueError: what MCSAPIServiceSpec.validate refuses (unset names or time, an unknown type or session
                affinity).
        """
        for key in ("cluster", "namespace", "name", "exportCreationTimestamp"):
            if not data.get(key):
                raise ValueError(f"{key} is unset")
        if data.get("type") not in (CLUSTER_SET_IP, HEADLESS):
            raise ValueError(f"type is unknown: {data.get('type')}")
        if data.get("sessionAffinity") not in ("ClientIP", "None"):
            raise ValueError(f"session affinity is unknown: {data.get('sessionAffinity')}")
        timeout = ((data.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
        return cls(data["cluster"], data["namespace"], data["name"], data["exportCreationTimestamp"],
                   tuple(Port.from_json(p) for p in data.get("ports") or []), data["type"], data["sessionAffinity"],
                   timeout, tuple(data.get("ipFamilies") or ()), data.get("internalTrafficPolicy"),
                   data.get("trafficDistribution"), dict(data.get("annotations") or {}),
                   dict(data.get("labels") or {}))


def export_of(service: Obj, service_export: Obj, cluster: str) -> Export:
    """fromServiceToMCSAPIServiceSpec: what a cluster exports for a Service and its ServiceExport."""
    spec = service.get("spec") or {}
    export_spec = service_export.get("spec") or {}
    timeout = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
    return Export(
        cluster, service["metadata"].get("namespace", ""), service["metadata"]["name"],
        service_export["metadata"]["creationTimestamp"],
        tuple(Port(int(p["port"]), p.get("protocol") or "", p.get("name") or "", p.get("appProtocol"))
              for p in spec.get("ports") or []),
        HEADLESS if spec.get("clusterIP") == "None" else CLUSTER_SET_IP,
        spec.get("sessionAffinity") or "None", timeout, tuple(spec.get("ipFamilies") or ()),
        spec.get("internalTrafficPolicy"), spec.get("trafficDistribution"),
        dict(export_spec.get("exportedAnnotations") or {}), dict(export_spec.get("exportedLabels") or {}))


def valid_for_export(service: Obj) -> tuple[bool, str, str]:
    """CheckLocalSvcValidForExport: (valid, reason, message); an ExternalName Service cannot be exported."""
    if (service.get("spec") or {}).get("type") == "ExternalName":
        return False, "InvalidServiceType", "Service type ExternalName is not supported"
    return True, "", ""


def order(exports: Iterable[Export]) -> list[Export]:
    """orderSvcExportByPriority: oldest export first; the same time orders by cluster name."""
    return sorted(exports, key=lambda e: (e.time, e.cluster))


def merge_ports(ordered: list[Export]) -> tuple[list[Port], str, str]:
    """mergePorts: the union of the ports (the oldest export's definition wins) and a PortConflict, if any."""
    conflict = ""
    merged: list[tuple[Port, Export]] = []
    by_name: dict[str, tuple[Port, Export]] = {}
    for export in ordered:
        for port in export.ports:
            named = by_name.get(port.name)
            if named is not None and not port.similar(named[0]):  # checkDuplicatedPortNameConflict
                conflict = conflict or (
                    f'Duplicated port name "{port.name}". Using port definition "{_go_merge(*named)}" from oldest '
                    f'service export in cluster "{named[1].cluster}".')
                continue
            same = next((m for m in merged if m[0].similar(port)), None)
            if same is None:
                by_name[port.name] = (port, export)
                merged.append((port, export))
            elif not conflict:  # checkPortConflict
                older, source = same
                if port.name != older.name:
                    conflict = (f'Conflicting port name on "{_go_merge(port, export)}". Using the port name '
                                f'"{older.name}" from oldest service export in cluster "{source.cluster}".')
                elif (port.app_protocol or "") != (older.app_protocol or ""):
                    conflict = (f'Conflicting appProtocol on "{_go_merge(port, export)}". Using the appProtocol '
                                f'"{older.app_protocol or ""}" from oldest service export in cluster '
                                f'"{source.cluster}".')
    ports = [p for p, _ in merged]
    if not conflict:
        for export in ordered:
            if [_port_key(p) for p in ports] != [_port_key(p) for p in export.ports]:
                conflict = (f'Ports from cluster "{export.cluster}" does not match ports of oldest service export '
                            f'in cluster "{ordered[0].cluster}".')
                break
    return ports, (PORT_CONFLICT if conflict else NO_CONFLICTS), conflict


def _port_key(p: Port) -> tuple[str, str, int, str]:
    return p.name, p.protocol, p.port, p.app_protocol or ""


def _go_merge(port: Port, export: Export) -> str:
    """``%v`` of Cilium's portMerge{ServicePort, cluster, ExportCreationTimestamp}."""
    return f"{{{port.go()} {export.cluster} {export.time.strftime('%Y-%m-%d %H:%M:%S +0000 UTC')}}}"


def intersect_ip_families(ordered: list[Export]) -> tuple[list[str] | None, str, str]:
    """intersectIPFamilies: families every export has (None when no export says any: clusters of Cilium 1.18 and
    older); an export with none in common is skipped and named in an IPFamilyConflict."""
    with_families = [e for e in ordered if e.ip_families]
    if not with_families:
        return None, NO_CONFLICTS, ""
    families = list(with_families[0].ip_families)
    conflicting = ""
    for export in with_families[1:]:
        common = [f for f in families if f in export.ip_families]
        if not common:
            conflicting = conflicting or export.cluster
            continue
        families = common
    if conflicting:
        return families, IP_FAMILY_CONFLICT, f"IPFamilies conflict. Cluster '{conflicting}' has no IPFamilies in common."
    return families, NO_CONFLICTS, ""


def _go_map(m: Mapping[str, str]) -> str:
    """``%v`` of a Go map[string]string: sorted by key."""
    return "map[" + " ".join(f"{k}:{v}" for k, v in sorted(m.items())) + "]"


def _timeout_text(e: Export) -> str:
    """Cilium's getter ``string(*timeoutSeconds)``: Go converts an int32 to the character with that code point."""
    t = e.session_affinity_timeout
    return "" if t is None else (chr(t) if 0 <= t <= 0x10FFFF and not 0xD800 <= t <= 0xDFFF else "\ufffd")


FIELDS = (
    ("type", TYPE_CONFLICT, lambda e: e.type),
    ("sessionAffinity", SESSION_AFFINITY_CONFLICT, lambda e: e.session_affinity),
    ("sessionAffinityConfig.clientIP", SESSION_AFFINITY_CONFIG_CONFLICT, _timeout_text),
    ("annotations", ANNOTATIONS_CONFLICT, lambda e: _go_map(e.annotations)),
    ("labels", LABELS_CONFLICT, lambda e: _go_map(e.labels)),
    ("internalTrafficPolicy", INTERNAL_TRAFFIC_POLICY_CONFLICT, lambda e: e.internal_traffic_policy or "Cluster"),
    ("trafficDistribution", TRAFFIC_DISTRIBUTION_CONFLICT, lambda e: e.traffic_distribution or ""),
)
"""checkConflictExport's fields in its order: (name, reason, the value compared and shown)."""


def check_conflict(ordered: list[Export]) -> tuple[str, str]:
    """checkConflictExport: the first later export that disagrees with the oldest on a field, and how many do."""
    oldest = ordered[0]
    for i, export in enumerate(ordered[1:], start=1):
        for name, reason, value in FIELDS:
            if value(export) == value(oldest):
                continue
            count = 1 + sum(1 for other in ordered[i + 1:] if value(other) != value(oldest))
            return reason, (f'Conflicting {name}. {count}/{len(ordered)} clusters disagree. Using "{value(oldest)}" '
                            f'from oldest service export in cluster "{oldest.cluster}".')
    return NO_CONFLICTS, ""


@dataclass
class Merged:
    """The ServiceImport every member derives from the exports, and the conflict each reports."""

    exports: list[Export]
    """The exports, oldest first (status.clusters lists their clusters in this order)."""
    ports: list[Port]
    ip_families: list[str] | None
    conflict_reason: str
    conflict_message: str

    @property
    def oldest(self) -> Export:
        return self.exports[0]

    def spec(self) -> Obj:
        """The ServiceImport's spec as the reconciler sets it (``ips`` is the derived Service's, set apart)."""
        oldest = self.oldest
        spec: Obj = {"ports": [p.to_json() for p in self.ports], "type": oldest.type,
                     "sessionAffinity": oldest.session_affinity}
        if self.ip_families is not None:
            spec["ipFamilies"] = list(self.ip_families)
        if (config := oldest.session_affinity_config()) is not None:
            spec["sessionAffinityConfig"] = config
        if oldest.internal_traffic_policy is not None:
            spec["internalTrafficPolicy"] = oldest.internal_traffic_policy
        if oldest.traffic_distribution is not None:
            spec["trafficDistribution"] = oldest.traffic_distribution
        return spec

    def clusters(self) -> list[Obj]:
        return [{"cluster": e.cluster} for e in self.exports]


def merge(exports: Iterable[Export]) -> Merged:
    """Merge every cluster's export of one name (at least one) as each member's ServiceImport reconciler does.

    Raises:
        ValueError: no export, or exports of different names.
    """
    ordered = order(exports)
    if not ordered:
        raise ValueError("no export to merge")
    if len({(e.namespace, e.name) for e in ordered}) > 1:
        raise ValueError("exports of different Services cannot be merged")
    ports, reason, message = merge_ports(ordered)
    families, family_reason, family_message = intersect_ip_families(ordered)
    if reason == NO_CONFLICTS:
        reason, message = family_reason, family_message
    if reason == NO_CONFLICTS:
        reason, message = check_conflict(ordered)
    return Merged(ordered, ports, families, reason, message)
