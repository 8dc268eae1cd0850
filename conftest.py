"""Each notebook (lessons and lab solutions) under nbval starts from a fresh, seeded sandbox, so notebooks run in any order.

Before a notebook's kernel starts (its first cell's setup), point the
environment at a private sandbox (the test session's one when there is one)
and reset it with seed 0: the kernel inherits the environment, and the seed
makes every name and address in the outputs repeat.
"""

from __future__ import annotations

import os
import tempfile

import pytest

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


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if getattr(item, "cell_num", None) == 0:  # nbval numbers code cells from 0
        running = _ensure_private_sandbox()
        process.admin(running, "reset", {"seed": 0})


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _started_here:
        process.down()
