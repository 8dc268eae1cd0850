"""``python -m k8snet.sandbox serve``: the sandbox process that ``k8snet sandbox up`` starts."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import ssl
from pathlib import Path

from . import pki
from .instance import Sandbox, serve, shutdown


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


async def run(state: Path, port: int, seed: int) -> None:
    token = (state / "token").read_text().strip()
    sandbox = Sandbox(state, seed=seed)
    _, crt, key = pki.ensure(state)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(crt, key)
    runner, bound = await serve(sandbox, token, port=port, tls=tls)
    write_atomic(state / "ready.json", json.dumps({"port": bound, "pid": os.getpid()}))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await shutdown(sandbox, runner)
    sandbox.close()
    (state / "ready.json").unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m k8snet.sandbox")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the sandbox API server in the foreground")
    s.add_argument("--state", required=True, type=Path, help="state directory (store, token)")
    s.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    s.add_argument("--seed", type=int, default=int(os.environ.get("K8SNET_SEED", "0")))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(run(args.state, args.port, args.seed))


if __name__ == "__main__":
    main()
