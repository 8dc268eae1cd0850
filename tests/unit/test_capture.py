"""tcpdump's view of the emulated connections (pcap-filter primitives, each end's interface, TLS records)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from k8snet.sandbox.dataplane.capture import Capture, Packet, Tap, compile_filter

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def pkt(**kw) -> Packet:
    base = dict(at=NOW, protocol="TCP", src="10.244.1.5", sport=40000, dst="10.244.2.7", dport=8080)
    return Packet(**{**base, **kw})


@pytest.mark.parametrize(("expr", "expected"), [
    ("", True), ("tcp", True), ("udp", False), ("port 8080", True), ("dst port 8080", True),
    ("src port 8080", False), ("host 10.244.1.5 and port 8080", True), ("tcp and not port 8080", False),
    ("udp or (tcp and dst host 10.244.2.7)", True), ("! tcp", False), ("tcp port 53 || host 10.244.2.7", True),
])
def test_filters(expr, expected):
    assert compile_filter(expr.split())(pkt()) is expected


@pytest.mark.parametrize("expr", ["portrange 1-2", "port http", "(tcp", "tcp and"])
def test_what_the_filter_does_not_know_is_refused(expr):
    with pytest.raises(ValueError, match="syntax error in filter expression"):
        compile_filter(expr.split())


def test_each_end_sees_its_own_addresses_and_tls_hides_the_request():
    capture = Capture(lambda: NOW)
    client, server = Tap("10.244.1.5", compile_filter([])), Tap("10.244.2.7", compile_filter([]))
    capture.open(client)
    capture.open(server)
    capture.connection(("10.244.1.5", 40000), ("10.96.0.42", 443), ("10.244.2.7", 8443), ("10.244.1.5", 40000),
                       "established")
    capture.exchange(("10.244.1.5", 40000), ("10.96.0.42", 443), ("10.244.2.7", 8443), ("10.244.1.5", 40000),
                     b"GET / HTTP/1.1\r\nHost: web\r\n\r\n", b"HTTP/1.1 200 OK\r\n\r\nhi", encrypted=True)
    seen_by_client = client.take()
    assert {p.dst for p in seen_by_client if p.src == "10.244.1.5"} == {"10.96.0.42"}
    assert {p.dst for p in server.take() if p.src == "10.244.1.5"} == {"10.244.2.7"}
    data = next(p for p in seen_by_client if p.payload)
    assert data.payload[:3] == b"\x17\x03\x03" and b"GET" not in data.payload
    assert "HTTP:" not in data.line() and data.line(ascii_dump=True).split("\n", 1)[1].startswith("E.")


def test_a_capture_nobody_reads_drops_and_counts_instead_of_growing():
    from k8snet.sandbox.dataplane.capture import PENDING_LIMIT

    capture = Capture(lambda: NOW)
    tap = Tap("10.244.1.5", compile_filter([]))
    capture.open(tap)
    for _ in range(PENDING_LIMIT // 6 + 10):  # each connection puts six packets on the client's interface
        capture.exchange(("10.244.1.5", 40000), ("10.96.0.42", 80), ("10.244.2.7", 8080), ("10.244.1.5", 40000),
                         b"GET / HTTP/1.1\r\n\r\n", b"HTTP/1.1 200 OK\r\n\r\n")
    assert len(tap.pending) == PENDING_LIMIT and tap.dropped > 0
    assert len(tap.take()) == PENDING_LIMIT and tap.pending == []
