"""``python -m k8snet.sandbox serve``: the sandbox process that ``k8snet sandbox up`` starts."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from . import lock, warmup

if TYPE_CHECKING:
    from .instance import Sandbox


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


EDGE_PORT_BUSY = 3
"""Exit code when an ingress edge port is taken (``process.up`` turns it into a clear message)."""
SERVER_BUSY = 4
"""Exit code when another server holds the state directory (``process.up`` then uses that one)."""
CNI_MISMATCH = 5
"""Exit code when the store's cluster was made with another CNI plugin than ``--cni`` asks for."""
CLUSTER_MISMATCH = 6
"""Exit code when the store holds another cluster (name, networks) than ``--name`` asks for (topology.py)."""
KARMADA_MISMATCH = 7
"""Exit code when ``--karmada`` asks for a Karmada control plane from a store made as an ordinary cluster, or the
reverse (karmada/__init__.py)."""


async def run(state: Path, port: int, seed: int, edge_http_port: int = 8080, edge_https_port: int = 8443,
              cni: str | None = None, name: str | None = None, karmada: bool | None = None) -> int:
    """Serve one sandbox until SIGTERM or SIGINT.

    The start is ordered for the first request, not for completeness: listen (API and edge) and say so in
    ``ready.json`` as soon as the store is open, so ``k8snet sandbox up`` returns and kubectl connects while the
    rest starts; prepare what every answer needs (bootstrap objects, CRDs, RBAC) while requests wait
    (:meth:`.server.ApiServer.ready_mw`); then answer them, and only after that start what no answer waits for
    (controllers, the in-cluster API endpoint, Traefik, the CEL parser), each a step of its own so held requests
    go first. A new state directory's caches are made meanwhile by a child process on another core
    (:mod:`.warmup`).
    """
    try:
        held = lock.acquire(state)  # before the store opens; kept open for the process's life
    except lock.Busy as exc:
        print(f"k8snet-sandbox-busy: {exc}", file=sys.stderr, flush=True)
        return SERVER_BUSY
    warm = warmup.Warmup.start(state)  # before the imports below, which it overlaps
    if warm is None:  # celrules reads its grammar's cache here (once the child has written it, where one runs)
        os.environ[warmup.GRAMMAR_ENV] = str(warmup.grammar_path(state))
    try:
        return await _run(state, held, warm, port, seed, edge_http_port, edge_https_port, cni, name, karmada)
    finally:
        if warm is not None:
            warm.close()
        os.close(held)


async def _run(state: Path, held: int, warm: warmup.Warmup | None, port: int, seed: int, edge_http_port: int,
               edge_https_port: int, cni: str | None, name: str | None, karmada: bool | None) -> int:
    from .. import clusterset
    from . import karmada as karmadaplane
    from . import pki, topology
    from .auth.clientcerts import server_context
    from .cni import Mismatch
    from .edge import Edge, EdgePortBusy
    from .instance import Sandbox, serve, shutdown

    token = (state / "token").read_text().strip()
    try:
        sandbox = Sandbox(state, seed=seed, cni=cni, shape=clusterset.shape(name) if name else None,
                          karmada=karmada)
    except Mismatch as exc:
        print(f"k8snet-cni-mismatch: {exc}", file=sys.stderr, flush=True)
        return CNI_MISMATCH
    except topology.Mismatch as exc:
        print(f"k8snet-cluster-mismatch: {exc}", file=sys.stderr, flush=True)
        return CLUSTER_MISMATCH
    except karmadaplane.Mismatch as exc:
        print(f"k8snet-karmada-mismatch: {exc}", file=sys.stderr, flush=True)
        return KARMADA_MISMATCH
    sandbox.warmup = warm
    ca_crt, crt, key = pki.ensure(state)
    tls = server_context(crt, key, ca_crt)  # kind's --client-ca-file is the cluster CA
    prepared = asyncio.Event()
    runner, bound = await serve(sandbox, token, port=port, tls=tls, ready=prepared)
    from .components import traefik as component

    traefik = bridge = None
    if sandbox.karmada:  # the karmada-apiserver has no pods, so no ingress controller
        pass
    elif component.binary() is not None:  # the ingress controller: the real Traefik, started once requests flow
        traefik = component.prepare(sandbox, state, bound, token)
    else:
        logging.getLogger("k8snet.sandbox").warning("no ingress controller: %s", component.UNSUPPORTED)
    edge = Edge(sandbox, http_port=edge_http_port, https_port=edge_https_port, traefik=traefik)
    try:
        edge_http, edge_https = await edge.start()
    except EdgePortBusy as exc:
        print(f"k8snet-edge-port-busy: {exc.strerror}", file=sys.stderr, flush=True)
        await shutdown(sandbox, runner)
        sandbox.close()
        return EDGE_PORT_BUSY
    sandbox.edge_ports = (edge_http, edge_https)
    write_atomic(state / "ready.json", json.dumps({"port": bound, "pid": os.getpid(), "name": sandbox.shape.name,
                                                   "edge": {"http": edge_http, "https": edge_https},
                                                   **sandbox.facts()}))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    from .hostports import NodePorts

    node_ports = NodePorts(sandbox)

    async def start() -> None:
        nonlocal bridge
        with sandbox.store.batch():  # one durable commit (Sandbox.prepare): no client sees these writes before it
            for reads, part in sandbox.preparation():
                if warm is not None:
                    await warm.ready(*reads)
                for _ in part() or ():  # a step's pauses
                    await asyncio.sleep(0)
                await asyncio.sleep(0)  # connections arriving meanwhile get through their handshakes
        sandbox.prepared()
        node_ports.start()
        sandbox.host_ports = node_ports
        prepared.set()
        for step in (sandbox.run_controllers, lambda: register_in_cluster(sandbox, bound)):
            await asyncio.sleep(0)  # the requests held until now go first
            step()
        if traefik is not None:
            from .server import API_SERVER

            # its process takes half a second of CPU to start: once the first client's burst of requests is over
            await runner.app[API_SERVER].quiet(QUIET, TRAEFIK_AFTER)
            bridge = await component.launch(sandbox, traefik)
        await asyncio.to_thread(cel_parser, warm, state)

    starting = loop.create_task(start(), name="sandbox-start")
    starting.add_done_callback(lambda task: task.cancelled() or task.exception() is None or stop.set())
    await stop.wait()  # SIGTERM or SIGINT, or a start that failed (its traceback then ends the process)
    if not starting.done():
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
    await node_ports.stop()
    await edge.stop()
    if traefik is not None:
        await traefik.stop()
    if bridge is not None:
        await bridge.stop()
    await shutdown(sandbox, runner)
    sandbox.close()
    (state / "ready.json").unlink(missing_ok=True)
    if not starting.cancelled() and starting.exception() is not None:
        raise starting.exception()  # type: ignore[misc]
    return 0


QUIET = 0.25
"""Seconds without a request after which a client's first burst counts as over (kubectl's requests for one command
come within a few hundredths of a second of each other)."""
TRAEFIK_AFTER = 2.0
"""At most this many seconds after the sandbox answers, Traefik starts, however busy the API is."""


def cel_parser(warm: warmup.Warmup | None, state: Path) -> None:
    """Have the CEL parser ready before a rule needs it (a learner's Gateway, Traefik's status on its
    GatewayClass), in a worker thread so the loop answers meanwhile: its import and tables take a few tenths of a
    second. Read from the state directory's cache once the warm-up child has written it (until then a rule would
    build the parser itself, without the cache: lark writes the file in place)."""
    if warm is not None:
        warm.wait(warmup.CEL)
        warm.close()  # it ends once it has copied the documents no step waited for
    os.environ[warmup.GRAMMAR_ENV] = str(warmup.grammar_path(state))
    from . import celrules

    celrules.build_parser()


def register_in_cluster(sandbox: Sandbox, port: int) -> None:
    """Pods reach the API as https://kubernetes.default.svc (dataplane/apiserver.py)."""
    from .dataplane import apiserver

    apiserver.register(sandbox, port)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m k8snet.sandbox")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the sandbox API server in the foreground")
    s.add_argument("--state", required=True, type=Path, help="state directory (store, token)")
    s.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    s.add_argument("--seed", type=int, default=int(os.environ.get("K8SNET_SEED", "0")))
    s.add_argument("--edge-http-port", type=int, default=8080,
                   help="the ingress edge's HTTP port on 127.0.0.1 (0: any free port)")
    s.add_argument("--edge-https-port", type=int, default=8443,
                   help="the ingress edge's HTTPS port on 127.0.0.1 (0: any free port)")
    s.add_argument("--cni", choices=["kindnet", "cilium", "calico"], default=None,
                   help="the CNI plugin of a new cluster (default: the store's, else kindnet)")
    s.add_argument("--karmada", action="store_true", default=None,
                   help="run as a Karmada control plane (the karmada-apiserver: templates, policies, no nodes)")
    s.add_argument("--name", default=None,
                   help="the cluster's name in its set (k8snet.clusterset; default: the store's, else k8snet)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(asyncio.run(run(args.state, args.port, args.seed, args.edge_http_port, args.edge_https_port,
                             args.cni, args.name, args.karmada)))


if __name__ == "__main__":
    main()
