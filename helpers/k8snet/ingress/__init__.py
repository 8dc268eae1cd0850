"""Traffic from outside the cluster, through the ingress edge: send requests, see where they went, and why.

The same calls work on the sandbox and on kind: requests go to 127.0.0.1 at the edge's ports with the URL's
host as Host header and SNI (as ``curl --resolve`` sends them); which rule, Service and pod answered comes from
the Ingress objects and Traefik's access log, read through the Kubernetes API.

Example:
    >>> from k8snet import ingress
    >>> r = ingress.send(cluster, "http://shop.example.test/cart", n=20)
    >>> r.counts(), r.plot()
    >>> ingress.routing_table(cluster, ["http://shop.example.test/", "http://shop.example.test/cart"])
    >>> ingress.certificate(cluster, "shop.example.test")

Parts: ``edge`` (where the edge listens), ``client`` (one request on a fresh connection), ``send`` (N requests
and their attribution), ``attribution`` (Traefik's routers from the API objects, its access log), ``result``
(rows and views), ``gateway`` (Gateway API routes in the access log, and their status), ``routing`` (the routing table), ``certs`` (the certificate summary), ``settle`` (wait until
Traefik has loaded what was applied), ``pictures``, and ``traefik`` (the port of Traefik's Kubernetes providers
that ``attribution`` turns the objects into routers with).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import gateway
from .certs import CertSummary, certificate
from .client import TlsInfo
from .edge import Edge, EdgeError, edge
from .path import path
from .result import EdgeRequest, EdgeResult, Table
from .routing import RouteRow, RoutingTable, routing_table
from .send import send
from .settle import settle

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["gateway", "path", "CertSummary", "Edge", "EdgeError", "EdgeRequest", "EdgeResult", "RouteRow", "RoutingTable", "Table",
           "TlsInfo", "certificate", "edge", "routing_table", "send", "settle", "shares", "status_over_time"]


def status_over_time(result: EdgeResult) -> Figure:
    """Status codes over time (the same figure as ``result.plot()``)."""
    from .pictures import status_over_time as draw

    return draw(result)


def shares(steps: Sequence[tuple[str, EdgeResult]], title: str = "") -> Figure:
    """How each step of a traffic split shared its requests between Services (one bar per step)."""
    from .pictures import shares as draw

    return draw(steps, title)
