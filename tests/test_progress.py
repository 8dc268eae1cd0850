"""Progress bars fill: every bar the helpers make knows its total, so tqdm's Jupyter widget has a length to fill.

tqdm's notebook widget draws a bar without a total as a fixed 20 px "info" box that never fills
(tqdm.notebook.status_printer), which is what learners saw while ``wait_ready`` ran. These tests use that
widget class itself (ipywidgets objects work without a browser) against a real sandbox.
"""

from __future__ import annotations

import pytest
from tqdm import auto
from tqdm.notebook import tqdm as notebook_tqdm

from k8snet.cluster import Cluster, advance
from k8snet.sandbox import process

WEB = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: agnhost
        image: registry.k8s.io/e2e-test-images/agnhost:2.66.1
        args: ["netexec", "--http-port=8080"]
"""


class RecordedBar(notebook_tqdm):
    """The Jupyter widget bar, remembered so the test can read it after the helper closed it."""

    made: list[RecordedBar] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        RecordedBar.made.append(self)

    def widget(self):
        return self.container.children[1]


@pytest.fixture
def bars(monkeypatch: pytest.MonkeyPatch) -> list[RecordedBar]:
    monkeypatch.setenv("K8SNET_PROGRESS", "1")
    monkeypatch.setattr(auto, "tqdm", RecordedBar)  # what a notebook's kernel gets from tqdm.auto
    RecordedBar.made = []
    return RecordedBar.made


def test_wait_ready_bar_has_the_replicas_as_total_and_fills(sandbox, ns: str, bars: list[RecordedBar]) -> None:
    cluster = Cluster("sandbox", process.CONTEXT, sandbox.api_client())
    cluster.apply(WEB, namespace=ns)
    cluster.wait_ready("web", ns)
    [bar] = bars
    assert bar.total == 3 and bar.n == 3
    assert bar.widget().max == 3 and bar.widget().layout.width != "20px"


def test_wait_pod_ready_bar_fills(sandbox, ns: str, bars: list[RecordedBar]) -> None:
    cluster = Cluster("sandbox", process.CONTEXT, sandbox.api_client())
    cluster.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "one"},
                   "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/e2e-test-images/agnhost:2.66.1",
                                            "args": ["pause"]}]}}, namespace=ns)
    cluster.wait_pod_ready("one", ns)
    [bar] = bars
    assert (bar.n, bar.total, bar.widget().max) == (1, 1, 1)


def test_a_new_total_resizes_the_widget() -> None:
    """A Deployment scaled during the wait: the bar takes the new size instead of overflowing the old one."""
    bar = RecordedBar(total=3, delay=1.0, leave=False)
    advance(bar, 2, 3)
    assert (bar.n, bar.widget().max) == (2, 3)
    advance(bar, 2, 5)
    assert (bar.n, bar.total, bar.widget().max) == (2, 5, 5)
    advance(bar, 5, 5)
    assert bar.n == 5
    bar.close()
