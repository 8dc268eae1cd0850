"""Regenerate notebooks' stored outputs the way ``make test`` checks them (``make notebooks [NB=...]``).

nbval compares each notebook's fresh outputs with the stored ones, after the root conftest.py has pointed
the kernel at a private sandbox and reset it with seed 0. Here every notebook runs the same way: one private
sandbox (its edge on free ports, progress bars off), reset with seed 0 before each notebook (with any other
member of its cluster set an earlier notebook started), the kernel
started in the notebook's folder; the outputs are written back into the file.

Usage: ``python tests/notebook_outputs.py notebooks/01-services-and-discovery.ipynb [...]``
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from k8snet.sandbox import process


def private_sandbox() -> process.Running:
    """A sandbox of our own in a temp dir: never the learner's cluster, never their 8080/8443."""
    base = Path(tempfile.mkdtemp(prefix="k8snet-notebooks-"))
    # K8SNET_EDGE_*=0: any cluster a notebook starts (k8snet.connect("cilium")) takes free edge ports too
    os.environ.update(K8SNET_HOME=str(base / "home"), KUBECONFIG=str(base / "kubeconfig"), K8SNET_PROGRESS="0",
                      K8SNET_EDGE_HTTP_PORT="0", K8SNET_EDGE_HTTPS_PORT="0")
    return process.up(seed=0, edge_http_port=0, edge_https_port=0)


def reset_cluster_set(running: process.Running) -> None:
    """Before a notebook: the default sandbox and every running member reset with seed 0; a member an earlier
    notebook stopped (``k8snet.disconnect`` keeps its state) forgotten, so the next ``connect`` makes it afresh;
    and the round trips between members (``$K8SNET_HOME/clusterset.json``) cleared. The root conftest.py does the
    same before each notebook nbval runs, so stored outputs never depend on which notebook ran before."""
    import shutil

    from k8snet.sandbox.clustermesh import latency

    process.admin(running, "reset", {"seed": 0})
    members = process.members()
    for member in members.values():
        if member.pid != running.pid:
            process.admin(member, "reset", {"seed": 0})
    root = process.home("x").parent  # $K8SNET_HOME/sandboxes
    for state in sorted(root.iterdir()) if root.is_dir() else []:
        if state.is_dir() and state.name not in members:
            shutil.rmtree(state, ignore_errors=True)
    latency.path().unlink(missing_ok=True)


def execute(path: Path, running: process.Running) -> float:
    """Run ``path`` top to bottom on the freshly reset sandbox and store its outputs; the seconds it took."""
    reset_cluster_set(running)
    nb = nbformat.read(path, as_version=4)
    started = time.monotonic()
    NotebookClient(nb, timeout=900, kernel_name="python3", record_timing=False, store_widget_state=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    nb.metadata.pop("widgets", None)  # live widget models: random ids, and nothing without the kernel
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = coalesce_streams(cell.outputs)
    nbformat.write(nb, path)
    return time.monotonic() - started


def coalesce_streams(outputs: list) -> list:
    """Consecutive writes to one stream as one output, as JupyterLab saves them (the kernel sends them apart)."""
    merged: list = []
    for out in outputs:
        if merged and out.output_type == "stream" and merged[-1].output_type == "stream" \
                and merged[-1].name == out.name:
            merged[-1].text += out.text
        else:
            merged.append(out)
    return merged


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    running = private_sandbox()
    try:
        for name in paths:
            print(f"{name}: {execute(Path(name), running):.0f} s", flush=True)
    finally:
        for member in process.members():  # the default cluster and any other a notebook started
            process.down(name=member)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
