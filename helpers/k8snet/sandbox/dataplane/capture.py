"""What ``tcpdump`` on a pod's interface sees: the packets of the emulated connections, as each side's eth0 has
them.

The data plane reports each connection attempt and each exchange on it; every capture whose pod is one end gets
the packets as its interface carries them. The client's eth0 shows the address it dialed (a ClusterIP: kube-proxy
rewrites it on the node, after the packet has left the pod); the server's eth0 shows the pod address and the
client as the server sees it. A refused connection is a SYN answered by RST; a dropped one (a NetworkPolicy, an
address nobody has) is a SYN and its retransmissions, unanswered. Formats: tcpdump 4.99 (print-tcp.c, print-ip.c).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .context import Pipe


@dataclass
class Packet:
    at: datetime
    protocol: str  # "TCP" or "UDP"
    src: str
    sport: int
    dst: str
    dport: int
    flags: str = ""  # TCP: "S", "S.", ".", "P.", "F.", "R."
    seq: str = ""
    ack: str = ""
    payload: bytes = b""
    on: str = ""  # the address of the pod whose interface carries it (each end's eth0 has its own copy)
    dns: bool = False  # the payload is tcpdump's decoding of a DNS message (print-domain.c), not the bytes

    def line(self, ascii_dump: bool = False) -> str:
        stamp = self.at.strftime("%H:%M:%S.%f")
        if self.dns:
            return f"{stamp} IP {self.src}.{self.sport} > {self.dst}.{self.dport}: {self.payload.decode()}"
        if self.protocol == "UDP":
            text = f"{stamp} IP {self.src}.{self.sport} > {self.dst}.{self.dport}: UDP, length {len(self.payload)}"
        else:
            win = {"S": "64240", "S.": "65160"}.get(self.flags, "502")
            parts = [f"Flags [{self.flags}]"]
            if self.seq:
                parts.append(f"seq {self.seq}")
            if self.ack:
                parts.append(f"ack {self.ack}")
            parts.append(f"win {win}")
            if self.flags in ("S", "S."):
                parts.append("options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7]")
            parts.append(f"length {len(self.payload)}")
            text = f"{stamp} IP {self.src}.{self.sport} > {self.dst}.{self.dport}: " + ", ".join(parts)
            first = self.payload.split(b"\r\n", 1)[0]
            if self.payload and re.match(rb"^(HTTP/1\.[01] \d{3}|[A-Z]+ \S+ HTTP/1\.[01])", first):
                text += f": HTTP: {first.decode(errors='replace')}"
        if ascii_dump:  # -A: the packet from its IP header on as ASCII, dots for what does not print
            text += "\n" + "".join(chr(b) if 32 <= b < 127 or b in (10, 13) else "." for b in self.wire())
        return text

    def wire(self) -> bytes:
        """The IPv4 and TCP (with timestamps) or UDP headers, then the payload."""
        import ipaddress

        proto = 6 if self.protocol == "TCP" else 17
        header = 32 if proto == 6 else 8
        total = 20 + header + len(self.payload)
        ip = (bytes([0x45, 0, total >> 8 & 0xFF, total & 0xFF, 0x3A, 0x5C, 0x40, 0, 0x40, proto, 0x8E, 0x21])
              + ipaddress.ip_address(self.src).packed + ipaddress.ip_address(self.dst).packed)
        ports = self.sport.to_bytes(2, "big") + self.dport.to_bytes(2, "big")
        if proto == 17:
            return ip + ports + (8 + len(self.payload)).to_bytes(2, "big") + b"\x1c\x2e" + self.payload
        bits = {"S": 0x02, "S.": 0x12, ".": 0x10, "P.": 0x18, "F.": 0x11, "R.": 0x14}.get(self.flags, 0x10)
        seq = int(self.seq.split(":")[0] or 0) & 0xFFFFFFFF
        ack = int(self.ack or 0) & 0xFFFFFFFF
        tcp = (ports + seq.to_bytes(4, "big") + ack.to_bytes(4, "big") + bytes([0x80, bits, 0x01, 0xF6, 0x1C, 0x2E,
                                                                               0, 0])
               + b"\x01\x01\x08\x0a" + bytes(8))
        return ip + tcp + self.payload


Filter = Callable[[Packet], bool]
PENDING_LIMIT = 4096
"""Packets a tap holds until its tcpdump prints them; beyond that they are dropped and counted, as the kernel's
capture buffer does, so a stalled capture cannot grow without bound."""


@dataclass
class Tap:
    """One running tcpdump: the address of its interface, its filter, and the packets not yet printed."""

    ip: str
    accept: Filter
    arrivals: Pipe = field(default_factory=Pipe)
    pending: list[Packet] = field(default_factory=list)

    dropped: int = 0

    def offer(self, packet: Packet) -> None:
        if packet.on == self.ip and self.accept(packet):
            if len(self.pending) >= PENDING_LIMIT:  # a capture nobody reads: the kernel's buffer is full
                self.dropped += 1
                return
            self.pending.append(packet)
            self.arrivals.feed(b"\n")

    def take(self) -> list[Packet]:
        out, self.pending = self.pending, []
        self.arrivals.data.clear()
        return out


class Capture:
    """The running taps, fed by the network as connections happen."""

    def __init__(self, now: Callable[[], datetime]):
        self.now = now
        self.taps: list[Tap] = []
        self._isn = 1_000_000_007

    def open(self, tap: Tap) -> None:
        self.taps.append(tap)

    def close(self, tap: Tap) -> None:
        if tap in self.taps:
            self.taps.remove(tap)

    def _emit(self, packets: list[Packet]) -> None:
        for n, packet in enumerate(packets):  # a few microseconds apart, as they cross the veth
            packet.at = packet.at + timedelta(microseconds=23 * n + 5)
            for tap in list(self.taps):
                tap.offer(packet)

    def connection(self, client: tuple[str, int], dialed: tuple[str, int], server: tuple[str, int],
                   seen_from: tuple[str, int], outcome: str) -> None:
        """A TCP connection attempt: ``outcome`` is ``established``, ``refused`` or ``dropped``. The client's
        side goes to ``dialed``; the server's side sees ``seen_from`` (the client after any SNAT) reach
        ``server`` (the pod after kube-proxy's DNAT)."""
        if not self.taps:
            return
        now = self.now()
        self._isn = (self._isn * 48271) % 2147483647
        isn = str(self._isn)
        packets = []
        for on, src, dst in ((client[0], client, dialed), (server[0], seen_from, server)):
            mark = len(packets)
            packets.append(Packet(now, "TCP", src[0], src[1], dst[0], dst[1], "S", seq=isn))
            if outcome == "established":
                packets.append(Packet(now, "TCP", dst[0], dst[1], src[0], src[1], "S.", seq=str(int(isn) // 3),
                                      ack=str(int(isn) + 1)))
                packets.append(Packet(now, "TCP", src[0], src[1], dst[0], dst[1], ".", ack="1"))
            elif outcome == "refused":
                packets.append(Packet(now, "TCP", dst[0], dst[1], src[0], src[1], "R.", seq="0",
                                      ack=str(int(isn) + 1)))
            for p in packets[mark:]:
                p.on = on
            if outcome != "established":
                break  # dropped or refused on the way: only the client's interface is known to see it
        self._emit(packets)

    def exchange(self, client: tuple[str, int], dialed: tuple[str, int], server: tuple[str, int],
                 seen_from: tuple[str, int], request: bytes, response: bytes, encrypted: bool = False) -> None:
        """The request and the response on an established connection, then both ends close. Over TLS the
        wire carries records nobody on the path can read: bytes of the same size plus the record overhead."""
        if not self.taps:
            return
        if encrypted:
            request, response = _sealed(request), _sealed(response)
        now = self.now()
        packets = []
        for on, src, dst in ((client[0], client, dialed), (server[0], seen_from, server)):
            mark = len(packets)
            q, r = len(request), len(response)
            packets += [Packet(now, "TCP", src[0], src[1], dst[0], dst[1], "P.", seq=f"1:{q + 1}", ack="1",
                               payload=request),
                        Packet(now, "TCP", dst[0], dst[1], src[0], src[1], ".", ack=str(q + 1)),
                        Packet(now, "TCP", dst[0], dst[1], src[0], src[1], "P.", seq=f"1:{r + 1}", ack=str(q + 1),
                               payload=response),
                        Packet(now, "TCP", src[0], src[1], dst[0], dst[1], "F.", seq=str(q + 1), ack=str(r + 1)),
                        Packet(now, "TCP", dst[0], dst[1], src[0], src[1], "F.", seq=str(r + 1), ack=str(q + 2)),
                        Packet(now, "TCP", src[0], src[1], dst[0], dst[1], ".", ack=str(r + 2))]
            for p in packets[mark:]:
                p.on = on
        self._emit(packets)

    def datagram(self, src: tuple[str, int], dst: tuple[str, int], payload: bytes,
                 reply: bytes | None, dns: bool = False) -> None:
        """A datagram and its reply, as the sender's interface carries them (a DNS query to the cluster's
        nameserver: ``dns`` payloads are tcpdump's decoding of the message)."""
        if not self.taps:
            return
        now = self.now()
        packets = [Packet(now, "UDP", src[0], src[1], dst[0], dst[1], payload=payload, on=src[0], dns=dns)]
        if reply is not None:
            packets.append(Packet(now, "UDP", dst[0], dst[1], src[0], src[1], payload=reply, on=src[0], dns=dns))
        self._emit(packets)


def _sealed(data: bytes) -> bytes:
    """A TLS 1.3 application-data record's look: header 17 03 03, then bytes that read as noise."""
    body = b""
    block = hashlib.sha256(data).digest()
    while len(body) < len(data) + 22:
        block = hashlib.sha256(block).digest()
        body += block
    body = body[:len(data) + 22]
    return bytes([0x17, 0x03, 0x03]) + len(body).to_bytes(2, "big") + body


# -- the filter expression (pcap-filter(7), the common primitives) ----------------------------------------


def compile_filter(words: list[str]) -> Filter:
    """``tcp``, ``udp``, ``[src|dst] host ADDR``, ``[src|dst] port N``, combined with ``and``/``&&``,
    ``or``/``||``, ``not``/``!`` and parentheses; ValueError names what is not understood."""
    tokens = [t for w in words for t in re.findall(r"\(|\)|&&|\|\||!|[^\s()!]+", w)]
    pos = 0

    def peek() -> str:
        return tokens[pos] if pos < len(tokens) else ""

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise ValueError("syntax error in filter expression: unexpected end")
        pos += 1
        return tokens[pos - 1]

    def primary() -> Filter:
        word = take()
        if word in ("not", "!"):
            inner = primary()
            return lambda p: not inner(p)
        if word == "(":
            inner = disjunction()
            if take() != ")":
                raise ValueError("syntax error in filter expression: missing )")
            return inner
        proto = ""
        if word in ("tcp", "udp") and peek() not in ("port", "src", "dst"):
            return lambda p, w=word: p.protocol == w.upper()
        if word in ("tcp", "udp"):
            proto, word = word.upper(), take()
        direction = ""
        if word in ("src", "dst"):
            direction, word = word, take()
        if word in ("host", "port") and peek():
            value = take()
            if word == "port" and not value.isdigit():
                raise ValueError(f"syntax error in filter expression: bad port {value}")

            def test(p: Packet, kind: str = word, v: str = value, d: str = direction, pr: str = proto) -> bool:
                if pr and p.protocol != pr:
                    return False
                ends = {"src": [(p.src, p.sport)], "dst": [(p.dst, p.dport)]}.get(d, [(p.src, p.sport),
                                                                                     (p.dst, p.dport)])
                return any((a == v) if kind == "host" else (str(port) == v) for a, port in ends)
            return test
        raise ValueError(f"syntax error in filter expression: {word or 'end of expression'}"
                         " (the k8snet sandbox knows tcp, udp, host, port, src, dst, and, or, not)")

    def chain(operand: Callable[[], Filter], words: tuple[str, str], both: bool) -> Filter:
        """``operand (and operand)*`` (``both``) or ``operand (or operand)*``, left to right."""
        left = operand()
        while peek() in words:
            take()
            right = operand()
            left = (lambda a, b: (lambda p: a(p) and b(p)) if both else (lambda p: a(p) or b(p)))(left, right)
        return left

    def conjunction() -> Filter:
        return chain(primary, ("and", "&&"), True)

    def disjunction() -> Filter:
        return chain(conjunction, ("or", "||"), False)

    if not tokens:
        return lambda p: True
    result = disjunction()
    if pos != len(tokens):
        raise ValueError(f"syntax error in filter expression: {tokens[pos]}")
    return result
