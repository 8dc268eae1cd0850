"""Certificates over time: each issued certificate's validity, when cert-manager will renew it, and what time it is.

cert-manager writes a Certificate's ``status.notBefore``, ``notAfter``, ``renewalTime`` and ``revision`` each time
it issues (cert-manager.io/docs/usage/certificate/#renewal: by default at two thirds of the lifetime); the Secret
holds the certificate itself. A :class:`Timeline` looks at a namespace's Certificates whenever it is asked to
(:meth:`Timeline.observe`, after each step of a lesson) and keeps every certificate it saw, so a renewal shows as a
new bar that starts before the old one ends. The picture is :func:`k8snet.plots.certificate_timeline`.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import reader

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..cluster import Cluster

API_VERSION = "cert-manager.io/v1"


@dataclass(frozen=True)
class Issued:
    """One certificate a Certificate resource got: its serial, validity and the renewal time cert-manager set."""

    certificate: str  # the Certificate's name
    revision: int
    serial: str
    not_before: datetime
    not_after: datetime
    renewal: datetime | None


@dataclass
class Timeline:
    """What a namespace's Certificates held each time it was observed."""

    cluster: Cluster
    namespace: str
    issued: dict[tuple[str, str], Issued] = field(default_factory=dict)  # (certificate, serial) → what it got
    observed: list[tuple[datetime, str]] = field(default_factory=list)  # (cluster time, label)

    def observe(self, label: str = "") -> list[Issued]:
        """Read every Certificate and its Secret now; returns what each holds at this moment."""
        now = self.cluster.clock()
        current = []
        for crt in _items(self.cluster.get("Certificate", namespace=self.namespace, api_version=API_VERSION)):
            got = self._issued(crt)
            if got is not None:
                self.issued.setdefault((got.certificate, got.serial), got)
                current.append(got)
        self.observed.append((now, label or f"observation {len(self.observed) + 1}"))
        return current

    def _issued(self, crt: dict[str, Any]) -> Issued | None:
        name, status = crt["metadata"]["name"], crt.get("status") or {}
        from kubernetes.dynamic.exceptions import NotFoundError

        try:
            secret = self.cluster.get("Secret", crt["spec"]["secretName"], self.namespace)
        except NotFoundError:  # not issued yet, or the Secret was deleted (cert-manager re-issues it)
            return None
        data = secret.get("data") or {}
        if not data.get("tls.crt"):
            return None
        leaf = reader.read(base64.b64decode(data["tls.crt"]))
        renewal = status.get("renewalTime")
        return Issued(name, int(status.get("revision") or 0), leaf.serial, leaf.not_before, leaf.not_after,
                      _time(renewal) if renewal else None)

    def certificates(self) -> list[str]:
        return sorted({name for name, _ in self.issued})

    def plot(self) -> Figure:
        from ..plots import certificate_timeline

        return certificate_timeline(self)


def _items(listing: Any) -> list[dict[str, Any]]:
    if isinstance(listing, dict):
        return listing.get("items") or []
    return list(listing or [])


def _time(text: str) -> datetime:
    from datetime import UTC

    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
