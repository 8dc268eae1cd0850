"""``k8snet doctor``: what is installed, which backend is active, and whether it works, with a fix for each problem.

It needs neither Docker nor a cluster: without Docker it says so and checks the
sandbox. Each finding is data (area, name, state, detail, fix), so a notebook
or a test reads the same verdicts the command prints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import kubeconfig
from .kind import commands, versions

if TYPE_CHECKING:
    from .kind.lifecycle import Status

OK, INFO, WARN, FAIL = "ok", "info", "warn", "fail"
MARKS = {OK: "✓", INFO: "·", WARN: "!", FAIL: "✗"}


@dataclass
class Finding:
    """One line of the report."""

    area: str
    name: str
    state: str
    detail: str
    fix: str = ""


def active_backend() -> str:
    """``$K8SNET_BACKEND`` (what ``k8snet.connect()`` picks), default sandbox."""
    from .cluster import BACKENDS

    chosen = (os.environ.get("K8SNET_BACKEND") or "sandbox").lower()
    return chosen if chosen in BACKENDS else f"{chosen} (unknown)"


def tool_findings(backend: str) -> tuple[list[Finding], dict[str, commands.ToolInfo]]:
    """docker, kind and kubectl: found where, which version, usable or what to do."""
    infos = {"docker": commands.docker_info(), "kind": commands.kind_info(), "kubectl": commands.kubectl_info()}
    out = []
    for name, info in infos.items():
        if info.ok:
            version = info.version or "?"
            if name == "docker":
                version = f"client {info.version}, engine {info.server_version}"
            out.append(Finding("tools", name, OK, f"{version} ({info.path})"))
            continue
        needed_now = name != "kubectl" and backend == "kind"
        state = FAIL if needed_now else WARN if name != "kubectl" else INFO
        detail = info.problem or f"{name} is not usable"
        if name != "kubectl" and not needed_now:
            detail += " — only the kind backend needs it; the sandbox works without Docker"
        out.append(Finding("tools", name, state, detail, info.fix or ""))
    return out, infos


def backend_findings(backend: str) -> list[Finding]:
    from .cluster import CONTEXTS

    data = kubeconfig.load()
    contexts = {c.get("name") for c in data["contexts"]}
    out = [Finding("backend", "active", OK if "unknown" not in backend else FAIL,
                   f"{backend} (from $K8SNET_BACKEND)" if os.environ.get("K8SNET_BACKEND") else
                   f"{backend} (the default; set K8SNET_BACKEND=kind for kind)",
                   "" if "unknown" not in backend else "set K8SNET_BACKEND to sandbox or kind")]
    current = data.get("current-context") or "(none)"
    have = ", ".join(f"{ctx} ({'present' if ctx in contexts else 'absent'})" for ctx in CONTEXTS.values())
    out.append(Finding("backend", "kubeconfig", INFO, f"{kubeconfig.path()}: current-context {current}; {have}"))
    return out


def sandbox_findings(backend: str) -> list[Finding]:
    from .sandbox import process

    running = process.status()
    if running is None:
        state = INFO
        fix = "`k8snet sandbox up` (or just `k8snet.connect()`, which starts it)" if backend == "sandbox" else ""
        return [Finding("sandbox", "process", state, "not running", fix)]
    return [Finding("sandbox", "process", OK, f"running at {running.server} (pid {running.pid})")]


def kind_findings(infos: dict[str, commands.ToolInfo], backend: str) -> tuple[list[Finding], Status | None]:
    if not (infos["docker"].ok and infos["kind"].ok):
        state = FAIL if backend == "kind" else INFO
        return [Finding("kind", "cluster", state, "not checked: the kind backend needs a working docker and kind "
                        "(see tools above)", "" if backend != "kind" else "fix the tools above, then `k8snet kind up`")
                ], None
    from .kind import lifecycle

    st = lifecycle.status()
    out: list[Finding] = []
    if not st.exists:
        state = FAIL if backend == "kind" else INFO
        return [Finding("kind", "cluster", state, f"no kind cluster named {versions.CLUSTER_NAME}",
                        "`k8snet kind up`")], st
    if st.reachable:
        nodes = ", ".join(f"{n} {'Ready' if ok else 'NotReady'}" for n, ok in sorted(st.nodes.items()))
        out.append(Finding("kind", "cluster", OK if all(st.nodes.values()) else WARN,
                           f"{versions.CLUSTER_NAME}: Kubernetes {st.kubernetes}; {nodes}"))
        pinned = versions.TRAEFIK_IMAGE
        if st.traefik:
            state = OK if st.traefik == pinned else WARN
            out.append(Finding("kind", "traefik", state, f"Ready, image {st.traefik}"
                               + ("" if state == OK else f" (k8snet pins {pinned})"),
                               "" if state == OK else "re-run `k8snet kind up` to apply the pinned release"))
        for name, ok in st.crds.items():
            out.append(Finding("kind", f"CRDs {name}", OK if ok else FAIL,
                               "Established" if ok else "not all Established", "" if ok else "`k8snet kind up`"))
        for answer in st.edge:
            out.append(Finding("kind", f"edge :{answer.port}", OK if answer.traefik else FAIL, str(answer),
                               "" if answer.traefik else "re-run `k8snet kind up`"))
        cp = st.cloud_provider or "not started"
        out.append(Finding("kind", "cloud-provider-kind", OK if cp == "running" else WARN,
                           f"{cp}; Service traefik/traefik external IP: {st.load_balancer_ip or '<pending>'}",
                           "" if cp == "running" else "re-run `k8snet kind up` (LoadBalancer lessons need it)"))
        from .kind import outside

        ok = st.outside == "running" and st.outside_dns
        out.append(Finding("kind", "outside world", OK if ok else WARN,
                           f"{outside.CONTAINER} {st.outside or 'not created'}; CoreDNS "
                           f"{'resolves' if st.outside_dns else 'does not know'} api.payments.example and the rest",
                           "" if ok else "re-run `k8snet kind up` (egress lessons need it; it also puts the "
                           "addresses and routes back after a Docker restart)"))
    shown = {"nodes", "crds", "edge", "cloud-provider", "outside"} if st.reachable else set()
    for problem in st.problems:
        if problem.key not in shown:
            out.append(Finding("kind", problem.key, FAIL, problem.what, problem.fix))
    return out, st


def port_findings(st: Status | None) -> list[Finding]:
    from .kind import readiness
    from .sandbox import process

    out = []
    http_port, https_port = versions.edge_ports()
    ours = {a.port for a in (st.edge if st else []) if a.traefik}
    running = process.status()
    sandbox_edge = {getattr(running, "edge_http_port", None), getattr(running, "edge_https_port", None)}
    for port in (http_port, https_port):
        if readiness.port_free(port):
            out.append(Finding("ports", f"127.0.0.1:{port}", OK, "free (the ingress edge can use it)"))
        elif port in ours:
            out.append(Finding("ports", f"127.0.0.1:{port}", OK, "in use by the kind cluster's ingress edge"))
        elif port in sandbox_edge:
            out.append(Finding("ports", f"127.0.0.1:{port}", OK, "in use by the sandbox's ingress edge "
                               "(`k8snet kind up` needs it: `k8snet sandbox down` first)"))
        else:
            out.append(Finding("ports", f"127.0.0.1:{port}", WARN,
                               "in use by another program",
                               "if `k8snet kind up` needs it: stop that program (`ss -ltnp` or `lsof -i :PORT` "
                               "shows it), or set K8SNET_EDGE_HTTP_PORT / K8SNET_EDGE_HTTPS_PORT"))
    return out


def canary_findings(backend: str, st: Status | None) -> list[Finding]:
    """Run the NetworkPolicy canary on the active backend when it is up."""
    from .canary import policy_enforcement_check
    from .cluster import ConnectError
    from .connection import connect

    if backend == "kind" and not (st and st.reachable):
        return [Finding("policy", "NetworkPolicy", INFO, "not checked: no reachable kind cluster")]
    if backend == "sandbox":
        from .sandbox import process

        if process.status() is None:
            return [Finding("policy", "NetworkPolicy", INFO, "not checked: the sandbox is not running")]
    try:
        cluster = connect(backend, start=False)
        result = policy_enforcement_check(cluster, settle=30 if backend == "kind" else 5)
    except (ConnectError, TimeoutError, OSError) as exc:
        return [Finding("policy", "NetworkPolicy", WARN, f"the canary could not run: {exc}")]
    state = OK if result.enforced else FAIL if result.enforced is False else WARN
    return [Finding("policy", "NetworkPolicy", state, f"{result.verdict}: {result.detail}", result.fix or "")]


def diagnose(canary: bool = True) -> list[Finding]:
    """Every finding, in report order."""
    backend = active_backend()
    tools, infos = tool_findings(backend)
    findings = tools + backend_findings(backend) + sandbox_findings(backend)
    kind, st = kind_findings(infos, backend)
    findings += kind + port_findings(st)
    if canary and "unknown" not in backend:
        findings += canary_findings(backend, st)
    return findings


def render(findings: list[Finding]) -> str:
    lines = []
    area = None
    width = max((len(f.name) for f in findings), default=8)
    for f in findings:
        if f.area != area:
            area = f.area
            lines.append(area)
        lines.append(f"  {MARKS[f.state]} {f.name.ljust(width)}  {f.detail}")
        if f.fix:
            lines.append(f"    {' ' * width}  fix: {f.fix}")
    fails = sum(f.state == FAIL for f in findings)
    warns = sum(f.state == WARN for f in findings)
    lines.append(f"{fails} problem(s), {warns} warning(s)" if fails or warns else "everything checked is fine")
    return "\n".join(lines)
