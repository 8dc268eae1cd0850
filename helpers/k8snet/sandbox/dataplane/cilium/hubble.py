"""Hubble's flows from the emulated datapath: what each agent's Hubble server keeps and ``hubble observe`` prints.

A flow is one observed event: a packet forwarded to an endpoint or to the overlay, a packet dropped (with its drop
reason), or an L7 request or response seen by the node's Envoy proxy. Each node's agent keeps its own in a ring of
``hubble-event-buffer-capacity`` (4095) flows; ``hubble observe`` inside an agent pod reads that node's ring, as it
reads the local agent's Hubble socket (hubble-socket-path) on a real cluster.

The output follows hubble's printer (hubble/pkg/printer/printer.go in github.com/cilium/cilium):

- compact (the default): ``TIME: SRC (ID) ARROW DST (ID) TYPE VERDICT (SUMMARY)``. TIME is Go's
  ``time.StampMilli``; SRC/DST are ``namespace/pod:port`` (the IP for a peer without a pod); the identity is
  ``(ID:n)``, or ``(name)`` for a reserved one (``(world)``, ``(host)``); the arrow is ``->`` for a packet of the
  original direction, ``<-`` for a reply (source and destination swapped), ``<>`` when the direction is unknown
  (drops); TYPE is the trace observation point (``to-endpoint``, ``to-overlay``), the drop reason (``Policy
  denied``, pkg/monitor/api DropReason 133) or ``http-request``/``http-response``; SUMMARY is ``TCP Flags: SYN``,
  ``UDP``, or the HTTP summary of pkg/hubble/parser/seven/http.go: ``HTTP/1.1 GET http://host/path`` for a
  request, ``HTTP/1.1 200 3ms (GET http://host/path)`` for a response.
- ``-o jsonpb``: one ``{"flow": {...}, "node_name": ..., "time": ...}`` per line with the flow's protobuf JSON
  fields (api/v1/flow/flow.proto: ``verdict``, ``drop_reason_desc``, ``IP``, ``l4``, ``source``, ``destination``,
  ``Type``, ``traffic_direction``, ``is_reply``, ``l7``, ``Summary``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .labels import RESERVED_NAMES

FORWARDED, DROPPED = "FORWARDED", "DROPPED"
POLICY_DENIED = "Policy denied"
DROP_REASON_CODES = {POLICY_DENIED: (133, "POLICY_DENIED")}
"""pkg/monitor/api drop reasons and api/v1/flow DropReason names."""


@dataclass
class FlowPeer:
    ip: str
    port: int = 0
    namespace: str = ""
    pod: str = ""
    identity: int = 0
    labels: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # the DNS names the source endpoint resolved to this address

    def host(self) -> str:
        """printer.Hostname: the pod, else the DNS names (comma-separated), else the address."""
        name = f"{self.namespace}/{self.pod}" if self.pod else (",".join(self.names) or self.ip)
        return f"{name}:{self.port}" if self.port else name

    def ident(self) -> str:
        return f"({RESERVED_NAMES[self.identity]})" if self.identity in RESERVED_NAMES else f"(ID:{self.identity})"

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"identity": self.identity}
        if self.namespace:
            out["namespace"] = self.namespace
        if self.labels:
            out["labels"] = self.labels
        if self.pod:
            out["pod_name"] = self.pod
        return out


@dataclass
class Flow:
    """One Hubble flow."""

    time: float
    node: str
    src: FlowPeer
    dst: FlowPeer
    protocol: str  # TCP, UDP, SCTP, ICMPv4
    verdict: str
    kind: str  # "trace", "drop" or "l7"
    point: str = ""  # to-endpoint, to-overlay (trace); the drop reason (drop)
    direction: str = "INGRESS"  # the policy direction it was judged in
    is_reply: bool | None = False
    l7: dict[str, Any] | None = None
    """HTTP: {"type": "REQUEST"|"RESPONSE", "method", "url", "code", "latency_ms"}; DNS: {"type", "dns": {"query",
    "qtypes", "observation_source", and for a response "rcode", "rcode_name", "ips", "cnames", "ttl", "rrtypes"}}."""
    policies: list[str] = field(default_factory=list)  # the policies that allowed or dropped it

    @property
    def type(self) -> str:
        """printer.GetFlowType: ``http-request``; ``dns-request proxy`` (the DNS record's observation source)."""
        if self.l7 is not None and "dns" in self.l7:
            return f"dns-{self.l7['type'].lower()} {self.l7['dns']['observation_source']}"
        if self.l7 is not None:
            return f"http-{self.l7['type'].lower()}"
        return self.point

    @property
    def summary(self) -> str:
        if self.l7 is not None and "dns" in self.l7:  # parser/seven dnsSummary
            dns = self.l7["dns"]
            question = f"{dns['query']} {','.join(dns['qtypes'])}"
            if self.l7["type"] == "REQUEST":
                return f"DNS Query {question}"
            if dns["rcode"]:
                answer = f"RCode: {dns['rcode_name']}"
            else:
                answer = " ".join(([f'"{",".join(dns["ips"])}"'] if dns["ips"] else []) +
                                  ([f'CNAMEs: "{",".join(dns["cnames"])}"'] if dns["cnames"] else []))
            return f"DNS Answer {answer} TTL: {dns['ttl']} (Proxy {question})"
        if self.l7 is not None:
            if self.l7["type"] == "REQUEST":
                return f"HTTP/1.1 {self.l7['method']} {self.l7['url']}"
            return f"HTTP/1.1 {self.l7['code']} {self.l7.get('latency_ms', 0)}ms ({self.l7['method']} {self.l7['url']})"
        if self.protocol == "TCP":
            return "TCP Flags: SYN"
        return self.protocol

    def stamp(self) -> str:
        """Go's time.StampMilli (``Jan _2 15:04:05.000``), in UTC."""
        t = datetime.fromtimestamp(self.time, UTC)
        return f"{t:%b} {t.day:2d} {t:%H:%M:%S}.{t.microsecond // 1000:03d}"

    def compact(self, node_name: bool = False) -> str:
        src, dst, sid, did = self.src.host(), self.dst.host(), self.src.ident(), self.dst.ident()
        arrow = "->"
        if self.is_reply is None:
            arrow = "<>"
        elif self.is_reply:
            src, dst, sid, did, arrow = dst, src, did, sid, "<-"
        node = f" [{self.node}]" if node_name else ""
        return f"{self.stamp()}{node}: {src} {sid} {arrow} {dst} {did} {self.type} {self.verdict} ({self.summary})"

    def jsonpb(self) -> str:
        iso = datetime.fromtimestamp(self.time, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        ports = {"source_port": self.src.port, "destination_port": self.dst.port}
        l4: dict[str, Any] = {}
        if self.protocol == "TCP":
            l4 = {"TCP": {**ports, "flags": {"SYN": True}}}
        elif self.protocol in ("UDP", "SCTP"):
            l4 = {self.protocol: ports}
        flow: dict[str, Any] = {"time": iso, "verdict": self.verdict}
        if self.kind == "drop":
            code, name = DROP_REASON_CODES.get(self.point, (0, "DROP_REASON_UNKNOWN"))
            flow["drop_reason"] = code
            flow["drop_reason_desc"] = name
        flow["IP"] = {"source": self.src.ip, "destination": self.dst.ip, "ipVersion": "IPv4"}
        if l4:
            flow["l4"] = l4
        flow["source"] = self.src.json()
        flow["destination"] = self.dst.json()
        if self.src.names:
            flow["source_names"] = self.src.names
        if self.dst.names:
            flow["destination_names"] = self.dst.names
        flow["Type"] = "L7" if self.l7 is not None else "L3_L4"
        flow["node_name"] = self.node
        flow["event_type"] = {"type": 129 if self.l7 is not None else (1 if self.kind == "drop" else 4)}
        if self.kind == "drop":
            flow["event_type"]["sub_type"] = DROP_REASON_CODES.get(self.point, (0, ""))[0]
        flow["traffic_direction"] = self.direction
        if self.kind == "trace":
            flow["trace_observation_point"] = self.point.upper().replace("-", "_")
        if self.is_reply is not None:
            flow["is_reply"] = self.is_reply
        if self.l7 is not None and "dns" in self.l7:
            dns = {k: v for k, v in self.l7["dns"].items() if k != "rcode_name" and v not in ([], 0, "")}
            flow["l7"] = {"type": self.l7["type"], "dns": dns}
        elif self.l7 is not None:
            http: dict[str, Any] = {"method": self.l7["method"], "url": self.l7["url"], "protocol": "HTTP/1.1"}
            if self.l7.get("code"):
                http["code"] = self.l7["code"]
            flow["l7"] = {"type": self.l7["type"], "latency_ns": str(int(self.l7.get("latency_ms", 0) * 1e6)),
                          "http": http}
        flow["Summary"] = self.summary
        if self.policies:
            key = "ingress_allowed_by" if self.direction == "INGRESS" else "egress_allowed_by"
            if self.verdict == DROPPED:
                key = key.replace("allowed", "denied")
            flow[key] = [{"name": p} for p in self.policies]
        return json.dumps({"flow": flow, "node_name": self.node, "time": iso}, separators=(",", ":"))
