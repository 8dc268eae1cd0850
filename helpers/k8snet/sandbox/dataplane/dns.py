"""Cluster DNS as CoreDNS's kubernetes plugin answers it, asked through the pod's resolv.conf.

Two halves, both from upstream:

- the *client* side (``resolv_conf``/``candidates``): kubelet writes each
  pod's ``/etc/resolv.conf`` from its ``dnsPolicy`` and ``dnsConfig``
  (https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/#pod-dns-config),
  and the resolver walks the search list under ``ndots``;
- the *server* side (``_cluster``): CoreDNS's kubernetes plugin
  (github.com/coredns/coredns plugin/kubernetes: ``parse.go`` parseRequest,
  ``kubernetes.go`` Records/findServices/findPods) for names under
  ``cluster.local``, and ``forward . /etc/resolv.conf`` — the kind node's
  resolver, Docker's embedded DNS — for everything else.

The node resolver knows the kind node names (Docker's embedded DNS answers
container names) and the hosts of the emulated outside world (:mod:`.outside`:
``api.payments.example`` and the rest, A records with their TTL, not
authoritative); any other name under a real top-level domain is answered
SERVFAIL with a hop saying so, never invented.

Names in a ``multicluster`` zone of the kubernetes plugin (``clusterset.local``, when the coredns
ConfigMap's Corefile enables it: :mod:`.corefile`) are answered from ServiceImports and MCS EndpointSlices as
CoreDNS's multicluster support answers them (:mod:`.multicluster`).

A cluster running Cilium with a DNS rule (``toPorts[].rules.dns``) on the
pod's egress to kube-dns sends each query through the agent's DNS proxy
(:meth:`..cilium.engine.CiliumPolicyEngine.dns_proxy`), which refuses the
names the rules do not allow (REFUSED) and learns the addresses of the
answers it forwards, for ``toFQDNs``. ``format_nslookup`` prints an
answer as the agnhost image's ``nslookup`` does — BIND 9's, since the image
installs ``bind-tools`` over busybox (test/images/agnhost/Dockerfile).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import corefile, multicluster
from .model import Hop
from .proxy import Endpoint, slice_endpoints

if TYPE_CHECKING:
    from ..instance import Sandbox

Obj = dict[str, Any]

ZONE = "cluster.local"
TTL = 30  # kubeadm's Corefile: kubernetes cluster.local … { ttl 30 }
NODE_RESOLVER = "172.18.0.1"  # kind rewrites the node's resolv.conf to the Docker network gateway
REAL_TLDS = frozenset("""com net org edu gov mil int info biz name pro io dev app ai co me sh xyz tech site online cloud
    page blog shop store news live arpa uk de fr nl jp cn ru br in au ca us eu it es se ch at be pl dk no fi cz kr
    tw nz za mx ar ie il tv cc ly gg to fm ws""".split())
"""Top-level domains treated as real (a sample: the sandbox has no root zone). A name under another TLD is
NXDOMAIN at the root (a typo such as ``web.defualt``, or a search that ran out); a name under one of these may
exist outside the sandbox, which cannot resolve it."""


@dataclass
class Record:
    """One resource record of the answer section (names fully qualified, without the trailing dot)."""

    name: str
    type: str  # A, CNAME, SRV
    data: str  # the address, or the CNAME/SRV target
    ttl: int = TTL
    port: int = 0
    priority: int = 0
    weight: int = 0


@dataclass
class ResolvConf:
    """The pod's /etc/resolv.conf as kubelet writes it."""

    nameserver: str
    search: list[str]
    ndots: int


@dataclass
class DnsAnswer:
    """The outcome of one lookup by a pod's resolver.

    ``name`` is the fully qualified name that answered (or the last one tried),
    ``attempts`` every (name, rcode) the search list produced in order,
    ``authoritative`` whether CoreDNS answered from its own zone (nslookup
    prints "Non-authoritative answer:" otherwise).
    """

    query: str
    qtype: str
    rcode: str  # NOERROR, NXDOMAIN, SERVFAIL, REFUSED (Cilium's DNS proxy), TIMEOUT (no answer)
    name: str
    records: list[Record] = field(default_factory=list)
    attempts: list[tuple[str, str]] = field(default_factory=list)
    server: str = ""
    authoritative: bool = True
    note: str = ""
    hop: Hop = field(default_factory=lambda: Hop("dns", ""))

    @property
    def addresses(self) -> list[str]:
        """The A records' addresses, in answer order."""
        return [r.data for r in self.records if r.type == "A"]

    @property
    def ok(self) -> bool:
        return self.rcode == "NOERROR" and bool(self.records)


@dataclass
class _Result:
    """What one server said about one fully qualified name."""

    rcode: str
    records: list[Record] = field(default_factory=list)
    authoritative: bool = True
    note: str = ""


class Resolver:
    """Answers DNS questions from the sandbox's API state, as a pod's resolver and CoreDNS would.

    Example:
        >>> answer = sandbox.dataplane.dns.lookup(pod, "web")
        >>> answer.name, answer.addresses
        ('web.default.svc.cluster.local', ['10.96.12.34'])
    """

    def __init__(self, sandbox: Sandbox):
        self.sb = sandbox

    # -- the client side: resolv.conf and the search list -----------------------------------

    def resolv_conf(self, pod: Obj | None) -> ResolvConf:
        """kubelet's resolv.conf for ``pod`` (pkg/kubelet/network/dns/dns.go GetPodDNS).

        "ClusterFirst: Any DNS query that does not match the configured cluster
        domain suffix … is forwarded to an upstream nameserver"; "Default: The
        Pod inherits the name resolution configuration from the node";
        "ClusterFirst … with hostNetwork … fall back to … Default"; "None" takes
        everything from dnsConfig, whose fields are otherwise merged in.
        """
        spec = (pod or {}).get("spec") or {}
        ns = (pod or {}).get("metadata", {}).get("namespace", "default")
        policy = spec.get("dnsPolicy", "ClusterFirst")
        if policy == "ClusterFirst" and spec.get("hostNetwork"):
            policy = "Default"
        if pod is None or policy == "Default":
            conf = ResolvConf(NODE_RESOLVER, [], 1)
        elif policy == "None":
            conf = ResolvConf("", [], 1)
        else:  # ClusterFirst, ClusterFirstWithHostNet
            conf = ResolvConf(self.sb.shape.dns_ip, [f"{ns}.svc.{ZONE}", f"svc.{ZONE}", ZONE], 5)
        dns_config = spec.get("dnsConfig") or {}
        if dns_config.get("nameservers") and not conf.nameserver:
            conf.nameserver = dns_config["nameservers"][0]
        conf.search = conf.search + [s.rstrip(".") for s in dns_config.get("searches") or []]
        for opt in dns_config.get("options") or []:
            if opt.get("name") == "ndots" and str(opt.get("value", "")).isdigit():
                conf.ndots = int(opt["value"])
        return conf

    @staticmethod
    def candidates(name: str, conf: ResolvConf) -> list[str]:
        """The fully qualified names a resolver tries, in order (resolv.conf(5) ``ndots``).

        "If a name has fewer than ndots dots, the search list is tried first,
        then the name as is"; a name with at least ndots dots is tried as is
        first; a trailing dot makes the name absolute (no search).
        """
        if name.endswith("."):
            return [name.rstrip(".")]
        searched = [f"{name}.{s}" for s in conf.search]
        return searched + [name] if name.count(".") < conf.ndots else [name] + searched

    # -- lookups ----------------------------------------------------------------------------

    def lookup(self, pod: Obj | None, name: str, qtype: str = "A", *, stop_at_nodata: bool = False,
               refused_stops: bool = True) -> DnsAnswer:
        """Resolve ``name`` as ``pod``'s resolver does, following CNAMEs inside the sandbox.

        Library resolvers (Go's, glibc's) move on to the next search name after
        NXDOMAIN, an empty answer or SERVFAIL and report the last failure;
        BIND's nslookup stops at the first NOERROR (``stop_at_nodata``). A
        REFUSED answer ends the search for BIND's tools (dighost.c moves to the
        next origin after NXDOMAIN only) and the C libraries; Go's resolver goes
        on (``refused_stops=False``).
        """
        qtype = qtype.upper()
        conf = self.resolv_conf(pod)
        blocked = self._dropped(pod, conf.nameserver)
        if blocked is not None:
            answer = DnsAnswer(name, qtype, "TIMEOUT", name.rstrip(".").lower(), server=conf.nameserver,
                               note=f"no answer from {conf.nameserver}:53: {blocked.summary}")
            answer.hop = self._hop(answer)
            answer.hop.detail["policy"] = blocked.detail
            return answer
        attempts: list[tuple[str, str]] = []
        result, fqdn = _Result("NXDOMAIN"), name.rstrip(".").lower()
        proxy = self._proxy(pod, conf.nameserver)
        for candidate in self.candidates(name.lower(), conf):
            if proxy is not None and not proxy.allows(candidate, qtype):
                result = _Result("REFUSED", authoritative=False, note=proxy.refusal(candidate))
            else:
                result = self._ask(conf.nameserver, candidate, qtype)
                if proxy is not None:
                    proxy.answered(candidate, qtype, result.rcode, result.records)
            fqdn = candidate
            attempts.append((candidate, result.rcode))
            self._captured(pod, conf.nameserver, candidate, qtype, result)
            if result.rcode == "NOERROR" and (result.records or stop_at_nodata):
                break
            if result.rcode == "REFUSED" and refused_stops:
                break
        answer = DnsAnswer(name, qtype, result.rcode, fqdn, result.records, attempts, conf.nameserver,
                           result.authoritative, result.note)
        answer.hop = self._hop(answer)
        return answer

    def _captured(self, pod: Obj | None, server: str, name: str, qtype: str, result: _Result) -> None:
        """The query and its answer as tcpdump on the pod's eth0 prints them (print-domain.c)."""
        capture = self.sb.dataplane.capture
        ip = ((pod or {}).get("status") or {}).get("podIP")
        if not capture.taps or not ip:
            return
        self._query_id = (getattr(self, "_query_id", 4660) * 75 + 74) % 65537 % 65536
        qid, size = self._query_id, 12 + len(name) + 2 + 4
        question = f"{qid}+ {qtype}? {name}. ({size})"
        if result.rcode == "NOERROR":
            records = " ".join(f"{r.type} {r.data}" + ("." if r.type in ("CNAME", "SRV") else "")
                               for r in result.records)
            reply = f"{qid}*- {len(result.records)}/0/0{' ' + records if records else ''} ({size + 16 * len(result.records)})"
        else:
            word = {"NXDOMAIN": "NXDomain", "SERVFAIL": "ServFail", "REFUSED": "Refused"}.get(result.rcode,
                                                                                              result.rcode)
            reply = f"{qid} {word}*- 0/1/0 ({size + 93})"
        capture.datagram((ip, 30000 + qid % 30000), (server, 53), question.encode(), reply.encode(), dns=True)

    def _proxy(self, pod: Obj | None, server: str) -> Any:
        """The CNI's DNS proxy that takes the pod's queries to ``server`` (Cilium's, when a DNS rule applies), or
        None: the queries go to the server as they are."""
        engine = getattr(self.sb.dataplane.policy, "dns_proxy", None)
        if pod is None or engine is None or not server or (pod.get("spec") or {}).get("hostNetwork"):
            return None
        return engine(pod, server)

    def _dropped(self, pod: Obj | None, server: str) -> Hop | None:
        """The policy hop that drops a pod's queries to its nameserver, or None when they get through.

        Queries are UDP datagrams to port 53 like any other: "DNS egress must be
        allowed explicitly when egress is isolated" (a pod whose egress policies
        allow nothing to kube-dns times out on every lookup).
        """
        engine = getattr(self.sb.dataplane.policy, "datagram", None)
        if pod is None or engine is None or not server or (pod.get("spec") or {}).get("hostNetwork"):
            return None
        allowed, hops = engine(pod, server, 53, "UDP")
        return None if allowed else (hops[0] if hops else Hop("policy", f"no route to {server}:53", {}))

    def _ask(self, server: str, fqdn: str, qtype: str, depth: int = 0) -> _Result:
        """One query to ``server``; CNAMEs are chased as CoreDNS chases them (backend_lookup.go A())."""
        dns_ip = self.sb.shape.dns_ip
        mc = corefile.multicluster(self.sb) if server == dns_ip else corefile.Multicluster()
        mc_zone = corefile.within(fqdn, mc.zones)
        why = multicluster.unsynced(self.sb) if mc.zones else ""
        if mc_zone is not None:
            result = self._multicluster(fqdn, mc_zone, qtype, synced=not why)
        elif server == dns_ip and (fqdn == ZONE or fqdn.endswith("." + ZONE)):
            result = self._cluster(fqdn, qtype)
        else:
            result = self._upstream(fqdn, qtype, docker=server in (dns_ip, NODE_RESOLVER))
            if mc.problem:
                result.note = f"{result.note}; {mc.problem}" if result.note else mc.problem
        if why and result.rcode == "NXDOMAIN" and (mc_zone is not None or fqdn.endswith("." + ZONE)):
            result = _Result("SERVFAIL", note=why)  # handler.go: a name error before the informers synced
        cname = next((r for r in result.records if r.type == "CNAME"), None)
        if cname is not None and qtype != "CNAME" and depth < 8:
            target = self._ask(server, cname.data, qtype, depth + 1)
            result.records += target.records
            if target.note:
                result.note = target.note
            if target.rcode == "NXDOMAIN":
                result.rcode = "NXDOMAIN"
        return result

    def _upstream(self, fqdn: str, qtype: str, docker: bool) -> _Result:
        """``forward . /etc/resolv.conf``: the kind node's resolver, Docker's embedded DNS.

        Docker's embedded DNS answers the names of containers on the network —
        the kind nodes; other names go to the host's resolvers, outside the
        sandbox.
        """
        from .outside import TTL as OUTSIDE_TTL
        from .outside import named

        if docker:
            for node, ip in ((n.name, n.internal_ip) for n in self.sb.shape.nodes):
                if fqdn == node:
                    records = [Record(fqdn, "A", ip, 600)] if qtype in ("A", "ANY") else []
                    return _Result("NOERROR", records, authoritative=False)
        host = named(fqdn)
        if host is not None:  # the emulated outside world's names (dataplane/outside.py); no AAAA: IPv4 only
            records = [Record(fqdn, "A", host.ip, OUTSIDE_TTL)] if qtype in ("A", "ANY") else []
            return _Result("NOERROR", records, authoritative=False)
        tld = fqdn.rsplit(".", 1)[-1]
        if "." not in fqdn or tld not in REAL_TLDS:
            return _Result("NXDOMAIN", authoritative=False, note=f"{tld!r} is not a top-level domain")
        return _Result("SERVFAIL", authoritative=False,
                       note=f"{fqdn} is outside the sandbox: CoreDNS would forward it to the node's resolver, "
                            "which the sandbox does not emulate")

    # -- CoreDNS kubernetes plugin ---------------------------------------------------------------

    def _multicluster(self, fqdn: str, zone: str, qtype: str, synced: bool) -> _Result:
        """A name in a ``multicluster`` zone of the kubernetes plugin (clusterset.local): :mod:`.multicluster`."""
        found = multicluster.answer(self.sb, fqdn, zone, qtype, synced)
        if qtype == "SRV":
            weight = _srv_weight(len(found.records))
            return _Result(found.rcode, [Record(name, "SRV", data, port=port, weight=weight)
                                         for _, name, data, port in found.records])
        return _Result(found.rcode, [Record(name, rtype, data) for rtype, name, data, _ in found.records])

    def _cluster(self, fqdn: str, qtype: str) -> _Result:
        """Records for a name under cluster.local (plugin/kubernetes parseRequest + Records).

        parseRequest: "1. _port._protocol.service.namespace.pod|svc.zone
        2. (endpoint): endpoint.service.namespace.pod|svc.zone 3. (service):
        service.namespace.pod|svc.zone"; apex queries are NODATA; anything
        longer is an invalid request, answered NXDOMAIN.
        """
        base = fqdn[: -len(ZONE)].rstrip(".")
        segs = base.split(".") if base else []
        if not segs or base in ("svc", "pod"):
            return _Result("NOERROR")  # "return NODATA for apex queries"
        kind = segs.pop()
        if kind not in ("svc", "pod"):
            return _Result("NXDOMAIN")
        if not segs:
            return _Result("NOERROR")
        ns = segs.pop()
        if self.sb.store.get("namespaces", "", ns) is None:
            return _Result("NXDOMAIN")  # Records(): "if !k.namespaceExposed(r.namespace) → errNsNotExposed"
        if not segs:
            return _Result("NOERROR")  # findServices: empty service name in an existing namespace → NODATA
        service = segs.pop()
        endpoint = port = proto = ""
        if len(segs) == 1:
            endpoint = segs[0]
        elif len(segs) == 2:
            port, proto = segs[0].lstrip("_"), segs[1].lstrip("_")
        elif segs:
            return _Result("NXDOMAIN")  # "too long"
        if kind == "pod":
            return self._pod(fqdn, ns, service, qtype, bool(endpoint or port))
        return self._service(fqdn, ns, service, endpoint, port, proto, qtype)

    def _pod(self, fqdn: str, ns: str, label: str, qtype: str, extra: bool) -> _Result:
        """``a-b-c-d.ns.pod.cluster.local`` under ``pods insecure`` (kubeadm's Corefile).

        findPods, insecure mode: "If ip does not parse as an IP address, we
        return an error"; the address is answered without checking that a pod
        has it ("pods insecure … for backward compatibility with kube-dns").
        """
        try:
            ip = str(ipaddress.IPv4Address(label.replace("-", ".")))
        except ValueError:
            return _Result("NXDOMAIN")
        if extra or label.count("-") != 3:
            return _Result("NXDOMAIN")
        return _Result("NOERROR", [Record(fqdn, "A", ip)] if qtype in ("A", "ANY") else [])

    def _service(self, fqdn: str, ns: str, name: str, endpoint: str, port: str, proto: str,
                 qtype: str) -> _Result:
        """findServices: ExternalName → CNAME, headless or endpoint name → endpoint addresses, else ClusterIP."""
        svc = self.sb.store.get("services", ns, name)
        if svc is None:
            return _Result("NXDOMAIN")
        spec = svc.get("spec") or {}
        svc_fqdn = f"{name}.{ns}.svc.{ZONE}"
        if spec.get("type") == "ExternalName":
            # "External service endpoint must be empty, otherwise, return NXDOMAIN"
            target = (spec.get("externalName") or "").rstrip(".").lower()
            if endpoint or not target or _is_ip(target):
                return _Result("NXDOMAIN")
            return _Result("NOERROR", [Record(fqdn, "CNAME", target)])
        if spec.get("clusterIP") == "None" or endpoint:
            return self._endpoints(fqdn, svc, svc_fqdn, endpoint, port, proto, qtype)
        ports = [p for p in spec.get("ports") or [] if _match(port, p.get("name", "")) and
                 _match(proto, p.get("protocol", "TCP"))]
        if not ports:
            return _Result("NXDOMAIN")  # findServices keeps err = errNoItems when no port matches
        ips = [ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if ip and ip != "None"]
        if qtype == "SRV":
            weight = _srv_weight(len(ports) * len(ips))
            return _Result("NOERROR", [Record(fqdn, "SRV", svc_fqdn, port=p["port"], weight=weight)
                                       for p in ports for _ in ips])
        return _Result("NOERROR", [Record(fqdn, "A", ip) for ip in ips] if qtype in ("A", "ANY") else [])

    def _endpoints(self, fqdn: str, svc: Obj, svc_fqdn: str, endpoint: str, port: str, proto: str,
                   qtype: str) -> _Result:
        """Headless Services and endpoint names: one record per ready address.

        object/endpoint.go EndpointSliceToEndpoints skips endpoints whose
        ``conditions.ready`` is false (the EndpointSlice controller sets ready
        for not-ready pods when the Service has publishNotReadyAddresses);
        endpointHostname: the endpoint's hostname, else its IP with dashes.
        A headless Service with no ready address is NXDOMAIN (err stays errNoItems).
        """
        meta = svc["metadata"]
        found: list[tuple[Endpoint, str, int]] = []
        for ep in slice_endpoints(self.sb, meta.get("namespace", ""), meta["name"]):
            if not ep.ready:
                continue
            host = ep.hostname or ep.ip.replace(".", "-")
            if endpoint and endpoint != host:
                continue
            slice_ports = ep.ports or (("", -1, ""),)  # CoreDNS adds a sentinel port when a slice has none
            for pname, pnum, pproto in slice_ports:
                if _match(port, pname) and _match(proto, pproto):
                    found.append((ep, host, pnum))
        if not found:
            return _Result("NXDOMAIN")
        if qtype == "SRV":
            weight = _srv_weight(len(found))
            return _Result("NOERROR", [Record(fqdn, "SRV", f"{host}.{svc_fqdn}", port=pnum, weight=weight)
                                       for _, host, pnum in found])
        ips = list(dict.fromkeys(ep.ip for ep, _, _ in found))  # A records are deduplicated
        self.sb.random.stream("coredns").shuffle(ips)  # the loadbalance plugin shuffles A records in every response
        return _Result("NOERROR", [Record(fqdn, "A", ip) for ip in ips] if qtype in ("A", "ANY") else [])

    # -- the trace -------------------------------------------------------------------------------

    @staticmethod
    def _hop(answer: DnsAnswer) -> Hop:
        tried = ", ".join(f"{n} ({rc})" for n, rc in answer.attempts)
        if answer.ok:
            shown = ", ".join(f"{r.type} {r.data}" + (f":{r.port}" if r.type == "SRV" else "")
                              for r in answer.records)
            summary = f"{answer.query} → {answer.name}: {shown}"
        else:
            summary = f"{answer.query}: {answer.rcode}" + (f" (tried {tried})" if tried else "")
        if answer.note:
            summary += f"; {answer.note}"
        detail = {"query": answer.query, "qtype": answer.qtype, "name": answer.name, "rcode": answer.rcode,
                  "server": answer.server, "attempts": [list(a) for a in answer.attempts],
                  "records": [r.__dict__ for r in answer.records], "authoritative": answer.authoritative}
        if answer.note:
            detail["note"] = answer.note
        return Hop("dns", summary, detail)


def _match(want: str, have: str) -> bool:
    """plugin/kubernetes match(): an unspecified or wildcard part matches anything, else case-insensitive equality."""
    return want in ("", "*", "any") or want.lower() == (have or "").lower()


def _srv_weight(n: int) -> int:
    """backend_lookup.go SRV(): equal-priority records share a weight of 100 (``floor(100 / n)`` each)."""
    return 100 // max(n, 1)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def format_nslookup(answer: DnsAnswer) -> tuple[str, str, int]:
    """``nslookup NAME`` as the agnhost image prints it (BIND 9 nslookup, bin/dig/nslookup.c).

    printmessage(): ``Server:\\t\\t%s`` / ``Address:\\t%s#53`` and a blank line;
    "** server can't find %s: %s" on a failure; "Non-authoritative answer:"
    when the AA flag is clear; A records as ``Name:\\t%s`` + ``Address: %s``,
    others as ``%s\\tcanonical name = %s.``; main() ends with ``puts("")`` and
    exits with ``query_error | print_error`` (1 after NXDOMAIN or SERVFAIL); when
    no reply comes, ``;; connection timed out; no servers could be reached``.
    """
    if answer.rcode == "TIMEOUT":  # no reply at all: nslookup never learns the server's answer
        return ";; connection timed out; no servers could be reached\n\n", "", 1
    out = [f"Server:\t\t{answer.server}", f"Address:\t{answer.server}#53", ""]
    if answer.rcode != "NOERROR":
        shown = answer.attempts[-1][0] if answer.attempts else answer.name
        out.append(f"** server can't find {shown}: {answer.rcode}")
        return "\n".join(out) + "\n\n", "", 1
    if not answer.authoritative:
        out.append("Non-authoritative answer:")
    for r in answer.records:
        if r.type == "A":
            out += [f"Name:\t{r.name}", f"Address: {r.data}"]
        elif r.type == "CNAME":
            out.append(f"{r.name}\tcanonical name = {r.data}.")
        elif r.type == "SRV":
            out.append(f"{r.name}\tservice = {r.priority} {r.weight} {r.port} {r.data}.")
    if not answer.records:  # printed by the AAAA follow-up lookup, which names the canonical name
        out.append(f"*** Can't find {answer.name}: No answer")
    return "\n".join(out) + "\n\n", "", 0
