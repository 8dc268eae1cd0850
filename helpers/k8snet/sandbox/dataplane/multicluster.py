"""CoreDNS's answers for a multicluster zone (``clusterset.local``): the Multi-Cluster Services DNS specification.

coredns/coredns plugin/kubernetes at v1.12.2 (the first release with it; the same rules as the external plugin
github.com/coredns/multicluster, multicluster.go and parse.go):

- parse.go parseRequest with multicluster: ``<service>.<ns>.svc.<zone>``; ``_<port>._<proto>.<service>.<ns>.svc``
  (either label starting with ``_``); ``<hostname>.<clusterid>.<service>.<ns>.svc`` for one endpoint of one
  cluster; apex, ``svc`` and ``pod`` alone are NODATA; a first label other than svc/pod, or more labels, NXDOMAIN;
- kubernetes.go Records: a namespace that does not exist is NXDOMAIN; ``<ns>.svc.<zone>`` NODATA; pod names as in
  cluster.local (``pods insecure``);
- findMultiClusterServices, from the ServiceImports (informer on multicluster.x-k8s.io) and the EndpointSlices
  labelled ``multicluster.kubernetes.io/service-name`` (their ``multicluster.kubernetes.io/source-cluster`` is the
  cluster id): no ServiceImport is NXDOMAIN; a ClusterSetIP import answers its ``spec.ips`` for each port that
  matches (SRV: ``<service>.<ns>.svc.<zone>`` on the port); a Headless import, or any endpoint query, answers the
  ready addresses of those slices (SRV targets ``<hostname>.<clusterid>.<service>.<ns>.svc.<zone>``, the hostname
  being the endpoint's or its dashed IP); an endpoint query must name the cluster: ``<hostname>.<service>...``
  alone matches nothing ("not allowing cluster-specific targeting via DNS", KEP-1645; Cilium's guide repeats it);
  nothing matching is NXDOMAIN.

The plugin lists ServiceImports as ``system:serviceaccount:kube-system:coredns``: without RBAC to list and watch
them (Cilium's guide adds a ClusterRole), or without the CRD, its informer never syncs, and CoreDNS answers SERVFAIL
where it would say NXDOMAIN, in every zone of the plugin (handler.go: ``!k.APIConn.HasSynced()``).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any, NamedTuple

from ..auth.users import SERVICE_ACCOUNT_PREFIX, Attributes, UserInfo

if TYPE_CHECKING:
    from ..instance import Sandbox

Obj = dict[str, Any]
IMPORTS = "serviceimports.multicluster.x-k8s.io"
SLICES = "endpointslices.discovery.k8s.io"
LABEL_SERVICE_NAME = "multicluster.kubernetes.io/service-name"
LABEL_SOURCE_CLUSTER = "multicluster.kubernetes.io/source-cluster"
COREDNS = UserInfo(f"{SERVICE_ACCOUNT_PREFIX}kube-system:coredns",
                   ("system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"))


class Answer(NamedTuple):
    """(rcode, [(type, name, data, port)]) before dns.py turns it into records."""

    rcode: str
    records: list[tuple[str, str, str, int]]


def unsynced(sb: Sandbox) -> str:
    """Why CoreDNS's ServiceImport informer cannot sync ("" when it can): the CRD is not served, or the coredns
    ServiceAccount may not list and watch serviceimports."""
    if sb.registry.lookup("multicluster.x-k8s.io", "v1alpha1", "serviceimports") is None:
        return ("the serviceimports.multicluster.x-k8s.io CRD is not served, so CoreDNS's ServiceImport informer "
                "never syncs")
    for verb in ("list", "watch"):
        attrs = Attributes(COREDNS, verb, True, "", "multicluster.x-k8s.io", "v1alpha1", "serviceimports")
        if not sb.authorizer.authorize(attrs)[0]:
            return (f'User "{COREDNS.name}" cannot {verb} resource "serviceimports" in API group '
                    '"multicluster.x-k8s.io" at the cluster scope, so CoreDNS\'s ServiceImport informer never syncs')
    return ""


def answer(sb: Sandbox, fqdn: str, zone: str, qtype: str, synced: bool = True) -> Answer:
    """The multicluster zone's answer for ``fqdn`` (lower case, no trailing dot); while the ServiceImport informer
    has not ``synced`` its cache is empty."""
    base = fqdn[: len(fqdn) - len(zone)].rstrip(".") if zone else fqdn
    if base in ("", "svc", "pod"):
        return Answer("NOERROR", [])
    segs = base.split(".")
    kind = segs.pop()
    if kind not in ("svc", "pod"):
        return Answer("NXDOMAIN", [])
    if not segs:
        return Answer("NOERROR", [])
    ns = segs.pop()
    if sb.store.get("namespaces", "", ns) is None:
        return Answer("NXDOMAIN", [])
    if not segs:
        return Answer("NOERROR", [])
    service = segs.pop()
    endpoint = cluster = port = proto = ""
    if len(segs) == 1:
        endpoint = segs[0]
    elif len(segs) == 2:
        if segs[1].startswith("_") or segs[0].startswith("_"):
            port, proto = segs[0].removeprefix("_"), segs[1].removeprefix("_")
        else:
            endpoint, cluster = segs
    elif segs:
        return Answer("NXDOMAIN", [])
    if kind == "pod":
        return _pod(fqdn, service, qtype, bool(segs))
    svc_import = sb.store.get(IMPORTS, ns, service) if synced else None
    if svc_import is None:
        return Answer("NXDOMAIN", [])
    svc_fqdn = f"{service}.{ns}.svc.{zone}"
    spec = svc_import.get("spec") or {}
    if spec.get("type") == "Headless" or endpoint:
        return _endpoints(sb, fqdn, ns, service, svc_fqdn, endpoint, cluster, port, proto, qtype)
    ports = [p for p in spec.get("ports") or [] if _match(port, p.get("name", "")) and
             _match(proto, p.get("protocol", "TCP"))]
    if not ports:
        return Answer("NXDOMAIN", [])
    ips = list(spec.get("ips") or [])
    if qtype == "SRV":
        return Answer("NOERROR", [("SRV", fqdn, svc_fqdn, p["port"]) for p in ports for _ in ips])
    return Answer("NOERROR", [("A", fqdn, ip, 0) for ip in dict.fromkeys(ips) if _v4(ip)] if qtype in ("A", "ANY")
                  else [])


def _pod(fqdn: str, label: str, qtype: str, extra: bool) -> Answer:
    """findPods under ``pods insecure``, as in cluster.local."""
    try:
        ip = str(ipaddress.IPv4Address(label.replace("-", ".")))
    except ValueError:
        return Answer("NXDOMAIN", [])
    if extra or label.count("-") != 3:
        return Answer("NXDOMAIN", [])
    return Answer("NOERROR", [("A", fqdn, ip, 0)] if qtype in ("A", "ANY") else [])


def _endpoints(sb: Sandbox, fqdn: str, ns: str, service: str, svc_fqdn: str, endpoint: str, cluster: str,
               port: str, proto: str, qtype: str) -> Answer:
    found: list[tuple[str, str, str, int]] = []  # (ip, hostname, cluster, port)
    for es in sb.store.list(SLICES, ns):
        labels = es["metadata"].get("labels") or {}
        if labels.get(LABEL_SERVICE_NAME) != service or es.get("addressType", "IPv4") != "IPv4":
            continue
        cluster_id = labels.get(LABEL_SOURCE_CLUSTER, "")
        slice_ports = [(p.get("name") or "", p["port"] if p.get("port") is not None else -1, p.get("protocol") or "")
                       for p in es.get("ports") or []] or [("", -1, "")]
        for ep in es.get("endpoints") or []:
            if (ep.get("conditions") or {}).get("ready") is False:
                continue
            for ip in ep.get("addresses") or []:
                host = ep.get("hostname") or ip.replace(".", "-")
                if endpoint and not (_same(cluster, cluster_id) and _same(endpoint, host)):
                    continue
                for pname, pnum, pproto in slice_ports:
                    if _match(port, pname) and _match(proto, pproto):
                        found.append((ip, host, cluster_id, pnum))
    if not found:
        return Answer("NXDOMAIN", [])
    if qtype == "SRV":
        return Answer("NOERROR", [("SRV", fqdn, f"{host}.{cid}.{svc_fqdn}", pnum) for _, host, cid, pnum in found])
    ips = list(dict.fromkeys(ip for ip, _, _, _ in found))
    sb.random.stream("coredns").shuffle(ips)  # the loadbalance plugin
    return Answer("NOERROR", [("A", fqdn, ip, 0) for ip in ips] if qtype in ("A", "ANY") else [])


def _same(a: str, b: str) -> bool:
    """kubernetes.go match: case-insensitive equality (an empty cluster matches no cluster id but an empty one)."""
    return a.lower() == b.lower()


def _match(want: str, have: str) -> bool:
    """matchPortAndProtocol: an unspecified part matches anything."""
    return want == "" or want.lower() == (have or "").lower()


def _v4(ip: str) -> bool:
    return ":" not in ip
