"""``k8snet.connect()``: the workbook's cluster, started if it is not running yet.

It sits above both backends' lifecycles and the facade they share (``cluster``), so neither backend imports
the other and the facade imports neither.
"""

from __future__ import annotations

from .cluster import Cluster, ConnectError, choose_backend, open_cluster


def connect(backend: str | None = None, *, start: bool = True, cni: str | None = None) -> Cluster:
    """Connect to the workbook's cluster, starting the sandbox (or creating the kind cluster) if needed.

    ``cni`` (kindnet, cilium or calico) is the CNI plugin of a cluster this call creates; a running cluster made
    with another one is refused with a RuntimeError that says how to switch (``k8snet sandbox reset --cni``).

    Example:
        >>> cluster = k8snet.connect()          # the sandbox, unless K8SNET_BACKEND=kind
        >>> cluster.backend
        'sandbox'
    """
    chosen = choose_backend(backend)
    if chosen == "sandbox":
        from .sandbox import process

        running = process.status() if not start else process.up(cni=cni)
        if running is None:
            raise ConnectError("no sandbox is running: start it with `k8snet sandbox up`")
    elif start:
        from . import kubeconfig
        from .cluster import CONTEXTS

        if kubeconfig.context(CONTEXTS["kind"]) is None:
            from .kind import commands, lifecycle

            try:
                # as `k8snet kind up`: checks docker and kind, creates the cluster and its add-ons
                lifecycle.up(lifecycle.Options(cni=cni or "kindnet"))
            except commands.ToolError as exc:
                raise ConnectError(f"cannot create the kind cluster: {exc}") from exc
    return open_cluster(chosen)
