"""``python -m bench [startup] [kubectl] [scale] [dataplane] [policy] [edge] [limits] [loops] [certs] [mesh]
[clustermesh]``
(``make bench``): run the benchmarks, print a table.

Figures are printed, never asserted. Each benchmark runs a private sandbox (K8SNET_HOME, KUBECONFIG and
kubectl's HOME in a temp dir) that it stops afterwards; a benchmark that fails or times out is reported
and the next one runs. The table is also written to bench/results.json.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from . import certs, clustermesh, dataplane, edge, kubectl_get, limits, loops, mesh, policy, scale, startup
from .common import Result

BENCHMARKS: dict[str, tuple[str, Callable[[], list[Result]]]] = {
    "startup": ("1. cold/warm start to first kubectl get pods", startup.run),
    "kubectl": ("2. kubectl get pods: sandbox vs static replay", kubectl_get.run),
    "scale": ("3. scale: 2,000 pods, list, watch fan-out, RSS", scale.run),
    "dataplane": ("4. data plane: /dial requests/s, exec round trip, traffic.send", dataplane.run),
    "policy": ("5. NetworkPolicy: 9×9 and 50×50 matrices through exec, engine growth", policy.run),
    "edge": ("6. ingress edge: requests/s and p50/p99 over HTTP and HTTPS, beside a trivial Python server", edge.run),
    "limits": ("7. the API while one exec runs a 200,000-command script: /healthz p50/p99", limits.run),
    "loops": ("8. 100 pods each running a wget loop (1 request/s): CPU share, requests/s, /healthz p99, "
              "logs -f delay", loops.run),
    "certs": ("9. cert-manager: Certificates issued/s (RSA 2048 vs ECDSA P-256), renewal to the edge serving it",
              certs.run),
    "mesh": ("10. ambient mesh: /dial requests/s without the mesh, through ztunnel (HBONE), through a waypoint; "
             "metrics scrape of 100 workloads", mesh.run),
    "clustermesh": ("11. Cilium Cluster Mesh: two members up and meshed, /dial across vs in-cluster, curl latency "
                    "with a 30 ms round trip", clustermesh.run),
}
RESULTS = Path(__file__).with_name("results.json")


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "req/s":
        return f"{value:,.0f} {unit}"
    if unit == "cert/s":
        return f"{value:.1f} {unit}"
    return f"{value:.0f} {unit}" if unit in ("ms", "MiB", "µs") else f"{value:.3g} {unit}" if unit == "x" \
        else f"{value:.3f} {unit}"


def table(results: list[Result]) -> str:
    rows = [("benchmark", "measured", "target", "met?", "note")]
    for r in results:
        target = "—" if r.target is None else f"{'≥' if r.at_least else '<'} {fmt(r.target, r.unit)}"
        met = "—" if r.met is None else "yes" if r.met else "NO"
        rows.append((r.name, fmt(r.measured, r.unit), target, met, r.note))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    chosen = argv or list(BENCHMARKS)
    unknown = [a for a in chosen if a not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}", file=sys.stderr)
        return 2
    results: list[Result] = []
    for key in chosen:
        title, fn = BENCHMARKS[key]
        print(f"\n== {title}", flush=True)
        t0 = time.perf_counter()
        try:
            results += fn()
        except Exception as exc:  # report and go on: a benchmark never stops the others
            traceback.print_exc()
            results.append(Result(title, None, "", note=f"FAILED: {type(exc).__name__}: {exc}"[:160]))
        print(f"  ({time.perf_counter() - t0:.0f}s)", flush=True)
    print("\n" + table(results))
    RESULTS.write_text(json.dumps([r.row() for r in results], indent=2) + "\n")
    print(f"\nresults written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
