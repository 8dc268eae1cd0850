"""Seeded random streams, one per purpose, all derived from the sandbox's one seed (``K8SNET_SEED``).

Controllers run concurrently with the notebook's requests, so a single shared
generator would hand out numbers in a timing-dependent order. Each purpose
(uids, generated names, the scheduler, kube-proxy, address pools) draws from
its own stream instead, and what a notebook sees repeats run after run.
"""

from __future__ import annotations

import random


class Randomness:
    """Named :class:`random.Random` streams seeded from ``f"{seed}:{name}"``."""

    def __init__(self, seed: int):
        self.seed = seed
        self._streams: dict[str, random.Random] = {}

    def stream(self, name: str) -> random.Random:
        """The stream for one purpose (the same object every time, so holders stay in step on reseed)."""
        if name not in self._streams:
            self._streams[name] = random.Random(f"{self.seed}:{name}")
        return self._streams[name]

    def reseed(self, seed: int) -> None:
        """Start every stream again from a new seed (``k8snet sandbox reset --seed``)."""
        self.seed = seed
        for name, stream in self._streams.items():
            stream.seed(f"{seed}:{name}")
