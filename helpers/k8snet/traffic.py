"""Traffic from inside the cluster: requests and probes run in a source pod through exec.

The same code drives both backends: on kind the commands are real programs in
a real agnhost pod; in the sandbox the exec endpoint emulates exactly these
commands (the probe contract in DESIGN.md). Every result records which backend
produced it.

Example:
    >>> client = traffic.ensure_client(cluster, "lesson")
    >>> result = traffic.send(cluster, client, "http://web/hostname", n=30)
    >>> result.counts()
    {'web-7d4b9c8f5-2xk8p': 11, 'web-7d4b9c8f5-9qlmc': 9, 'web-7d4b9c8f5-tz6wd': 10}
"""

from __future__ import annotations

import re
import shlex
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream

if TYPE_CHECKING:
    from .cluster import Cluster

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
MARKER = "@@k8snet"
BATCH = 50
_MARK_RE = re.compile(rf"{MARKER} (\d{{3}}) ([0-9.]+) (\S*)$")


@dataclass(frozen=True)
class PodRef:
    """A pod to run commands in."""

    namespace: str
    name: str
    container: str | None = None

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass
class ExecOutput:
    stdout: str
    stderr: str
    exit_code: int


def exec_in(cluster: Cluster, pod: PodRef, command: list[str], timeout: float = 60,
            core: client.CoreV1Api | None = None, on_stdout: Callable[[str], None] | None = None) -> ExecOutput:
    """Run a command in a pod through the exec API (WebSocket), as ``kubectl exec`` does; ``on_stdout`` gets
    what it prints as it comes."""
    kwargs: dict[str, Any] = {"command": command, "stderr": True, "stdin": False, "stdout": True, "tty": False,
                              "_preload_content": False}
    core = core or cluster.core
    container = pod.container or default_container(core.read_namespaced_pod(pod.name, pod.namespace).to_dict())
    if container:
        kwargs["container"] = container
    resp = stream(core.connect_get_namespaced_pod_exec, pod.name, pod.namespace, **kwargs)
    out, err = [], []
    deadline = time.monotonic() + timeout
    while resp.is_open():
        resp.update(timeout=min(1, max(deadline - time.monotonic(), 0.01)))
        if resp.peek_stdout():
            out.append(resp.read_stdout())
            if on_stdout is not None:
                on_stdout(out[-1])
        if resp.peek_stderr():
            err.append(resp.read_stderr())
        if time.monotonic() > deadline:
            resp.close()
            raise TimeoutError(f"exec {' '.join(command)!r} in {pod} did not finish within {timeout:.0f}s")
    code = resp.returncode
    resp.close()
    return ExecOutput("".join(out), "".join(err), code if code is not None else 0)


def default_container(pod: dict[str, Any]) -> str | None:
    """The container ``kubectl exec`` runs in without ``-c``: the ``kubectl.kubernetes.io/default-container``
    annotation, else the first one (kubectl exec --help); None for a one-container pod (the API needs no name)."""
    containers = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
    if len(containers) <= 1:
        return None
    chosen = ((pod.get("metadata") or {}).get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
    return chosen if chosen in containers else containers[0]


def exec_many(cluster: Cluster, jobs: list[tuple[PodRef, list[str]]], workers: int = 16,
              timeout: float = 60) -> list[ExecOutput]:
    """Run many execs in parallel; results in the order of ``jobs``.

    Each worker thread has its own API client: ``kubernetes.stream`` swaps
    the client's transport while it opens the WebSocket, so threads must not
    share one.
    """
    local = threading.local()

    def run(job: tuple[PodRef, list[str]]) -> ExecOutput:
        if not hasattr(local, "core"):
            local.core = client.CoreV1Api(client.ApiClient(cluster.api.configuration))
        return exec_in(cluster, job[0], job[1], timeout, core=local.core)

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(jobs)))) as pool:
        return list(pool.map(run, jobs))


def ensure_client(cluster: Cluster, namespace: str, name: str = "client", timeout: float = 120) -> PodRef:
    """An agnhost pod to send traffic from (created once, reused), Ready before it is returned."""
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": namespace, "labels": {"app": name, "role": "client"}},
           "spec": {"containers": [{"name": "agnhost", "image": AGNHOST, "args": ["netexec", "--http-port=8080"],
                                    "ports": [{"containerPort": 8080, "name": "http"}]}]}}
    try:
        cluster.core.read_namespaced_pod(name, namespace)
    except ApiException as exc:
        if exc.status != 404:
            raise
        cluster.apply(pod)
    cluster.wait_pod_ready(name, namespace, timeout)
    return PodRef(namespace, name)


# -- requests ---------------------------------------------------------------------------


@dataclass
class Request:
    """One HTTP request as the source pod saw it."""

    i: int
    status: int | None
    pod: str | None  # the answering pod (from the body, when the backend names itself)
    body: str
    error: str | None
    latency_ms: float | None
    remote_ip: str | None

    @property
    def outcome(self) -> str:
        """Who answered, or what went wrong in a word: ``refused`` (curl exit 7: nothing accepted the
        connection), ``timed out`` (28), ``reset`` (56: the peer closed a connection it had accepted, as a
        mesh's ztunnel does), ``failed`` (any other error), or ``HTTP <status>`` without a pod name."""
        if self.pod:
            return self.pod
        if self.error:
            return ("refused" if self.error.startswith("curl: (7)") else
                    "timed out" if self.error.startswith("curl: (28)") else
                    "reset" if self.error.startswith("curl: (56)") else "failed")
        return f"HTTP {self.status}"


@dataclass
class TrafficResult:
    """N requests from one source to one URL, with what answered each."""

    source: str
    url: str
    backend: str
    requests: list[Request] = field(default_factory=list)
    every: float | None = None  # seconds between requests, when they were spread out (send_during)
    marks: list[tuple[float, str]] = field(default_factory=list)  # (after which request, what happened then)

    def counts(self) -> dict[str, int]:
        """Answers per pod (errors under their error text), sorted by name."""
        c = Counter(r.pod if r.pod else f"error: {r.error}" if r.error else f"HTTP {r.status}"
                    for r in self.requests)
        return dict(sorted(c.items()))

    def rows(self) -> list[dict[str, Any]]:
        return [asdict(r) for r in self.requests]

    def ok(self) -> int:
        return sum(1 for r in self.requests if r.status and 200 <= r.status < 400)

    def failed(self) -> list[Request]:
        """The requests that got no HTTP answer (refused, timed out, or another error)."""
        return [r for r in self.requests if r.status is None]

    def __len__(self) -> int:
        return len(self.requests)

    def plot(self, expected: list[str] | None = None, ax=None):
        """Per-pod distribution bars, with each pod's expected share when ``expected`` names the pods."""
        from . import plots

        if self.every is not None:
            return plots.requests_over_time(self, ax=ax)
        return plots.distribution(self, expected=expected, ax=ax)

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{pod}</td><td>{n}</td></tr>" for pod, n in self.counts().items())
        return (f"<p>{len(self)} requests from <code>{self.source}</code> to <code>{self.url}</code> "
                f"({self.backend})</p><table><tr><th>answered by</th><th>requests</th></tr>{rows}</table>")


def curl_one(url: str, headers: dict[str, str] | None = None, method: str = "GET", max_time: float = 2) -> str:
    """One curl as a shell command: it prints the body, then a marker line with the status, time and address."""
    parts = ["curl", "-sS", "-m", f"{max_time:g}", "-X", method, "-w", f"\\n{MARKER} %{{http_code}} "
             "%{time_total} %{remote_ip}\\n"]
    for k, v in (headers or {}).items():
        parts += ["-H", f"{k}: {v}"]
    return " ".join(shlex.quote(p) for p in parts + [url])


def curl_loop(url: str, n: int, headers: dict[str, str] | None = None, method: str = "GET",
              max_time: float = 2) -> list[str]:
    """One shell command line running ``n`` curls; each prints its body then a marker line."""
    return ["sh", "-c", "; ".join([curl_one(url, headers, method, max_time)] * n)]


def parse_curl_loop(stdout: str, stderr: str, n: int) -> list[Request]:
    """Split the loop's output back into requests; failed curls print one ``curl: (N) …`` line each."""
    errors = [line for line in stderr.splitlines() if line.startswith("curl: (")]
    out: list[Request] = []
    body: list[str] = []
    for line in stdout.splitlines():
        m = _MARK_RE.search(line)
        if not m:
            body.append(line)
            continue
        before = line[: m.start()]
        if before:
            body.append(before)
        code, seconds, remote = int(m.group(1)), float(m.group(2)), m.group(3) or None
        text = "\n".join(body).strip()
        body = []
        if code == 0:
            error = errors.pop(0) if errors else "no response"
            out.append(Request(len(out), None, None, "", error, None, remote))
        else:
            pod = text.splitlines()[0].strip() if text and len(text.splitlines()) == 1 else None
            out.append(Request(len(out), code, pod, text, None, round(seconds * 1000, 3), remote))
    return out[:n]


def send(cluster: Cluster, source: PodRef, url: str, n: int = 20, *, headers: dict[str, str] | None = None,
         method: str = "GET", max_time: float = 2) -> TrafficResult:
    """Send ``n`` HTTP requests from ``source`` to ``url``, each on a fresh connection (as curl does), each given
    ``max_time`` seconds (curl's ``-m``).

    The curls run in batches of :data:`BATCH` per exec, keeping each command line short. Exactly ``n`` curls are
    started, never more: a batch whose exec ended before every curl reported (the command was killed) counts
    the silent ones as failed, naming how the exec ended, rather than sending them again (a proxy that counted
    them, a seeded random choice that drew for them, would see more requests than were asked for).
    """
    requests: list[Request] = []
    while len(requests) < n:
        k = min(BATCH, n - len(requests))
        result = exec_in(cluster, source, curl_loop(url, k, headers, method, max_time),
                         timeout=30 + (1 + max_time) * k)
        for r in reported(parse_curl_loop(result.stdout, result.stderr, k), k, result):
            r.i = len(requests)
            requests.append(r)
    return TrafficResult(str(source), url, cluster.backend, requests)


def reported(batch: list[Request], k: int, result: ExecOutput) -> list[Request]:
    """``k`` requests: the batch's, then one failed request for each curl that never reported (its exec ended
    first), naming how the exec ended."""
    last = (result.stderr.strip().splitlines() or [""])[-1]
    why = f"no answer: the exec ended first (exit code {result.exit_code}" + (f": {last})" if last else ")")
    return batch + [Request(len(batch) + j, None, None, "", why, None, None) for j in range(k - len(batch))]


def wait_answered(cluster: Cluster, source: PodRef, url: str, pods: Iterable[str], *, n: int = 5,
                  timeout: float = 30) -> TrafficResult:
    """Send ``n`` requests at a time until every one is answered by one of ``pods``: a change of the data path
    (an annotation the nodes' load balancers read, a scale) reaches every node a moment after the API has it.

    Raises:
        TimeoutError: naming who answered the last batch.
    """
    want = set(pods)
    deadline = time.monotonic() + timeout
    while True:
        result = send(cluster, source, url, n=n)
        if all(r.pod in want for r in result.requests):
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"after {timeout:g} s, {url} is still answered by {sorted(result.counts())}, not "
                               f"only {sorted(want)}")
        time.sleep(0.2)


def send_during(cluster: Cluster, source: PodRef, url: str, change: Callable[[], object], *, n: int = 60,
                every: float = 0.05, at: int = 5, label: str = "change", max_time: float = 2) -> TrafficResult:
    """Send ``n`` requests from ``source`` to ``url``, one every ``every`` seconds (each a new connection), and
    make a change while they flow: ``change()`` is called once ``at`` of them have been answered (or have
    failed). The result's ``marks`` say where the change came; its plot is a timeline of who answered.

    Example:
        >>> run = traffic.send_during(cluster, client, "http://web/hostname", n=60, at=5, label="scale to 2",
        ...                           change=lambda: cluster.apply(WEB.format(replicas=2), namespace="lesson"))
        >>> [r.outcome for r in run.failed()]
    """
    marker = re.compile(rf"{MARKER} \d{{3}} [^\n]*\n")
    printed: list[str] = []
    changed = False

    def watch(chunk: str) -> None:
        nonlocal changed
        printed.append(chunk)
        if not changed and len(marker.findall("".join(printed))) >= at:
            changed = True
            change()

    script = f"for i in $(seq {n}); do {curl_one(url, max_time=max_time)}; sleep {every:g}; done"
    out = exec_in(cluster, source, ["sh", "-c", script], timeout=60 + n * (every + max_time), on_stdout=watch)
    if not changed:  # fewer answers than ``at`` (the loop did not run): still make the change, as asked
        change()
    requests = parse_curl_loop(out.stdout, out.stderr, n)
    return TrafficResult(str(source), url, cluster.backend, requests, every, [(at + 0.5, label)])


# -- reachability and DNS ----------------------------------------------------------------


@dataclass
class Probe:
    """One ``/agnhost connect`` attempt: connected, or why not (TIMEOUT, REFUSED, DNS: …)."""

    source: str
    target: str
    port: int
    protocol: str
    connected: bool
    reason: str
    backend: str


def connect(cluster: Cluster, source: PodRef, host: str, port: int, protocol: str = "tcp",
            timeout: str = "1s") -> Probe:
    """Probe reachability with agnhost connect, as the upstream e2e network tests do."""
    out = exec_in(cluster, source, ["/agnhost", "connect", f"{host}:{port}", f"--timeout={timeout}",
                                    f"--protocol={protocol.lower()}"])
    reason = out.stderr.strip().splitlines()[0] if out.stderr.strip() else ""
    return Probe(str(source), host, port, protocol.upper(), out.exit_code == 0, reason or "connected",
                 cluster.backend)


@dataclass
class DnsAnswer:
    name: str
    addresses: list[str]
    canonical: str | None
    error: str | None
    raw: str
    backend: str


def nslookup(cluster: Cluster, source: PodRef, name: str) -> DnsAnswer:
    """Resolve ``name`` from inside ``source`` with busybox nslookup (the pod's own resolv.conf applies)."""
    out = exec_in(cluster, source, ["nslookup", name])
    text = out.stdout
    addresses: list[str] = []
    canonical = None
    seen_answer = False
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("Name:"):
            seen_answer = True
            canonical = canonical or line.split(None, 1)[1]
        elif seen_answer and line.startswith("Address"):
            addresses.append(line.split()[-1])
    error = None
    if out.exit_code != 0:
        error = next((ln.strip(" ;") for ln in (text + "\n" + out.stderr).splitlines()
                      if "can't find" in ln or "timed out" in ln), "lookup failed")
    return DnsAnswer(name, addresses, canonical, error, text, cluster.backend)


def pod_refs(cluster: Cluster, namespace: str, selector: str) -> list[PodRef]:
    """The pods a label selector picks, sorted by name."""
    pods = cluster.core.list_namespaced_pod(namespace, label_selector=selector).items
    return [PodRef(namespace, p.metadata.name) for p in sorted(pods, key=lambda p: p.metadata.name)]


def endpoints_of(cluster: Cluster, namespace: str, service: str) -> list[dict[str, Any]]:
    """The Service's endpoints from its EndpointSlices: address, pod, node, ready/serving/terminating."""
    slices = client.DiscoveryV1Api(cluster.api).list_namespaced_endpoint_slice(
        namespace, label_selector=f"kubernetes.io/service-name={service}").items
    out = []
    for s in slices:
        for ep in s.endpoints or []:
            cond = ep.conditions
            out.append({"address": ep.addresses[0], "pod": ep.target_ref.name if ep.target_ref else None,
                        "node": ep.node_name, "ready": bool(cond and cond.ready),
                        "serving": bool(cond and cond.serving), "terminating": bool(cond and cond.terminating)})
    return sorted(out, key=lambda e: e["pod"] or e["address"])
