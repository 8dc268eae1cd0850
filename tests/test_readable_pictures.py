"""Pictures read at notebook width and never by colour alone, checked through their artists, not their pixels.

JupyterLab shows an output about 830 px wide; at 100 dpi a figure wider than 8.3 in is scaled down and its
text shrinks with it. The trace picture is drawn from a real trace through a sandbox.
"""

from __future__ import annotations

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from k8snet import kubeproxy, plots, policy, traffic
from k8snet.cluster import Cluster
from k8snet.sandbox import process
from k8snet.trace import reconstruct, trace

NOTEBOOK_WIDTH_IN = 8.3

WEB = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 4
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
        ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
"""


@pytest.fixture
def web(sandbox, ns: str) -> tuple[Cluster, traffic.PodRef]:
    cluster = Cluster("sandbox", process.CONTEXT, sandbox.api_client())
    cluster.apply(WEB, namespace=ns)
    cluster.wait_ready("web", ns)
    client = traffic.ensure_client(cluster, ns)
    kubeproxy.wait_synced(cluster, client, ns, "web")
    return cluster, client


def by_gid(fig: Figure, prefix: str) -> dict[str, object]:
    artists = [a for ax in fig.axes for a in [*ax.patches, *ax.texts]]
    return {a.get_gid(): a for a in artists if (a.get_gid() or "").startswith(prefix)}


def words(text: str) -> str:
    return " ".join(text.split())


def assert_text_inside_boxes(fig: Figure, hops: int) -> None:
    """Every hop's title, text and candidates lie inside that hop's box, and every box inside the figure."""
    renderer = FigureCanvasAgg(fig).get_renderer()  # the notebook's inline backend draws with Agg
    page = fig.bbox
    boxes = by_gid(fig, "hop:")
    assert len(boxes) == hops
    for gid, box in boxes.items():
        i = gid.split(":")[1]
        frame = box.get_window_extent(renderer)
        assert page.x0 <= frame.x0 and frame.x1 <= page.x1 and page.y0 <= frame.y0 and frame.y1 <= page.y1, gid
        inside = {**by_gid(fig, f"hop-title:{i}"), **by_gid(fig, f"hop-text:{i}"),
                  **by_gid(fig, f"candidate:{i}:"), **by_gid(fig, f"chosen:{i}:")}
        for name, text in inside.items():
            extent = text.get_window_extent(renderer)
            assert frame.x0 <= extent.x0 and extent.x1 <= frame.x1, f"{name} overflows its box sideways"
            assert frame.y0 <= extent.y0 and extent.y1 <= frame.y1, f"{name} overflows its box vertically"


def test_trace_fits_notebook_width_with_every_hop_whole(web, ns: str) -> None:
    cluster, client = web
    t = trace(cluster, client, "http://web/hostname")
    fig = t.plot()
    assert fig.get_size_inches()[0] <= NOTEBOOK_WIDTH_IN
    assert_text_inside_boxes(fig, len(t.hops) + 1)
    for i, hop in enumerate(t.hops, start=1):
        assert words(by_gid(fig, f"hop-text:{i}")[f"hop-text:{i}"].get_text()) == words(hop["summary"])
    lines = [line for text in by_gid(fig, "hop-text:").values() for line in text.get_text().splitlines()]
    assert any(f"web.{ns}.svc.cluster.local" in line for line in lines)  # a name is never broken across lines
    endpoint = next(h for h in t.hops if h["kind"] == "endpoint")["detail"]
    i = 1 + next(k for k, h in enumerate(t.hops) if h["kind"] == "endpoint")
    assert set(by_gid(fig, f"chosen:{i}:")) == {f"chosen:{i}:{endpoint['endpoint']}"}
    assert len(by_gid(fig, f"candidate:{i}:")) == len(endpoint["candidates"]) - 1


def test_reconstructed_trace_marks_the_pod_that_answered(web) -> None:
    """kind's path: nothing reports the choice, so the candidates are the ready pods and the answering one is marked."""
    cluster, client = web
    t = reconstruct(cluster, client, "http://web/hostname")
    fig = t.plot()
    assert fig.get_size_inches()[0] <= NOTEBOOK_WIDTH_IN
    assert_text_inside_boxes(fig, len(t.hops) + 1)
    i = 1 + next(k for k, h in enumerate(t.hops) if h["kind"] == "endpoint")
    assert set(by_gid(fig, f"chosen:{i}:")) == {f"chosen:{i}:{t.answered_by}"}


def result(counts: dict[str, int]) -> traffic.TrafficResult:
    requests = [traffic.Request(k, 200, pod, pod, None, 1.0, None)
                for k, pod in enumerate(p for p, n in counts.items() for _ in range(n))]
    return traffic.TrafficResult("lesson02/client", "http://shop/hostname", "sandbox", requests)


@pytest.mark.parametrize("counts", [{"blue-a": 4, "blue-b": 6}, {"green-a": 1, "green-b": 2}, {"web-a": 30}])
def test_count_axes_have_integer_ticks(counts: dict[str, int]) -> None:
    for fig in (plots.distribution(result(counts), expected=list(counts)),
                plots.timeline([("before", result(counts)), ("after", result(counts))])):
        ticks = [t for t in fig.axes[0].get_yticks() if t <= fig.axes[0].get_ylim()[1]]
        assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks), ticks


def test_heatmap_cells_carry_a_mark_as_well_as_a_colour() -> None:
    sources, targets = ["shop/cart", "shop/frontend"], ["payments/payment-api", "payments/ledger"]
    measured = policy.expect(sources, targets, ports=[8080], allowed=False)
    measured.set("shop/cart", "payments/payment-api", True).set("shop/frontend", "payments/payment-api", True)
    measured.cells[("shop/cart", "payments/ledger", 8080, "TCP")] = policy.Cell(None, "some endpoints")
    want = policy.expect(sources, targets, ports=[8080], allowed=False).set("shop/cart", "payments/payment-api", True)
    fig = measured.plot(want)
    marks = {gid.removeprefix("mark:"): t.get_text() for gid, t in by_gid(fig, "mark:").items()}
    assert marks == {"shop/cart>payments/payment-api:8080/TCP": "✓", "shop/frontend>payments/payment-api:8080/TCP": "✓",
                     "shop/cart>payments/ledger:8080/TCP": "◐", "shop/frontend>payments/ledger:8080/TCP": "✗"}
    assert set(by_gid(fig, "wrong:")) == {"wrong:shop/frontend>payments/payment-api:8080/TCP",
                                          "wrong:shop/cart>payments/ledger:8080/TCP"}
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:3] == ["✓ allowed", "✗ blocked", "◐ some endpoints"]


def test_requests_over_time_fit_the_notebook_and_mark_failures_by_shape() -> None:
    """traffic.send_during's timeline: a row per pod, failures below them as crosses, the change as a line."""
    outcomes = ["web-a", "web-b", "web-c", None, "web-a", None, "web-b"]
    requests = [traffic.Request(i, 200 if pod else None, pod, pod or "", None if pod else
                                "curl: (28) Connection timed out after 2001 milliseconds", 1.0, None)
                for i, pod in enumerate(outcomes)]
    run = traffic.TrafficResult("lesson02/client", "http://abrupt/hostname", "sandbox", requests, 0.05,
                                [(3.5, "scaled to 2")])
    fig = run.plot()
    assert fig.get_size_inches()[0] <= NOTEBOOK_WIDTH_IN
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["timed out", "web-c", "web-b", "web-a"]
    rows = {c.get_gid(): c for c in ax.collections}
    assert rows["row:timed out"].get_offsets()[:, 0].tolist() == [4, 6]  # requests 4 and 6, counted from 1
    assert rows["row:timed out"].get_paths()[0] != rows["row:web-a"].get_paths()[0]  # a cross, not a dot
    assert "scaled to 2" in [t.get_text() for t in ax.texts]
    assert "one every 50 ms" in ax.get_xlabel()


def test_cluster_latency_fits_the_notebook_and_tells_clusters_apart_by_shape() -> None:
    """plots.cluster_latency: each cluster a colour and a marker of its own (the same in every figure), failures as
    crosses, a long URL's title wrapped inside the notebook's width."""
    import io

    owners = {"web-a": "cloud", "web-b": "onprem"}
    requests = [traffic.Request(i, 200 if pod else None, pod, pod or "", None if pod else "curl: (7) refused",
                                1.0 if pod == "web-a" else 61.0, None)
                for i, pod in enumerate(["web-a", "web-b", None, "web-a", "web-b"])]
    run = traffic.TrafficResult("lab10-export/client", "http://inventory.lab10-export.svc.clusterset.local/hostname",
                                "sandbox", requests, None, [(2.5, "cloud's web scaled to 0")])
    fig = plots.cluster_latency(run, owners)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")  # what Jupyter shows: the title must not widen it
    from PIL import Image

    assert Image.open(buf).size[0] <= NOTEBOOK_WIDTH_IN * 100
    groups = {c.get_gid(): c for c in fig.axes[0].collections}
    assert groups["cluster:cloud"].get_paths()[0] != groups["cluster:onprem"].get_paths()[0]  # not colour alone
    assert plots.cluster_style("cloud") != plots.cluster_style("onprem")
    assert groups["failed"].get_offsets()[:, 0].tolist() == [3]
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "answered by onprem: 2 (median 61 ms)" in legend


def test_placement_bars_say_their_counts() -> None:
    fig = plots.placement([("weights 2:1", {"cloud": 2, "onprem": 1}), ("cloud only", {"cloud": 3})])
    assert fig.get_size_inches()[0] <= NOTEBOOK_WIDTH_IN
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts.count("0") == 1 and "3" in texts  # onprem's absence is a bar of 0, said
