"""A small HTTP/1.1 load generator, run as its own process: ``python -m bench.load --port 8080 --host-header H``.

It does what a load tool such as wrk does, in asyncio: ``--connections`` keep-alive connections, each sending
its next request as soon as the previous response is read, for ``--duration`` seconds (after ``--warmup``
seconds that are not counted); optionally over TLS with SNI, or (``--fresh``) with a new connection per request. It prints one JSON object: requests, errors,
requests/s, and latency percentiles (p50, p99, nearest rank) in milliseconds.

Responses are read by Content-Length (or chunked encoding); a connection the server closes is reopened and
counted as an error only when no response came. It never talks to anything but the ``--address`` given
(127.0.0.1 by default).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
from dataclasses import dataclass, field


@dataclass
class Tally:
    """What all connections measured inside the counted window."""

    latencies: list[float] = field(default_factory=list)  # seconds
    total: int = 0  # every response, warm-up included
    statuses: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, text: str) -> None:
        self.errors[text] = self.errors.get(text, 0) + 1


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """One response: (status, whether the server asked to close)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    chunked = close = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and b"close" in value.lower():
            close = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, close


async def connection(args: argparse.Namespace, request: bytes, ctx: ssl.SSLContext | None, start: float,
                     stop: float, tally: Tally) -> None:
    """One client connection looping until ``stop``; counts what falls after ``start``."""
    loop = asyncio.get_running_loop()
    writer = None
    while loop.time() < stop:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(
                    args.address, args.port, ssl=ctx, server_hostname=(args.sni or args.host_header) if ctx else None)
            t0 = loop.time()
            writer.write(request)
            status, close = await asyncio.wait_for(read_response(reader), args.timeout)
            t1 = loop.time()
            tally.total += 1
            if t0 >= start and t1 <= stop:
                tally.latencies.append(t1 - t0)
                tally.statuses[status] = tally.statuses.get(status, 0) + 1
            if close or args.fresh:
                writer.close()
                writer = None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError,
                ssl.SSLError) as exc:
            if loop.time() >= start:
                tally.error(type(exc).__name__)
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.01)
    if writer is not None:
        writer.close()


async def run(args: argparse.Namespace) -> dict:
    ctx = None
    if args.tls:
        ctx = ssl.create_default_context(cafile=args.cacert) if args.cacert else ssl.create_default_context()
        if not args.cacert:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
    request = (f"{args.method} {args.path} HTTP/1.1\r\nHost: {args.host_header}\r\nUser-Agent: k8snet-bench-load\r\n"
               f"Accept: */*\r\n\r\n").encode()
    loop = asyncio.get_running_loop()
    start = loop.time() + args.warmup
    stop = start + args.duration
    tally = Tally()
    await asyncio.gather(*(connection(args, request, ctx, start, stop, tally) for _ in range(args.connections)))
    done = len(tally.latencies)
    ms = [x * 1000 for x in tally.latencies]
    return {"requests": done, "total": tally.total, "seconds": args.duration, "rps": done / args.duration, "statuses": tally.statuses,
            "errors": tally.errors, "p50_ms": percentile(ms, 50), "p99_ms": percentile(ms, 99),
            "connections": args.connections, "tls": bool(args.tls), "fresh": bool(args.fresh)}


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    p.add_argument("--address", default="127.0.0.1", help="where to connect (loopback)")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host-header", default="localhost", help="the Host header (and SNI unless --sni)")
    p.add_argument("--path", default="/")
    p.add_argument("--method", default="GET")
    p.add_argument("--tls", action="store_true", help="speak TLS (no verification unless --cacert)")
    p.add_argument("--sni", default=None)
    p.add_argument("--cacert", default=None)
    p.add_argument("--fresh", action="store_true", help="a new connection for every request, as curl in a loop")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--duration", type=float, default=5.0, help="counted seconds")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds before counting starts")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for one response")
    args = p.parse_args(argv)
    if args.address not in ("127.0.0.1", "localhost", "::1"):
        p.error("the load generator only targets loopback addresses")
    return args


def main(argv: list[str]) -> int:
    args = parse(argv)
    print(json.dumps(asyncio.run(run(args))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
