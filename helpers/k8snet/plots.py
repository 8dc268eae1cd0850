"""Figures for the lessons, drawn with matplotlib from live API state.

Every function returns a :class:`matplotlib.figure.Figure` that pyplot no
longer tracks, so a notebook shows it exactly once, as the cell's result,
nothing leaks between figures, and tests can read its artists back. All figures take
their colours from :data:`PALETTE` and their sizes from :data:`FONT`, so a pod
looks like a pod in every lesson. Later lessons add their figures (distribution
bars, connectivity heatmaps, timelines) to this module.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from matplotlib import pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch
from matplotlib.ticker import MaxNLocator

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from .cluster import Cluster

# Okabe-Ito colours: distinguishable with every common colour-vision deficiency.
PALETTE: dict[str, str] = {
    "control_plane": "#0072B2",  # blue: the control-plane node
    "worker": "#009E73",  # green: worker nodes
    "pod": "#E69F00",  # orange: pods with their own IP
    "host_pod": "#8C8C8C",  # grey: pods on the node's network namespace (hostNetwork)
    "api": "#D55E00",  # vermillion: the API server
    "service": "#CC79A7",  # purple: Services and their virtual IPs
    "network": "#56B4E9",  # sky blue: address ranges (pod network)
    "ink": "#1A1A1A",
    "muted": "#5A5A5A",
}
FONT: dict[str, float] = {"title": 13, "heading": 11, "body": 9, "small": 8}
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"


def _tint(colour: str, amount: float = 0.85) -> tuple[float, float, float]:
    """A light fill of ``colour`` (mixed with white), so text on it stays readable."""
    rgb = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    return tuple(c + (1 - c) * amount for c in rgb)  # type: ignore[return-value]


# -- facts the pictures need ---------------------------------------------------------


@dataclass(frozen=True)
class Networks:
    """The cluster-wide address ranges, or None where the cluster does not publish one."""

    pods: str | None
    services: str | None


def cluster_networks(cluster: Cluster) -> Networks:
    """Read the pod and Service ranges the cluster was set up with.

    Kubernetes has no single API field for them, so look where upstream keeps
    them: kubeadm's ``kube-system/kubeadm-config`` ConfigMap (kind and kubeadm
    clusters), then the ServiceCIDR objects (networking.k8s.io/v1, Kubernetes
    1.33+). Nothing is guessed: a range found nowhere stays None.
    """
    pods = services = None
    try:
        cm = cluster.core.read_namespaced_config_map("kubeadm-config", "kube-system")
        net = (yaml.safe_load((cm.data or {}).get("ClusterConfiguration", "")) or {}).get("networking") or {}
        pods, services = net.get("podSubnet"), net.get("serviceSubnet")
    except (ApiException, yaml.YAMLError, AttributeError):
        pass
    if services is None:
        try:
            items = client.NetworkingV1Api(cluster.api).list_service_cidr().items
            services = ",".join(c for s in items for c in (s.spec.cidrs or [])) or None
        except ApiException:
            pass
    return Networks(pods, services)


def is_control_plane(node: client.V1Node) -> bool:
    """Whether kubeadm labelled the node as a control-plane node."""
    return CONTROL_PLANE_LABEL in (node.metadata.labels or {})


def internal_ip(node: client.V1Node) -> str:
    """The node's InternalIP: the address other nodes and pods reach it on."""
    return next((a.address for a in node.status.addresses or [] if a.type == "InternalIP"), "?")


# -- drawing helpers -----------------------------------------------------------------


def _canvas(width: float, height: float) -> tuple[Figure, Axes]:
    """A figure whose data coordinates are inches from the bottom-left corner, without axes.

    Made through pyplot so Jupyter's inline backend knows how to show it, then closed at once so pyplot does
    not show it a second time at the end of the cell.
    """
    fig = plt.figure(figsize=(width, height), dpi=100)
    plt.close(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_axis_off()
    return fig, ax


def _box(ax: Axes, x: float, top: float, w: float, h: float, colour: str, gid: str = "", fill: float = 0.85,
         dashed: bool = False, lw: float = 1.4) -> FancyBboxPatch:
    """A rounded box whose top-left corner is at (x, top)."""
    patch = FancyBboxPatch((x, top - h), w, h, boxstyle="round,pad=0,rounding_size=0.08",
                           facecolor=_tint(colour, fill), edgecolor=colour, linewidth=lw,
                           linestyle="--" if dashed else "-")
    if gid:
        patch.set_gid(gid)
    ax.add_patch(patch)
    return patch


def _chip(ax: Axes, x: float, top: float, w: float, h: float, colour: str, title: str, detail: str,
          gid: str) -> None:
    """A small two-line box: a name, and a muted detail line under it."""
    _box(ax, x, top, w, h, colour, gid, fill=0.75, lw=1.0)
    ax.text(x + 0.1, top - 0.15, _fit(title, w - 0.2, FONT["body"]), fontsize=FONT["body"], color=PALETTE["ink"],
            va="center")
    ax.text(x + 0.1, top - h + 0.14, _fit(detail, w - 0.2, FONT["small"]), fontsize=FONT["small"],
            color=PALETTE["muted"], va="center")


def _fit(text: str, width: float, size: float) -> str:
    """Shorten ``text`` with an ellipsis so it fits ``width`` inches (DejaVu Sans averages ~0.55 em)."""
    most = max(4, int(width / (0.55 * size / 72)))
    return text if len(text) <= most else text[:most - 1] + "…"


# -- the cluster picture -------------------------------------------------------------

CHIP_H, CHIP_GAP, PAD, MAX_CHIPS = 0.46, 0.08, 0.2, 12


def cluster_picture(cluster: Cluster) -> Figure:
    """Draw the nodes with their addresses and pods, the API server, and the pod and Service ranges.

    Everything comes from the API (nodes, pods, Services, the published
    ranges), so the same call pictures the sandbox, a kind cluster, or the
    cluster after a lesson has changed it. Nodes are laid out control plane
    first, then by name; pods by namespace and name, so the picture is the
    same for the same cluster state.

    Example:
        >>> from k8snet import plots
        >>> plots.cluster_picture(cluster)   # shows the figure as the cell result
    """
    nodes = sorted(cluster.nodes(), key=lambda n: (not is_control_plane(n), n.metadata.name))
    pods = sorted(cluster.core.list_pod_for_all_namespaces().items,
                  key=lambda p: (p.metadata.namespace, p.metadata.name))
    services = sorted(cluster.core.list_service_for_all_namespaces().items,
                      key=lambda s: (s.metadata.namespace, s.metadata.name))
    nets = cluster_networks(cluster)
    on_node: dict[str, list[client.V1Pod]] = {n.metadata.name: [] for n in nodes}
    unscheduled = [p for p in pods if p.spec.node_name not in on_node]
    static: set[str] = set()  # on kubeadm clusters the API server is a static pod: drawn as the API server
    for p in pods:
        if (p.metadata.labels or {}).get("component") == "kube-apiserver" and p.spec.node_name in on_node:
            static.add(p.spec.node_name)
        else:
            on_node.get(p.spec.node_name, []).append(p)
    api_svc = next((s for s in services if (s.metadata.namespace, s.metadata.name) == ("default", "kubernetes")),
                   None)

    # Geometry in inches: one column per node, rows of chips sized by the busiest node.
    cols = max(1, len(nodes))
    width = max(10.0, 3.6 * cols + 1.0)
    margin, gap, head = 0.3, 0.25, 0.95
    node_w = (width - 2 * margin - 2 * PAD - (cols - 1) * gap) / cols
    rows = max([1] + [min(len(ps), MAX_CHIPS) + is_control_plane(n) for n, ps in
                      zip(nodes, on_node.values(), strict=True)])
    node_h = head + rows * (CHIP_H + CHIP_GAP) + PAD
    frame_h = 0.45 + node_h + PAD + (0.3 if unscheduled else 0)
    svc_cols = 4
    svc_rows = max(1, -(-min(len(services), 2 * svc_cols) // svc_cols))
    svc_h = 0.45 + svc_rows * (CHIP_H + CHIP_GAP) + 0.12
    height = 0.6 + frame_h + gap + svc_h + margin
    fig, ax = _canvas(width, height)

    ax.text(margin, height - 0.3, f"Cluster {cluster.context}  ·  Kubernetes {cluster.version()}  ·  "
            f"{len(nodes)} nodes, {len(pods)} pods", fontsize=FONT["title"], weight="bold", color=PALETTE["ink"],
            va="center")

    # The pod network frames the nodes: every node's pod CIDR is a slice of it.
    top = height - 0.6
    _box(ax, margin, top, width - 2 * margin, frame_h, PALETTE["network"], "network:pods", fill=0.93)
    label = (f"Pod network {nets.pods}: each node gets a slice of it (its pod CIDR), each pod an IP from its "
             f"node's slice" if nets.pods else
             "Pod network: each node hands out pod IPs from its own pod CIDR (the cluster does not publish "
             "the whole range)")
    ax.text(margin + PAD, top - 0.24, label, fontsize=FONT["body"], color=PALETTE["ink"], va="center",
            gid="label:pod-network")
    for i, node in enumerate(nodes):
        _draw_node(ax, node, on_node[node.metadata.name], node.metadata.name in static, api_svc,
                   margin + PAD + i * (node_w + gap), top - 0.45, node_w, node_h)
    if unscheduled:
        ax.text(margin + PAD, top - frame_h + 0.22, f"{len(unscheduled)} pod(s) not on any node yet: "
                + ", ".join(p.metadata.name for p in unscheduled[:4]) + (" …" if len(unscheduled) > 4 else ""),
                fontsize=FONT["small"], color=PALETTE["muted"], va="center")

    # Services live outside the nodes: virtual IPs that kube-proxy translates on every node.
    top -= frame_h + gap
    _box(ax, margin, top, width - 2 * margin, svc_h, PALETTE["service"], "network:services", fill=0.93, dashed=True)
    label = (f"Service network {nets.services}: virtual ClusterIPs, on no node; kube-proxy on every node "
             f"translates them to pod IPs" if nets.services else
             "Service network (range not published by this cluster): virtual ClusterIPs, on no node")
    ax.text(margin + PAD, top - 0.24, label, fontsize=FONT["body"], color=PALETTE["ink"], va="center",
            gid="label:service-network")
    chip_w = (width - 2 * margin - 2 * PAD - (svc_cols - 1) * gap) / svc_cols
    shown = services[:2 * svc_cols - 1] if len(services) > 2 * svc_cols else services
    for i, svc in enumerate(shown):
        ports = ",".join(f"{p.port}/{p.protocol}" for p in svc.spec.ports or [])
        _chip(ax, margin + PAD + (i % svc_cols) * (chip_w + gap), top - 0.45 - (i // svc_cols) * (CHIP_H + CHIP_GAP),
              chip_w, CHIP_H, PALETTE["service"], f"{svc.metadata.namespace}/{svc.metadata.name}",
              f"{svc.spec.cluster_ip}  {ports}", f"service:{svc.metadata.namespace}/{svc.metadata.name}")
    if len(shown) < len(services):
        i = len(shown)
        ax.text(margin + PAD + (i % svc_cols) * (chip_w + gap) + 0.1, top - 0.45 - CHIP_H / 2 - CHIP_H - CHIP_GAP,
                f"+{len(services) - len(shown)} more Services", fontsize=FONT["body"], color=PALETTE["muted"],
                va="center")
    return fig


def _draw_node(ax: Axes, node: client.V1Node, pods: list[client.V1Pod], static: bool,
               api_svc: client.V1Service | None, x: float, top: float, w: float, h: float) -> None:
    """One node: its name, role and addresses, then the API server (control plane) and its pods."""
    control = is_control_plane(node)
    colour = PALETTE["control_plane" if control else "worker"]
    name = node.metadata.name
    _box(ax, x, top, w, h, colour, f"node:{name}", fill=0.9)
    ax.text(x + 0.12, top - 0.22, _fit(name, w - 0.24, FONT["heading"]), fontsize=FONT["heading"], weight="bold",
            color=colour, va="center")
    ax.text(x + 0.12, top - 0.48, f"{'control-plane' if control else 'worker'}  ·  InternalIP {internal_ip(node)}",
            fontsize=FONT["body"], color=PALETTE["ink"], va="center")
    ax.text(x + 0.12, top - 0.71, f"pod CIDR {node.spec.pod_cidr or '(none)'}", fontsize=FONT["body"],
            color=PALETTE["ink"], va="center")
    y, cx, cw = top - 0.95, x + 0.12, w - 0.24
    if control:
        title = "API server (kube-apiserver" + (", a static pod)" if static else ")")
        where = (f"in-cluster: {api_svc.spec.cluster_ip}:{api_svc.spec.ports[0].port} (Service kubernetes)"
                 if api_svc and api_svc.spec.ports else "reached through the kubeconfig")
        _chip(ax, cx, y, cw, CHIP_H, PALETTE["api"], title, where, "apiserver")
        y -= CHIP_H + CHIP_GAP
    shown = pods[:MAX_CHIPS - 1] if len(pods) > MAX_CHIPS else pods
    for pod in shown:
        host = bool(pod.spec.host_network)
        detail = f"{pod.status.pod_ip or 'no IP yet'}{' (host network)' if host else ''}  ·  {pod.metadata.namespace}"
        _chip(ax, cx, y, cw, CHIP_H, PALETTE["host_pod" if host else "pod"], pod.metadata.name, detail,
              f"pod:{pod.metadata.namespace}/{pod.metadata.name}")
        y -= CHIP_H + CHIP_GAP
    if len(shown) < len(pods):
        ax.text(cx + 0.1, y - CHIP_H / 2, f"+{len(pods) - len(shown)} more pods", fontsize=FONT["body"],
                color=PALETTE["muted"], va="center")
    elif not pods and not control:
        ax.text(cx + 0.1, y - CHIP_H / 2, "no pods yet", fontsize=FONT["body"], color=PALETTE["muted"], va="center")


# -- traffic ------------------------------------------------------------------------------

POD_COLOURS = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#8C8C8C"]
"""One colour per answering pod, in name order, so the same pod keeps its colour across a lesson's figures."""


def _figure(width: float, height: float) -> tuple[Figure, Axes]:
    fig, ax = plt.subplots(figsize=(width, height))
    plt.close(fig)
    return fig, ax


def pod_colours(names: list[str]) -> dict[str, str]:
    return {name: POD_COLOURS[i % len(POD_COLOURS)] for i, name in enumerate(sorted(names))}


def distribution(result, expected: list[str] | None = None, ax: Axes | None = None) -> Figure:
    """Bars of how many requests each pod answered, with the share a uniform choice would give.

    ``expected`` names the pods that should share the traffic (e.g. the ready
    endpoints); each gets a dashed line at ``n / len(expected)``. Errors show as
    a red bar of their own, so a refused or timed-out request is never hidden.
    """
    counts = result.counts()
    names = sorted(set(counts) | set(expected or []))
    fig, ax = (ax.figure, ax) if ax is not None else _figure(max(4.5, 1.1 * len(names) + 2), 3.4)
    colours = pod_colours([n for n in names if not n.startswith(("error", "HTTP"))])
    values = [counts.get(n, 0) for n in names]
    bars = ax.bar(range(len(names)), values,
                  color=[colours.get(n, "#C0392B") for n in names], edgecolor=PALETTE["ink"], linewidth=0.6)
    for bar, v in zip(bars, values, strict=True):
        ax.annotate(str(v), (bar.get_x() + bar.get_width() / 2, v), ha="center", va="bottom",
                    fontsize=FONT["small"], xytext=(0, 2), textcoords="offset points")
    if expected:
        share = len(result) / len(expected)
        ax.axhline(share, color=PALETTE["muted"], linestyle="--", linewidth=1,
                   label=f"uniform share: {share:.1f} each")
        ax.legend(fontsize=FONT["small"], loc="upper right", frameon=False)
    ax.set_xticks(range(len(names)), [_short(n) for n in names], rotation=20, ha="right", fontsize=FONT["small"])
    ax.set_ylabel("requests answered", fontsize=FONT["body"])
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no 2.5 requests
    ax.set_ylim(0, max(values + [1]) * 1.25)
    ax.set_title(f"{len(result)} requests from {result.source} to {result.url}  ·  {result.backend}",
                 fontsize=FONT["body"])
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def _short(name: str, width: int = 28) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def timeline(phases: list[tuple[str, object]]) -> Figure:
    """Requests over time while the cluster changes: one stacked bar per phase, one colour per pod.

    ``phases`` is ``[(label, TrafficResult), …]`` in the order they were sent
    (e.g. "3 replicas", "scaled to 5", "back to 3").
    """
    all_pods = sorted({p for _, r in phases for p in r.counts()})
    colours = pod_colours([p for p in all_pods if not p.startswith(("error", "HTTP"))])
    fig, ax = _figure(max(5.0, 1.6 * len(phases) + 3), 3.8)
    bottoms = [0] * len(phases)
    for pod in all_pods:
        heights = [r.counts().get(pod, 0) for _, r in phases]
        ax.bar(range(len(phases)), heights, bottom=bottoms, color=colours.get(pod, "#C0392B"),
               edgecolor="white", linewidth=0.8, label=_short(pod))
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    ax.set_xticks(range(len(phases)), [label for label, _ in phases], fontsize=FONT["small"])
    ax.set_ylabel("requests answered", fontsize=FONT["body"])
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no 2.5 requests
    ax.legend(fontsize=FONT["small"], bbox_to_anchor=(1.01, 1), loc="upper left", frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    backend = phases[0][1].backend if phases else ""
    ax.set_title(f"Which pods answered, phase by phase  ·  {backend}", fontsize=FONT["body"])
    fig.tight_layout()
    return fig


FAILURES = ("refused", "timed out", "reset", "failed")
"""The outcomes of requests that got no HTTP answer (traffic.Request.outcome), drawn below the pods."""


def requests_over_time(result, ax: Axes | None = None) -> Figure:
    """Every request of a spread-out run (``traffic.send_during``) in the order sent: one row per pod that
    answered, a row below them per kind of failure, and a dashed line where the cluster was changed.

    An answer is a dot in its pod's colour, a failure a red cross, so neither depends on colour alone.
    """
    outcomes = [r.outcome for r in result.requests]
    pods = sorted({o for o in outcomes if o not in FAILURES and not o.startswith("HTTP")})
    others = sorted({o for o in outcomes if o.startswith("HTTP")}) + [f for f in FAILURES if f in outcomes]
    rows = others[::-1] + pods[::-1]  # pods at the top, failures at the bottom
    fig, ax = (ax.figure, ax) if ax is not None else _figure(8.0, 1.4 + 0.32 * max(len(rows), 2))
    colours = pod_colours(pods)
    for y, row in enumerate(rows):
        xs = [i + 1 for i, o in enumerate(outcomes) if o == row]
        failed = row not in colours
        ax.scatter(xs, [y] * len(xs), s=34 if failed else 22, marker="x" if failed else "o", zorder=3,
                   color="#C0392B" if failed else colours[row], linewidths=1.6 if failed else 0.6,
                   edgecolors=None if failed else PALETTE["ink"], gid=f"row:{row}")
        ax.annotate(str(len(xs)), (len(outcomes) + 1, y), xytext=(4, 0), textcoords="offset points", va="center",
                    fontsize=FONT["small"], color=PALETTE["muted"], annotation_clip=False)
    for x, label in result.marks:
        ax.axvline(x, color=PALETTE["muted"], linestyle="--", linewidth=1)
        ax.annotate(label, (x, len(rows) - 0.5), xytext=(3, 0), textcoords="offset points", va="bottom",
                    fontsize=FONT["small"], color=PALETTE["ink"], annotation_clip=False, gid=f"mark:{label}")
    ax.set_yticks(range(len(rows)), [_short(r) for r in rows], fontsize=FONT["small"])
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlim(0, len(outcomes) + 1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    spacing = f", one every {result.every * 1000:.0f} ms" if result.every else ""
    ax.set_xlabel(f"request (in the order sent{spacing})", fontsize=FONT["body"])
    ax.tick_params(axis="x", labelsize=FONT["small"])
    ax.grid(axis="y", color="#E5E5E5", linewidth=0.6, zorder=0)
    ax.set_title(f"Who answered each request from {result.source} to {result.url}  ·  {result.backend}",
                 fontsize=FONT["body"], pad=14)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


CLUSTER_COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]
CLUSTER_MARKERS = ["o", "s", "^", "D", "v", "P"]
"""One colour and one marker shape per cluster, so a cluster is told apart without colour too."""


def cluster_style(name: str) -> tuple[str, str]:
    """A cluster's colour and marker, the same in every figure: chosen by its slot in the cluster set
    (:func:`k8snet.clusterset.slot`: cloud is always blue, onprem always vermillion)."""
    from . import clusterset

    try:
        k = clusterset.slot(name) + 3  # the well-known names' slots 1-4 land on the first colours
    except ValueError:
        k = sum(name.encode())
    return CLUSTER_COLOURS[k % len(CLUSTER_COLOURS)], CLUSTER_MARKERS[k % len(CLUSTER_MARKERS)]


def cluster_latency(result, owners: dict[str, str], ax: Axes | None = None) -> Figure:
    """Every request of a run in the order sent, at the time curl took for it, in the colour and shape of the
    cluster whose pod answered (``owners``: pod name → cluster, :func:`k8snet.cni.clustermesh.owners`); failures
    are red crosses on the axis, and a dashed line marks where the cluster was changed (``traffic.send_during``).

    The legend says how many requests each cluster answered and their median time, so where a request was served
    and what the distance cost read together.
    """
    reqs = result.requests
    clusters = sorted({owners.get(r.pod or "", "?") for r in reqs if r.pod})
    fig, ax = (ax.figure, ax) if ax is not None else _figure(8.0, 3.8)
    top = max([r.latency_ms or 0.0 for r in reqs] + [1.0])
    for cluster in clusters:
        mine = [r for r in reqs if r.pod and owners.get(r.pod, "?") == cluster]
        times = sorted(r.latency_ms or 0.0 for r in mine)
        median = times[len(times) // 2] if times else 0.0
        colour, marker = cluster_style(cluster)
        ax.scatter([r.i + 1 for r in mine], [r.latency_ms or 0.0 for r in mine], s=26, zorder=3,
                   marker=marker, color=colour,
                   edgecolors=PALETTE["ink"], linewidths=0.5, gid=f"cluster:{cluster}",
                   label=f"answered by {cluster}: {len(mine)} (median {median:.0f} ms)")
    failed = [r for r in reqs if not r.pod]
    if failed:
        ax.scatter([r.i + 1 for r in failed], [0.0] * len(failed), marker="x", s=36, color="#C0392B", zorder=4,
                   linewidths=1.6, label=f"no answer: {len(failed)}", gid="failed")
    for x, label in result.marks:
        ax.axvline(x, color=PALETTE["muted"], linestyle="--", linewidth=1)
        ax.annotate(label, (x, top * 1.12), xytext=(3, 0), textcoords="offset points", va="bottom",
                    fontsize=FONT["small"], color=PALETTE["ink"], annotation_clip=False, gid=f"mark:{label}")
    ax.set_ylim(-top * 0.06, top * 1.25)
    ax.set_xlim(0, len(reqs) + 1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("request (in the order sent)", fontsize=FONT["body"])
    ax.set_ylabel("time curl took (ms)", fontsize=FONT["body"])
    ax.tick_params(labelsize=FONT["small"])
    ax.grid(axis="y", color="#E5E5E5", linewidth=0.6, zorder=0)
    ax.legend(fontsize=FONT["small"], loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
    title = f"Where each request from {result.source} to {result.url} was served, and how long it took  ·  " \
        f"{result.backend}"
    ax.set_title(textwrap.fill(title, 110), fontsize=FONT["body"], pad=14)  # a long URL wraps: notebook width
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def placement(steps: list[tuple[str, dict[str, int]]], what: str = "replicas") -> Figure:
    """Where a federation control plane placed a workload, step by step: one group of bars per step (e.g. "weights
    2:1", "weights 1:2", "onprem excluded"), one bar per cluster in that cluster's colour and shape of
    :func:`cluster_latency`, its count on top."""
    clusters = sorted({c for _, placed in steps for c in placed})
    fig, ax = _figure(max(5.0, 1.5 * len(steps) + 3), 3.4)
    width = 0.8 / max(len(clusters), 1)
    hatches = ["", "//", "..", "xx", "\\\\", "++"]
    for k, cluster in enumerate(clusters):
        xs = [i + (k - (len(clusters) - 1) / 2) * width for i in range(len(steps))]
        values = [placed.get(cluster, 0) for _, placed in steps]
        colour, marker = cluster_style(cluster)
        bars = ax.bar(xs, values, width * 0.95, color=colour, hatch=hatches[CLUSTER_MARKERS.index(marker)], edgecolor=PALETTE["ink"], linewidth=0.6, label=cluster,
                      gid=f"cluster:{cluster}")
        for bar, v in zip(bars, values, strict=True):
            ax.annotate(str(v), (bar.get_x() + bar.get_width() / 2, v), ha="center", va="bottom",
                        fontsize=FONT["small"], xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(range(len(steps)), [label for label, _ in steps], fontsize=FONT["small"])
    ax.set_ylabel(what, fontsize=FONT["body"])
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    top = max([v for _, placed in steps for v in placed.values()] + [1])
    ax.set_ylim(0, top * 1.3)
    ax.legend(fontsize=FONT["small"], loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    ax.set_title(f"{what.capitalize()} per cluster, step by step", fontsize=FONT["body"])
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


class DnsTable:
    """DNS answers shown as a table (HTML in Jupyter, text elsewhere)."""

    def __init__(self, answers: list):
        self.answers = answers

    def rows(self) -> list[tuple[str, str, str]]:
        return [(a.name, a.canonical or "", ", ".join(a.addresses) if not a.error else a.error)
                for a in self.answers]

    def _repr_html_(self) -> str:
        body = "".join(f"<tr><td><code>{n}</code></td><td><code>{c}</code></td><td>{r}</td></tr>"
                       for n, c, r in self.rows())
        backend = self.answers[0].backend if self.answers else ""
        return (f"<table><tr><th>name asked</th><th>answered as</th><th>addresses</th></tr>{body}</table>"
                f"<p><small>answers from {backend}</small></p>")

    def __repr__(self) -> str:
        return "\n".join(f"{n:45} {c:45} {r}" for n, c, r in self.rows())


def dns_table(answers: list) -> DnsTable:
    return DnsTable(answers)


HOP_COLOURS = {"source": PALETTE["pod"], "dns": PALETTE["network"], "service": PALETTE["service"],
               "endpoint": PALETTE["control_plane"], "policy": PALETTE["worker"], "pod": PALETTE["pod"],
               "ingress": PALETTE["api"], "error": "#C0392B", "edge": PALETTE["network"],
               "tls": PALETTE["control_plane"], "middleware": PALETTE["worker"],
               "traefik": PALETTE["api"], "mesh": PALETTE["control_plane"], "authz": PALETTE["worker"],
               "cilium": PALETTE["worker"], "nat": PALETTE["network"], "outside": PALETTE["api"],
               "clustermesh": PALETTE["service"]}
HOP_TITLES = {"source": "source", "dns": "DNS (CoreDNS)", "service": "Service", "endpoint": "kube-proxy: endpoint",
              "policy": "NetworkPolicy", "pod": "answered by", "ingress": "Ingress (Traefik)", "error": "failed",
              "edge": "ingress edge", "tls": "TLS, by SNI", "middleware": "Middlewares",
              "traefik": "answered by", "mesh": "ambient mesh (ztunnel)", "authz": "AuthorizationPolicy (ztunnel)",
              "cilium": "Cilium policy (eBPF, Envoy for L7)", "nat": "SNAT (masquerade)",
              "outside": "answered outside the cluster", "clustermesh": "Cluster Mesh: to another cluster"}


TRACE_W = 8.0
"""Width of the trace picture in inches: JupyterLab shows a notebook's output about 830 px wide, and at 100 dpi
a figure this wide is shown at its real size, so its 9 pt text stays 9 pt."""


def trace_picture(trace) -> Figure:
    """One request's path as a column of boxes, top to bottom: the workbook's signature picture.

    Each box is one decision (the DNS answer, the Service and port, the endpoint
    kube-proxy chose and why, the policy verdict, the pod that answered); an
    endpoint hop lists the candidates with the chosen one marked (▶, in bold).
    The figure is as wide as a notebook shows it and each box as tall as its
    text, wrapped between words, so every name and sentence is whole.

    Artists carry gids for tests: ``hop:I:KIND`` (the box), ``hop-title:I``,
    ``hop-text:I`` and ``candidate:I:NAME`` (``chosen:I:NAME`` for the chosen one).
    """
    origin = getattr(trace, "origin", "") or f"client pod {trace.source}"
    hops = [{"kind": "source", "summary": origin, "detail": {}}] + list(trace.hops)
    margin, title_w, pad, gap = 0.2, 1.95, 0.12, 0.3
    box_w = TRACE_W - 2 * margin
    text_x = margin + title_w
    text_w = box_w - title_w - pad
    line = FONT["body"] * 1.35 / 72  # one line of body text, in inches
    how = getattr(trace, "how", "") or ("reported by the sandbox's data plane" if trace.reported
                                        else "reconstructed from API state")
    heading = _wrap(f"GET {trace.url}  ·  {trace.backend}, {how}", TRACE_W - 2 * margin, FONT["heading"], bold=True)
    blocks = [_trace_block(hop, trace, text_w) for hop in hops]
    titles = [_wrap(HOP_TITLES.get(h["kind"], h["kind"]), title_w - 2 * pad, FONT["body"], bold=True) for h in hops]
    heights = [max(len(title), len(lines) + _candidate_rows(cands, text_w)) * line + 2 * pad
               for title, (lines, cands) in zip(titles, blocks, strict=True)]
    head_h = 0.25 + len(heading) * FONT["heading"] * 1.3 / 72
    height = head_h + sum(heights) + gap * (len(hops) - 1) + margin
    fig, ax = _canvas(TRACE_W, height)
    ax.text(margin, height - 0.15, "\n".join(heading), fontsize=FONT["heading"], color=PALETTE["ink"], va="top",
            fontweight="bold", linespacing=1.3)
    top = height - head_h
    for i, (hop, title, (lines, candidates), h) in enumerate(zip(hops, titles, blocks, heights, strict=True)):
        kind = hop["kind"]
        colour = HOP_COLOURS.get(kind, PALETTE["muted"])
        _box(ax, margin, top, box_w, h, colour, gid=f"hop:{i}:{kind}")
        ax.text(margin + pad, top - pad, "\n".join(title), fontsize=FONT["body"], fontweight="bold",
                color=PALETTE["ink"], va="top", linespacing=1.35, gid=f"hop-title:{i}")
        ax.text(text_x, top - pad, "\n".join(lines), fontsize=FONT["body"], color=PALETTE["ink"], va="top",
                linespacing=1.35, gid=f"hop-text:{i}")
        _candidates(ax, i, candidates, text_x, top - pad - (len(lines) + 0.5) * line, text_w, line)
        if i < len(hops) - 1:
            x = margin + title_w / 2
            ax.annotate("", xy=(x, top - h - gap + 0.03), xytext=(x, top - h - 0.03),
                        arrowprops={"arrowstyle": "-|>", "color": PALETTE["muted"], "lw": 1.4})
        top -= h + gap
    return fig


def _trace_block(hop: dict, trace, width: float) -> tuple[list[str], list[tuple[str, bool]]]:
    """A hop's summary wrapped to ``width`` inches, and its candidates as (name, chosen) when it has any.

    A reconstructed trace knows no chosen endpoint; the pod that answered is marked instead.
    """
    detail = hop.get("detail") or {}
    candidates = [str(c) for c in detail.get("candidates") or []]
    chosen = detail.get("chosen") or detail.get("endpoint") or trace.answered_by
    marked = [(c, c == chosen) for c in candidates]
    return _wrap(hop["summary"], width, FONT["body"]), marked


def _candidates(ax: Axes, i: int, candidates: list[tuple[str, bool]], x: float, top: float, width: float,
                line: float) -> None:
    """The endpoints kube-proxy chose from, in columns; the chosen one with ▶ and in bold."""
    if not candidates:
        return
    cols = _columns(candidates, width)
    cell = width / cols
    for k, (name, chosen) in enumerate(candidates):
        ax.text(x + (k % cols) * cell, top - (k // cols) * line, ("▶ " if chosen else "  ") + name,
                fontsize=FONT["small"], family="monospace", fontweight="bold" if chosen else "normal",
                color=PALETTE["ink"], va="top", gid=f"{'chosen' if chosen else 'candidate'}:{i}:{name}")


def _candidate_rows(candidates: list[tuple[str, bool]], width: float) -> float:
    """Lines the candidates take under a hop's text: half a line of space, then one row per ``_columns``."""
    return 0.5 + -(-len(candidates) // _columns(candidates, width)) if candidates else 0


def _columns(candidates: list[tuple[str, bool]], width: float) -> int:
    """How many candidates fit side by side in ``width`` inches (DejaVu Sans Mono's advance is 0.6 em)."""
    cell = (max(len(c) for c, _ in candidates) + 4) * 0.6 * FONT["small"] / 72  # the "▶ " and two spaces
    return max(1, min(len(candidates), int(width // cell)))


def _wrap(text: str, width: float, size: float, bold: bool = False) -> list[str]:
    """``text`` in lines that fit ``width`` inches at ``size`` points, broken only between words.

    DejaVu Sans averages about 0.55 em a character (0.6 em bold) in prose; lines full of digits and capitals run
    wider, so lines are measured at 0.58 em (0.63 em bold). A word longer than a line stays whole.
    """
    import textwrap

    most = max(8, int(width / ((0.63 if bold else 0.58) * size / 72)))
    return textwrap.wrap(text, most, break_long_words=False, break_on_hyphens=False) or [""]


# -- connectivity ------------------------------------------------------------------------------

VERDICT_COLOURS = {True: "#009E73", False: "#D55E00", None: "#F0E442"}
"""Allowed (green), blocked (vermillion), partial: only some of a Service's endpoints (yellow)."""
VERDICT_MARKS = {True: "✓", False: "✗", None: "◐"}
"""The same verdicts as marks, so a cell never says what it says by colour alone."""


def connectivity(matrix, expected=None, ax: Axes | None = None) -> Figure:
    """A heatmap per (port, protocol): rows are sources, columns targets.

    Every cell carries its verdict twice, as a colour and as a mark (✓ allowed,
    ✗ blocked, ◐ some endpoints). With ``expected``, a cell that differs is
    framed and its mark set on white, and the title carries the ``N wrong, M
    correct`` line, so mismatches stand out.
    """
    from matplotlib.patches import Patch, Rectangle

    cases = matrix.cases
    rows, cols = matrix.sources, matrix.targets
    width = max(4.2, 0.55 * len(cols) + 1.8)
    if ax is None:
        fig, axes = plt.subplots(1, len(cases), figsize=(width * len(cases), 0.45 * len(rows) + 2.2), squeeze=False)
        plt.close(fig)
        axes = list(axes[0])
    else:
        fig, axes = ax.figure, [ax]
    for ax_, (port, proto) in zip(axes, cases, strict=False):  # one given ax draws the first case
        for i, s in enumerate(rows):
            for j, t in enumerate(cols):
                cell = matrix.cells[(s, t, port, proto)]
                ax_.add_patch(Rectangle((j, i), 1, 1, facecolor=VERDICT_COLOURS[cell.allowed],
                                        edgecolor="white", linewidth=1.5, gid=f"cell:{s}>{t}:{port}/{proto}"))
                want = expected.cells.get((s, t, port, proto)) if expected is not None else None
                wrong = want is not None and want.allowed != cell.allowed
                if wrong:
                    ax_.add_patch(Rectangle((j + 0.08, i + 0.08), 0.84, 0.84, facecolor="none",
                                            edgecolor=PALETTE["ink"], linewidth=2.6,
                                            gid=f"wrong:{s}>{t}:{port}/{proto}"))
                ax_.text(j + 0.5, i + 0.5, VERDICT_MARKS[cell.allowed], ha="center", va="center",
                         fontsize=FONT["heading"], color=PALETTE["ink"], fontweight="bold" if wrong else "normal",
                         bbox={"boxstyle": "circle,pad=0.2", "facecolor": "white", "edgecolor": "none"}
                         if wrong else None, gid=f"mark:{s}>{t}:{port}/{proto}")
        ax_.set_xlim(0, len(cols))
        ax_.set_ylim(len(rows), 0)
        ax_.set_xticks([j + 0.5 for j in range(len(cols))], cols, rotation=45, ha="right", fontsize=FONT["small"])
        ax_.set_yticks([i + 0.5 for i in range(len(rows))], rows, fontsize=FONT["small"])
        ax_.set_xlabel("to", fontsize=FONT["body"])
        ax_.set_ylabel("from", fontsize=FONT["body"])
        ax_.set_title(f"port {port}/{proto}", fontsize=FONT["body"])
        ax_.tick_params(length=0)
        ax_.set_aspect("equal")
        for spine in ax_.spines.values():
            spine.set_visible(False)
    title = f"{matrix.kind} connectivity · {matrix.backend}" if matrix.backend else f"{matrix.kind} connectivity"
    if expected is not None:
        title += f"\n{str(matrix.compare(expected)).splitlines()[0]} against the expectation"
    legend = [Patch(facecolor=VERDICT_COLOURS[True], label=f"{VERDICT_MARKS[True]} allowed"),
              Patch(facecolor=VERDICT_COLOURS[False], label=f"{VERDICT_MARKS[False]} blocked")]
    if any(c.allowed is None for c in matrix.cells.values()):
        legend.append(Patch(facecolor=VERDICT_COLOURS[None], label=f"{VERDICT_MARKS[None]} some endpoints"))
    if expected is not None:
        legend.append(Patch(facecolor="white", edgecolor=PALETTE["ink"], linewidth=2.0,
                            label="framed, mark on white: differs from expected"))
    fig.legend(handles=legend, loc="lower center", ncol=len(legend), fontsize=FONT["small"], frameon=False)
    fig.suptitle(title, fontsize=FONT["body"])
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


# -- topology: namespaces, pods, Services and who may reach whom -----------------------------------

TOPO_COL_W, TOPO_GAP, TOPO_ROW = 3.1, 1.1, 0.64
"""Namespace column width and the gap between columns (room for the arrows); one pod chip row."""


def topology(snap: Any, namespaces: list[str], matrix: Any, cases: list[tuple[int, str]], protocol: str,
             backend: str) -> Figure:
    """Namespaces as boxes, their pods and Services as chips, and arrows for the pod-to-pod connections allowed.

    It draws what it is given: a cluster ``snap`` (``policy.Snapshot``), the ``namespaces`` to show, a
    reachability ``matrix`` (predicted or measured) and the (port, protocol) ``cases`` to read from it;
    ``policy.topology`` gathers them from a cluster. A pair is an edge when at least one port connects; an
    arrow allowed on only some ports says which. To stay legible at a lesson's scale the
    picture draws the smaller side: when most pairs connect it draws the
    *blocked* pairs (dashed), plus the pairs a policy rule lets into an
    isolated pod; when every pair connects it only says so in the title.
    Pods a policy selects (isolated) get a thick border and a shield marked
    ``in``/``out``/``in+out``. Self-connections are left out: "a pod cannot
    block access to itself" (concepts/services-networking/network-policies).

    Artists carry gids for tests: ``namespace:NS``, ``pod:NS/NAME``,
    ``service:NS/NAME``, ``isolated:NS/NAME``, ``backs:NS/SVC>NS/POD``,
    ``edge:SRC>DST`` (allowed) and ``blocked:SRC>DST``.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch

    pods = {ns: sorted(k for k, p in snap.pods.items() if p["metadata"]["namespace"] == ns) for ns in namespaces}
    names = [p for ns in namespaces for p in pods[ns]]
    # One entry per ordered pair of distinct pods the matrix covers: the ports that connect.
    pairs: dict[tuple[str, str], list[int]] = {}
    for s in names:
        for t in names:
            cells = [(p, matrix.cells.get((s, t, p, proto))) for p, proto in cases] if matrix else []
            if s != t and cells and all(c is not None for _, c in cells):
                pairs[(s, t)] = [p for p, c in cells if c.allowed]
    allowed = {k for k, v in pairs.items() if v}
    isolated = {n: [k for k in ("Ingress", "Egress") if snap.policies.selecting(snap.peer(n), k)] for n in names}

    # Geometry (inches): one column per namespace; pods first, Services under them.
    svcs = {ns: sorted(k for k, s in snap.services.items() if s["metadata"]["namespace"] == ns) for ns in namespaces}
    head, pad = 0.8, 0.22
    box_h = {ns: head + len(pods[ns]) * TOPO_ROW + (0.25 + len(svcs[ns]) * (CHIP_H + CHIP_GAP) if svcs[ns] else 0)
             + pad for ns in namespaces}
    margin = 0.35
    width = max(7.0, 2 * margin + len(namespaces) * TOPO_COL_W + (len(namespaces) - 1) * TOPO_GAP)
    tallest = max(box_h.values(), default=1.0)
    height = 1.0 + tallest + 0.55
    fig, ax = _canvas(width, height)

    ports_text = ", ".join(f"{p}/{proto}" for p, proto in cases)
    kind = matrix.kind if matrix is not None else "predicted"
    backend = (matrix.backend if matrix is not None else "") or backend
    n, total = len(names), len(pairs)
    if not pairs:
        mode, summary = "none", f"{n} pod{'s' if n != 1 else ''}: no connections between pods to draw"
    elif len(allowed) == total:
        mode, summary = "all", f"everything reachable: {n}×{n} pods on {ports_text}"
    elif not allowed:
        mode, summary = "none", f"nothing reachable: all {total} connections between pods blocked"
    elif len(allowed) * 2 > total:
        mode = "blocked"
        summary = (f"{len(allowed)} of {total} connections allowed: the {total - len(allowed)} blocked ones are "
                   "drawn dashed")
    else:
        mode, summary = "allowed", f"{len(allowed)} of {total} connections allowed (drawn); the rest are blocked"
    ax.text(margin, height - 0.3, f"Who can reach whom on {ports_text}  ·  {kind}, {backend}",
            fontsize=FONT["title"], weight="bold", color=PALETTE["ink"], va="center", gid="title")
    summary_text = ax.text(margin, height - 0.62, summary, fontsize=FONT["body"], color=PALETTE["ink"], va="center",
                           gid="summary")

    # Boxes and chips; remember each pod chip's rectangle for the arrows.
    chip: dict[str, tuple[float, float, float, int]] = {}  # name → (x, top, w, column)
    top0 = height - 0.95
    chip_w = TOPO_COL_W - 0.7
    for col, ns in enumerate(namespaces):
        x = margin + col * (TOPO_COL_W + TOPO_GAP)
        _box(ax, x, top0, TOPO_COL_W, box_h[ns], PALETTE["network"], f"namespace:{ns}", fill=0.93)
        ax.text(x + 0.12, top0 - 0.2, _fit(f"namespace {ns}", TOPO_COL_W - 0.24, FONT["heading"]),
                fontsize=FONT["heading"], weight="bold", color=PALETTE["control_plane"], va="center")
        labels = (snap.namespaces[ns]["metadata"].get("labels") or {})
        ax.text(x + 0.12, top0 - 0.45, _fit(_labels_text(labels) or "(no labels)", TOPO_COL_W - 0.24, FONT["small"]),
                fontsize=FONT["small"], color=PALETTE["muted"], va="center", gid=f"labels:{ns}")
        y = top0 - head
        for name in pods[ns]:
            p = snap.pods[name]
            cx = x + 0.35
            _chip(ax, cx, y, chip_w, CHIP_H, PALETTE["pod"], p["metadata"]["name"],
                  _labels_text(p["metadata"].get("labels") or {}) or "(no labels)", f"pod:{name}")
            if isolated[name]:
                ax.patches[-1].set_linewidth(2.6)
                ax.patches[-1].set_edgecolor(PALETTE["ink"])
                _shield(ax, cx + chip_w - 0.2, y - 0.04, "+".join({"Ingress": "in", "Egress": "out"}[k]
                                                                  for k in isolated[name]), f"isolated:{name}")
            chip[name] = (cx, y, chip_w, col)
            y -= TOPO_ROW
        if svcs[ns]:
            ax.text(x + 0.12, y + TOPO_ROW - CHIP_H - 0.2, "Services", fontsize=FONT["small"], color=PALETTE["muted"],
                    va="center")
            y -= 0.25 - (TOPO_ROW - CHIP_H - CHIP_GAP)
        for key in svcs[ns]:
            svc = snap.services[key]
            sports = svc["spec"].get("ports") or []
            backs = sorted({peer_name for sp in sports for peer_name in _backend_names(
                snap, key, sp.get("port"), sp.get("protocol") or "TCP")})
            detail = ",".join(f"{sp.get('port')}/{sp.get('protocol') or 'TCP'}" for sp in sports)
            detail += f" → {len(backs)} pod{'s' if len(backs) != 1 else ''}"
            sx = x + 0.35
            _chip(ax, sx, y, chip_w, CHIP_H, PALETTE["service"], svc["metadata"]["name"], detail, f"service:{key}")
            for b in backs:
                if b in chip:
                    bx, btop, _, _ = chip[b]
                    ax.add_patch(FancyArrowPatch((sx, y - CHIP_H / 2), (bx, btop - CHIP_H / 2),
                                                 connectionstyle="arc3,rad=-0.45", arrowstyle="-|>",
                                                 mutation_scale=8, color=PALETTE["service"], lw=0.9, zorder=2,
                                                 shrinkA=0, shrinkB=0, gid=f"backs:{key}>{b}"))
            y -= CHIP_H + CHIP_GAP

    # Edges: which pairs to draw, and at which side of each chip they attach.
    draw: list[tuple[str, str, str]] = []  # (src, dst, "edge"|"blocked")
    for (s, t), ok in pairs.items():
        if mode == "allowed" and ok:
            draw.append((s, t, "edge"))
        elif mode == "blocked":
            if not ok:
                draw.append((s, t, "blocked"))
            elif "Ingress" in isolated[t] or "Egress" in isolated[s] or len(ok) < len(cases):
                draw.append((s, t, "edge"))
    if mode == "blocked" and any(what == "edge" for _, _, what in draw):
        summary_text.set_text(summary + "; green: allowed where a policy isolates a pod (let through by its rules)")
    ends: dict[tuple[str, str], list[int]] = {}  # (pod, side) → indices into draw
    sides = []
    for i, (s, t, _) in enumerate(draw):
        cs, ct = chip[s][3], chip[t][3]
        a, b = ("right", "right") if cs == ct else ("right", "left") if cs < ct else ("left", "right")
        sides.append((a, b))
        ends.setdefault((s, a), []).append(i)
        ends.setdefault((t, b), []).append(i)

    def anchor(name: str, side: str, i: int) -> tuple[float, float]:
        x, top, w, _ = chip[name]
        group = ends[(name, side)]
        step = min(0.09, (CHIP_H - 0.12) / max(1, len(group)))
        dy = (group.index(i) - (len(group) - 1) / 2) * step
        return (x + w if side == "right" else x, top - CHIP_H / 2 + dy)

    for i, (s, t, what) in enumerate(draw):
        a, b = sides[i]
        p0, p1 = anchor(s, a, i), anchor(t, b, i)
        if chip[s][3] == chip[t][3]:  # same namespace: loop out to the right of the column
            rad = (-0.35 if s < t else -0.6) * (1 if p1[1] < p0[1] else -1)
        else:
            rad = 0.12
        colour = VERDICT_COLOURS[what == "edge"]
        ax.add_patch(FancyArrowPatch(p0, p1, connectionstyle=f"arc3,rad={rad}", arrowstyle="-|>", mutation_scale=10,
                                     color=colour, lw=1.6 if what == "edge" else 1.2,
                                     linestyle="-" if what == "edge" else (0, (4, 3)), zorder=4, shrinkA=0,
                                     shrinkB=0, alpha=0.9, gid=f"{what}:{s}>{t}"))
        ok = pairs[(s, t)]
        if what == "edge" and len(ok) < len(cases):
            ax.text((p0[0] + p1[0]) / 2, (p0[1] + p1[1]) / 2 + 0.08, "only " + ",".join(map(str, ok)),
                    fontsize=FONT["small"], color=colour, ha="center", va="bottom", zorder=5,
                    gid=f"ports:{s}>{t}")

    legend = [Line2D([], [], color=VERDICT_COLOURS[True], lw=1.6, label="allowed"),
              Line2D([], [], color=VERDICT_COLOURS[False], lw=1.2, linestyle=(0, (4, 3)), label="blocked"),
              Line2D([], [], color=PALETTE["service"], lw=0.9, label="Service → its endpoints"),
              Line2D([], [], color=PALETTE["ink"], lw=0, marker="s", markerfacecolor="white", markersize=8,
                     markeredgewidth=2.4, label="isolated: a policy selects the pod (in = ingress, out = egress)")]
    ax.legend(handles=legend, loc="lower left", bbox_to_anchor=(margin / width, 0.0), ncol=4,
              fontsize=FONT["small"], frameon=False)
    return fig


def _labels_text(labels: dict[str, str]) -> str:
    """Labels as ``k=v`` pairs, comma-separated, in key order."""
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _backend_names(snap, service: str, port: int | None, protocol: str) -> list[str]:
    """The ``ns/pod`` names a Service port's ready endpoints point at."""
    if port is None:
        return []
    return [f"{peer.namespace}/{peer.name}" for peer, _ in snap.backends(f"svc:{service}", int(port), protocol)]


def _shield(ax: Axes, x: float, top: float, text: str, gid: str) -> None:
    """A small shield (a policy guards this pod) with the isolated directions written on it."""
    from matplotlib.patches import Polygon

    w, h = 0.36, 0.3
    ax.add_patch(Polygon([(x - w / 2, top), (x + w / 2, top), (x + w / 2, top - h * 0.55), (x, top - h),
                          (x - w / 2, top - h * 0.55)], closed=True, facecolor=PALETTE["ink"],
                         edgecolor=PALETTE["ink"], zorder=3, gid=gid))
    ax.text(x, top - h * 0.42, text, fontsize=6.5, color="white", ha="center", va="center", zorder=4,
            weight="bold")


# -- certificates ----------------------------------------------------------------------------------------------

HANDSHAKE_COLOURS = {True: "#009E73", False: "#D55E00"}


def handshake_matrix(matrix: Any, title: str | None = None) -> Figure:
    """Clients (rows) against TLS servers (columns): green where the request got through, vermillion where not,
    and in every cell the reason in words (the status and what the server answered, or curl's TLS error). Any
    matrix of requests with ``clients``, ``servers``, ``backend`` and ``cells[(client, server)]`` (each with ``ok``
    and ``reason``) draws the same way, under its own ``title``."""
    from matplotlib.patches import Patch, Rectangle

    rows, cols = matrix.clients, matrix.servers
    cell_w = 2.9
    fig, ax = _figure(max(5.5, cell_w * len(cols) + 2.2), 0.62 * len(rows) + 1.9)
    for i, c in enumerate(rows):
        for j, s in enumerate(cols):
            shake = matrix.cells[(c, s)]
            ax.add_patch(Rectangle((j, i), 1, 1, facecolor=_tint(HANDSHAKE_COLOURS[shake.ok], 0.55),
                                   edgecolor="white", linewidth=2, gid=f"cell:{c}>{s}"))
            text = ("✓ " if shake.ok else "✗ ") + shake.reason
            ax.text(j + 0.5, i + 0.5, "\n".join(_wrap(text, cell_w - 0.2, FONT["small"])), ha="center",
                    va="center", fontsize=FONT["small"], color=PALETTE["ink"])
    ax.set_xlim(0, len(cols))
    ax.set_ylim(len(rows), 0)
    ax.set_xticks([j + 0.5 for j in range(len(cols))], cols, fontsize=FONT["small"])
    ax.xaxis.tick_top()
    ax.set_yticks([i + 0.5 for i in range(len(rows))], rows, fontsize=FONT["small"])
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    legend = [Patch(facecolor=_tint(HANDSHAKE_COLOURS[True], 0.55), label="✓ got an answer"),
              Patch(facecolor=_tint(HANDSHAKE_COLOURS[False], 0.55), label="✗ refused (why, in the cell)")]
    fig.legend(handles=legend, loc="lower center", ncol=2, fontsize=FONT["small"], frameon=False)
    heading = getattr(matrix, "title", "") or "Which client gets through to which TLS server"
    fig.suptitle(title or f"{heading} · {matrix.backend}", fontsize=FONT["body"])
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def certificate_timeline(timeline: Any) -> Figure:
    """One row per Certificate: a bar for each certificate it was issued (from notBefore to notAfter, labelled with
    its revision and the start of its serial), a diamond at the renewal time cert-manager set, and a dashed line at
    each moment the timeline looked. Days are counted from the first look, so the picture reads the same on every
    run."""
    names = timeline.certificates()
    start = timeline.observed[0][0] if timeline.observed else min(i.not_before for i in timeline.issued.values())

    def day(t: Any) -> float:
        return (t - start).total_seconds() / 86400

    fig, ax = _figure(9.0, 0.9 * max(1, len(names)) + 1.9)
    lanes: dict[str, int] = {}
    for (name, _), got in sorted(timeline.issued.items(), key=lambda kv: (kv[0][0], kv[1].revision)):
        row = names.index(name)
        lane = lanes[name] = lanes.get(name, -1) + 1
        y = row + 0.18 + 0.3 * (lane % 2)
        colour = POD_COLOURS[got.revision % len(POD_COLOURS)]
        ax.barh(y, day(got.not_after) - day(got.not_before), left=day(got.not_before), height=0.26,
                color=_tint(colour, 0.35), edgecolor=colour, gid=f"issued:{name}:{got.revision}")
        ax.text(day(got.not_before) + 0.5, y, f"revision {got.revision} · serial {got.serial[:8]}…", va="center",
                fontsize=FONT["small"], color=PALETTE["ink"])
        if got.renewal is not None:
            ax.plot(day(got.renewal), y, marker="D", color=PALETTE["ink"], markersize=5, gid=f"renewal:{name}")
    for t, label in timeline.observed:
        ax.axvline(day(t), color=PALETTE["muted"], linestyle="--", linewidth=1)
        ax.text(day(t), 1.01, label, ha="center", va="bottom", fontsize=FONT["small"],
                color=PALETTE["muted"], transform=ax.get_xaxis_transform())
    ax.set_yticks([i + 0.33 for i in range(len(names))], names, fontsize=FONT["small"])
    ax.set_ylim(len(names), 0)
    ax.set_xlabel("days from the first look", fontsize=FONT["body"])
    ax.spines[["top", "right"]].set_visible(False)
    from matplotlib.lines import Line2D

    ax.legend(handles=[Line2D([], [], marker="D", color=PALETTE["ink"], linestyle="", label="renewal time"),
                       Line2D([], [], color=PALETTE["muted"], linestyle="--", label="when we looked")],
              fontsize=FONT["small"], loc="lower right", frameon=False)
    ax.set_title(f"Certificates in {timeline.namespace}: validity, renewal, rotation · {timeline.cluster.backend}",
                 fontsize=FONT["body"], pad=18)
    fig.tight_layout()
    return fig


# -- service mesh ---------------------------------------------------------------------------------

def golden_signals(steps: list[tuple[str, list]], backend: str = "") -> Figure:
    """The golden signals of each step of an experiment (``k8snet.mesh.golden`` per step), three panels
    sharing the steps: who got the requests (stacked shares), the success rate, and p95 latency, one line per
    workload in its own colour with a distinct marker, so no panel depends on colour alone."""
    import matplotlib.pyplot as plt

    names = sorted({g.workload for _, rows in steps for g in rows})
    colours = pod_colours(names)
    markers = dict(zip(names, "osD^vP*X", strict=False))
    fig, axes = plt.subplots(3, 1, figsize=(8.0, 6.4), sharex=True)
    plt.close(fig)
    share_ax, ok_ax, lat_ax = axes
    xs = list(range(len(steps)))
    bottoms = [0.0] * len(steps)
    for name in names:
        totals = [sum(g.requests for g in rows) or 1 for _, rows in steps]
        shares = [next((g.requests for g in rows if g.workload == name), 0) / t for (_, rows), t in zip(steps, totals,
                                                                                                    strict=True)]
        share_ax.bar(xs, shares, bottom=bottoms, color=colours[name], edgecolor="white", label=name,
                     gid=f"share:{name}")
        for x, s, b in zip(xs, shares, bottoms, strict=True):
            if s >= 0.08:
                share_ax.text(x, b + s / 2, f"{s:.0%}", ha="center", va="center", fontsize=FONT["small"],
                              color=PALETTE["ink"])
        bottoms = [b + s for b, s in zip(bottoms, shares, strict=True)]
        for ax, attr in ((ok_ax, "success_rate"), (lat_ax, "p95")):
            ys = [next((getattr(g, attr) for g in rows if g.workload == name), None) for _, rows in steps]
            if any(y is not None for y in ys):  # a step without the workload breaks its line (NaN)
                ax.plot(xs, [float("nan") if y is None else y for y in ys], marker=markers[name],
                        color=colours[name], linewidth=1.6, markersize=6, markeredgecolor=PALETTE["ink"],
                        markeredgewidth=0.5, label=name, gid=f"{attr}:{name}")
    share_ax.set_ylabel("share of\nrequests", fontsize=FONT["body"])
    share_ax.set_ylim(0, 1)
    share_ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ok_ax.set_ylabel("success rate\n(non-5xx)", fontsize=FONT["body"])
    ok_ax.set_ylim(-0.05, 1.05)
    ok_ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    lat_ax.set_ylabel("p95 latency\n(ms)", fontsize=FONT["body"])
    lat_ax.set_ylim(bottom=0)
    lat_ax.set_xticks(xs, [label for label, _ in steps], fontsize=FONT["small"])
    for ax in axes:
        ax.tick_params(axis="y", labelsize=FONT["small"])
        ax.grid(axis="y", color="#E5E5E5", linewidth=0.6, zorder=0)
        ax.spines[["top", "right"]].set_visible(False)
    share_ax.legend(fontsize=FONT["small"], frameon=False, ncol=max(1, len(names)), loc="lower center",
                    bbox_to_anchor=(0.5, 1.0))
    fig.suptitle("Golden signals per step, as the waypoint counted them" + (f" · {backend}" if backend else ""),
                 fontsize=FONT["body"])
    fig.tight_layout()
    return fig


def _workload_columns(ax: Axes, columns: list[list[str]], height: float, box_w: float, top: float,
                      chars: int) -> dict[str, tuple[float, float]]:
    """Workloads as boxes in columns across the figure (sources left, destinations right); each box's left edge
    and middle height, by name."""
    where: dict[str, tuple[float, float]] = {}
    box_h = 0.5
    for ci, col in enumerate(columns):
        x = 0.3 + ci * (7.4 - box_w) / max(len(columns) - 1, 1)
        for ri, name in enumerate(col):
            y = height - top - ri * (height - top - 0.3) / max(len(col), 1)
            _box(ax, x, y, box_w, box_h, PALETTE["pod"], gid=f"workload:{name}")
            ax.text(x + box_w / 2, y - box_h / 2, _short(name, chars), ha="center", va="center",
                    fontsize=FONT["small"], color=PALETTE["ink"])
            where[name] = (x, y - box_h / 2)
    return where


def _edge_ends(where: dict[str, tuple[float, float]], edge: Any, box_w: float
               ) -> tuple[tuple[float, float], tuple[float, float]]:
    """Where an arrow leaves its source box and enters its destination's (facing sides when they share a column
    or the arrow goes backwards)."""
    (x1, y1), (x2, y2) = where[edge.source], where[edge.destination]
    if x2 <= x1:
        return (x1, y1), (x2 + box_w, y2)
    return (x1 + box_w, y1), (x2, y2)


def service_graph(edges: list, backend: str = "") -> Figure:
    """Workloads as boxes, connections as arrows labelled with their count; a solid arrow and a lock (🔒 as
    "mTLS") where the connection was mutual TLS, a dashed one where it was plaintext, and a dotted one ending in
    "denied" where an authorization policy closed every connection (the label counts partial denials too)."""
    from matplotlib.patches import FancyArrowPatch

    sources = sorted({e.source for e in edges} - {e.destination for e in edges})
    middle = sorted({e.source for e in edges} & {e.destination for e in edges})
    sinks = sorted({e.destination for e in edges} - {e.source for e in edges})
    columns = [c for c in (sources, middle, sinks) if c]
    height = max(2.4, 0.9 * max((len(c) for c in columns), default=1) + 1.2)
    fig, ax = _canvas(8.0, height)
    box_w = 1.9
    where = _workload_columns(ax, columns, height, box_w, top=0.7, chars=26)
    for e in edges:
        start, end = _edge_ends(where, e, box_w)
        denied = getattr(e, "denied", 0)
        refused = bool(denied) and denied >= e.connections
        colour = "#D55E00" if refused or not e.mtls else PALETTE["worker"]
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, color=colour, linewidth=1.6,
                                     linestyle=":" if refused else "-" if e.mtls else "--",
                                     gid=f"edge:{e.source}>{e.destination}"))
        label = f"{e.connections} conn · " + ("mTLS" if e.mtls else "plaintext")
        if denied:
            label += " · all denied" if refused else f" · {denied} denied"
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.12, label, ha="center", va="bottom",
                fontsize=FONT["small"], color=colour, bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.0})
    ax.text(0.3, height - 0.15, "Who talked to whom, as ztunnel counted the connections"
            + (f" · {backend}" if backend else ""), fontsize=FONT["body"], va="top", color=PALETTE["ink"])
    return fig


def service_map(edges: list, backend: str = "") -> Figure:
    """Hubble's flows as a service map: workloads as boxes, an arrow per source → destination, solid green where
    flows were forwarded, dashed vermillion with ✗ where the policy dropped them, each labelled with its counts
    (``edges`` as :func:`k8snet.cni.hubble.edges` builds them)."""
    from matplotlib.patches import FancyArrowPatch

    names = sorted({e.source for e in edges} | {e.destination for e in edges})
    sources = sorted({e.source for e in edges} - {e.destination for e in edges})
    sinks = sorted(set(names) - set(sources))
    columns = [c for c in (sources, sinks) if c]
    height = max(2.4, 0.9 * max((len(c) for c in columns), default=1) + 1.4)
    fig, ax = _canvas(8.0, height)
    box_w = 2.2
    where = _workload_columns(ax, columns, height, box_w, top=0.8, chars=30)
    for e in edges:
        start, end = _edge_ends(where, e, box_w)
        dropped = e.dropped and not e.forwarded
        colour = "#D55E00" if e.dropped else PALETTE["worker"]
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, color=colour, linewidth=1.6,
                                     linestyle="--" if dropped else "-", gid=f"edge:{e.source}>{e.destination}"))
        parts = [f"{e.forwarded} forwarded"] if e.forwarded else []
        parts += [f"✗ {e.dropped} dropped"] if e.dropped else []
        label = f":{e.port} " + " · ".join(parts)
        t = 0.3 if len(edges) > 1 else 0.5  # near the source, where arrows from different sources do not cross
        ax.text(start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1]), label, ha="center",
                va="center", fontsize=FONT["small"], color=colour,
                bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.9})
    ax.text(0.3, height - 0.15, "Who talked to whom, as Hubble saw the flows (dashed: Policy denied)"
            + (f" · {backend}" if backend else ""), fontsize=FONT["body"], va="top", color=PALETTE["ink"])
    return fig


# -- a packet's path through the CNI plugin's wiring --------------------------------------------------------------

WIRE_TITLES = {"local": "no wire: one node", "direct": "the wire: direct routing on the nodes' network",
               "ipip": "the wire: an IP-in-IP tunnel", "vxlan": "the wire: a VXLAN tunnel"}
PATH_COLOURS = {"pod": PALETTE["pod"], "veth": PALETTE["network"], "route": PALETTE["worker"],
                "wire": PALETTE["control_plane"]}


def packet_path(path: Any) -> Figure:
    """A packet's way from one pod to another (:func:`k8snet.cni.wiring.path`): down the source's column (the pod's
    eth0 and route, the host side of its veth, the node's routing decision), across the wire (direct routing, or a
    tunnel drawn dashed with its outer addresses and MTU), and up the target's column to its pod; on one node both
    columns sit in one node. Each traceroute hop is noted on the box whose address answered it (``*``: on the
    source node's decision, where the probe died unanswered) and listed under the picture.

    Artists carry gids for tests: ``node:NAME``, ``box:pod-a|veth-a|route-a|pod-b|veth-b|route-b`` with
    ``box-text:…``, ``wire:KIND`` with ``wire-text``, ``arrow:I``, ``hop:TTL`` (the list) and ``badge:TTL``.
    """
    from matplotlib.patches import FancyArrowPatch

    s, t, w = path.source, path.target, path.wire
    margin, col_w, pad, gap = 0.2, 3.3, 0.1, 0.32
    text_w = col_w - 2 * pad
    line = FONT["body"] * 1.35 / 72
    lefts = (margin + 0.15, TRACE_W - margin - 0.15 - col_w)

    def lines(title: str, body: list[str], width: float = text_w) -> list[tuple[str, str]]:
        """(line, style): the bold title, then the body, wrapped between words."""
        out = [(row, "title") for row in _wrap(title, width, FONT["body"], bold=True)]
        return out + [(row, "body") for text in body for row in _wrap(text, width, FONT["body"])]

    def veth(end: Any) -> list[str]:
        side = end.host_side
        return ([f"{side.name} · ifindex {side.index} · mtu {side.mtu}"] if side
                else ["not found on the node (no paired link, no /32 route)"])

    badges: dict[str, list[str]] = {}
    for hop in path.hops:  # on the box whose address answered; * where the probe died: the source node
        who = hop.who or ""
        slot = ("pod-b" if who.startswith("pod ") else
                "veth-a" if s.host_side and who == f"{s.node} {s.host_side.name}" else
                "route-b" if who.startswith(f"{t.node} ") and not path.same_node else "route-a")
        badges.setdefault(slot, []).append(f"traceroute hop {hop.ttl}: {hop.address or '* (no answer)'}")
    contents = {
        "pod-a": ("pod", f"pod {s.pod}", [f"{s.eth0.name} {s.eth0.address} · mtu {s.eth0.mtu}",
                                          f"route: {path.pod_route.short}"]),
        "veth-a": ("veth", "host side of its veth", veth(s)),
        "route-a": ("route", f"{s.node} routes it", [path.node_route.short]),
        "pod-b": ("pod", f"pod {t.pod}", [f"{t.eth0.name} {t.eth0.address} · mtu {t.eth0.mtu}"]),
        "veth-b": ("veth", "host side of its veth", veth(t)),
        "route-b": (("route", f"{t.node} routes it", [path.delivery.short]) if not path.same_node else
                    ("wire", WIRE_TITLES["local"], [f"the node delivers it to {w.device}, the host side of the "
                                                    f"target's veth ({path.delivery.short})"])),
    }
    boxes = {name: (kind, lines(title, body) + [(b, "badge") for b in badges.get(name, [])])
             for name, (kind, title, body) in contents.items()}
    order = [("pod-a", "pod-b"), ("veth-a", "veth-b"), ("route-a", "route-b")]
    heights = [max(len(boxes[a][1]), len(boxes[b][1])) * line + 2 * pad for a, b in order]
    wire_w = TRACE_W - 2 * margin - 2 * pad
    wire_lines = [] if path.same_node else lines(WIRE_TITLES.get(w.kind, w.kind), [path.wire_detail], wire_w)
    wire_h = len(wire_lines) * line + 2 * pad if wire_lines else 0
    hop_lines = [f"{h.ttl:>2}  {h.address or '*':<15}  {h.who}" for h in path.hops] or [" no hops printed"]
    heading = _wrap(f"A packet from {s.pod} to {t.pod} · {path.plugin_title} · {path.backend}",
                    TRACE_W - 2 * margin, FONT["heading"], bold=True)
    head_h = 0.2 + len(heading) * FONT["heading"] * 1.3 / 72
    node_head = 0.32
    nodes_h = node_head + sum(heights) + gap * (len(order) - 1) + 0.15
    hops_h = 0.3 + len(hop_lines) * FONT["small"] * 1.4 / 72
    height = head_h + nodes_h + (gap + wire_h if wire_h else 0) + 0.2 + hops_h + margin
    fig, ax = _canvas(TRACE_W, height)
    ax.text(margin, height - 0.12, "\n".join(heading), fontsize=FONT["heading"], fontweight="bold", va="top",
            color=PALETTE["ink"], linespacing=1.3, gid="title")
    top = height - head_h
    outlines = ([(margin, TRACE_W - 2 * margin, s)] if path.same_node else
                [(lefts[0] - 0.15, col_w + 0.3, s), (lefts[1] - 0.15, col_w + 0.3, t)])
    for x, width, end in outlines:
        _box(ax, x, top, width, nodes_h, PALETTE["worker"], gid=f"node:{end.node}", fill=0.95)
        ax.text(x + 0.12, top - 0.16, f"node {end.node} · {end.node_ip}", fontsize=FONT["body"],
                fontweight="bold", color=PALETTE["worker"], va="center")
    where: dict[str, tuple[float, float, float]] = {}  # box: left, top, height
    y = top - node_head
    for (a, b), h in zip(order, heights, strict=True):
        for name, x in ((a, lefts[0]), (b, lefts[1])):
            kind, rows = boxes[name]
            _box(ax, x, y, col_w, h, PATH_COLOURS[kind], gid=f"box:{name}", dashed=kind == "wire" and w.encapsulated)
            for k, (row, style) in enumerate(rows):
                gid = (f"badge:{row.split(':')[0].rsplit(' ', 1)[-1]}" if style == "badge"
                       else f"box-text:{name}:{k}")
                ax.text(x + pad, y - pad - k * line, ("▸ " if style == "badge" else "") + row, va="top",
                        fontsize=FONT["body"], fontweight="normal" if style == "body" else "bold", gid=gid,
                        color=PALETTE["muted"] if style == "badge" else PALETTE["ink"])
            where[name] = (x, y, h)
        y -= h + gap
    arrows: list[tuple[tuple[float, float], tuple[float, float]]] = []

    def centre(name: str, edge: str) -> tuple[float, float]:
        x, y0, h = where[name]
        return (x + col_w / 2, y0 if edge == "top" else y0 - h)

    arrows += [(centre("pod-a", "bottom"), centre("veth-a", "top")),
               (centre("veth-a", "bottom"), centre("route-a", "top"))]
    if path.same_node:
        xa, ya, ha = where["route-a"]
        xb, yb, hb = where["route-b"]
        arrows.append(((xa + col_w, ya - ha / 2), (xb, yb - hb / 2)))
    else:
        wire_top = top - nodes_h - gap
        x0, x1 = lefts[0], lefts[1] + col_w
        _box(ax, x0 - 0.15, wire_top, x1 - x0 + 0.3, wire_h, PATH_COLOURS["wire"], gid=f"wire:{w.kind}",
             dashed=w.encapsulated, lw=2.2 if w.encapsulated else 1.4)
        for k, (row, style) in enumerate(wire_lines):
            ax.text(x0, wire_top - pad - k * line, row, fontsize=FONT["body"], va="top", color=PALETTE["ink"],
                    fontweight="bold" if style == "title" else "normal", gid=f"wire-text:{k}")
        ra, rb = centre("route-a", "bottom"), centre("route-b", "bottom")
        arrows += [(ra, (ra[0], wire_top)), ((rb[0], wire_top), rb)]
    arrows += [(centre("route-b", "top"), centre("veth-b", "bottom")),
               (centre("veth-b", "top"), centre("pod-b", "bottom"))]
    for i, (start, end) in enumerate(arrows):
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, color=PALETTE["ink"],
                                     linewidth=1.4, shrinkA=1, shrinkB=1, gid=f"arrow:{i}"))
    hops_top = margin + hops_h
    ax.text(margin, hops_top, f"traceroute -n -q 1 -w 1 {t.ip}  (from {s.pod})", fontsize=FONT["small"],
            fontweight="bold", va="top", color=PALETTE["ink"], gid="hops-title")
    for k, (row, hop) in enumerate(zip(hop_lines, path.hops or [None], strict=True)):
        ax.text(margin, hops_top - 0.2 - k * FONT["small"] * 1.4 / 72, row, fontsize=FONT["small"],
                family="monospace", va="top", color=PALETTE["ink"], gid=f"hop:{hop.ttl}" if hop else "hop:none")
    return fig

