"""The ``k8snet`` command: ``k8snet sandbox up|down|status|reset`` (kind and doctor follow)."""

from __future__ import annotations

import argparse
import sys

from .sandbox import process


def sandbox_up(args: argparse.Namespace) -> int:
    running = process.up(port=args.port, seed=args.seed)
    print(f"Sandbox cluster is running at {running.server} (Kubernetes {_version(running)}, pid {running.pid})")
    print(f"kubectl context: {process.CONTEXT}  (try: kubectl get nodes)")
    return 0


def _version(running: process.Running) -> str:
    try:
        return process.admin(running, "status")["kubernetesVersion"]
    except OSError:
        return "?"


def sandbox_down(args: argparse.Namespace) -> int:
    stopped = process.down()
    print("Sandbox stopped; its state is kept (k8snet sandbox reset wipes it)." if stopped
          else "No sandbox was running.")
    return 0


def sandbox_status(args: argparse.Namespace) -> int:
    running = process.status()
    if running is None:
        print("No sandbox is running (start one with: k8snet sandbox up).")
        return 1
    info = process.admin(running, "status")
    objects = sum(info["objects"].values())
    print(f"Sandbox running at {running.server}, pid {running.pid}, Kubernetes {info['kubernetesVersion']}, "
          f"seed {info['seed']}, {objects} objects, resourceVersion {info['resourceVersion']}")
    return 0


def sandbox_reset(args: argparse.Namespace) -> int:
    running = process.status()
    if running is None:
        running = process.up(seed=args.seed)
    info = process.admin(running, "reset", {"seed": args.seed} if args.seed is not None else {})
    print(f"Sandbox reset: a fresh cluster (seed {info['seed']}).")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="k8snet", description="Drive the k8snet workbook's clusters.")
    groups = p.add_subparsers(dest="noun", required=True)
    sb = groups.add_parser("sandbox", help="the embedded sandbox cluster")
    verbs = sb.add_subparsers(dest="verb", required=True)
    up = verbs.add_parser("up", help="start the sandbox (idempotent) and add the k8snet-sandbox context")
    up.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: the last one, else any)")
    up.add_argument("--seed", type=int, default=None, help="random seed (default: $K8SNET_SEED or 0)")
    up.set_defaults(func=sandbox_up)
    verbs.add_parser("down", help="stop the sandbox and remove its context").set_defaults(func=sandbox_down)
    verbs.add_parser("status", help="is it running, where, what is in it").set_defaults(func=sandbox_status)
    reset = verbs.add_parser("reset", help="wipe every object: a fresh cluster")
    reset.add_argument("--seed", type=int, default=None)
    reset.set_defaults(func=sandbox_reset)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (RuntimeError, TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
