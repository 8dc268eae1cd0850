"""k8snet: learn Kubernetes networking by doing, on a kind cluster or the embedded sandbox.

Example:
    >>> import k8snet
    >>> cluster = k8snet.connect()
    >>> east = k8snet.connect("east")       # another member of a cluster set (context k8snet-east)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cluster import Cluster, ConnectError
    from .connection import clusters, connect, disconnect

__all__ = ["Cluster", "ConnectError", "clusters", "connect", "disconnect"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """Import the client side lazily: the sandbox process and the CLI start without the kubernetes client."""
    if name in ("connect", "clusters", "disconnect"):
        from . import connection

        return getattr(connection, name)
    if name in __all__:
        from . import cluster

        return getattr(cluster, name)
    raise AttributeError(f"module 'k8snet' has no attribute {name!r}")
