"""Where traffic from outside enters the cluster: the ingress edge's ports on 127.0.0.1, per backend.

On kind, 127.0.0.1:8080/8443 are docker port mappings onto Traefik's nodePorts (``k8snet.kind.config``); on the
sandbox they are its edge listener, whose ports the running process reports (tests put them on free ports).
Either way a request reaches it as ``curl --resolve HOST:PORT:127.0.0.1`` sends it: connect to 127.0.0.1, with
the URL's host as Host header and SNI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .. import pins

if TYPE_CHECKING:
    from ..cluster import Cluster

ADDRESS = "127.0.0.1"


class EdgeError(RuntimeError):
    """The edge cannot be reached, or a URL cannot go through it; the message says what to do."""


@dataclass(frozen=True)
class Edge:
    """The edge's address on this machine."""

    backend: str
    http_port: int
    https_port: int
    host: str = ADDRESS

    def url(self, host: str, path: str = "/", tls: bool = False) -> str:
        """The URL a browser or ``curl --resolve`` uses for ``host`` (it carries the port, which varies in tests)."""
        scheme, port = ("https", self.https_port) if tls else ("http", self.http_port)
        return f"{scheme}://{host}:{port}{path if path.startswith('/') else '/' + path}"

    def curl(self, url: str) -> str:
        """The curl command line that sends ``url`` through the edge, as the README shows it."""
        parts = urlsplit(url)
        port = self.port_for(url)
        target = f"{parts.scheme}://{parts.hostname}:{port}{parts.path or '/'}" + (f"?{parts.query}" if parts.query
                                                                                   else "")
        return f"curl --resolve {parts.hostname}:{port}:{self.host} {target}"

    def port_for(self, url: str) -> int:
        """The edge port a URL goes to: by its scheme, or its explicit port (80/443 or one of the edge's)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise EdgeError(f"{url!r} is not an http:// or https:// URL with a host name, e.g. "
                            "https://shop.example.test/cart")
        try:
            explicit = parts.port
        except ValueError:
            raise EdgeError(f"{url!r} has a port that is not a number") from None
        if explicit is None:
            return self.https_port if parts.scheme == "https" else self.http_port
        if explicit in (self.http_port, self.https_port):
            return explicit
        if explicit in (80, 443):
            return self.https_port if explicit == 443 else self.http_port
        raise EdgeError(f"{url}: the ingress edge listens on {self.host}:{self.http_port} (HTTP) and "
                        f"{self.host}:{self.https_port} (HTTPS); leave the port out of the URL")

    def __repr__(self) -> str:
        return f"<Edge {self.backend}: http://{self.host}:{self.http_port} https://{self.host}:{self.https_port}>"


def edge(cluster: Cluster) -> Edge:
    """The ingress edge of ``cluster``'s backend.

    Example:
        >>> ingress.edge(cluster).http_port
        8080
    """
    if cluster.backend == "sandbox":
        from ..sandbox import process

        running = process.status()
        if running is None:
            raise EdgeError("no sandbox is running here: start it with `k8snet sandbox up`")
        if not running.edge_http_port or not running.edge_https_port:
            raise EdgeError("the running sandbox has no ingress edge: restart it with `k8snet sandbox down` and "
                            "`k8snet sandbox up`")
        api_port = urlsplit(cluster.api.configuration.host).port
        if api_port != running.port:
            raise EdgeError(f"the sandbox running from {running.state} (API {running.server}) is not the one this "
                            f"cluster talks to ({cluster.api.configuration.host}); point K8SNET_HOME at that "
                            "sandbox's directory")
        return Edge("sandbox", running.edge_http_port, running.edge_https_port)
    try:
        http_port, https_port = pins.edge_ports(any_port=False)
    except ValueError as exc:
        raise EdgeError(str(exc)) from None
    return Edge(cluster.backend, http_port, https_port)
