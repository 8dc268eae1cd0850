"""k8snet: learn Kubernetes networking by doing, on a kind cluster or the embedded sandbox.

Example:
    >>> import k8snet
    >>> cluster = k8snet.connect()
"""

from .cluster import Cluster, ConnectError, connect

__all__ = ["Cluster", "ConnectError", "connect"]
__version__ = "0.1.0"
