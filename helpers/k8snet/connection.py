"""``k8snet.connect()``: the workbook's cluster, started if it is not running yet.

It sits above both backends' lifecycles and the facade they share (``cluster``), so neither backend imports
the other and the facade imports neither.
"""

from __future__ import annotations

from .cluster import Cluster, ConnectError, choose_backend, open_cluster


def connect(backend: str | None = None, *, start: bool = True) -> Cluster:
    """Connect to the workbook's cluster, starting the sandbox (or creating the kind cluster) if needed.

    Example:
        >>> cluster = k8snet.connect()          # the sandbox, unless K8SNET_BACKEND=kind
        >>> cluster.backend
        'sandbox'
    """
    chosen = choose_backend(backend)
    if chosen == "sandbox":
        from .sandbox import process

        running = process.status() if not start else process.up()
        if running is None:
            raise ConnectError("no sandbox is running: start it with `k8snet sandbox up`")
    elif start:
        from . import kubeconfig
        from .cluster import CONTEXTS

        if kubeconfig.context(CONTEXTS["kind"]) is None:
            from .kind import commands, lifecycle

            try:
                lifecycle.up()  # as `k8snet kind up`: checks docker and kind, creates the cluster and its add-ons
            except commands.ToolError as exc:
                raise ConnectError(f"cannot create the kind cluster: {exc}") from exc
    return open_cluster(chosen)
