"""One sandbox cluster: its store, clock, seeded random source, allocators, API and controllers.

Everything is handed in or built here, never a module global, so a test or a
notebook gets a clean, deterministic cluster (``Sandbox(seed=1)``).
"""

from __future__ import annotations

import asyncio
import functools
import platform
import ssl
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from .. import clusterset
from . import cni as cniplugin
from . import crddocs, strategies, topology
from . import karmada as karmadaplane
from .apiserver import Api, WriteOptions
from .auth import policy
from .auth.rbac import Authorizer
from .auth.tokens import Tokens
from .clock import Clock
from .clustermesh import ClusterMesh
from .controllers import Manager, calico, certmanager, cilium, clustermesh, istio, trust
from .controllers.podworkers import PodWorkers
from .controllers.volumemanager import VolumeManager
from .crddocs import CRD_DOCUMENTS
from .crds import CustomResourceDefinitions
from .dataplane.calico import validation as calico_validation
from .randomness import Randomness
from .registry import Registry, builtin
from .schema import KUBERNETES_VERSION, SchemaSet, upstream
from .store import Event, Store
from .topology import Shape
from .warmup import Warmup

CLOCK_OFFSET = "clockOffset"
"""The store's meta key for how far the sandbox clock runs ahead of this machine's (seconds)."""
PATCH_VERSION = "1"
GIT_VERSION = f"v{KUBERNETES_VERSION}.{PATCH_VERSION}"
SYSTEM_NAMESPACES = ["default", "kube-node-lease", "kube-public", "kube-system", "local-path-storage"]
COREDNS_IMAGE = "registry.k8s.io/coredns/coredns:v1.12.0"
KUBE_PROXY_IMAGE = f"registry.k8s.io/kube-proxy:{GIT_VERSION}"
"""kubeadm's kube-proxy image for the cluster's version (imageRepository registry.k8s.io, kubernetesVersion)."""
KINDNETD_IMAGE = "docker.io/kindest/kindnetd:v20260528-9350166c"
"""The kindnetd of kind v0.32.0 (pkg/build/nodeimage/const_cni.go at that tag), baked into its node images."""


class Sandbox:
    """An embedded Kubernetes-API-compatible cluster."""

    def __init__(self, state_dir: Path | str | None = None, seed: int = 0, clock: Clock | None = None,
                 registry: Registry | None = None, schemas: SchemaSet | None = None, cni: str | None = None,
                 shape: Shape | None = None, karmada: bool | None = None):
        self.state_dir = Path(state_dir) if state_dir else None
        self.seed = seed
        self.clock = clock or Clock()
        self.random = Randomness(seed)
        self.rng = self.random.stream("main")
        self.registry = registry or builtin()
        self.schemas = schemas or upstream()
        if self.state_dir:
            self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.state_dir.chmod(0o700)  # the store, token and keys are the owner's only
        self.store = Store(self.state_dir / "store.sqlite" if self.state_dir else None)
        if (offset := self.store.meta(CLOCK_OFFSET)) is not None:  # a restart keeps the time it had reached
            self.clock.offset = timedelta(seconds=float(offset))
        self.cni: str = cniplugin.choose(self, cni)
        """The cluster's CNI plugin (:mod:`.cni`): kept in the store, so a restart keeps it (cni.Mismatch when
        the store was made with another one)."""
        self.shape: Shape = topology.choose(self, shape)
        """The cluster's name, networks and nodes (:mod:`.topology`): kept in the store like the CNI plugin
        (topology.Mismatch when the store was made as another cluster)."""
        if self.shape.name != clusterset.DEFAULT_NAME:  # two members with one seed still differ (randomness.py)
            self.random.rescope(self.shape.name)
        self.karmada: bool = karmadaplane.choose(self, karmada)
        """Whether this sandbox is a Karmada control plane (:mod:`.karmada`): kept in the store like the CNI plugin
        (karmada.Mismatch when the store was made the other way)."""
        self.allocators = strategies.Allocators(self.random, self.shape.service_cidr)
        self.api = Api(self.store, self.registry, self.schemas, self.clock, self.random, self.allocators)
        # the stored CRDs are served from the start (memory equals disk), and every CRD write keeps it so
        self.crds = CustomResourceDefinitions(self.store, self.registry, self.schemas)
        self.api.crds = self.crds
        self.authorizer = Authorizer(self.store)
        """RBAC, with its decisions cached until an RBAC object changes (auth/rbac.py)."""
        self.api.authorizer = self.authorizer
        self.api.webhooks.append(certmanager.webhook.webhook())
        self.api.webhooks.append(trust.webhook.webhook())
        self.api.webhooks.append(calico_validation.webhook())  # Calico's API server (its kinds: Calico clusters only)
        self.tokens = Tokens(self)
        """ServiceAccount tokens: TokenRequest, pods' projected tokens, their authentication (auth/tokens.py)."""
        self._init_pod_ipam()
        self.volume_manager = VolumeManager(self)
        """The kubelets' mounts of pods that wait for their volumes (controllers/volumemanager.py)."""
        self.pod_workers = PodWorkers(self)
        """The kubelets' retries of pods whose last sync failed (controllers/podworkers.py)."""
        self.ca_pem = cluster_ca(self.state_dir)
        self.manager: Manager | None = None
        self._dataplane: Any = None
        self.on_reset: list[Callable[[], Awaitable[None]]] = []
        """What the real components do when the cluster is replaced (Traefik starts afresh, as a new pod would)."""
        self.real_servers: dict[str, Any] = {}
        """Real components the sandbox process runs, by the program name they stand behind (``traefik``)."""
        self.clustermesh = ClusterMesh(self)
        """The other members of a Cilium Cluster Mesh this cluster is connected to (sandbox/clustermesh)."""
        self._node_load: dict[str, int] | None = None
        self.host_ports: Any = None
        """The nodePort listeners on the host (:mod:`k8snet.sandbox.hostports`), where the process runs them."""
        self.edge_ports: tuple[int, int] | None = None
        """The ingress edge's (http, https) ports on 127.0.0.1, where the process runs it (its status says them)."""
        self._daemon_load: dict[str, int] = {}
        self.program_state: dict[str, Any] = {}
        """What emulated add-on programs keep in memory between requests, by name (istiod's loaded CA and the
        workload certificates issued from it): belongs to the cluster, so a reset drops it."""
        self.warmup: Warmup | None = None
        """The child process making the state directory's caches while the sandbox process starts (:mod:`.warmup`);
        the steps that read them wait for it."""
        self.cni_chain: list[Callable[[Sandbox, dict[str, Any]], None]] = []
        """Chained CNI plugins the kubelet runs when it makes a pod's sandbox, after the pod has its IP and before
        its containers start (the istio-cni plugin captures ambient pods there); each may change the pod object the
        kubelet then writes."""
        self._before_controllers: list[Event] | None = None
        """The store's events between :meth:`prepare` and :meth:`run_controllers` (requests answered meanwhile),
        which the controllers get once they run, as if they had watched from the start."""
        self.store.subscribe(self._on_store_event)

    @property
    def dataplane(self) -> Any:
        """The data plane (DNS, kube-proxy, workloads, exec), built on first use."""
        if self._dataplane is None:
            from .controllers import pods
            from .dataplane import DataPlane

            self._dataplane = DataPlane(self)
            self._dataplane.processes.on_exit = lambda pod, container, code, result: pods.container_exited(
                self, pod, container, code, result)
        return self._dataplane

    # -- lifecycle -------------------------------------------------------------------

    def _init_pod_ipam(self) -> None:
        self.allocators.pod_ips = {n.name: cniplugin.pod_allocator(self, n.name, n.pod_cidr) for n in self.shape.nodes}
        strategies.rebuild(self.api)
        for pod in self.store.list("pods"):
            node, ip = pod["spec"].get("nodeName"), (pod.get("status") or {}).get("podIP")
            if node in self.allocators.pod_ips and ip and not pod["spec"].get("hostNetwork"):
                self.allocators.pod_ips[node].reserve(ip)

    async def start(self) -> None:
        """Bootstrap a fresh store, then run the controllers on the current loop."""
        self.prepare()
        self.run_controllers()

    def prepare(self) -> None:
        """What every request needs to find: a fresh store's bootstrap objects, and the add-ons' CRDs, namespaces
        and the RBAC policy (each also installed into a store made before it came). The sandbox process answers
        requests from here on (:meth:`.server.ApiServer.ready_mw`), before :meth:`run_controllers`."""
        with self.store.batch():  # one durable commit: each commit waits for the disk, and no client sees these
            for reads, step in self.preparation():
                if self.warmup is not None:
                    self.warmup.wait(*reads)
                for _ in step() or ():
                    pass
        self.prepared()

    def prepared(self) -> None:
        """Mark the end of :meth:`prepare` (or of its :meth:`preparation` steps): from here until
        :meth:`run_controllers`, the store's events are kept for the controllers (a deletion in between would
        otherwise never reach the garbage collector, which their first pass over the store cannot see)."""
        self._before_controllers = []

    def preparation(self) -> list[tuple[tuple[str, ...], Callable[[], Iterator[None] | None]]]:
        """:meth:`prepare` as steps in order, each with the caches it reads that a warm-up child may still be
        making (:mod:`.warmup`: the names of CRD documents), to run inside one :meth:`.store.Store.batch`. The
        sandbox process lets its loop turn between them, at each pause a step yields (one per CRD) and while it
        waits for a cache, so connections that arrive meanwhile get through their TLS handshakes (their requests
        wait for the last step)."""
        if self.karmada:  # the karmada-apiserver: Karmada's kinds and controllers, no nodes, no workloads
            return [((), self._bootstrap_once), ((karmadaplane.CRD_DOCUMENT,), lambda: karmadaplane.install(self))]
        return [((), self._bootstrap_once),
                # the add-ons' kinds, also into a store made before they came
                *(((name,), functools.partial(install_crd_document, self, name)) for name in crd_documents(self)),
                ((), lambda: install_gateway_class(self)),
                # kind's kube-proxy and the CNI plugin's objects (kindnet's DaemonSet), likewise
                ((), lambda: install_kube_system(self)),
                ((), lambda: install_coredns_config(self)),  # kubeadm's kube-system/coredns ConfigMap, likewise
                ((), lambda: certmanager.install(self)),  # the cert-manager namespace, likewise
                ((), lambda: trust.install(self)),  # trust-manager's trust namespace (the same cert-manager), likewise
                ((), lambda: istio.install(self)),  # istio-cni's CNI plugin (it acts where its agent runs)
                ((), lambda: calico.install(self)),  # Calico's built-in tiers (a Calico cluster's), likewise
                ((), self._install_policy)]

    def _bootstrap_once(self) -> None:
        if self.store.get("namespaces", "", "default") is None:
            with self.store.batch():
                karmadaplane.bootstrap(self) if self.karmada else self.bootstrap()

    def _install_policy(self) -> None:
        with self.store.batch():
            policy.install(self)  # the default roles and bindings, also into a store made before RBAC was served

    def run_controllers(self) -> None:
        """Start the controllers on the current loop (after :meth:`prepare`): their first pass over the store (an
        informer's initial list), then the events of what requests did since :meth:`prepared`, as a watch from
        the start would have brought them."""
        if self.karmada:
            self._start_manager(karmadaplane.controllers(self))
            karmadaplane.start(self)
            return
        from .controllers import (
            clusterroles,
            crds,
            csrcleaner,
            csrsigning,
            daemonsets,
            deployments,
            endpoints,
            gc,
            jobs,
            mcs,
            namespaces,
            pods,
            replicasets,
            statefulsets,
        )

        self._start_manager([namespaces.controller(self), gc.controller(self),
                             deployments.controller(self), replicasets.controller(self),
                             daemonsets.controller(self), statefulsets.controller(self),
                             jobs.controller(self), jobs.cron_controller(self), pods.controller(self),
                             endpoints.controller(self), crds.controller(self),
                             clusterroles.controller(self), csrsigning.controller(self),
                             csrcleaner.controller(self), *certmanager.controllers(self),
                             trust.controller(self), *istio.controllers(self),
                             *cilium.controllers(self), *clustermesh.controllers(self),
                             *mcs.controllers(self),
                             *calico.controllers(self)])

    def _start_manager(self, controllers: list[Any]) -> None:
        self.manager = Manager(self, controllers)
        self.manager.start()
        held, self._before_controllers = self._before_controllers or [], None
        for event in held:
            self.manager.on_event(event)

    async def stop(self) -> None:
        if self.manager:
            await self.manager.stop()
            self.manager = None

    def close(self) -> None:
        self.store.close()

    async def reset(self, seed: int | None = None, cni: str | None = None) -> None:
        """Wipe every object and start again as a new cluster (``k8snet sandbox reset``), with another CNI plugin
        when ``cni`` names one (ValueError for an unknown one, before anything is wiped)."""
        if cni is not None:
            cni = cniplugin.check(cni)
        await self.stop()
        self.store.wipe()
        if cni is not None:
            self.cni = cni
            self.store.set_meta(cniplugin.META_KEY, cni)
        self.crds.rebuild()  # a wipe sends no events: the served CRDs follow the (now empty) store here
        self._node_load = None
        if self._dataplane is not None:  # the old cluster's containers are gone, and the commands exec'd in them
            self._dataplane.close()
        self._dataplane = None  # affinity tables, files and logs belong to the old cluster
        self.volume_manager.close()
        self.program_state.clear()
        self.pod_workers.close()
        self.clock.offset = timedelta(0)  # a new cluster starts at this machine's time
        self.store.set_meta(CLOCK_OFFSET, "0")
        if seed is not None:
            self.seed = seed
        self.random.reseed(self.seed)
        self.allocators.service_ips._range.used.clear()
        self.allocators.node_ports.used.clear()
        self._init_pod_ipam()
        await self.start()
        for hook in list(self.on_reset):
            await hook()

    def advance_clock(self, seconds: float) -> None:
        """Move the sandbox's time forward and keep the new offset with the objects, so a restart keeps it
        (certificates issued at the advanced time must not lie in the future after a restart).

        Raises:
            ValueError: what :meth:`Clock.advance` refuses (the clock is unchanged).
        """
        self.clock.advance(seconds)
        self.store.set_meta(CLOCK_OFFSET, repr(self.clock.offset.total_seconds()))

    def reseed(self, seed: int) -> None:
        self.seed = seed
        self.random.reseed(seed)

    # -- facts -----------------------------------------------------------------------

    def version_info(self) -> dict[str, str]:
        major, minor = KUBERNETES_VERSION.split(".")
        return {"major": major, "minor": minor, "emulationMajor": major, "emulationMinor": minor,
                "minCompatibilityMajor": major, "minCompatibilityMinor": str(int(minor) - 1),
                "gitVersion": GIT_VERSION, "gitCommit": "", "gitTreeState": "",
                "buildDate": "", "goVersion": "", "compiler": "k8snet-sandbox",
                "platform": f"linux/{'arm64' if platform.machine() in ('aarch64', 'arm64') else 'amd64'}"}

    def facts(self) -> dict[str, Any]:
        """What the cluster is, fixed for the process's life: ``ready.json`` carries them, so ``k8snet sandbox up``
        can say them without a request."""
        return {"kubernetesVersion": GIT_VERSION, "cluster": self.shape.to_dict(), "cni": self.cni,
                "karmada": self.karmada, "cniTitle": cniplugin.PLUGINS[self.cni].title}

    def status(self) -> dict[str, Any]:
        facts = self.facts()
        return {"kubernetesVersion": facts.pop("kubernetesVersion"), "seed": self.seed,
                "resourceVersion": self.store.rv, **facts, "now": self.api.now(),
                "objects": {rt.group_resource: self.store.count(rt.group_resource) for rt in self.registry.types},
                "containers": self._dataplane.workloads.footprint() if self._dataplane is not None else
                {"fileSystems": 0, "fileSystemBytes": 0},
                "nodePorts": self.host_ports.status() if self.host_ports is not None else None,
                "edge": {"http": self.edge_ports[0], "https": self.edge_ports[1]} if self.edge_ports else None}

    # -- services for controllers ------------------------------------------------------

    def pods_per_node(self) -> dict[str, int]:
        """Pods bound to each node that still hold it (not Succeeded or Failed), for the scheduler."""
        if self._node_load is None:
            self._node_load, self._daemon_load = {}, {}
            for pod in self.store.list("pods"):
                self._count_pod(pod, +1)
        return self._node_load

    def spread_load(self) -> dict[str, int]:
        """The load the scheduler spreads pods by: :meth:`pods_per_node` without DaemonSet pods, which stand
        one on every node they may run on (so they move no choice between workers, whenever they start)."""
        load = self.pods_per_node()
        return {node: n - self._daemon_load.get(node, 0) for node, n in load.items()}

    def _count_pod(self, pod: dict[str, Any] | None, delta: int) -> None:
        if not pod or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return
        node = (pod.get("spec") or {}).get("nodeName")
        if node and self._node_load is not None:
            self._node_load[node] = self._node_load.get(node, 0) + delta
            if any(r.get("kind") == "DaemonSet" and r.get("controller")
                   for r in pod["metadata"].get("ownerReferences") or []):
                self._daemon_load[node] = self._daemon_load.get(node, 0) + delta

    def _on_store_event(self, event: Any) -> None:
        if self._before_controllers is not None:
            self._before_controllers.append(event)
        proxy = getattr(self._dataplane, "proxy", None)  # tests may stand a smaller data plane in
        if proxy is not None:
            proxy.observe(event)  # kube-proxy's informers (Services, EndpointSlices)
        if event.resource == "pods":
            self._count_pod(event.old, -1)
            if event.type != "DELETED":
                self._count_pod(event.obj, +1)
                podsync = getattr(self._dataplane, "podsync", None)
                if event.type == "MODIFIED" and podsync is not None:
                    podsync.changed(event.old, event.obj)  # a new spec, labels or annotations: the kubelet syncs
            else:
                self._pod_gone(event.obj)

    def _pod_gone(self, pod: dict[str, Any]) -> None:
        """A pod left the store, gracefully or forced (``--force --grace-period=0`` skips the kubelet's
        termination): its address, programs, files and logs go with it either way."""
        ip, node = (pod.get("status") or {}).get("podIP"), (pod.get("spec") or {}).get("nodeName")
        if ip and node and not (pod.get("spec") or {}).get("hostNetwork"):  # a host-network pod has the node's
            self.release_pod_ip(node, ip)
        self.volume_manager.forget((pod["metadata"].get("namespace", ""), pod["metadata"]["name"]))
        self.pod_workers.forget((pod["metadata"].get("namespace", ""), pod["metadata"]["name"]))
        if self._dataplane is not None:
            self._dataplane.forget(pod["metadata"].get("uid", ""))

    def pod_ip(self, node: str) -> str:
        return self.allocators.pod_ips[node].allocate()

    def release_pod_ip(self, node: str, ip: str) -> None:
        if node in self.allocators.pod_ips:
            self.allocators.pod_ips[node].release(ip)

    async def subresource(self, request: web.Request, rt, ns: str, name: str, sub: str) -> web.StreamResponse:
        """Pod subresources that stream (exec, attach, log) or act (binding, eviction)."""
        from . import podattach, podforward, podsub

        if sub == "attach" and request.method in ("GET", "POST"):
            return await podattach.attach(self, request, rt, ns, name)
        if sub == "portforward" and request.method in ("GET", "POST"):
            return await podforward.portforward(self, request, rt, ns, name)
        return await podsub.handle(self, request, rt, ns, name, sub)

    # -- bootstrap ---------------------------------------------------------------------

    def bootstrap(self) -> None:
        """The objects a new kind cluster starts with (named k8snet, unless the sandbox's shape names another)."""
        opts = WriteOptions(field_manager="kube-apiserver")
        rt = self.registry.lookup
        for ns in SYSTEM_NAMESPACES:
            self.api.create(rt("", "v1", "namespaces"), "", {"metadata": {"name": ns}}, opts)
        for node in self.shape.nodes:
            self.store.put("nodes", node_object(self, node.name, node.pod_cidr, node.internal_ip))
        self.api.create(rt("", "v1", "services"), "default", {
            "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"clusterIP": self.shape.kubernetes_ip, "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                                                          "targetPort": 6443}]}}, opts)
        # kube-apiserver keeps the endpoints of default/kubernetes itself (its own address on the control plane)
        apiserver_ip = self.shape.control_plane.internal_ip
        self.api.create(rt("", "v1", "endpoints"), "default", {
            "metadata": {"name": "kubernetes", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [{"addresses": [{"ip": apiserver_ip}],
                         "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]}, opts)
        self.api.create(rt("discovery.k8s.io", "v1", "endpointslices"), "default", {
            "metadata": {"name": "kubernetes", "labels": {"kubernetes.io/service-name": "kubernetes"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [apiserver_ip], "conditions": {"ready": True}}],
            "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}, opts)
        kubeadm = WriteOptions(field_manager="kubeadm")
        self.api.create(rt("", "v1", "services"), "kube-system", {
            "metadata": {"name": "kube-dns", "labels": {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true",
                                                        "kubernetes.io/name": "CoreDNS"},
                         "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"}},
            "spec": {"clusterIP": self.shape.dns_ip, "selector": {"k8s-app": "kube-dns"},
                     "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                               {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                               {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153}]}},
            kubeadm)
        self.api.create(rt("", "v1", "configmaps"), "kube-system", kubeadm_config(self.shape), kubeadm)
        self.api.create(rt("", "v1", "serviceaccounts"), "kube-system", {"metadata": {"name": "coredns"}}, kubeadm)
        self.api.create(rt("apps", "v1", "deployments"), "kube-system", coredns_deployment(), kubeadm)
        for name in (n.name for n in self.shape.nodes):  # each kubelet renews a Lease in kube-node-lease (kubectl describe node shows it)
            node = self.store.get("nodes", "", name)
            self.api.create(rt("coordination.k8s.io", "v1", "leases"), "kube-node-lease", {
                "metadata": {"name": name, "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name,
                                                                "uid": node["metadata"]["uid"]}]},
                "spec": {"holderIdentity": name, "leaseDurationSeconds": 40,
                         "renewTime": self.clock.now().strftime("%Y-%m-%dT%H:%M:%S.000000Z")}},
                WriteOptions(field_manager="kubelet"))
        policy.install(self)  # kube-apiserver's default roles and bindings, and kubeadm's
        install_traefik(self)


CNI_CRD_DOCUMENTS = {cniplugin.CILIUM: ("cilium.io.yaml", "multicluster.x-k8s.io.yaml"),
                     cniplugin.CALICO: ("projectcalico.org.yaml",)}
"""The CNI plugin's own kinds, installed only in a cluster that runs that plugin: Cilium's policies, endpoints and
identities (on kind its operator creates them) and the Multi-Cluster Services API's ServiceExport and ServiceImport
(its operator installs them when its MCS-API support is on, controllers/mcs); Calico's projectcalico.org/v3
policies, tiers and network sets (on kind its aggregated API server serves them)."""


def crd_documents(sb: Sandbox) -> tuple[str, ...]:
    """The CRD documents the cluster installs: :data:`CRD_DOCUMENTS`, and its CNI plugin's
    (:data:`CNI_CRD_DOCUMENTS`)."""
    return (*CRD_DOCUMENTS, *CNI_CRD_DOCUMENTS.get(sb.cni, ()))


def install_crds(sb: Sandbox) -> None:
    """Create every CRD of :func:`crd_documents` the store does not hold yet (they then serve like any CRD), then
    Traefik's GatewayClass."""
    for name in crd_documents(sb):
        for _ in install_crd_document(sb, name):
            pass
    install_gateway_class(sb)


def install_crd_document(sb: Sandbox, name: str) -> Iterator[None]:
    """Create the CRDs of one document of ``sandbox/crds/`` that the store does not hold yet, pausing after each
    (:meth:`Sandbox.preparation`)."""
    rt = sb.registry.lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    assert rt is not None
    # ours: the tests check them (their CEL rules compiled), not each start (WriteOptions.checked)
    opts = WriteOptions(field_manager="k8snet", compile_rules=False, checked=True)
    for doc in crddocs.load(name, sb.state_dir):  # separate objects: YAML aliases are separate copies
        if sb.store.get(rt.group_resource, "", doc["metadata"]["name"]) is None:
            sb.api.create(rt, "", doc, opts)
            yield


def install_gateway_class(sb: Sandbox) -> None:
    """Traefik's GatewayClass, applied once its CRD is served (as kind applies traefik-gateway.yaml).

    Ours, so validated by the tests (tests/unit/test_startup.py), not here: its CRD's CEL rules would need the CEL
    parser, whose import and tables cost a new sandbox a third of a second before its first answer."""
    from .. import traefik_config as config

    classes = sb.registry.lookup("gateway.networking.k8s.io", "v1", "gatewayclasses")
    if classes is not None and sb.store.get(classes.group_resource, "", config.GATEWAY_CLASS) is None:
        sb.api.create(classes, "", config.gateway_class(), WriteOptions(field_manager="k8snet", checked=True))


def install_kube_system(sb: Sandbox) -> None:
    """kube-system's DaemonSets as on kind, each created when the store lacks it: ``kube-proxy`` (kubeadm's
    addon/kube-proxy phase: its ServiceAccount, ConfigMap and DaemonSet) and ``kindnet`` (kind's default CNI
    manifest, applied with ``kubectl create``). Both tolerate every taint and use the host's network, so each
    runs a pod on every node; their containers are the emulated kube-proxy and kindnetd, whose work the data
    plane does."""
    rt = sb.registry.lookup
    if sb.store.get("daemonsets.apps", "kube-system", "kube-proxy") is None:
        kubeadm = WriteOptions(field_manager="kubeadm")
        if sb.store.get("serviceaccounts", "kube-system", "kube-proxy") is None:
            sb.api.create(rt("", "v1", "serviceaccounts"), "kube-system", {"metadata": {"name": "kube-proxy"}},
                          kubeadm)
        if sb.store.get("configmaps", "kube-system", "kube-proxy") is None:
            sb.api.create(rt("", "v1", "configmaps"), "kube-system", kube_proxy_config(sb.shape), kubeadm)
        sb.api.create(rt("apps", "v1", "daemonsets"), "kube-system", kube_proxy_daemonset(), kubeadm)
    if sb.cni != cniplugin.KINDNET:
        cniplugin.install(sb)  # Cilium's or Calico's objects, from the manifest kind applies
        return
    if sb.store.get("daemonsets.apps", "kube-system", "kindnet") is None:
        create = WriteOptions(field_manager="kubectl-create")
        if sb.store.get("serviceaccounts", "kube-system", "kindnet") is None:
            sb.api.create(rt("", "v1", "serviceaccounts"), "kube-system", {"metadata": {"name": "kindnet"}}, create)
        sb.api.create(rt("apps", "v1", "daemonsets"), "kube-system", kindnet_daemonset(sb.shape), create)


COREFILE = """.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
    loop
    reload
    loadbalance
}
"""
"""kubeadm's Corefile (cmd/kubeadm/app/phases/addons/dns/manifests.go CoreDNSConfigMap) as a kind v1.33 node has it;
the sandbox's DNS reads the ConfigMap for what it emulates of it (dataplane/corefile.py)."""


def install_coredns_config(sb: Sandbox) -> None:
    """kube-system/coredns, the ConfigMap kubeadm's dns addon phase creates beside its Deployment, created when the
    store lacks it (a store made before the sandbox had it). kubeadm's Deployment mounts it at /etc/coredns; the
    sandbox's abridged one does not (its pod template, and so its pods' names, stay as stored outputs show them):
    the DNS reads the ConfigMap itself."""
    if sb.store.get("configmaps", "kube-system", "coredns") is None:
        sb.api.create(sb.registry.lookup("", "v1", "configmaps"), "kube-system",
                      {"metadata": {"name": "coredns"}, "data": {"Corefile": COREFILE}},
                      WriteOptions(field_manager="kubeadm"))


def kube_proxy_config(shape: Shape) -> dict[str, Any]:
    """kube-system/kube-proxy: kubeadm's ConfigMap (KubeProxyConfigMap19) with kind's KubeProxyConfiguration
    (iptables mode, minSyncPeriod 1s, conntrack maxPerCore 0), abridged to the fields kind sets and the cluster's
    networks."""
    config = "\n".join([
        "apiVersion: kubeproxy.config.k8s.io/v1alpha1",
        "bindAddress: 0.0.0.0",
        "clientConnection:",
        "  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf",
        f"clusterCIDR: {shape.pod_cidr}",
        "conntrack:",
        "  maxPerCore: 0",
        "iptables:",
        "  minSyncPeriod: 1s",
        "kind: KubeProxyConfiguration",
        "mode: iptables"])
    kubeconfig = "\n".join([
        "apiVersion: v1", "kind: Config", "clusters:", "- cluster:",
        "    certificate-authority: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
        f"    server: https://{shape.control_plane.name}:6443", "  name: default", "contexts:", "- context:",
        "    cluster: default", "    namespace: default", "    user: default", "  name: default",
        "current-context: default", "users:", "- name: default", "  user:",
        "    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token"])
    return {"metadata": {"name": "kube-proxy", "labels": {"app": "kube-proxy"}},
            "data": {"config.conf": config, "kubeconfig.conf": kubeconfig}}


XTABLES_LOCK = {"name": "xtables-lock", "hostPath": {"path": "/run/xtables.lock", "type": "FileOrCreate"}}
LIB_MODULES = {"name": "lib-modules", "hostPath": {"path": "/lib/modules"}}


def kube_proxy_daemonset() -> dict[str, Any]:
    """kubeadm's kube-proxy DaemonSet (cmd/kubeadm/app/phases/addons/proxy/manifests.go, KubeProxyDaemonSet19)."""
    return {
        "metadata": {"name": "kube-proxy", "labels": {"k8s-app": "kube-proxy"}},
        "spec": {
            "selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": {"k8s-app": "kube-proxy"}},
                "spec": {
                    "priorityClassName": "system-node-critical",
                    "containers": [{
                        "name": "kube-proxy", "image": KUBE_PROXY_IMAGE, "imagePullPolicy": "IfNotPresent",
                        "command": ["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf",
                                    "--hostname-override=$(NODE_NAME)"],
                        "securityContext": {"privileged": True},
                        "volumeMounts": [{"mountPath": "/var/lib/kube-proxy", "name": "kube-proxy"},
                                         {"mountPath": "/run/xtables.lock", "name": "xtables-lock",
                                          "readOnly": False},
                                         {"mountPath": "/lib/modules", "name": "lib-modules", "readOnly": True}],
                        "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]}],
                    "hostNetwork": True,
                    "serviceAccountName": "kube-proxy",
                    "volumes": [{"name": "kube-proxy", "configMap": {"name": "kube-proxy"}}, XTABLES_LOCK,
                                LIB_MODULES],
                    "tolerations": [{"operator": "Exists"}],
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                },
            },
        },
    }


def kindnet_daemonset(shape: Shape) -> dict[str, Any]:
    """kind's kindnet DaemonSet (pkg/build/nodeimage/const_cni.go at v0.32.0, with the cluster's pod subnet)."""
    labels = {"tier": "node", "app": "kindnet", "k8s-app": "kindnet"}
    return {
        "metadata": {"name": "kindnet", "labels": dict(labels)},
        "spec": {
            "selector": {"matchLabels": {"app": "kindnet"}},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "hostNetwork": True,
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "tolerations": [{"operator": "Exists"}],
                    "priorityClassName": "system-node-critical",
                    "serviceAccountName": "kindnet",
                    "containers": [{
                        "name": "kindnet-cni", "image": KINDNETD_IMAGE,
                        "env": [{"name": "HOST_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
                                {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                                {"name": "POD_SUBNET", "value": shape.pod_cidr}],
                        "volumeMounts": [{"name": "cni-cfg", "mountPath": "/etc/cni/net.d"},
                                         {"name": "xtables-lock", "mountPath": "/run/xtables.lock",
                                          "readOnly": False},
                                         {"name": "lib-modules", "mountPath": "/lib/modules", "readOnly": True},
                                         {"name": "nri-plugin", "mountPath": "/var/run/nri"}],
                        "resources": {"requests": {"cpu": "100m", "memory": "50Mi"},
                                      "limits": {"cpu": "100m", "memory": "50Mi"}},
                        "securityContext": {"privileged": False,
                                            "capabilities": {"add": ["NET_RAW", "NET_ADMIN"]}}}],
                    "volumes": [{"name": "cni-cfg", "hostPath": {"path": "/etc/cni/net.d"}}, XTABLES_LOCK,
                                LIB_MODULES, {"name": "nri-plugin", "hostPath": {"path": "/var/run/nri"}}],
                },
            },
        },
    }


def install_traefik(sb: Sandbox) -> None:
    """The ingress controller the kind backend installs: Traefik in ``traefik``, the default IngressClass."""
    from .. import traefik_config as config

    opts = WriteOptions(field_manager="k8snet")
    rt = sb.registry.lookup
    sb.api.create(rt("", "v1", "namespaces"), "", config.namespace(), opts)
    sb.api.create(rt("", "v1", "serviceaccounts"), config.NAMESPACE, config.service_account(), opts)
    sb.api.create(rt("networking.k8s.io", "v1", "ingressclasses"), "", config.ingress_class(), opts)
    sb.api.create(rt("apps", "v1", "deployments"), config.NAMESPACE, config.deployment(), opts)
    sb.api.create(rt("", "v1", "services"), config.NAMESPACE, config.service(), opts)


def kubeadm_config(shape: Shape) -> dict[str, Any]:
    """kube-system/kubeadm-config: where a kind (kubeadm) cluster records its networks and version."""
    cluster_configuration = "\n".join([
        "apiServer: {}",
        "apiVersion: kubeadm.k8s.io/v1beta4",
        "caCertificateValidityPeriod: 87600h0m0s",
        "certificateValidityPeriod: 8760h0m0s",
        "certificatesDir: /etc/kubernetes/pki",
        f"clusterName: {shape.name}",
        f"controlPlaneEndpoint: {shape.control_plane.name}:6443",
        "controllerManager: {}",
        "dns: {}",
        "encryptionAlgorithm: RSA-2048",
        "etcd:",
        "  local:",
        "    dataDir: /var/lib/etcd",
        "imageRepository: registry.k8s.io",
        "kind: ClusterConfiguration",
        f"kubernetesVersion: {GIT_VERSION}",
        "networking:",
        "  dnsDomain: cluster.local",
        f"  podSubnet: {shape.pod_cidr}",
        f"  serviceSubnet: {shape.service_cidr}",
        "proxy: {}",
        "scheduler: {}",
        ""])
    return {"metadata": {"name": "kubeadm-config"}, "data": {"ClusterConfiguration": cluster_configuration}}


def cluster_ca(state_dir: Path | None) -> str:
    """The cluster CA certificate (PEM): the one the API server's certificate chains to."""
    from . import pki

    if state_dir is not None:
        ca_file, _, _ = pki.ensure(state_dir)
        return ca_file.read_text()
    return pki.pem_cert(pki.make_ca()[1]).decode()


def node_object(sb: Sandbox, name: str, cidr: str, ip: str) -> dict[str, Any]:
    """A Ready node as kind's kubelet registers it."""
    now = sb.api.now()
    control_plane = name.endswith("control-plane")
    labels = {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
              "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}
    if control_plane:
        labels["node-role.kubernetes.io/control-plane"] = ""
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
    spec: dict[str, Any] = {"podCIDR": cidr, "podCIDRs": [cidr], "providerID": f"kind://docker/{sb.shape.name}/{name}"}
    if control_plane:
        spec["taints"] = [{"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"}]

    def cond(ctype: str, status: str, reason: str, message: str) -> dict[str, str]:
        return {"type": ctype, "status": status, "lastHeartbeatTime": now, "lastTransitionTime": now,
                "reason": reason, "message": message}

    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "uid": sb.api.new_uid(), "creationTimestamp": now, "labels": labels,
                     "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                     "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
        "spec": spec,
        "status": {
            "addresses": [{"address": ip, "type": "InternalIP"}, {"address": name, "type": "Hostname"}],
            "allocatable": {"cpu": "2", "ephemeral-storage": "100Gi", "hugepages-2Mi": "0", "memory": "8Gi",
                            "pods": "110"},
            "capacity": {"cpu": "2", "ephemeral-storage": "100Gi", "hugepages-2Mi": "0", "memory": "8Gi",
                         "pods": "110"},
            "conditions": [
                cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {"architecture": "amd64", "bootID": sb.api.new_uid(), "containerRuntimeVersion":
                         "containerd://2.1.1", "kernelVersion": platform.release(),
                         "kubeProxyVersion": GIT_VERSION, "kubeletVersion": GIT_VERSION,
                         "machineID": sb.api.new_uid().replace("-", ""), "operatingSystem": "linux",
                         "osImage": "Debian GNU/Linux 12 (bookworm)", "systemUUID": sb.api.new_uid()},
        },
    }


def coredns_deployment() -> dict[str, Any]:
    """CoreDNS as kubeadm deploys it (two replicas, tolerating the control-plane taint)."""
    ports = [{"containerPort": 53, "name": "dns", "protocol": "UDP"},
             {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"},
             {"containerPort": 9153, "name": "metrics", "protocol": "TCP"}]
    return {
        "metadata": {"name": "coredns", "labels": {"k8s-app": "kube-dns"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": {"k8s-app": "kube-dns"}},
                "spec": {
                    "containers": [{"name": "coredns", "image": COREDNS_IMAGE, "args": ["-conf", "/etc/coredns/Corefile"],
                                    "ports": ports,
                                    "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181, "scheme": "HTTP"}}}],
                    "dnsPolicy": "Default",
                    "priorityClassName": "system-cluster-critical",
                    "serviceAccountName": "coredns",
                    "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"},
                                    {"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"}],
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                },
            },
        },
    }


async def serve(sandbox: Sandbox, token: str, host: str = "127.0.0.1", port: int = 0,
                tls: ssl.SSLContext | None = None, ready: asyncio.Event | None = None) -> tuple[web.AppRunner, int]:
    """Listen with the sandbox's HTTPS API; returns the runner and the bound port.

    It does not start the sandbox: the caller does (:meth:`Sandbox.prepare`, then
    :meth:`Sandbox.run_controllers`), and sets ``ready`` once prepared; until then every request waits
    (:meth:`.server.ApiServer.ready_mw`). None: the sandbox has started already.
    """
    from .server import ApiServer

    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("the sandbox listens on loopback only")
    server = ApiServer(sandbox, token, ready=ready)
    runner = web.AppRunner(server.app, handle_signals=False, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=tls)
    await site.start()
    sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
    bound = sockets[0].getsockname()[1] if sockets else port
    return runner, bound


async def shutdown(sandbox: Sandbox, runner: web.AppRunner) -> None:
    from .server import API_SERVER

    server = runner.app.get(API_SERVER)
    if server is not None:
        server.stopping.set()
    sandbox.store.close_watches()  # their handlers end now, not at the runner's shutdown timeout
    await runner.cleanup()
    await sandbox.stop()
    await asyncio.sleep(0)
