"""The Traefik container's listening ports, from its arguments (the real binary answers on them).

The image's ENTRYPOINT is ``/entrypoint.sh`` (which runs ``traefik`` with the container's args) and its CMD
``traefik`` (the Docker library image). Entrypoints come from ``--entrypoints.<name>.address=:<port>/tcp``
(option names are case-insensitive); with none, Traefik listens on ``http`` :80. ``websecure``-style
entrypoints with ``http.tls`` are marked as TLS ports.
"""

from __future__ import annotations

import re
from typing import Any


def entrypoints(argv: list[str]) -> tuple[dict[int, str], set[int]]:
    """Container port → entrypoint name, and the ports whose entrypoint has ``http.tls``."""
    opts: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            if not eq and i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                value = argv[i + 1]
                i += 1
            opts[name.lower()] = value if (eq or value) else "true"
        i += 1
    ports: dict[int, str] = {}
    tls: set[int] = set()
    for key, value in opts.items():
        m = re.fullmatch(r"entrypoints\.([^.]+)\.address", key)
        if m:
            port = re.search(r":(\d+)", value)
            if port:
                ports[int(port.group(1))] = m.group(1)
    for port, name in ports.items():
        if opts.get(f"entrypoints.{name.lower()}.http.tls", "false").lower() == "true":
            tls.add(port)
    if not ports:
        ports = {80: "http"}
    return ports, tls


def traefik_program(argv: list[str]) -> Any:
    """The :class:`~k8snet.sandbox.dataplane.workloads.Program` a Traefik container runs."""
    from ..model import Program

    args = argv[1:] if argv and argv[0].endswith(("entrypoint.sh", "traefik")) else argv
    if args and args[0] == "traefik":
        args = args[1:]
    ports, tls = entrypoints(args)
    listening = {(port, "TCP"): ("https" if port in tls else "http") for port in ports}
    # no startup lines of its own: the pod's log is the real process's output (components.traefik)
    return Program("traefik", "traefik", listening, {"entrypoints": ports, "args": args})
