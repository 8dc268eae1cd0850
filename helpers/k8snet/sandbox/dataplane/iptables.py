"""kube-proxy's iptables rules as ``iptables-save`` prints them on a node, from the Services and EndpointSlices
the data plane routes with: those of kube-proxy's last sync (:meth:`.proxy.KubeProxy.synced`), so a change
kube-proxy has not written yet is not in them either.

Rule text, chain names and order follow pkg/proxy/iptables/proxier.go (Kubernetes 1.33) for kind's
configuration (``--detect-local-mode=ClusterCIDR``, cluster CIDR 10.244.0.0/16, no ``--masquerade-all``):

- ``KUBE-SERVICES`` jumps from each ClusterIP, external IP and load-balancer IP (and, last, ``KUBE-NODEPORTS``
  for node addresses) to the Service port's chain; chain names are ``KUBE-SVC-``/``KUBE-SVL-``/``KUBE-EXT-``/
  ``KUBE-SEP-`` plus the first 16 characters of the base32 SHA-256 of the port's name and protocol
  (``portProtoHash``; the endpoint's ``ip:port`` too for ``KUBE-SEP``);
- a Service chain picks an endpoint with ``statistic --mode random --probability 1/n, 1/(n-1), …, 1`` — each
  endpoint equally likely — after the ``recent --rcheck`` rules of ``sessionAffinity: ClientIP``; an endpoint
  chain marks hairpin traffic for masquerade and DNATs to the pod (``recent --set`` with affinity);
- ``internalTrafficPolicy``/``externalTrafficPolicy: Local`` chains (``KUBE-SVL-``) hold only the node's own
  endpoints; a Service without endpoints gets a REJECT in the filter table instead of a jump.

Go iterates kube-proxy's map of Services in random order; the sandbox writes them sorted by name so the
output is stable. iptables stores a probability as a 31-bit fraction, so 1/3 prints as 0.33333333349.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .proxy import Endpoint

if TYPE_CHECKING:
    from ..instance import Sandbox

VERSION = "v1.8.10 (nf_tables)"
"""The iptables in nicolaka/netshoot (Alpine 3.21), which is what runs iptables-save in a node debug pod."""


def port_proto_hash(port_name: str, protocol: str) -> str:
    """proxier.go portProtoHash: base32(sha256(servicePortName + protocol))[:16]."""
    return base64.b32encode(hashlib.sha256((port_name + protocol).encode()).digest()).decode()[:16]


def endpoint_chain(port_name: str, protocol: str, endpoint: str) -> str:
    """proxier.go servicePortEndpointChainName."""
    digest = hashlib.sha256((port_name + protocol + endpoint).encode()).digest()
    return "KUBE-SEP-" + base64.b32encode(digest).decode()[:16]


def probability(n: int) -> str:
    """1/n as the statistic match stores it (a 31-bit fraction) and iptables-save prints it (%.11f)."""
    stored = round(0x80000000 / n)
    return f"{stored / 0x80000000:.11f}"


def _usable(endpoints: list[Endpoint]) -> list[Endpoint]:
    """Ready endpoints, else serving-terminating ones (topology.go CategorizeEndpoints)."""
    ready = [e for e in endpoints if e.ready and not e.terminating]
    return ready or [e for e in endpoints if e.serving and e.terminating]


def nat_and_filter(sb: Sandbox, node: str) -> tuple[list[str], list[str], list[str], list[str]]:
    """The kube-proxy chains and rules of the nat and filter tables on ``node``:
    (nat chains, nat rules, filter chains, filter rules)."""
    nat: list[str] = []
    filt: list[str] = []
    chains: set[str] = {"KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-MARK-MASQ", "KUBE-POSTROUTING"}
    fchains: set[str] = {"KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-NODEPORTS", "KUBE-FORWARD"}
    services: list[str] = []
    nodeports: list[str] = []
    body: list[str] = []
    synced = sb.dataplane.proxy.synced()
    for svc in sorted(synced.services, key=lambda s: (s["metadata"].get("namespace", ""), s["metadata"]["name"])):
        spec, meta = svc.get("spec") or {}, svc["metadata"]
        stype = spec.get("type", "ClusterIP")
        vip = spec.get("clusterIP")
        if stype == "ExternalName" or not vip or vip == "None":
            continue
        ns, name = meta.get("namespace", ""), meta["name"]
        endpoints = synced.endpoints(ns, name)
        for port in spec.get("ports") or []:
            proto = (port.get("protocol") or "TCP").lower()
            pname = f"{ns}/{name}" + (f":{port['name']}" if port.get("name") else "")
            comment = f'-m comment --comment "{pname}"' if " " not in pname else f"-m comment --comment {pname}"
            svc_chain = "KUBE-SVC-" + port_proto_hash(pname, proto)
            svl_chain = "KUBE-SVL-" + port_proto_hash(pname, proto)
            ext_chain = "KUBE-EXT-" + port_proto_hash(pname, proto)
            reachable = []
            for e in _usable(endpoints):
                number = e.port(port.get("name") or "", port.get("protocol") or "TCP")
                if number is not None:
                    reachable.append((e, number))
            reachable.sort(key=lambda pair: f"{pair[0].ip}:{pair[1]}")
            local = [(e, n) for e, n in reachable if e.node == node]
            internal_local = spec.get("internalTrafficPolicy") == "Local"
            external_local = spec.get("externalTrafficPolicy") in ("Local",)
            internal_chain = svl_chain if internal_local else svc_chain
            dport = f"-m {proto} --dport {port['port']}"
            externals = [("external IP", ip) for ip in spec.get("externalIPs") or []]
            if stype == "LoadBalancer":
                externals += [("loadbalancer IP", i["ip"]) for i in
                              ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or [] if i.get("ip")]
            node_port = port.get("nodePort") if stype in ("NodePort", "LoadBalancer") else None
            has_external = bool(externals or node_port)
            if not reachable:
                filt.append(f'-A KUBE-SERVICES -d {vip}/32 -p {proto} -m comment --comment "{pname} has no '
                            f'endpoints" {dport} -j REJECT --reject-with icmp-port-unreachable')
                for _, ip in externals:
                    filt.append(f'-A KUBE-EXTERNAL-SERVICES -d {ip}/32 -p {proto} -m comment --comment "{pname} has '
                                f'no endpoints" {dport} -j REJECT --reject-with icmp-port-unreachable')
                if node_port:
                    filt.append(f'-A KUBE-EXTERNAL-SERVICES -p {proto} -m comment --comment "{pname} has no '
                                f'endpoints" -m addrtype --dst-type LOCAL -m {proto} --dport {node_port} '
                                "-j REJECT --reject-with icmp-port-unreachable")
                continue
            chains.add(svc_chain)
            services.append(f'-A KUBE-SERVICES -d {vip}/32 -p {proto} -m comment --comment "{pname} cluster IP" '
                            f"{dport} -j {internal_chain}")
            body.append(f'-A {internal_chain} ! -s {sb.shape.pod_cidr} -d {vip}/32 -p {proto} -m comment --comment '
                        f'"{pname} cluster IP" {dport} -j KUBE-MARK-MASQ')
            if has_external:
                chains.add(ext_chain)
                for what, ip in externals:
                    services.append(f'-A KUBE-SERVICES -d {ip}/32 -p {proto} -m comment --comment "{pname} {what}" '
                                    f"{dport} -j {ext_chain}")
                if node_port:
                    nodeports.append(f"-A KUBE-NODEPORTS -p {proto} {comment} -m {proto} --dport {node_port} "
                                     f"-j {ext_chain}")
                if external_local:
                    body += [f'-A {ext_chain} -s {sb.shape.pod_cidr} -m comment --comment "pod traffic for {pname} '
                             f'external destinations" -j {svc_chain}',
                             f'-A {ext_chain} -m comment --comment "masquerade LOCAL traffic for {pname} external '
                             'destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ',
                             f'-A {ext_chain} -m comment --comment "route LOCAL traffic for {pname} external '
                             f'destinations" -m addrtype --src-type LOCAL -j {svc_chain}',
                             f"-A {ext_chain} -j {svl_chain}"]
                else:
                    body += [f'-A {ext_chain} -m comment --comment "masquerade traffic for {pname} external '
                             'destinations" -j KUBE-MARK-MASQ', f"-A {ext_chain} -j {svc_chain}"]
            affinity = spec.get("sessionAffinity") == "ClientIP"
            timeout = (((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
                       or 10800)
            policy_chains = [(svc_chain, reachable)]
            if internal_local or (has_external and external_local):
                chains.add(svl_chain)
                policy_chains.append((svl_chain, local))
            for chain, eps in policy_chains:
                if affinity:
                    for e, number in eps:
                        sep = endpoint_chain(pname, proto, f"{e.ip}:{number}")
                        body.append(f'-A {chain} -m comment --comment "{pname} -> {e.ip}:{number}" -m recent '
                                    f"--rcheck --seconds {timeout} --reap --name {sep} --mask 255.255.255.255 "
                                    f"--rsource -j {sep}")
                for i, (e, number) in enumerate(eps):
                    sep = endpoint_chain(pname, proto, f"{e.ip}:{number}")
                    left = len(eps) - i
                    pick = f" -m statistic --mode random --probability {probability(left)}" if left > 1 else ""
                    body.append(f'-A {chain} -m comment --comment "{pname} -> {e.ip}:{number}"{pick} -j {sep}')
            for e, number in reachable:
                sep = endpoint_chain(pname, proto, f"{e.ip}:{number}")
                chains.add(sep)
                remember = (f" -m recent --set --name {sep} --mask 255.255.255.255 --rsource" if affinity else "")
                body += [f"-A {sep} -s {e.ip}/32 {comment} -j KUBE-MARK-MASQ",
                         f"-A {sep} -p {proto} {comment}{remember} -m {proto} -j DNAT --to-destination "
                         f"{e.ip}:{number}"]
    nat = ['-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
           '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
           '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
           "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000",
           *nodeports,
           "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
           "-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0",
           '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE '
           "--random-fully",
           *services,
           '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule '
           'in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
           *body]
    filt = ['-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS',
            '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service '
            'portals" -j KUBE-EXTERNAL-SERVICES',
            '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
            '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
            '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
            '-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name  ct_state_invalid_dropped_pkts '
            "-j DROP",
            '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT',
            '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate '
            "RELATED,ESTABLISHED -j ACCEPT", *filt]
    return sorted(chains), nat, sorted(fchains), filt


def iptables_save(sb: Sandbox, node: str, table: str | None, now: datetime) -> str:
    """``iptables-save [-t TABLE]`` on ``node``: the filter and nat tables kube-proxy writes."""
    nat_chains, nat, filter_chains, filt = nat_and_filter(sb, node)
    stamp = now.strftime("%a %b %e %H:%M:%S %Y")
    out: list[str] = []
    tables = [("filter", ["INPUT ACCEPT", "FORWARD ACCEPT", "OUTPUT ACCEPT"], filter_chains, filt),
              ("nat", ["PREROUTING ACCEPT", "INPUT ACCEPT", "OUTPUT ACCEPT", "POSTROUTING ACCEPT"], nat_chains, nat)]
    for name, builtin, chains, rules in tables:
        if table and table != name:
            continue
        out.append(f"# Generated by iptables-save {VERSION} on {stamp}")
        out.append(f"*{name}")
        out += [f":{c} [0:0]" for c in builtin] + [f":{c} - [0:0]" for c in chains]
        out += rules + ["COMMIT", f"# Completed on {stamp}"]
    return "\n".join(out) + "\n"


def chain_rules(sb: Sandbox, node: str, table: str, chain: str | None) -> str | None:
    """``iptables -t TABLE -S [CHAIN]``: the rules in the form iptables-save writes them (None: no such chain)."""
    nat_chains, nat, filter_chains, filt = nat_and_filter(sb, node)
    builtin = {"filter": ["INPUT", "FORWARD", "OUTPUT"], "nat": ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"]}
    chains, rules = (nat_chains, nat) if table == "nat" else (filter_chains, filt)
    if chain is not None and chain not in chains and chain not in builtin.get(table, []):
        return None
    head = [f"-P {c} ACCEPT" for c in builtin.get(table, []) if chain in (None, c)]
    head += [f"-N {c}" for c in chains if chain in (None, c)]
    body = [r for r in rules if chain is None or r.split()[1] == chain]
    return "\n".join(head + body) + "\n"


def may_read(container: dict[str, Any]) -> bool:
    """Reading netfilter takes NET_ADMIN (a privileged container has it, as ``kubectl debug node/…
    --profile=sysadmin`` runs one)."""
    context = container.get("securityContext") or {}
    return bool(context.get("privileged")) or "NET_ADMIN" in ((context.get("capabilities") or {}).get("add") or [])
