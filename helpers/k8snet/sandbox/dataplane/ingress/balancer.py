"""Traefik's default load balancer: weighted round robin by earliest deadline first.

pkg/server/service/loadbalancer/wrr/wrr.go: each server has a deadline (``1/weight`` apart); a pick takes
the earliest, moves it on by ``1/weight`` and skips fenced (terminating) servers; with no server, or only
fenced ones, the answer is ``503 no available server``. The servers are shuffled once when the service is
built (pkg/server/service/service.go ``shuffle``), here with the sandbox's seeded generator, so the order
in which pods take turns differs between Services but repeats between runs. Unlike kube-proxy's
per-connection random choice, every request moves to the next pod.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .routes import Server


@dataclass
class _Entry:
    server: Server
    deadline: float
    order: int


class RoundRobin:
    """One service's balancer; its state lives as long as the service's server list is unchanged."""

    def __init__(self, servers: list[Server], rng: random.Random):
        shuffled = list(servers)
        rng.shuffle(shuffled)
        self.entries = [_Entry(s, 1.0, i) for i, s in enumerate(shuffled)]
        self.current = 0.0

    def pick(self) -> tuple[Server | None, int]:
        """The next server (None: no available server) and how many were candidates."""
        usable = [e for e in self.entries if not e.server.fenced]
        if not usable:
            return None, 0
        while True:
            entry = min(self.entries, key=lambda e: (e.deadline, e.order))
            self.current = entry.deadline
            entry.deadline += 1.0
            if not entry.server.fenced:
                return entry.server, len(usable)
