"""The Traefik container as an emulated program: its entrypoints (listening ports) and startup log.

The image's ENTRYPOINT is ``/entrypoint.sh`` (which runs ``traefik`` with the container's args) and its CMD
``traefik`` (the Docker library image). Entrypoints come from ``--entrypoints.<name>.address=:<port>/tcp``
(option names are case-insensitive); with none, Traefik listens on ``http`` :80. ``websecure``-style
entrypoints with ``http.tls`` are marked as TLS ports, so in-cluster ``curl -k https://…`` reaches them.
Log lines use zerolog's console format, as cmd/traefik/logger.go configures it.
"""

from __future__ import annotations

import re
from typing import Any

ENCODED_WARNING = ("Traefik can reject some encoded characters in the request path.When your backend is not fully "
                   "compliant with [RFC 3986](https://datatracker.ietf.org/doc/html/rfc3986),it is recommended to "
                   "set these options to `false` to avoid split-view situation.Refer to the documentation for more "
                   "details: https://doc.traefik.io/traefik/v3.7/migrate/v3/#encoded-characters-configuration-"
                   "default-values")
"""cmd/traefik/traefik.go prints this at start (its three sentences concatenated without spaces)."""


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
    startup = ["{zerolog} WRN " + ENCODED_WARNING,
               "{zerolog} INF Starting provider aggregator *aggregator.ProviderAggregator",
               "{zerolog} INF Starting provider *traefik.Provider"]
    lowered = [a.lower() for a in args]
    if any(a.startswith("--providers.kubernetesingress") for a in lowered):
        startup += ["{zerolog} INF Starting provider *ingress.Provider",
                    '{zerolog} INF ingress label selector is: "" providerName=kubernetes',
                    "{zerolog} INF Creating in-cluster Provider client providerName=kubernetes"]
    if any(a.startswith("--providers.kubernetescrd") for a in lowered):
        startup += ["{zerolog} INF Starting provider *crd.Provider",
                    '{zerolog} INF label selector is: "" providerName=kubernetescrd',
                    "{zerolog} INF Creating in-cluster Provider client providerName=kubernetescrd"]
    return Program("traefik", "traefik", listening, {"entrypoints": ports, "args": args}, startup)
