"""Address and port allocation: Service ClusterIPs, NodePorts, pod IPs, LoadBalancer IPs.

A service that strategies and stages call, never written into them. Every
allocator is rebuilt from stored objects at start, so the store stays the
one source of truth and a restart cannot hand out an address twice.
"""

from __future__ import annotations

import ipaddress
import random


class Exhausted(Exception):
    """No free value is left in the range."""


class Taken(Exception):
    """The requested value is already allocated."""


class OutOfRange(Exception):
    """The requested value is outside the range."""


class RangeAllocator:
    """Random allocation of integers in [first, last], with a seeded generator."""

    def __init__(self, first: int, last: int, rng: random.Random, reserved: tuple[int, ...] = ()):
        self.first, self.last = first, last
        self.rng = rng
        self.used: set[int] = set(reserved)

    def allocate(self, value: int | None = None) -> int:
        """Take ``value`` (or a random free one)."""
        if value is not None:
            if not self.first <= value <= self.last:
                raise OutOfRange(value)
            if value in self.used:
                raise Taken(value)
            self.used.add(value)
            return value
        size = self.last - self.first + 1
        if len(self.used) >= size:
            raise Exhausted()
        while True:
            candidate = self.first + self.rng.randrange(size)
            if candidate not in self.used:
                self.used.add(candidate)
                return candidate

    def release(self, value: int) -> None:
        self.used.discard(value)


class IPAllocator:
    """Random IPv4 allocation from a CIDR, skipping network and broadcast addresses."""

    def __init__(self, cidr: str, rng: random.Random, reserved: tuple[str, ...] = ()):
        self.network = ipaddress.ip_network(cidr)
        base = int(self.network.network_address)
        self._range = RangeAllocator(base + 1, base + self.network.num_addresses - 2, rng,
                                     tuple(int(ipaddress.ip_address(r)) for r in reserved))

    def allocate(self, ip: str | None = None) -> str:
        value = int(ipaddress.ip_address(ip)) if ip else None
        return str(ipaddress.ip_address(self._range.allocate(value)))

    def reserve(self, ip: str) -> None:
        """Mark an address as used whatever its state (rebuilding from stored objects)."""
        self._range.used.add(int(ipaddress.ip_address(ip)))

    def release(self, ip: str) -> None:
        self._range.release(int(ipaddress.ip_address(ip)))

    def contains(self, ip: str) -> bool:
        try:
            return ipaddress.ip_address(ip) in self.network
        except ValueError:
            return False


class SequentialIPAllocator(IPAllocator):
    """Pod IPs: the next free address after the last one handed out, wrapping around.

    This is how the host-local IPAM plugin behind kind's CNI allocates
    (plugins/ipam/host-local/backend/allocator: it remembers the last reserved
    IP), which is why a recreated pod gets a new address. Calico's calico-ipam hands out a block's addresses in
    order too (``whole_block``: every address of the block but its first, which is the node's tunnel address).
    """

    def __init__(self, cidr: str, rng: random.Random, reserved: tuple[str, ...] = (), whole_block: bool = False):
        super().__init__(cidr, rng, reserved)
        if whole_block:  # a Calico IPAM block: no network or broadcast address, its first one is the node's tunl0
            self._range.last += 1
        else:
            self._range.used.add(self._range.first)  # .1 is the node's own bridge address
        self.last = self._range.first

    def reserve(self, ip: str) -> None:
        super().reserve(ip)
        self.last = max(self.last, int(ipaddress.ip_address(ip)))

    def allocate(self, ip: str | None = None) -> str:
        if ip:
            return super().allocate(ip)
        r = self._range
        size = r.last - r.first + 1
        for step in range(1, size + 1):
            value = r.first + (self.last - r.first + step) % size
            if value not in r.used:
                r.used.add(value)
                self.last = value
                return str(ipaddress.ip_address(value))
        raise Exhausted()
