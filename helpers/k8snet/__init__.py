"""k8snet: learn Kubernetes networking by doing, on a kind cluster or the embedded sandbox.

Example:
    >>> import k8snet
    >>> cluster = k8snet.connect()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cluster import Cluster, ConnectError
    from .connection import connect

__all__ = ["Cluster", "ConnectError", "connect"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """Import the client side lazily: the sandbox process and the CLI start without the kubernetes client."""
    if name == "connect":
        from .connection import connect

        return connect
    if name in __all__:
        from . import cluster

        return getattr(cluster, name)
    raise AttributeError(f"module 'k8snet' has no attribute {name!r}")
