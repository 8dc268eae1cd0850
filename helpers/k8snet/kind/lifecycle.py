"""``k8snet kind up|down|status``: the cluster's lifecycle as an ordered list of small steps.

As kind does it (create = config, start, add-ons, wait), each step is one
function with one job; ``up`` runs them in order, shows progress, and can be
re-run at any time: a step finds what is already there and does only the rest.
When a step fails the cluster is kept (re-running ``up`` resumes) and the error
says what to do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import clusterset, kubeconfig
from . import addons, commands, config, karmada, outside, readiness, versions

if TYPE_CHECKING:
    from ..canary import CanaryResult
    from ..cluster import Cluster

Say = Callable[[str], None]


@dataclass
class Options:
    """What ``up`` does; the defaults are the workbook's (a named member of a cluster set, ``name="east"``, gets its
    own networks and edge ports: :mod:`k8snet.clusterset`)."""

    name: str = versions.CLUSTER_NAME
    cloud_provider: bool = True
    preload: bool = True
    canary: bool = True
    outside: bool = True
    """The outside world's hosts beside the nodes, at the sandbox's addresses and names (:mod:`.outside`)."""
    timeout: float = 600
    cni: str = "kindnet"
    """The CNI plugin: kindnet (kind's own), cilium or calico (:mod:`k8snet.kind.cni`)."""
    http_port: int | None = None  # None: the member's own (8080, or east's 8180: __post_init__)
    https_port: int | None = None
    karmada: bool = False
    """Host a Karmada control plane instead of the workbook's add-ons (``k8snet kind up --name karmada --karmada``,
    :mod:`k8snet.kind.karmada`): the context ``kind-<name>`` is then the karmada-apiserver."""

    def __post_init__(self) -> None:
        clusterset.check_name(self.name)
        if self.karmada and self.cni != "kindnet":
            raise ValueError(f"--karmada with --cni {self.cni}: the cluster that hosts the Karmada control plane runs "
                             "only its pods, on kind's own kindnet; give the CNI plugin to the member clusters")
        default = versions.edge_ports() if self.name == clusterset.DEFAULT_NAME else clusterset.edge_ports(self.name)
        self.http_port = default[0] if self.http_port is None else self.http_port
        self.https_port = default[1] if self.https_port is None else self.https_port


@dataclass
class UpReport:
    """What ``up`` found or made, step by step (seconds per step), and the policy canary's verdict."""

    created: bool = False
    steps: dict[str, float] = field(default_factory=dict)
    edge: list[readiness.EdgeAnswer] = field(default_factory=list)
    load_balancer_ip: str | None = None
    outside_ip: str | None = None  # the outside world's container on the kind network
    canary: CanaryResult | None = None


class _Run:
    """One ``up``: the options, a place to say things, the report and the connected cluster."""

    def __init__(self, opts: Options, say: Say):
        self.opts = opts
        self.say = say
        self.report = UpReport()
        self.cluster: Cluster | None = None

    def step(self, title: str, fn: Callable[[], Any]) -> Any:
        self.say(f"• {title} …")
        t0 = time.perf_counter()
        try:
            result = fn()
        except BaseException:
            self.say(f"✗ {title}")
            raise
        seconds = time.perf_counter() - t0
        self.report.steps[title] = seconds
        self.say(f"✓ {title} ({seconds:.1f}s)")
        return result


# -- queries ----------------------------------------------------------------------------------


def cluster_names() -> list[str]:
    """The clusters kind knows (``kind get clusters``): the workbook's and any others on this host."""
    done = commands.run(commands.kind_get_clusters_argv(), timeout=60)
    return [line for line in done.stdout.split() if clusterset.NAME_RE.match(line)]


def cluster_exists(name: str = versions.CLUSTER_NAME) -> bool:
    """Whether kind knows a cluster of that name (``kind get clusters``)."""
    return name in cluster_names()


def edge_mapping(name: str = versions.CLUSTER_NAME) -> dict[int, str]:
    """The control-plane container's published ports: node port → host address (``docker port``)."""
    done = commands.run(commands.docker_port_argv(f"{name}-control-plane"), check=False, timeout=30)
    out: dict[int, str] = {}
    for line in done.stdout.splitlines():  # "32080/tcp -> 127.0.0.1:8080"
        left, _, right = line.partition(" -> ")
        port = left.split("/")[0].strip()
        if port.isdigit():
            out[int(port)] = right.strip()
    return out


# -- the steps of up -----------------------------------------------------------------------------


def preflight(opts: Options) -> tuple[commands.ToolInfo, commands.ToolInfo]:
    """docker (engine reachable, 20.10+) and kind (v0.32.0+) are usable; raises a ToolError with the fix."""
    docker = commands.require(commands.docker_info())
    kind = commands.require(commands.kind_info())
    return docker, kind


def check_ports_free(opts: Options) -> None:
    """Before creating: the edge ports must be free, or kind fails half-way with a docker bind error."""
    busy = [p for p in (opts.http_port, opts.https_port) if not readiness.port_free(p)]
    if busy:
        ports = " and ".join(f"127.0.0.1:{p}" for p in busy)
        raise commands.ToolError(
            f"{ports} {'is' if len(busy) == 1 else 'are'} already in use, and the kind cluster's ingress edge "
            "needs it",
            "stop what listens there (`k8snet sandbox down` if it is the sandbox's edge; `ss -ltnp` / "
            "`lsof -i :PORT` shows the owner), or choose other ports with K8SNET_EDGE_HTTP_PORT / "
            "K8SNET_EDGE_HTTPS_PORT")


def ensure_cluster(run: _Run) -> None:
    """Create the cluster from the generated config, or reuse it (restoring its kubeconfig context)."""
    opts = run.opts
    if cluster_exists(opts.name):
        mapping = edge_mapping(opts.name)
        if karmada.is_host(mapping):
            raise commands.ToolError(
                f"kind cluster {opts.name} hosts a Karmada control plane (made with --karmada): a cluster is not "
                "turned into an ordinary one in place, and its context kind-" + opts.name + " is the karmada-apiserver",
                f"`k8snet kind up --name {opts.name} --karmada` resumes it; `k8snet kind down --name {opts.name}` "
                "deletes it to make another")
        if kubeconfig.context(f"kind-{opts.name}") is None:
            commands.run(commands.kind_export_kubeconfig_argv(opts.name), timeout=60)
        want = {versions.EDGE_NODE_PORTS["web"]: opts.http_port, versions.EDGE_NODE_PORTS["websecure"]: opts.https_port}
        wrong = [f"{host_port} (mapped: {mapping.get(node_port, 'nothing')})" for node_port, host_port in want.items()
                 if not mapping.get(node_port, "").endswith(f":{host_port}")]
        if wrong:
            run.say(f"  note: the existing cluster does not publish edge port {', '.join(wrong)}; port mappings are "
                    "fixed at creation: `k8snet kind down` then `k8snet kind up` to change them")
        return
    check_ports_free(opts)
    path = config.write(config_path(opts.name), config.cluster_config(opts.name, http_port=opts.http_port,
                                                             https_port=opts.https_port, cni=opts.cni))
    commands.run(commands.kind_create_argv(path, opts.name), timeout=opts.timeout,
                 echo=lambda line: run.say(f"  {line}") if line.strip() else None)
    run.report.created = True


def connect(run: _Run) -> Cluster:
    from urllib3.exceptions import HTTPError

    from ..cluster import open_cluster

    try:
        run.cluster = open_cluster("kind", run.opts.name)
        run.cluster.version()  # a request of its own: discovery may come from the client's cache file in /tmp
    except (HTTPError, OSError) as exc:
        nodes = " ".join(f"{run.opts.name}-{n}" for n in ("control-plane", "worker", "worker2"))
        raise commands.ToolError(
            f"the API server of kind-{run.opts.name} does not answer ({type(exc).__name__}: {exc})",
            f"`docker ps -a` shows the node containers; start stopped ones with `docker start {nodes}`, or "
            "recreate the cluster: `k8snet kind down && k8snet kind up`") from exc
    return run.cluster


def _check_kindnet(run: _Run) -> None:
    from . import cni

    assert run.cluster is not None
    cni.check_installed(run.cluster, "kindnet")


def wait_nodes(run: _Run) -> None:
    assert run.cluster is not None
    names = [f"{run.opts.name}-control-plane", f"{run.opts.name}-worker", f"{run.opts.name}-worker2"]
    readiness.wait_nodes_ready(run.cluster, names, timeout=run.opts.timeout)


def preload_images(run: _Run) -> None:
    """Pull the lesson images on the host (once) and load them into every node (kind skips loaded ones)."""
    for image in versions.LESSON_IMAGES:
        present = commands.run(commands.docker_image_present_argv(image), check=False, timeout=30)
        if present.returncode != 0:
            run.say(f"  pulling {image}")
            commands.run(commands.docker_pull_argv(image), timeout=run.opts.timeout)
    commands.run(commands.kind_load_argv(versions.LESSON_IMAGES, run.opts.name), timeout=run.opts.timeout,
                 echo=lambda line: run.say(f"  {line}") if line.strip() else None)


def install_crds(run: _Run) -> None:
    assert run.cluster is not None
    names = addons.apply_crds(run.cluster)
    for source, crds in names.items():
        readiness.wait_crds_established(run.cluster, crds, timeout=120)
        run.say(f"  {source}: {len(crds)} CRDs Established")


def install_traefik(run: _Run) -> None:
    assert run.cluster is not None
    addons.apply_manifest(run.cluster, "traefik.yaml")
    addons.apply_manifest(run.cluster, "traefik-gateway.yaml")
    run.cluster.wait_ready("traefik", "traefik", timeout=run.opts.timeout)
    run.report.edge = readiness.wait_edge(run.opts.http_port, run.opts.https_port, timeout=180)


def install_cert_manager(run: _Run) -> None:
    """cert-manager's release manifest, then wait until its Deployments are Ready and its webhook admits a
    dry-run Issuer (the webhook is ready when the API server can call it, not when its pod runs)."""
    assert run.cluster is not None
    crds = addons.apply_cert_manager(run.cluster)
    readiness.wait_crds_established(run.cluster, crds, timeout=120)
    for name in versions.CERT_MANAGER_DEPLOYMENTS:
        run.cluster.wait_ready(name, versions.CERT_MANAGER_NAMESPACE, timeout=run.opts.timeout)
    readiness.wait_dry_run_accepted(run.cluster, addons.cert_manager_probe(), timeout=180)


def start_cloud_provider() -> str:
    """Start cloud-provider-kind's container, or restart it when stopped; returns what it did."""
    name = versions.CLOUD_PROVIDER_CONTAINER
    state = commands.container_state(name)
    if state is None:
        commands.run(commands.cloud_provider_run_argv(), timeout=600)
        return "started"
    if state != "running":
        commands.run(commands.docker_start_argv(name), timeout=60)
        return "restarted"
    return "running"


def ensure_cloud_provider(run: _Run) -> None:
    """cloud-provider-kind on the host (a container with the docker socket); Traefik's Service gets an IP."""
    assert run.cluster is not None
    cluster = run.cluster
    start_cloud_provider()
    run.report.load_balancer_ip = readiness.until(
        lambda: readiness.load_balancer_address(cluster, "traefik", "traefik"), 180,
        "cloud-provider-kind to give Service traefik/traefik an external IP")


def install_outside(run: _Run) -> None:
    """The outside world's hosts (one nginx container beside the nodes, routes on every node, the names in
    CoreDNS): :func:`k8snet.kind.outside.install`."""
    assert run.cluster is not None
    run.report.outside_ip = outside.install(run.cluster, run.opts.name, run.say, run.opts.timeout)


def run_canary(run: _Run) -> None:
    from ..canary import policy_enforcement_check

    assert run.cluster is not None
    result = policy_enforcement_check(run.cluster)
    run.report.canary = result
    run.say(f"  {result}")


def established_crds(cluster: Cluster) -> set[str]:
    """The names of the cluster's Established CRDs."""
    crds = cluster.get("CustomResourceDefinition", api_version="apiextensions.k8s.io/v1")
    return {c["metadata"]["name"] for c in crds if readiness._condition(c, "Established") == "True"}


def install_trust_manager(run: _Run) -> None:
    """trust-manager's rendered chart (refused, saying so, without cert-manager, which ``up`` installs first), then
    wait until its Deployment is Ready and its webhook admits a dry-run Bundle."""
    assert run.cluster is not None
    crds = addons.apply_trust_manager(run.cluster, established_crds(run.cluster))
    readiness.wait_crds_established(run.cluster, crds, timeout=120)
    run.cluster.wait_ready("trust-manager", versions.TRUST_MANAGER_NAMESPACE, timeout=run.opts.timeout)
    readiness.wait_dry_run_accepted(run.cluster, addons.trust_manager_probe(), timeout=180)


# -- the public verbs -------------------------------------------------------------------------


def up(opts: Options | None = None, say: Say = print) -> UpReport:
    """Create (or resume) the kind cluster and its add-ons; returns what was done. Idempotent.

    Raises:
        ToolError: docker or kind missing, too old or failing, with the fix.
        TimeoutError: a readiness condition did not hold in time, naming it.
    """
    opts = opts or Options()
    if opts.karmada:
        return up_karmada(opts, say)
    run = _Run(opts, say)
    run.step("check docker and kind", lambda: preflight(opts))
    run.step(f"cluster {opts.name} ({versions.KUBERNETES_VERSION}, 3 nodes)", lambda: ensure_cluster(run))
    try:
        run.step("connect through kubeconfig context " + f"kind-{opts.name}", lambda: connect(run))
        if opts.cni != "kindnet":  # the nodes are NotReady until a CNI plugin runs on them
            from . import cni

            run.step(f"CNI plugin {cni.plugins.PLUGINS[opts.cni].title} on every node",
                     lambda: cni.install(run.cluster, opts.cni, timeout=opts.timeout, name=opts.name))
        else:
            run.step("CNI plugin kindnet", lambda: _check_kindnet(run))
        run.step("nodes Ready", lambda: wait_nodes(run))
        if opts.cni == "cilium" and opts.name != clusterset.DEFAULT_NAME:
            from . import clustermesh

            port = versions.CLUSTERMESH_APISERVER_NODE_PORT
            run.step(f"Cluster Mesh ready: clustermesh-apiserver on NodePort {port}, certificates from the set's CA",
                     lambda: clustermesh.enable(run.cluster, timeout=opts.timeout))
        if opts.preload:
            run.step("lesson images loaded into the nodes", lambda: preload_images(run))
        run.step(f"Gateway API {versions.GATEWAY_API_VERSION} and Traefik CRDs", lambda: install_crds(run))
        run.step(f"Traefik {versions.TRAEFIK_VERSION} answering on 127.0.0.1:{opts.http_port} and "
                 f":{opts.https_port}", lambda: install_traefik(run))
        run.step(f"cert-manager {versions.CERT_MANAGER_VERSION} (webhook answering)", lambda: install_cert_manager(run))
        if opts.cloud_provider:
            run.step(f"cloud-provider-kind {versions.CLOUD_PROVIDER_KIND_VERSION} (LoadBalancer IPs)",
                     lambda: ensure_cloud_provider(run))
        run.step(f"trust-manager {versions.TRUST_MANAGER_VERSION} (webhook answering)",
                 lambda: install_trust_manager(run))
        if opts.outside:
            run.step("the outside world (api.payments.example and three more hosts, resolved by CoreDNS)",
                     lambda: install_outside(run))
        if opts.canary:
            run.step("NetworkPolicy enforcement canary", lambda: run_canary(run))
    except BaseException:
        say("The cluster is kept: fix the problem and re-run `k8snet kind up` (it resumes), or delete it with "
            "`k8snet kind down`.")
        raise
    if opts.name != clusterset.DEFAULT_NAME:
        shape = clusterset.shape(opts.name)
        say(f"Networks of {opts.name}: pods {shape.pod_cidr}, Services {shape.service_cidr} (apart from every other "
            "member of the cluster set).")
    say(f"kind cluster {opts.name} is ready: http://localhost:{opts.http_port} and https://localhost:{opts.https_port} "
        f"reach Traefik; kubectl context kind-{opts.name}.")
    return run.report


def ensure_karmada_host(run: _Run) -> None:
    """Create the one-node cluster that hosts Karmada, its kubeconfig written apart (:func:`karmada.host_kubeconfig`),
    or reuse it. An ordinary member of that name is refused: it is not turned into a Karmada host in place."""
    name = run.opts.name
    path = karmada.host_kubeconfig(name)
    if cluster_exists(name):
        mapping = edge_mapping(name)
        if not mapping:
            raise commands.ToolError(f"the node container {name}-control-plane publishes no port: it is not running",
                                     f"`docker start {name}-control-plane`, then re-run `k8snet kind up --name {name} "
                                     "--karmada`")
        if not karmada.is_host(mapping):
            raise commands.ToolError(
                f"kind cluster {name} is an ordinary member (it publishes the ingress edge), not a Karmada host: a "
                "cluster is not turned into a Karmada control plane in place",
                f"`k8snet kind down --name {name}`, then `k8snet kind up --name {name} --karmada`; or give the "
                "Karmada control plane another name")
        if not path.exists():
            commands.run(commands.kind_export_kubeconfig_argv(name, path), timeout=60)
        return
    cfg = config_path(name)
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(karmada.render_host_config(karmada.host_config(name)))
    commands.run(commands.kind_create_argv(cfg, name, kubeconfig=path), timeout=run.opts.timeout,
                 echo=lambda line: run.say(f"  {line}") if line.strip() else None)
    run.report.created = True


def up_karmada(opts: Options, say: Say = print) -> UpReport:
    """``k8snet kind up --name NAME --karmada``: the host cluster, the Karmada operator, the control plane, and the
    context ``kind-NAME`` for the karmada-apiserver (:mod:`k8snet.kind.karmada`). Idempotent, as :func:`up`.

    Raises:
        ToolError: docker or kind missing; an ordinary cluster of that name exists.
        TimeoutError: a readiness condition did not hold in time, naming it and what it saw last.
    """
    run = _Run(opts, say)
    name, version = opts.name, versions.KARMADA_VERSION
    run.step("check docker and kind", lambda: preflight(opts))
    run.step(f"cluster {name} ({versions.KUBERNETES_VERSION}, 1 node) to host Karmada", lambda: ensure_karmada_host(run))
    try:
        host = run.step(f"connect through {karmada.host_kubeconfig(name)}", lambda: karmada.host_cluster(name))
        run.step("node Ready", lambda: readiness.wait_nodes_ready(host, [f"{name}-control-plane"], timeout=opts.timeout))
        run.step(f"Karmada operator {version}", lambda: karmada.install_operator(host, opts.timeout))
        run.step(f"Karmada {version}: etcd, karmada-apiserver, aggregated apiserver, controllers, scheduler, webhook",
                 lambda: karmada.install_control_plane(host, opts.timeout))
        port = karmada.host_port(edge_mapping(name))
        run.step(f"context kind-{name}: the karmada-apiserver on 127.0.0.1:{port}",
                 lambda: karmada.write_context(host, name, port))
        run.step("karmada-apiserver serving Karmada's kinds, karmada-webhook answering",
                 lambda: karmada.wait_serving(name, opts.timeout))
    except BaseException:
        say(f"The cluster is kept: fix the problem and re-run `k8snet kind up --name {name} --karmada` (it resumes), "
            f"or delete it with `k8snet kind down --name {name}`.")
        raise
    say(f"Karmada {version} control plane {name} is ready: kubectl --context kind-{name} get clusters (members join "
        f"with k8snet.federation.join); its pods: kubectl --kubeconfig {karmada.host_kubeconfig(name)} -n "
        f"{karmada.NAMESPACE} get pods.")
    return run.report


def down(name: str = versions.CLUSTER_NAME, say: Say = print) -> bool:
    """Stop cloud-provider-kind (it removes its load balancers), delete the cluster and its kubeconfig context.
    cloud-provider-kind serves every kind cluster on the host, so while another member of the set remains it keeps
    running and only this cluster's load balancer containers go.

    Returns whether there was anything to delete.
    """
    if commands.which("docker") is None and commands.which("kind") is None:
        say("Neither docker nor kind is installed: there is no kind cluster to delete.")
        return False
    found = False
    if commands.which("docker") is not None and commands.docker_info().server_version is not None:
        provider = versions.CLOUD_PROVIDER_CONTAINER
        if commands.container_state(provider) is not None:
            others = [c for c in cluster_names() if c != name] if commands.which("kind") is not None else []
            if others:
                say(f"• keeping {provider}: it serves the other kind clusters too ({', '.join(others)})")
            else:
                found = True
                say(f"• stopping {provider}")
                commands.run(commands.docker_stop_argv(provider), check=False, timeout=60)
                commands.run(commands.docker_rm_argv(provider), check=False, timeout=60)
        leftovers = commands.run(commands.docker_ps_label_argv(versions.CLOUD_PROVIDER_LABEL, name), check=False,
                                 timeout=30).stdout.split()
        if leftovers:
            commands.run(commands.docker_rm_argv(*leftovers), check=False, timeout=60)
        if commands.container_state(outside.CONTAINER) is not None:  # it serves every kind cluster on the host, as above
            others = [c for c in cluster_names() if c != name] if commands.which("kind") is not None else []
            if others:
                say(f"• keeping {outside.CONTAINER}: it serves the other kind clusters too ({', '.join(others)})")
            else:
                found = True
                outside.remove(say)
    if commands.which("kind") is not None and cluster_exists(name):
        found = True
        say(f"• deleting kind cluster {name}")
        commands.run(commands.kind_delete_argv(name), timeout=300,
                     echo=lambda line: say(f"  {line}") if line.strip() else None)
    kubeconfig.remove_context(f"kind-{name}")
    karmada.host_kubeconfig(name).unlink(missing_ok=True)  # a Karmada host's own kubeconfig
    say(f"kind cluster {name} deleted." if found else f"No kind cluster named {name}.")
    return found


@dataclass
class Problem:
    """Something wrong with the kind backend: which part (``key``), what, and the fix."""

    key: str  # tools, cluster, context, api, nodes, traefik, cert-manager, trust-manager, crds, edge, cloud-provider,
    # outside
    what: str
    fix: str


@dataclass
class Status:
    """The kind backend as found now; ``problems`` lists what is wrong, each with its fix."""

    exists: bool = False
    context: bool = False
    reachable: bool = False
    kubernetes: str | None = None
    nodes: dict[str, bool] = field(default_factory=dict)
    traefik: str | None = None  # the running image, when Traefik is Ready
    cert_manager: str | None = None  # the controller's image, when every cert-manager Deployment is Ready
    trust_manager: str | None = None  # its image, when its Deployment is Ready
    crds: dict[str, bool] = field(default_factory=dict)
    edge: list[readiness.EdgeAnswer] = field(default_factory=list)
    cloud_provider: str | None = None  # container state
    outside: str | None = None  # the outside world's container state
    outside_dns: bool = False  # whether CoreDNS's Corefile holds the outside world's names
    load_balancer_ip: str | None = None
    karmada: str | None = None  # a Karmada host's control plane: what its Karmada object's Ready condition says
    problems: list[Problem] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return self.reachable and not self.problems


def status(name: str = versions.CLUSTER_NAME) -> Status:
    """Look at the cluster without changing anything (used by ``k8snet kind status`` and ``k8snet doctor``)."""
    st = Status()
    for tool in (commands.docker_info(), commands.kind_info()):
        if not tool.ok:
            st.problems.append(Problem("tools", tool.problem or tool.name, tool.fix or ""))
    if st.problems:
        return st
    st.exists = cluster_exists(name)
    st.context = kubeconfig.context(f"kind-{name}") is not None
    if not st.exists:
        st.problems.append(Problem("cluster", f"no kind cluster named {name}", "create it with `k8snet kind up`"))
        return st
    if karmada.is_host(edge_mapping(name)):
        _inspect_karmada_host(st, name)
        return st
    if not st.context:
        st.problems.append(Problem("context", f"the kubeconfig has no context kind-{name}",
                            f"`kind export kubeconfig --name {name}` (or re-run `k8snet kind up`)"))
        return st
    st.cloud_provider = commands.container_state(versions.CLOUD_PROVIDER_CONTAINER)
    st.outside = commands.container_state(outside.CONTAINER)
    _inspect_cluster(st, name)
    http_port, https_port = versions.edge_ports() if name == clusterset.DEFAULT_NAME else clusterset.edge_ports(name)
    st.edge = [readiness.probe_edge(http_port, False), readiness.probe_edge(https_port, True)]
    for answer in st.edge:
        if not answer.traefik:
            st.problems.append(Problem("edge", f"the ingress edge does not answer as Traefik: {answer}",
                                "re-run `k8snet kind up`; if a port is taken by something else, stop it"))
    if st.outside != "running" or (st.reachable and not st.outside_dns):
        missing = (f"its container {outside.CONTAINER} is {st.outside or 'not created'}" if st.outside != "running"
                   else "CoreDNS does not know its names")
        st.problems.append(Problem("outside", f"the outside world (api.payments.example …) is not there: {missing}",
                                   "re-run `k8snet kind up` without --no-outside (after a Docker or node restart it "
                                   "puts the addresses and routes back)"))
    if st.cloud_provider != "running":
        st.problems.append(Problem("cloud-provider", f"cloud-provider-kind is {st.cloud_provider or 'not started'}: LoadBalancer Services "
                            "stay <pending>", "re-run `k8snet kind up`"))
    return st


def _inspect_karmada_host(st: Status, name: str) -> None:
    """A Karmada host has no edge and no add-ons: its node, the operator's verdict on the control plane, and whether
    the karmada-apiserver answers through the context ``kind-<name>``."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    from ..cluster import open_cluster

    fix = f"re-run `k8snet kind up --name {name} --karmada`"
    try:
        host = karmada.host_cluster(name)
        st.kubernetes = host.version()
    except (ApiException, HTTPError, OSError, commands.ToolError) as exc:
        st.problems.append(Problem("api", f"the API server of the Karmada host {name} does not answer: {exc}",
                                   f"is Docker running? `docker start {name}-control-plane`, then {fix}"))
        return
    st.reachable = True
    for node in host.get("Node"):
        st.nodes[node["metadata"]["name"]] = readiness._condition(node, "Ready") == "True"
    ok, st.karmada = karmada.condition(host.find(karmada.API[1], karmada.INSTANCE, karmada.NAMESPACE,
                                                 api_version=karmada.API[0]))
    if not ok:
        st.problems.append(Problem("karmada", f"the Karmada control plane is not Ready ({st.karmada})",
                                   f"{fix}; `kubectl --kubeconfig {karmada.host_kubeconfig(name)} -n "
                                   f"{karmada.NAMESPACE} get pods` shows why"))
        return
    if not st.context:
        st.problems.append(Problem("context", f"the kubeconfig has no context kind-{name} for the karmada-apiserver",
                                   fix))
        return
    serving, seen = karmada.karmada_serves(open_cluster("kind", name))
    if not serving:
        st.problems.append(Problem("karmada", f"the karmada-apiserver does not serve Karmada's kinds: {seen}", fix))


def _inspect_cluster(st: Status, name: str) -> None:
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    from ..cluster import open_cluster

    try:
        cluster = open_cluster("kind", name)
        st.kubernetes = cluster.version()
    except (ApiException, HTTPError, OSError) as exc:
        st.problems.append(Problem("api", f"the API server of kind-{name} does not answer: {exc}",
                            "is Docker running? `docker ps` should list the k8snet-* node containers; "
                            "otherwise `k8snet kind down && k8snet kind up`"))
        return
    st.reachable = True
    for node in cluster.get("Node"):
        st.nodes[node["metadata"]["name"]] = readiness._condition(node, "Ready") == "True"
    if not st.nodes or not all(st.nodes.values()):
        st.problems.append(Problem("nodes", "not every node is Ready", "wait a minute, or `kubectl describe nodes`"))
    try:
        dep = cluster.apps.read_namespaced_deployment("traefik", "traefik")
        if (dep.status.available_replicas or 0) >= 1:
            st.traefik = dep.spec.template.spec.containers[0].image
        else:
            st.problems.append(Problem("traefik", "Traefik is not Ready", "`kubectl -n traefik describe pods`; re-run `k8snet kind up`"))
    except ApiException as exc:
        if exc.status != 404:
            raise
        st.problems.append(Problem("traefik", "Traefik is not installed", "re-run `k8snet kind up`"))
    st.cert_manager, seen = readiness.cert_manager_ready(cluster)
    if st.cert_manager is None:
        st.problems.append(Problem("cert-manager", seen, "re-run `k8snet kind up` (it installs cert-manager "
                                   f"{versions.CERT_MANAGER_VERSION}); `kubectl -n cert-manager get pods` shows why"))
    st.trust_manager, seen = readiness.trust_manager_ready(cluster)
    if st.trust_manager is None:
        st.problems.append(Problem("trust-manager", seen, "re-run `k8snet kind up` (it installs trust-manager "
                                   f"{versions.TRUST_MANAGER_VERSION} after cert-manager); `kubectl -n cert-manager "
                                   "describe deploy trust-manager` shows why"))
    for source in addons.CRD_SOURCES:
        try:
            objects = addons.cached_crds(source)
        except RuntimeError:
            objects = None
        if objects is None:
            continue  # never downloaded here: nothing to compare with (status never goes to the network)
        names = addons.crd_names(objects)
        ok, _ = readiness.crds_established(cluster, names)
        st.crds[f"{source.name} {source.version}"] = ok is not None
        if ok is None:
            st.problems.append(Problem("crds", f"{source.name} CRDs are not all Established", "re-run `k8snet kind up`"))
    try:
        st.load_balancer_ip, _ = readiness.load_balancer_address(cluster, "traefik", "traefik")
    except ApiException:
        pass
    try:
        st.outside_dns = outside.dns_configured(cluster)
    except ApiException:
        st.outside_dns = False


def config_path(name: str = versions.CLUSTER_NAME) -> Path:
    """Where ``up`` writes the kind config it creates the cluster from (a named member: ``kind-config-<name>.yaml``)."""
    return addons.home() / ("kind-config.yaml" if name == versions.CLUSTER_NAME else f"kind-config-{name}.yaml")
