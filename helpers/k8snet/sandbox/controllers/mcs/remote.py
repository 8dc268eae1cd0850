"""The exports of the other clusters of the mesh, as this cluster's operator knows them, and what this cluster
exports to them.

In Cilium each cluster's operator writes its valid exports to its kvstore (serviceexportsync.go: a ServiceExport in
a global namespace whose Service exists and is not ExternalName, as an MCSAPIServiceSpec); every other cluster's
operator reads them through the mesh into its ``GlobalServiceExports`` cache, which the ServiceImport reconciler
merges with the local export. The cluster mesh (not this package) carries them between sandboxes: it hands this
cluster what a peer exports with :func:`publish` and reads what this cluster exports with :func:`local_exports`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .common import EXPORTS, cluster_name, enabled, is_global
from .merge import Export, export_of, valid_for_export

if TYPE_CHECKING:
    from ...instance import Sandbox

STATE_KEY = "mcsapi.remote-exports"
"""Where the sandbox keeps the peers' exports (program_state: the operator's memory, dropped on a reset)."""
RECONCILER = "mcsapi-serviceimport"


def _state(sb: Sandbox) -> dict[str, dict[tuple[str, str], Export]]:
    return sb.program_state.setdefault(STATE_KEY, {})


def publish(sb: Sandbox, cluster: str, exports: Iterable[Export]) -> None:
    """Replace everything peer ``cluster`` exports (an empty list: it left the mesh or exports nothing) and requeue
    the names that changed.

    Raises:
        ValueError: an export that names another cluster, or this cluster's own name.
    """
    new = {}
    for e in exports:
        if e.cluster != cluster:
            raise ValueError(f"an export of cluster {e.cluster!r} cannot be published as {cluster!r}'s")
        new[(e.namespace, e.name)] = e
    if cluster == cluster_name(sb):
        raise ValueError(f"{cluster!r} is this cluster's own name: its exports are the local ServiceExports")
    state = _state(sb)
    old = state.get(cluster, {})
    if new:
        state[cluster] = new
    else:
        state.pop(cluster, None)
    changed = {k for k in set(old) | set(new) if old.get(k) != new.get(k)}
    if sb.manager is not None:
        for c in sb.manager.controllers:
            if c.name == RECONCILER:
                for key in sorted(changed):
                    c.enqueue(key)


def exports_for(sb: Sandbox, namespace: str, name: str) -> list[Export]:
    """Every peer's export of ``namespace/name`` (GlobalServiceExports, indexed by name)."""
    return [by_name[(namespace, name)] for by_name in _state(sb).values() if (namespace, name) in by_name]


def names(sb: Sandbox) -> set[tuple[str, str]]:
    """Every (namespace, name) some peer exports."""
    return {key for by_name in _state(sb).values() for key in by_name}


def local_exports(sb: Sandbox) -> list[Export]:
    """What this cluster publishes (serviceexportsync.go syncMCSAPIServiceSpec): nothing unless MCS-API is
    enabled; else each ServiceExport in a global namespace whose Service exists and is not ExternalName."""
    if not enabled(sb):
        return []
    out = []
    for svc_export in sb.store.list(EXPORTS):
        meta = svc_export["metadata"]
        ns_obj = sb.store.get("namespaces", "", meta.get("namespace", ""))
        service = sb.store.get("services", meta.get("namespace", ""), meta["name"])
        if ns_obj is None or not is_global(sb, ns_obj) or service is None or not valid_for_export(service)[0]:
            continue
        out.append(export_of(service, svc_export, cluster_name(sb)))
    return out
