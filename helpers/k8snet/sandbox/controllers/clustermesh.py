"""The agents' Cluster Mesh configuration: connect to the members the ``cilium-clustermesh`` Secret names.

A real agent watches the Secret's mounted files and connects to (or disconnects from) each remote cluster's
clustermesh-apiserver as keys come and go (pkg/clustermesh ConfigDirectoryWatcher). Here the reconcile starts or
stops the polls of the other members (:meth:`..clustermesh.ClusterMesh.sync`) and syncs the remote endpoints of
headless global Services; it also runs every few seconds, so a member started after the Secret was written is
found, and a reset that wiped the Secret disconnects.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..clustermesh import config, endpointslices
from ..store import Event
from . import POLL_KEY, Controller, Key

if TYPE_CHECKING:
    from ..instance import Sandbox

RESYNC = 5.0
"""Seconds between two looks at the Secret and the members without an event."""


def controllers(sb: Sandbox) -> list[Controller]:
    """The mesh's connector (only in a Cilium cluster)."""
    if sb.cni != "cilium":
        return []

    def the_secret(sb: Sandbox, event: Event) -> Iterable[Key]:
        meta = event.obj["metadata"]
        return [POLL_KEY] if (meta.get("namespace"), meta.get("name")) == (config.NAMESPACE, config.SECRET) else []

    def headless_global(sb: Sandbox, event: Event) -> Iterable[Key]:
        return [POLL_KEY] if any(o is not None and endpointslices.synced(o) for o in (event.obj, event.old)) else []

    return [Controller("clustermesh", reconcile, {"secrets": the_secret, "services": headless_global},
                       every=RESYNC)]


def reconcile(sb: Sandbox, key: Key) -> float | None:
    sb.clustermesh.sync()
    return None
