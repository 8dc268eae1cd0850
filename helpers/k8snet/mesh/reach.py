"""Who gets through to which service in a mesh, and why not: every client against every target, one request each.

A mesh refuses in three ways a learner must tell apart: a ztunnel resets a connection it accepted (curl exits 56,
``Recv failure: Connection reset by peer`` — PeerAuthentication STRICT, an L4 AuthorizationPolicy, a NetworkPolicy
without port 15008), a waypoint answers with HTTP (``403 RBAC: access denied``, ``504 upstream request timeout``),
and outside any mesh a NetworkPolicy drops packets (a timeout). :func:`matrix` runs the requests in parallel from
inside the client pods (``kubectl exec … curl``), the same on both backends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..matrix import Matrix
from ..traffic import PodRef, exec_many

if TYPE_CHECKING:
    from ..cluster import Cluster

MARK = "@@status "


@dataclass
class Attempt:
    """One request and what came of it."""

    exit_code: int
    status: int | None
    body: str
    error: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.status is not None and self.status < 400

    @property
    def reason(self) -> str:
        """What happened, in the words the learner will see in curl and the logs."""
        first = self.body.strip().splitlines()[0] if self.body.strip() else ""
        if self.exit_code == 0 and self.status is not None:
            if not first or first[:1] in "{[<":  # a JSON or HTML document: its status says more than its first line
                from http import HTTPStatus

                phrase = HTTPStatus(self.status).phrase if self.status in HTTPStatus._value2member_map_ else ""
                return f"{self.status} {phrase}".strip()
            return f"{self.status}: {first}"
        if self.exit_code == 56:
            return "reset by a ztunnel (curl 56)"
        if self.exit_code == 28:
            return "timed out (curl 28)"
        if self.exit_code == 7:
            return "refused (curl 7)"
        return self.error.strip().splitlines()[-1] if self.error.strip() else f"curl exit {self.exit_code}"


class Reachability(Matrix):
    """Clients (rows) against targets (columns), each cell an :class:`Attempt`."""


def command(url: str, method: str = "GET") -> list[str]:
    """curl as a learner types it, plus a last line with the status."""
    return ["curl", "-sS", "-m", "3", "-X", method, "-w", f"\n{MARK}%{{http_code}}", url]


def matrix(cluster: Cluster, clients: dict[str, PodRef], targets: dict[str, str | tuple[str, str]],
           title: str = "Who gets through to which service") -> Reachability:
    """Every client against every target (``{name: url}`` or ``{name: (method, url)}``), in parallel."""
    jobs = []
    for c, pod in clients.items():
        for s, target in targets.items():
            method, url = target if isinstance(target, tuple) else ("GET", target)
            jobs.append((c, s, pod, command(url, method)))
    outputs = exec_many(cluster, [(pod, cmd) for _, _, pod, cmd in jobs])
    result = Reachability(list(clients), list(targets), backend=cluster.backend, title=title)
    for (c, s, _, _), out in zip(jobs, outputs, strict=True):
        body, _, status = out.stdout.rpartition(MARK)
        code = int(status.strip()) if status.strip().isdigit() and int(status.strip()) else None
        result.cells[(c, s)] = Attempt(out.exit_code, code if out.exit_code == 0 else None, body, out.stderr)
    return result
