"""The agent's DNS proxy for one endpoint's queries to one DNS server (pkg/fqdn/dnsproxy proxy.go ServeDNS).

A query whose name no ``rules.dns`` entry allows is answered by the proxy: REFUSED (:data:`.fqdn.REJECT_RCODE`),
with a ``dns-request proxy DROPPED`` flow. An allowed one is forwarded to the server; its answer goes back to the
pod, its addresses are learned for ``toFQDNs`` (:func:`.fqdn.learn`), and Hubble records a ``dns-request`` and a
``dns-response`` flow on the pod's node, as pkg/hubble/parser/seven/dns.go summarizes them: ``DNS Query NAME.
TYPE`` and ``DNS Answer "IP,IP" TTL: N (Proxy NAME. TYPE)`` (``DNS Answer RCode: Non-Existent Domain …`` for a
failure; gopacket's DNSResponseCode names).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import fqdn, hubble, identity

Obj = dict[str, Any]
RCODE_NAMES = {"NOERROR": "No Error", "NXDOMAIN": "Non-Existent Domain", "SERVFAIL": "Server Failure",
               "REFUSED": "Query Refused"}
"""gopacket layers.DNSResponseCode.String(), which Hubble's DNS summary prints."""
RCODE_NUMBERS = {"NOERROR": 0, "SERVFAIL": 2, "NXDOMAIN": 3, "REFUSED": 5}


@dataclass
class DnsProxy:
    """One endpoint's queries to one server, through the proxy (made per lookup by the engine's ``dns_proxy``)."""

    engine: Any  # the CiliumPolicyEngine
    pod: Obj
    judged: dict[str, Any]  # the verdict of the pod's datagrams to the server: endpoints, policies, DNS rules

    @property
    def rules(self) -> list[Obj]:
        return self.judged["egress"]["dns"] or []

    def allows(self, name: str, qtype: str) -> bool:
        """Whether a ``rules.dns`` entry allows the query; a refused one gets its flow here."""
        if any(fqdn.selector_matches(r, name) for r in self.rules):
            return True
        self._flow(name, qtype, hubble.DROPPED, None)
        return False

    def refusal(self, name: str) -> str:
        allowed = ", ".join(fqdn.describe(r) for r in self.rules) or "nothing"
        return (f"Cilium's DNS proxy answered {fqdn.REJECT_RCODE} for {name}: the DNS rules of "
                f"{', '.join(self.judged['egress']['policies'])} allow {allowed}")

    def answered(self, name: str, qtype: str, rcode: str, records: list[Any]) -> None:
        """A forwarded query's answer: its flows, and its addresses learned for toFQDNs."""
        ips = [r.data for r in records if r.type == "A"]
        if rcode == "NOERROR" and ips:
            names = [name] + [r.data for r in records if r.type == "CNAME"]
            ttl = min((r.ttl for r in records if r.type == "A"), default=0)
            fqdn.learn(self.engine.sb, self.pod["metadata"].get("uid", ""), names, ips, ttl)
        self._flow(name, qtype, hubble.FORWARDED, None)
        self._flow(name, qtype, hubble.FORWARDED, (rcode, records))

    def _flow(self, name: str, qtype: str, verdict: str, answer: tuple[str, list[Any]] | None) -> None:
        j, sb = self.judged, self.engine.sb
        node = j["src"].node
        if not node:
            return
        sport = sb.random.stream("cilium-flow-ports").randint(32768, 60999)
        client, server = self.engine._flow_peer(j["src"], sport), self.engine._flow_peer(j["dst"], j["port"])
        dns: dict[str, Any] = {"query": fqdn.fqdn(name), "qtypes": [qtype], "observation_source": "proxy"}
        if answer is None:
            flow = hubble.Flow(sb.clock.time(), node, client, server, "UDP", verdict, "l7", "", "EGRESS", False,
                               {"type": "REQUEST", "dns": dns}, j["egress"]["policies"])
        else:
            rcode, records = answer
            dns.update(rcode=RCODE_NUMBERS.get(rcode, 2), rcode_name=RCODE_NAMES.get(rcode, rcode),
                       ips=[r.data for r in records if r.type == "A"],
                       cnames=[r.data + "." for r in records if r.type == "CNAME"],
                       ttl=min((r.ttl for r in records), default=0), rrtypes=sorted({r.type for r in records}))
            flow = hubble.Flow(sb.clock.time(), node, server, client, "UDP", verdict, "l7", "", "EGRESS", True,
                               {"type": "RESPONSE", "dns": dns}, j["egress"]["policies"])
        identity.state(sb).ring(node).append(flow)
