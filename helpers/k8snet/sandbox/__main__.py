"""``python -m k8snet.sandbox serve``: the sandbox process that ``k8snet sandbox up`` starts."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path

from . import lock, pki
from .auth.clientcerts import server_context
from .instance import Sandbox, serve, shutdown


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
    from .edge import Edge, EdgePortBusy

    try:
        held = lock.acquire(state)  # before the store opens; kept open for the process's life
    except lock.Busy as exc:
        print(f"k8snet-sandbox-busy: {exc}", file=sys.stderr, flush=True)
        return SERVER_BUSY
    token = (state / "token").read_text().strip()
    from . import celrules

    celrules.GRAMMAR_CACHE = state / "cel-grammar.cache"  # private, as the rest of the state directory
    from .. import clusterset
    from . import karmada as karmadaplane
    from . import topology
    from .cni import Mismatch

    try:
        sandbox = Sandbox(state, seed=seed, cni=cni, shape=clusterset.shape(name) if name else None,
                          karmada=karmada)
    except Mismatch as exc:
        print(f"k8snet-cni-mismatch: {exc}", file=sys.stderr, flush=True)
        os.close(held)
        return CNI_MISMATCH
    except topology.Mismatch as exc:
        print(f"k8snet-cluster-mismatch: {exc}", file=sys.stderr, flush=True)
        os.close(held)
        return CLUSTER_MISMATCH
    except karmadaplane.Mismatch as exc:
        print(f"k8snet-karmada-mismatch: {exc}", file=sys.stderr, flush=True)
        os.close(held)
        return KARMADA_MISMATCH
    ca_crt, crt, key = pki.ensure(state)
    tls = server_context(crt, key, ca_crt)  # kind's --client-ca-file is the cluster CA
    runner, bound = await serve(sandbox, token, port=port, tls=tls)
    from .components.traefik import UNSUPPORTED, binary, launch

    traefik = bridge = None
    if sandbox.karmada:  # the karmada-apiserver has no pods, so no ingress controller
        pass
    elif binary() is not None:  # the ingress controller: the real Traefik, started without waiting for it
        traefik, bridge = await launch(sandbox, state, bound, token)
    else:
        logging.getLogger("k8snet.sandbox").warning("no ingress controller: %s", UNSUPPORTED)
    edge = Edge(sandbox, http_port=edge_http_port, https_port=edge_https_port, traefik=traefik)
    try:
        edge_http, edge_https = await edge.start()
    except EdgePortBusy as exc:
        print(f"k8snet-edge-port-busy: {exc.strerror}", file=sys.stderr, flush=True)
        if traefik is not None and bridge is not None:
            await traefik.stop()
            await bridge.stop()
        await shutdown(sandbox, runner)
        sandbox.close()
        return EDGE_PORT_BUSY
    sandbox.edge_ports = (edge_http, edge_https)
    from .hostports import NodePorts

    node_ports = NodePorts(sandbox)
    node_ports.start()
    sandbox.host_ports = node_ports
    write_atomic(state / "ready.json", json.dumps({"port": bound, "pid": os.getpid(), "name": sandbox.shape.name,
                                                   "edge": {"http": edge_http, "https": edge_https}}))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await node_ports.stop()
    await edge.stop()
    if traefik is not None and bridge is not None:
        await traefik.stop()
        await bridge.stop()
    await shutdown(sandbox, runner)
    sandbox.close()
    (state / "ready.json").unlink(missing_ok=True)
    os.close(held)
    return 0


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
