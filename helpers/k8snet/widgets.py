"""ipywidgets panels built on the traffic helpers and the plots.

:func:`policy_panel` puts one checkbox per NetworkPolicy next to a measured
connectivity heatmap: ticking a box applies the policy through the API
(server-side apply), unticking deletes it, and the matrix is measured again
with real probes (``policy.measure``) and redrawn. Everything the panel shows
is also reachable from code (``panel.set``, ``panel.state``, ``panel.matrix``,
``panel.figure``), so nbval and the tests drive it without a browser, and the
redraw never depends on timing: the figure is rendered to PNG and written into
the ``Output`` widget's outputs directly, not captured from a kernel message.
"""

from __future__ import annotations

import base64
import html
import io
import json
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as w
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from . import policy
from .netpol import INGRESS, policy_types
from .sandbox.selectors import selector_string

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .cluster import Cluster

Obj = dict[str, Any]
API_VERSION = "networking.k8s.io/v1"


def describe_policy(p: Obj) -> str:
    """One line for a NetworkPolicy: which pods it selects and what each direction allows.

    Example:
        >>> describe_policy({"metadata": {"name": "d", "namespace": "x"}, "spec": {"podSelector": {}}})
        'every pod: deny all ingress'
    """
    spec = p.get("spec") or {}
    sel = selector_string(spec.get("podSelector") or {})
    parts = []
    for kind in policy_types(p):
        rules = spec.get(kind.lower()) or []
        word = kind.lower()
        if not rules:
            parts.append(f"deny all {word}")
        elif any(not (r.get("from" if kind == INGRESS else "to") or r.get("ports")) for r in rules):
            parts.append(f"allow all {word}")
        else:
            peers = " or ".join(_short_peer(peer) for r in rules for peer in r.get("from" if kind == INGRESS
                                                                                   else "to") or [])
            ports = ",".join(_short_port(port) for r in rules for port in r.get("ports") or [])
            direction = "from" if kind == INGRESS else "to"
            parts.append(f"allow {word}" + (f" {direction} {peers}" if peers else "")
                         + (f" on {ports}" if ports else ""))
    return f"{'pods ' + sel if sel else 'every pod'}: {'; '.join(parts)}"


def _short_peer(peer: Obj) -> str:
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        return f"{block.get('cidr')}" + (f" except {','.join(block['except'])}" if block.get("except") else "")
    ns, pods = peer.get("namespaceSelector"), peer.get("podSelector")
    words = []
    if ns is not None:
        words.append(f"ns {{{selector_string(ns)}}}" if selector_string(ns) else "all namespaces")
    if pods is not None:
        words.append(f"pods {{{selector_string(pods)}}}" if selector_string(pods) else "all pods")
    return " & ".join(words)


def _short_port(port: Obj) -> str:
    number = port.get("port", "any")
    end = f"-{port['endPort']}" if port.get("endPort") is not None else ""
    proto = port.get("protocol") or "TCP"
    return f"{number}{end}" + ("" if proto == "TCP" else f"/{proto}")


def _error_text(exc: Exception) -> str:
    """An API error as kubectl prints it (``Error from server (NotFound): namespaces "x" not found``)."""
    if isinstance(exc, ApiException) and exc.body:
        try:
            status = json.loads(exc.body)
            return f"Error from server ({status.get('reason') or exc.reason}): {status['message']}"
        except (ValueError, KeyError, TypeError):
            pass
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _namespace_gone(exc: Exception) -> bool:
    """A 404 about a namespace: the objects the panel works on were deleted, not the panel's fault."""
    return isinstance(exc, ApiException) and exc.status == 404 and "namespaces" in (exc.body or "")


def _key(p: Obj) -> str:
    meta = p.get("metadata") or {}
    if p.get("kind") != "NetworkPolicy" or not meta.get("name"):
        raise ValueError(f"policy_panel takes NetworkPolicy manifests with metadata.name; got kind "
                         f"{p.get('kind')!r} named {meta.get('name')!r}")
    return f"{meta.get('namespace') or 'default'}/{meta['name']}"


class PolicyPanel:
    """Checkboxes that apply and delete NetworkPolicies, and the measured matrix they lead to.

    ``settle`` (seconds) is how long a measurement that disagrees with the
    policies' prediction is repeated before it is shown: a real CNI programs
    its rules a moment after the API accepts a policy. The sandbox enforces a
    policy as soon as it is stored, so there it is 0 and the panel measures once.
    """

    def __init__(self, cluster: Cluster, policies: Sequence[Obj], sources: Sequence[str], targets: Sequence[str],
                 ports: Iterable[int] = (80,), protocols: Iterable[str] = ("TCP",),
                 expected: policy.Matrix | None = None, settle: float | None = None):
        self.cluster = cluster
        self.policies: dict[str, Obj] = {}
        for p in policies:
            key = _key(p)
            if key in self.policies:
                raise ValueError(f"policy {key} is given twice")
            self.policies[key] = p
        self.sources, self.targets = list(sources), list(targets)
        self.ports, self.protocols = [int(p) for p in ports], [p.upper() for p in protocols]
        self.expected = expected
        self.settle = settle if settle is not None else (0.0 if cluster.backend == "sandbox" else 10.0)
        self.matrix: policy.Matrix | None = None
        self.predicted: policy.Matrix | None = None
        self.figure: Figure | None = None
        self.error = ""
        self._state = {k: self._exists(k) for k in self.policies}
        self._syncing = False
        self.toggles: dict[str, w.Checkbox] = {}
        for key, p in self.policies.items():
            box = w.Checkbox(value=self._state[key], description=f"{key} — {describe_policy(p)}", indent=False,
                             layout=w.Layout(width="100%"))
            box.observe(self._toggled, names="value")
            self.toggles[key] = box
        self.status = w.HTML()
        self.output = w.Output()
        self.widget = w.VBox([*self.toggles.values(), self.status, self.output])
        self.refresh()

    # -- the programmatic API --------------------------------------------------------------------

    @property
    def state(self) -> dict[str, bool]:
        """Which policies are on (applied), by ``namespace/name``, in the order given."""
        return dict(self._state)

    def set(self, key: str, on: bool) -> policy.Matrix:
        """Apply (``on``) or delete one policy, then measure and redraw; returns the new matrix."""
        if key not in self.policies:
            raise KeyError(f"policy {key!r} is not on this panel; it has: {', '.join(self.policies)}")
        ns, name = key.split("/", 1)
        if on:
            self.cluster.apply(self.policies[key])
        else:
            self.cluster.delete("NetworkPolicy", name, ns, api_version=API_VERSION, wait=True)
        self._state[key] = bool(on)
        self._syncing = True
        try:
            self.toggles[key].value = bool(on)
        finally:
            self._syncing = False
        return self.refresh()

    def refresh(self) -> policy.Matrix:
        """Measure the matrix again and redraw the heatmap and the status line."""
        self.error = ""
        self.predicted = policy.predict(self.cluster, self.sources, self.targets, self.ports, self.protocols)
        deadline = time.monotonic() + self.settle
        while True:
            self.matrix = policy.measure(self.cluster, self.sources, self.targets, self.ports, self.protocols)
            if self.matrix.compare(self.predicted).ok or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        self.figure = self.matrix.plot(self.expected)
        self._render()
        return self.matrix

    def status_line(self) -> str:
        """``3 policies on · 7 wrong, 74 correct``: the same words the status widget shows."""
        on = sum(self._state.values())
        parts = [f"{on} polic{'y' if on == 1 else 'ies'} on"]
        m = self.matrix
        if m is not None:
            if self.expected is not None:
                parts.append(str(m.compare(self.expected)).splitlines()[0])
            else:
                allowed = sum(1 for c in m.cells.values() if c.allowed)
                parts.append(f"{allowed} of {len(m.cells)} probes connected")
            if self.predicted is not None:
                off = len(m.compare(self.predicted))
                if off:
                    parts.append(f"{off} cell{'s' if off != 1 else ''} differ from what the policies call for "
                                 "(are policies enforced? run policy.enforcement_check)")
        if self.error:
            parts.append(self.error)
        return " · ".join(parts)

    # -- widget plumbing ----------------------------------------------------------------------------

    def _exists(self, key: str) -> bool:
        ns, name = key.split("/", 1)
        try:
            client.NetworkingV1Api(self.cluster.api).read_namespaced_network_policy(name, ns)
            return True
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise

    def _toggled(self, change: dict) -> None:
        if self._syncing:
            return
        key = next(k for k, box in self.toggles.items() if box is change["owner"])
        try:
            self.set(key, change["new"])
        except Exception as exc:  # shown in the panel: a callback's exception would go to the browser console
            self._syncing = True
            try:
                self.toggles[key].value = self._state[key]
            finally:
                self._syncing = False
            self.error = f"could not {'apply' if change['new'] else 'delete'} {key}: {_error_text(exc)}"
            if _namespace_gone(exc):
                self.error += (" — the namespace does not exist (a notebook's clean-up deletes its namespaces at "
                               "the end): run the notebook again from the top to recreate them")
            self._render()

    def _render(self) -> None:
        colour = "#D55E00" if self.error else "inherit"
        self.status.value = f'<span style="color:{colour}">{html.escape(self.status_line())}</span>'
        if self.figure is None:
            return
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", bbox_inches="tight")
        self.output.outputs = ({"output_type": "display_data",
                                "data": {"image/png": base64.b64encode(buf.getvalue()).decode(),
                                         "text/plain": f"<Figure: {self.status_line()}>"},
                                "metadata": {}},)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data = self.widget._repr_mimebundle_(**kwargs) or {}
        data = dict(data)
        data["text/plain"] = repr(self)
        return data

    def __repr__(self) -> str:
        boxes = "\n".join(f"[{'x' if self._state[k] else ' '}] {k} — {describe_policy(p)}"
                          for k, p in self.policies.items())
        return f"{boxes}\n{self.status_line()}"


class Prediction:
    """Predict, then run: a question with choices to pick before an experiment, answered by its measurement.

    The choices are buttons while the kernel runs and plain text in the saved notebook; ``reveal`` prints the
    pick beside what was measured, so the lesson reads the same whether or not anyone picked.
    """

    def __init__(self, question: str, choices: Sequence[str]):
        if len(choices) < 2:
            raise ValueError("a prediction needs at least two choices")
        self.question, self.choices = question, list(choices)
        self.verdict = ""
        self.buttons = w.RadioButtons(options=self.choices, value=None, layout=w.Layout(width="100%"))

    @property
    def picked(self) -> str | None:
        return self.buttons.value

    def reveal(self, measured: str, why: str = "") -> None:
        """Print the pick beside the choice the measurement bears out (kept in ``verdict``)."""
        if measured not in self.choices:
            raise ValueError(f"{measured!r} is not one of the choices: {self.choices}")
        if self.picked is None:
            verdict = f"The measurement says: {measured}."
        elif self.picked == measured:
            verdict = f"You predicted {self.picked!r}, and so it is."
        else:
            verdict = f"You predicted {self.picked!r}; the measurement says: {measured}."
        self.verdict = verdict + (f" {why}" if why else "")
        print(self.verdict)

    def _ipython_display_(self) -> None:
        """The question and its choices as text (what a saved notebook shows), then buttons to pick one."""
        from IPython.display import display

        print(repr(self))
        display(self.buttons)

    def __repr__(self) -> str:
        return "Predict, then run: " + self.question + "\n" + "\n".join(
            f"  ({chr(97 + i)}) {c}" for i, c in enumerate(self.choices))


def predict(question: str, choices: Sequence[str]) -> Prediction:
    """A prediction prompt to answer before the next experiment.

    Example:
        >>> guess = widgets.predict("60 requests to 3 pods: how many reach each?", ["exactly 20", "about 20"])
        >>> guess                                              # the choices
        >>> guess.reveal("about 20", "each connection is an independent draw")
    """
    return Prediction(question, choices)


def policy_panel(cluster: Cluster, policies: Sequence[Obj], sources: Sequence[str], targets: Sequence[str],
                 ports: Iterable[int] = (80,), protocols: Iterable[str] = ("TCP",),
                 expected: policy.Matrix | None = None, settle: float | None = None) -> PolicyPanel:
    """A panel with one checkbox per policy: ticking applies it, unticking deletes it, and the matrix is redrawn.

    The boxes start as the cluster is (a policy that exists is ticked).
    With ``expected``, wrong cells are framed and counted in the status
    line ("2 policies on · 0 wrong, 81 correct").

    Example:
        >>> panel = widgets.policy_panel(cluster, [deny, allow_cart], ALL, ALL, ports=[8080], expected=want)
        >>> panel                                   # the checkboxes, the status line and the heatmap
        >>> panel.set("payments/default-deny", True)  # what ticking the box does
    """
    return PolicyPanel(cluster, policies, sources, targets, ports, protocols, expected, settle)


__all__ = ["PolicyPanel", "Prediction", "describe_policy", "policy_panel", "predict"]
