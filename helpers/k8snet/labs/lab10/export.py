"""Lab 10, exercise 2 (export): inventory runs in onprem only, and cloud's pods reach it by its clusterset name; the
starting ServiceExport sits in cloud, where there is no Service to export (Cilium's ServiceImport reconciler:
NoService, and nothing is imported while it stays)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from kubernetes.client.exceptions import ApiException

from ... import traffic
from ...cni import clustermesh
from ...table import Table
from ...traffic import PodRef
from .. import Hint
from .common import (
    CLOUD,
    EXPORT_REQUESTS,
    MCS,
    ONPREM,
    SETTLE,
    answered_by,
    ensure_mesh,
    median_ms,
    need_mesh,
    need_pair,
    need_pods,
    outcomes,
    settled_run,
    start,
)

if TYPE_CHECKING:
    from ...cluster import Cluster

def clusterset_name(ns: str, service: str = "inventory") -> str:
    return f"{service}.{ns}.svc.clusterset.local"


def setup_export(onprem: Cluster, ns: str, cloud: Cluster) -> None:
    need_pair(cloud, onprem, "export")
    ensure_mesh(cloud, onprem)
    start(onprem, "export", ns)
    start(cloud, "export", ns)


def _mcs(cluster: Cluster, kind: str, ns: str | None = None) -> list[dict[str, Any]]:
    try:
        return cluster.get(kind, namespace=ns, api_version=MCS)
    except ApiException as exc:
        if exc.status == 404:
            return []
        raise


def condition(obj: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    return next((c for c in ((obj or {}).get("status") or {}).get("conditions") or [] if c["type"] == kind), {})


def _valid(export: dict[str, Any] | None) -> bool:
    return condition(export, "Valid").get("status") == "True"


def export_words(cluster: str, export: dict[str, Any]) -> str:
    """``onprem's ServiceExport inventory: Valid=False NoService "Service doesn't exist"``."""
    valid = condition(export, "Valid")
    state = (f'Valid={valid["status"]} {valid.get("reason", "")} "{valid.get("message", "")}"' if valid
             else "no status yet")
    where = export["metadata"].get("namespace", "")
    return f"{cluster}'s ServiceExport {export['metadata']['name']} (namespace {where}): {state}"


def exports_table(cloud: Cluster, onprem: Cluster, ns: str = "lab10-export") -> Table:
    """Each cluster's ServiceExports and ServiceImports in the namespace, as ``kubectl get svcex,svcim`` with their
    conditions shows them."""
    rows = []
    for cluster in (cloud, onprem):
        for ex in _mcs(cluster, "ServiceExport", ns):
            valid, ready = condition(ex, "Valid"), condition(ex, "Ready")
            rows.append([cluster.name, f"ServiceExport {ex['metadata']['name']}",
                         f"Valid={valid.get('status', '?')} ({valid.get('reason', '')}), "
                         f"Ready={ready.get('status', '?')}"])
        for im in _mcs(cluster, "ServiceImport", ns):
            clusters = ", ".join(c["cluster"] for c in (im.get("status") or {}).get("clusters") or [])
            rows.append([cluster.name, f"ServiceImport {im['metadata']['name']}",
                         f"{(im.get('spec') or {}).get('type', '')} from {clusters or 'no cluster'}"])
    return Table(["CLUSTER", "OBJECT", "STATE"], rows)


def _import_due(cloud: Cluster, onprem: Cluster, ns: str) -> bool:
    """onprem exports inventory validly and cloud has no invalid export of its own: cloud's import is coming."""
    mine = cloud.find("ServiceExport", "inventory", ns, MCS)
    return _valid(onprem.find("ServiceExport", "inventory", ns, MCS)) and (mine is None or _valid(mine))


def _await_import(cloud: Cluster, onprem: Cluster, ns: str) -> None:
    """When cloud's ServiceImport is due, give it (and its clusterset IP) SETTLE seconds to arrive over the mesh."""
    deadline = time.monotonic() + SETTLE
    while _import_due(cloud, onprem, ns) and time.monotonic() < deadline:
        found = cloud.find("ServiceImport", "inventory", ns, MCS)
        if found and (found.get("spec") or {}).get("ips"):
            return
        time.sleep(0.2)


def _export_advice(cloud: Cluster, onprem: Cluster, ns: str) -> str:
    """Why cloud has no ServiceImport inventory, from both clusters' ServiceExports."""
    mine, theirs = cloud.find("ServiceExport", "inventory", ns, MCS), onprem.find("ServiceExport", "inventory", ns, MCS)
    imported = cloud.find("ServiceImport", "inventory", ns, MCS)
    said = [export_words(CLOUD, mine)] if mine else []
    said += [export_words(ONPREM, e) for e in _mcs(onprem, "ServiceExport")
             if e["metadata"]["name"] == "inventory" or e["metadata"].get("namespace") == ns]
    found = ". ".join(said) + "." if said else "Neither cluster has a ServiceExport inventory."
    if imported is not None:
        return (f"{found} cloud has the ServiceImport inventory, but CoreDNS does not answer its name: it caches a "
                "NXDOMAIN for up to 30 s (check again in a moment), or the MCS API is not on in cloud "
                "(clustermesh.enable_mcs_api).")
    if _valid(theirs) and mine is not None and not _valid(mine):
        return (f"{found} onprem exports inventory, and yet cloud has no ServiceImport: Cilium's operator in cloud "
                "reconciles the name with cloud's own ServiceExport first, finds no Service inventory in cloud and "
                "stops there. That export has nothing to export: delete it.")
    if mine is not None and not _valid(mine):
        return (f"{found} A ServiceExport exports the Service of its own name from its own cluster, and inventory "
                "runs in onprem: cloud has no Service to export. The clusters that use a Service get a "
                "ServiceImport; the cluster that has it writes the ServiceExport.")
    if theirs is not None and not _valid(theirs):
        return f"{found} onprem's export is not valid yet."
    if said:
        return (f"{found} An export takes the name of its Service (inventory) and sits in the Service's "
                f"namespace ({ns}).")
    return f"{found} A ServiceExport named inventory, next to the Service in onprem's {ns}, exports it."


def check_export(onprem: Cluster, ns: str, cloud: Cluster) -> str:
    need_pods(cloud, ns, "client")
    need_mesh(cloud, onprem, ns)
    _await_import(cloud, onprem, ns)
    name, client = clusterset_name(ns), PodRef(ns, "client")
    dns = traffic.nslookup(cloud, client, name)
    deadline = time.monotonic() + SETTLE
    while dns.error and cloud.find("ServiceImport", "inventory", ns, MCS) and time.monotonic() < deadline:
        time.sleep(1)  # CoreDNS caches a NXDOMAIN it gave before the import came (kind's Corefile: cache 30)
        dns = traffic.nslookup(cloud, client, name)
    if dns.error:
        raise Hint(f"{name} does not resolve in cloud ({dns.error}). {_export_advice(cloud, onprem, ns)}")
    owners = clustermesh.owners([cloud, onprem], ns)
    run = settled_run(cloud, client, f"http://{name}/hostname", EXPORT_REQUESTS,
                      lambda r: set(answered_by(r, owners)) == {ONPREM}, SETTLE)
    where = answered_by(run, owners)
    if set(where) != {ONPREM}:
        got = "; ".join(f"{who}: {outcomes(reqs)}" for who, reqs in where.items())
        raise Hint(f"{name} resolves in cloud ({', '.join(dns.addresses)}), but cloud's client's requests to it "
                   f"were answered so: {got}. They should all reach onprem's inventory pods.")
    imported = cloud.find("ServiceImport", "inventory", ns, MCS) or {}
    clusters = ", ".join(c["cluster"] for c in (imported.get("status") or {}).get("clusters") or [])
    return (f"{name} resolves in cloud to the clusterset IP of cloud's ServiceImport inventory (status.clusters: "
            f"{clusters}); {len(run)} of {len(run)} requests from cloud's client were answered by onprem's inventory "
            f"pods (median {median_ms(run.requests)}: the 30 ms round trip twice).")


def after_export(onprem: Cluster, ns: str, cloud: Cluster) -> None:
    """The solution's second half: the export in the wrong cluster goes."""
    cloud.delete("ServiceExport", "inventory", ns, api_version=MCS)
