"""The Cluster facade: a backend's cluster through kubeconfig, and kubectl's verbs.

Only lifecycle differs between backends (``connection.connect`` starts them); everything else goes through the
Kubernetes API with the official client (server-side apply, get, watch), so
the code CI runs against the sandbox is the code that drives kind.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config, dynamic
from kubernetes.client.exceptions import ApiException

from . import clusterset, durations, kubeconfig

BACKENDS = ("sandbox", "kind")
CONTEXTS = {"sandbox": "k8snet-sandbox", "kind": "kind-k8snet"}
"""The default cluster's context per backend (a named member's: :func:`k8snet.clusterset.context`)."""
FIELD_MANAGER = "k8snet"


class ConnectError(RuntimeError):
    """No cluster to talk to, with what to do about it."""


def choose_backend(backend: str | None = None) -> str:
    """The backend: the argument, else ``$K8SNET_BACKEND``, else the sandbox."""
    chosen = (backend or os.environ.get("K8SNET_BACKEND") or "sandbox").lower()
    if chosen not in BACKENDS:
        raise ConnectError(f"unknown backend {chosen!r}: choose one of {', '.join(BACKENDS)}")
    return chosen


def open_cluster(backend: str, name: str | None = None) -> Cluster:
    """The backend's cluster (the member ``name`` of the cluster set, else the default one) through its kubeconfig
    context, starting nothing (``connection.connect`` starts a missing one); ConnectError when the context is not
    there."""
    name = name or clusterset.DEFAULT_NAME
    context = clusterset.context(name, backend)
    flag = "" if name == clusterset.DEFAULT_NAME else f" --name {name}"
    if kubeconfig.context(context) is None:
        if backend == "sandbox":
            raise ConnectError(f"no sandbox{flag and ' ' + name} is running: start it with `k8snet sandbox up{flag}`")
        raise ConnectError(f"no kind cluster named {name}: create it with `k8snet kind up{flag}` (needs Docker and "
                           "kind)")
    api = config.new_client_from_config(config_file=str(kubeconfig.path()), context=context)
    return Cluster(backend, context, api, name=name)


@dataclass
class Cluster:
    """A connected cluster: typed and dynamic clients plus kubectl-style verbs."""

    backend: str
    context: str
    api: client.ApiClient
    name: str = clusterset.DEFAULT_NAME
    """The cluster's name in its set (``k8snet``, or the ``--name`` it was started with): its nodes are
    ``<name>-control-plane``, ``<name>-worker``, ``<name>-worker2``."""
    show_kubectl: bool = field(default_factory=lambda: os.environ.get("K8SNET_SHOW_KUBECTL") == "1")
    """Print the kubectl command each change is equivalent to (``cluster.show_kubectl = True``)."""

    def __post_init__(self) -> None:
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.dynamic = dynamic.DynamicClient(self.api)

    def __repr__(self) -> str:
        named = f" name={self.name}" if self.name != clusterset.DEFAULT_NAME else ""
        return f"<Cluster backend={self.backend}{named} context={self.context} server={self.api.configuration.host}>"

    def edge_ports(self) -> tuple[int, int]:
        """The ingress edge's (http, https) ports on 127.0.0.1: what the sandbox listens on (a named member's own
        pair unless it was started with others, :func:`k8snet.clusterset.edge_ports`), what kind maps."""
        if self.backend == "sandbox":
            edge = self._admin("GET", "status").get("edge") or {}
            if edge.get("http"):
                return edge["http"], edge["https"]
        if self.name != clusterset.DEFAULT_NAME:
            return clusterset.edge_ports(self.name)
        from . import pins

        return pins.edge_ports()

    # -- facts -----------------------------------------------------------------------

    def version(self) -> str:
        return client.VersionApi(self.api).get_code().git_version

    def nodes(self) -> list[client.V1Node]:
        return self.core.list_node().items

    def namespaces(self) -> list[str]:
        return [ns.metadata.name for ns in self.core.list_namespace().items]

    # -- the clock -------------------------------------------------------------------

    def clock(self) -> dt.datetime:
        """The cluster's time: the sandbox's clock (which :meth:`advance_clock` moves), the host's on kind."""
        if self.backend != "sandbox":
            return dt.datetime.now(dt.UTC).replace(microsecond=0)
        now = self._admin("GET", "status")["now"]
        return dt.datetime.strptime(now, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)

    def advance_clock(self, duration: str | float) -> dt.datetime:
        """Move the sandbox's clock forward by a Go duration (``"1440h"``, ``"90m"``) or a number of seconds, as
        ``k8snet sandbox clock advance`` does; timers on the clock (certificate renewals, probes, token expiry)
        fire as if that time had passed. Returns the new time.

        Raises:
            ValueError: a duration Go would not parse, or a negative one.
            RuntimeError: on kind, whose clock is the host's and cannot be moved.

        Example:
            >>> cluster.advance_clock("1441h")   # past a 90-day certificate's renewal time
        """
        seconds = durations.parse(duration) if isinstance(duration, str) else float(duration)
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        if self.backend != "sandbox":
            raise RuntimeError(f"the {self.backend} cluster's clock is the host's: it cannot be advanced (only the "
                               "sandbox's can); wait, or use a shorter certificate duration there")
        now = self._admin("POST", "clock", {"advance": seconds})["now"]
        return dt.datetime.strptime(now, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)

    def _admin(self, method: str, action: str, body: dict | None = None) -> dict[str, Any]:
        """Call the sandbox's admin endpoint over this cluster's connection (its server and token)."""
        cfg = self.api.configuration
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   **{a["key"]: a["value"] for a in cfg.auth_settings().values() if a.get("in") == "header"}}
        response = self.api.call_api(method, f"{cfg.host}/k8snet/admin/{action}", headers, body)
        raw = response.read() if hasattr(response, "read") else response.data
        answer = json.loads(raw or b"{}")
        if response.status >= 400:
            raise ValueError(answer.get("message") or f"the sandbox answered HTTP {response.status}")
        return answer

    # -- verbs -----------------------------------------------------------------------

    def _resource(self, api_version: str, kind: str):
        return self.dynamic.resources.get(api_version=api_version, kind=kind)

    def apply(self, manifests: str | Path | dict | Iterable[dict], namespace: str | None = None,
              force: bool = True) -> Applied:
        """Server-side apply YAML text, a file, a directory or dicts; returns the applied objects."""
        out = Applied()
        for obj in load_manifests(manifests):
            res = self._resource(obj["apiVersion"], obj["kind"])
            ns = obj.get("metadata", {}).get("namespace") or (namespace if res.namespaced else None)
            if res.namespaced and not ns:
                ns = "default"
            if self.show_kubectl:
                print(f"$ {kubectl_apply(obj, ns)}")
            applied = res.server_side_apply(body=obj, name=obj["metadata"]["name"], namespace=ns,
                                            field_manager=FIELD_MANAGER, force_conflicts=force)
            out.append(applied.to_dict())
            if self.backend == "sandbox":
                warn_not_emulated(obj)
        return out

    def get(self, kind: str, name: str | None = None, namespace: str | None = None,
            api_version: str = "v1", **selectors: str) -> Any:
        """Get one object, or list them (``label_selector=``, ``field_selector=``)."""
        res = self._resource(api_version, kind)
        if name:
            return res.get(name=name, namespace=namespace).to_dict()
        return [i.to_dict() for i in res.get(namespace=namespace, **selectors).items]

    def find(self, kind: str, name: str, namespace: str | None = None, api_version: str = "v1") -> dict[str, Any] | None:
        """One object, or None when it does not exist (a 404; any other error is raised)."""
        try:
            return self.get(kind, name, namespace, api_version=api_version)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def delete(self, kind: str, name: str, namespace: str | None = None, api_version: str = "v1",
               wait: bool = False, timeout: float = 60) -> None:
        """Delete an object (absent is fine); with ``wait``, until it is gone."""
        res = self._resource(api_version, kind)
        if self.show_kubectl:
            print(f"$ {kubectl_delete(kind, api_version, name, namespace, wait)}")
        try:
            res.delete(name=name, namespace=namespace, body={"propagationPolicy": "Background"})
        except ApiException as exc:
            if exc.status != 404:
                raise
        if wait:
            self.wait_gone(kind, name, namespace, api_version, timeout)

    def recreate_namespace(self, name: str, timeout: float = 120) -> None:
        """Delete the namespace if it exists (waiting until it is gone), then create it empty."""
        self.delete("Namespace", name, wait=True, timeout=timeout)
        self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def wait_gone(self, kind: str, name: str, namespace: str | None = None, api_version: str = "v1",
                  timeout: float = 60) -> None:
        res = self._resource(api_version, kind)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                res.get(name=name, namespace=namespace)
            except ApiException as exc:
                if exc.status == 404:
                    return
                raise
            time.sleep(0.05)
        raise TimeoutError(f"{kind} {namespace + '/' if namespace else ''}{name} still exists after {timeout:.0f}s")

    def wait_for(self, kind: str, name: str, namespace: str | None = None, api_version: str = "v1",
                 condition: str | Callable[[dict[str, Any]], Any] = "Ready", timeout: float = 120) -> dict[str, Any]:
        """Wait until an object exists and meets ``condition``: the type of a status condition that must be
        ``True`` (what ``kubectl wait --for=condition=Ready`` checks), or a function of the object. Returns it.

        Example:
            >>> cluster.wait_for("Certificate", "web", "shop", api_version="cert-manager.io/v1")
        """
        res = self._resource(api_version, kind)
        check = condition if callable(condition) else lambda obj: any(
            c.get("type") == condition and c.get("status") == "True"
            for c in (obj.get("status") or {}).get("conditions") or [])
        deadline = time.monotonic() + timeout
        last: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            try:
                last = res.get(name=name, namespace=namespace).to_dict()
            except ApiException as exc:
                if exc.status != 404:
                    raise
            if last is not None and check(last):
                return last
            time.sleep(0.05)
        where = f"{kind} {namespace + '/' if namespace else ''}{name}"
        seen = "it does not exist" if last is None else "its conditions: " + "; ".join(
            f"{c.get('type')}={c.get('status')} ({c.get('reason', '')}: {c.get('message', '')})"
            for c in (last.get("status") or {}).get("conditions") or []) or "no conditions"
        wanted = f"condition {condition}=True" if isinstance(condition, str) else "the condition"
        raise TimeoutError(f"{where} did not reach {wanted} within {timeout:.0f}s; {seen}")

    def let_time_pass(self, duration: str | float, longest_real_wait: float = 300) -> None:
        """Let ``duration`` pass for the cluster (a Go duration such as ``"2m"``, or seconds): the sandbox moves
        its clock (:meth:`advance_clock`), so a lesson need not sit through a kubelet sync; kind's clock is the
        host's, so there it waits for real, up to ``longest_real_wait`` seconds.

        Raises:
            RuntimeError: on kind, a wait longer than ``longest_real_wait`` (renew a certificate with
                ``certs.renew`` there instead of waiting for its renewal time).
        """
        seconds = durations.parse(duration) if isinstance(duration, str) else float(duration)
        if self.backend == "sandbox":
            self.advance_clock(seconds)
            return
        if seconds > longest_real_wait:
            raise RuntimeError(f"the {self.backend} cluster's clock is the host's: letting {duration} pass would "
                               f"mean waiting that long (more than {longest_real_wait:.0f}s)")
        time.sleep(seconds)

    def wait_ready(self, deployment: str, namespace: str = "default", timeout: float = 120) -> dict[str, Any]:
        """Wait until a Deployment's rollout is complete (what ``kubectl rollout status`` checks)."""
        deadline = time.monotonic() + timeout
        last = None
        d = self.apps.read_namespaced_deployment(deployment, namespace)
        with progress(f"deployment {deployment}", total=_replicas(d)) as bar:
            while time.monotonic() < deadline:
                d = self.apps.read_namespaced_deployment(deployment, namespace)
                last = d.status
                want = _replicas(d)
                st = d.status
                advance(bar, st.available_replicas or 0, want)
                if ((st.observed_generation or 0) >= (d.metadata.generation or 0)
                        and (st.updated_replicas or 0) == want and (st.replicas or 0) == want
                        and (st.available_replicas or 0) == want):
                    return d.to_dict()
                time.sleep(0.05)
        raise TimeoutError(f"deployment {namespace}/{deployment} not ready after {timeout:.0f}s: "
                           f"{(last.ready_replicas or 0) if last else 0} of the desired replicas ready")

    def wait_pod_ready(self, name: str, namespace: str = "default", timeout: float = 120) -> dict[str, Any]:
        """Wait until a pod is Running with its Ready condition True."""
        deadline = time.monotonic() + timeout
        phase = "unknown"
        with progress(f"pod {name}", total=1) as bar:
            while time.monotonic() < deadline:
                try:
                    pod = self.core.read_namespaced_pod(name, namespace)
                except ApiException as exc:
                    if exc.status != 404:
                        raise
                    time.sleep(0.05)
                    continue
                phase = pod.status.phase
                ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
                if phase == "Running" and ready:
                    advance(bar, 1, 1)
                    return pod.to_dict()
                advance(bar, 0, 1)
                time.sleep(0.05)
        raise TimeoutError(f"pod {namespace}/{name} not ready after {timeout:.0f}s (phase {phase})")


def pod_images(obj: dict[str, Any]) -> list[str]:
    """Container images of a Pod or of a workload's pod template."""
    spec = obj.get("spec") or {}
    pod_spec = spec if obj.get("kind") == "Pod" else (spec.get("template") or {}).get("spec") or {}
    return [c.get("image", "") for c in pod_spec.get("containers") or []]


def warn_not_emulated(obj: dict[str, Any]) -> None:
    """Say plainly when the sandbox will run a pod whose image it does not emulate."""
    from .sandbox.dataplane.workloads import image_family

    for image in pod_images(obj):
        if image and image_family(image) is None:
            print(f"note: the sandbox does not emulate {image!r}: {obj['kind']} {obj['metadata']['name']} gets "
                  "Running pods with IPs, but nothing answers on their ports and exec runs none of its programs. "
                  f"Emulated: {', '.join(emulated_images())}.")


def _kubectl_type(kind: str, api_version: str) -> str:
    """The resource as kubectl names it in a command: ``deployment.apps``, ``service``, ``ingress.networking.k8s.io``."""
    group = api_version.split("/")[0] if "/" in api_version else ""
    return kind.lower() + (f".{group}" if group else "")


def kubectl_apply(obj: dict[str, Any], namespace: str | None) -> str:
    """The kubectl command a helper's apply of ``obj`` is equivalent to (the manifest on stdin)."""
    ns = f" -n {namespace}" if namespace else ""
    return (f"kubectl apply --server-side --force-conflicts --field-manager={FIELD_MANAGER}{ns} -f -   "
            f"# {_kubectl_type(obj['kind'], obj['apiVersion'])}/{obj['metadata']['name']}")


def kubectl_delete(kind: str, api_version: str, name: str, namespace: str | None, wait: bool) -> str:
    """The kubectl command a helper's delete is equivalent to."""
    ns = f" -n {namespace}" if namespace else ""
    return (f"kubectl delete {_kubectl_type(kind, api_version)} {name}{ns} --ignore-not-found "
            f"--cascade=background --wait={'true' if wait else 'false'}")


def emulated_images() -> list[str]:
    """The image names the sandbox emulates, as its table lists them."""
    from .sandbox.dataplane.workloads import EMULATED

    return [image.split(" (")[0] for entry in EMULATED.values() for image in entry["images"]]


class Applied(list):
    """The objects an apply wrote; shown as kubectl shows them (``service/shop applied``)."""

    def __repr__(self) -> str:
        return "\n".join(f"{o['kind'].lower()}/{o['metadata']['name']} applied" for o in self)


def _replicas(deployment: client.V1Deployment) -> int:
    """The replicas a Deployment asks for (the API defaults an unset field to 1)."""
    return deployment.spec.replicas if deployment.spec.replicas is not None else 1


def progress(what: str, total: int):
    """A progress bar that appears only when a wait lasts over a second (``K8SNET_PROGRESS=0`` hides it).

    It always has a total: without one, tqdm's Jupyter widget is a fixed 20 px box that never fills.
    """
    from tqdm.auto import tqdm

    return tqdm(total=max(1, total), desc=f"waiting for {what}", delay=1.0,
                disable=os.environ.get("K8SNET_PROGRESS", "1") == "0", leave=False)


def advance(bar, done: int, total: int) -> None:
    """Move ``bar`` to ``done`` of ``total``; a new total (a scale during the wait) resets it to the new size.

    Called on every poll, also without progress, so the bar shows up once the wait outlasts its delay.
    """
    total = max(1, total)
    if bar.total != total:
        bar.reset(total=total)
    bar.update(min(done, total) - bar.n)


def load_manifests(manifests: str | Path | dict | Iterable[dict]) -> list[dict[str, Any]]:
    """Objects from YAML text, a file, a directory of .yaml/.yml/.json files, a dict or dicts."""
    if isinstance(manifests, dict):
        return [manifests]
    if isinstance(manifests, Path) or (isinstance(manifests, str) and "\n" not in manifests
                                       and Path(manifests).exists()):
        p = Path(manifests)
        files = sorted(f for f in p.iterdir() if f.suffix in (".yaml", ".yml", ".json")) if p.is_dir() else [p]
        return [o for f in files for o in load_manifests(f.read_text())]
    if isinstance(manifests, str):
        docs = [d for d in yaml.safe_load_all(manifests) if d]
        out = []
        for d in docs:
            out.extend(d.get("items", []) if d.get("kind", "").endswith("List") and "items" in d else [d])
        return out
    return [dict(m) for m in manifests]
