"""Each notebook (lessons and lab solutions) under nbval starts from a fresh, seeded sandbox, so notebooks run in any order.

Before a notebook's kernel starts (its first cell's setup), point the
environment at a private sandbox (the test session's one when there is one)
and reset it with seed 0, and any other member of its cluster set that an
earlier notebook started (a lesson's Cilium or Calico cluster): the kernel
inherits the environment, and the seed makes every name and address in the
outputs repeat.
"""

from __future__ import annotations

import os
import tempfile

import pytest

from k8snet import clusterset
from k8snet.sandbox import process

_started_here = False


def _ensure_private_sandbox() -> process.Running:
    global _started_here
    if "K8SNET_HOME" not in os.environ:  # running notebooks alone: do not touch the user's own cluster
        base = tempfile.mkdtemp(prefix="k8snet-nbval-")
        os.environ["K8SNET_HOME"] = os.path.join(base, "home")
        os.environ["KUBECONFIG"] = os.path.join(base, "kubeconfig")
        _started_here = True
    os.environ["K8SNET_PROGRESS"] = "0"  # no progress bars in stored outputs
    return process.up(seed=0, edge_http_port=0, edge_https_port=0)  # the edge on free ports: runs never collide


EDGE_ENV = ("K8SNET_EDGE_HTTP_PORT", "K8SNET_EDGE_HTTPS_PORT")
_saved_edge_env: dict[str, str | None] = {}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if getattr(item, "cell_num", None) == 0:  # nbval numbers code cells from 0
        # the kernel, started after this, puts any cluster it starts (k8snet.connect("cilium")) on free edge ports
        # too, so runs never collide; the test process gets its own environment back once the kernel runs
        _saved_edge_env.update({k: os.environ.get(k) for k in EDGE_ENV})
        os.environ.update(dict.fromkeys(EDGE_ENV, "0"))
        from tests.notebook_outputs import reset_cluster_set

        reset_cluster_set(_ensure_private_sandbox())  # and a lesson's other clusters, left by an earlier notebook


def pytest_runtest_teardown(item: pytest.Item) -> None:
    if getattr(item, "cell_num", None) == 0:
        for key, value in _saved_edge_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _saved_edge_env.clear()


def pytest_sessionfinish(session: pytest.Session) -> None:
    for name in process.members():  # the clusters notebooks started beside the session's (k8snet.connect("cilium"))
        if name != clusterset.DEFAULT_NAME:
            process.down(name=name)
    if _started_here:
        process.down()
