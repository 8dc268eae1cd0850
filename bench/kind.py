"""``python -m bench.kind`` (``make bench-kind``): how long a real kind cluster takes, where Docker exists.

Measures one fresh ``k8snet kind up`` step by step (cluster create, nodes Ready,
add-ons ready), an idempotent re-run and ``down``, with a private KUBECONFIG. It
never touches an existing cluster named k8snet: with one present it reports
why nothing was measured. Figures are printed and written to
bench/results-kind.json, never asserted; the README lists what upstream leads
one to expect next to them.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path

from k8snet.kind import commands, lifecycle, readiness, versions

from .__main__ import table
from .common import Result, private_env

RESULTS = Path(__file__).with_name("results-kind.json")

EXPECT = {
    "create": "kind gives no figure; kind#2893 reports 12-17 s for a 1-node create (node image cached)",
    "nodes": "3 nodes: workers join after the control plane; kindnet must start on each",
    "addons": "no upstream figure: CRD download + Traefik pull/start + cloud-provider-kind's first LB",
}


def not_measured(reason: str) -> list[Result]:
    names = ("cluster create", "nodes Ready", "add-ons ready", "up total", "up again", "down")
    return [Result(f"kind: {name}", None, "s", note=f"not measured here: {reason}" if i == 0 else
                   "not measured here (see above)") for i, name in enumerate(names)]


def why_not() -> str | None:
    for info in (commands.docker_info(), commands.kind_info()):
        if not info.ok:
            return info.problem
    if lifecycle.cluster_exists():
        return (f"a cluster named {versions.CLUSTER_NAME} exists; bench-kind measures a fresh create and never "
                "deletes yours (`k8snet kind down` first)")
    busy = [p for p in versions.edge_ports() if not readiness.port_free(p)]
    if busy:
        return f"edge port(s) {busy} in use"
    return None


def measure() -> list[Result]:
    reason = why_not()
    if reason:
        print(f"  {reason}")
        return not_measured(reason)
    out: list[Result] = []
    with private_env():
        t0 = time.perf_counter()
        try:
            report = lifecycle.up(lifecycle.Options(), say=lambda line: print(f"  {line}", flush=True))
            total = time.perf_counter() - t0
            steps = report.steps
            create = next(v for k, v in steps.items() if k.startswith("cluster "))
            nodes = steps.get("nodes Ready")
            addons = sum(v for k, v in steps.items() if k.startswith(("Gateway API", "Traefik", "cloud-provider")))
            out += [Result("kind: cluster create", create, "s", note=EXPECT["create"]),
                    Result("kind: nodes Ready", nodes, "s", note=EXPECT["nodes"]),
                    Result("kind: add-ons ready", addons, "s", note=EXPECT["addons"]),
                    Result("kind: up total", total, "s", note="incl. image preload and the NetworkPolicy canary")]
            t1 = time.perf_counter()
            lifecycle.up(lifecycle.Options(canary=False), say=lambda line: None)
            out.append(Result("kind: up again", time.perf_counter() - t1, "s", note="idempotent re-run"))
        finally:
            t2 = time.perf_counter()
            lifecycle.down(say=lambda line: print(f"  {line}", flush=True))
            out.append(Result("kind: down", time.perf_counter() - t2, "s"))
    return out


def main() -> int:
    print("== kind: create, add-ons, re-run, delete", flush=True)
    try:
        results = measure()
    except Exception as exc:  # report it: a benchmark never fails the build
        traceback.print_exc()
        results = [Result("kind", None, "", note=f"FAILED: {type(exc).__name__}: {exc}"[:160])]
    print("\n" + table(results))
    RESULTS.write_text(json.dumps([r.row() for r in results], indent=2) + "\n")
    print(f"\nresults written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
