"""Karmada on kind: a real Karmada control plane, installed by the Karmada operator on a one-node kind cluster.

``k8snet kind up --name karmada --karmada`` is the kind side of ``k8snet sandbox up --name karmada --karmada``:
afterwards the context ``kind-karmada`` is the *karmada-apiserver* (no nodes, Karmada's kinds), as
``k8snet-karmada`` is the sandbox's, so ``k8snet.connect("karmada", karmada=True)`` and
``%kubectl --cluster karmada`` reach it the same way on both backends, and :func:`k8snet.federation.join` joins the
other kind clusters (east and west, cloud and onprem) to it in Push mode.

How, following Karmada's own kind setup for its operator (hack/deploy-karmada-operator.sh, operator/README.md):

1. the kind cluster ``<name>`` (one control-plane node, kindnet: the control plane's pods need no more) publishes
   the nodePort :data:`~.versions.KARMADA_APISERVER_NODE_PORT` on a free port of 127.0.0.1 (:func:`host_config`);
   kind writes its own kubeconfig to :func:`host_kubeconfig`, not to ``$KUBECONFIG``, whose ``kind-<name>`` is the
   karmada-apiserver's;
2. the operator (``manifests/karmada-operator.yaml``), then a ``Karmada`` object (:func:`instance`, the shape of
   Karmada's e2e helper test/helper/karmada.go ``NewKarmada`` with the pinned images), which the operator turns
   into etcd, the karmada-apiserver and Karmada's components; it reports ``Ready`` and writes the admin kubeconfig
   into the Secret ``karmada-admin-config`` (operator/pkg/tasks/init/upload.go);
3. a NodePort Service beside the operator's ClusterIP Service (:func:`nodeport_service`), as ``karmadactl init``
   exposes the karmada-apiserver, and the admin kubeconfig rewritten for this machine (:func:`context_entries`):
   its server becomes ``https://127.0.0.1:<published port>`` (the apiserver's certificate is valid for 127.0.0.1,
   operator/pkg/certs/certs.go apiServerAltNamesMutator).

Karmada's controllers run in the host cluster's pods and reach each member at its address on kind's docker network,
``https://<member>-control-plane:6443`` (:func:`member_endpoint`: what ``kind get kubeconfig --internal`` names, the
node's own admin.conf; the node's name is in the API server's certificate). Pods resolve node container names
through Docker's embedded DNS, which kind's node entrypoint makes reachable from pods (images/base/files/usr/local/
bin/entrypoint, ``enable_network_magic``).
"""

from __future__ import annotations

import base64
import copy
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .. import clusterset
from . import addons, config, versions

if TYPE_CHECKING:
    from ..cluster import Cluster

NAMESPACE = "karmada-system"
"""Where the operator and the control plane run (artifacts/deploy/namespace.yaml; karmadactl init's namespace)."""
INSTANCE = "karmada"
"""The Karmada object's name. A name that contains "karmada" names its parts ``<name>-<part>``
(operator/pkg/util/naming.go generateResourceName): karmada-apiserver, karmada-admin-config, as karmadactl init."""
API = ("operator.karmada.io/v1alpha1", "Karmada")
CRD = "karmadas.operator.karmada.io"
OPERATOR = "karmada-operator"
ADMIN_SECRET = f"{INSTANCE}-admin-config"
ADMIN_KEY = "karmada.config"
"""The Secret and key the operator writes the admin kubeconfig into (upload.go generateKubeconfigSecret)."""
APISERVER = f"{INSTANCE}-apiserver"
APISERVER_PORT = 5443
"""operator/pkg/constants: KarmadaAPIserverListenClientPort."""
APISERVER_LABELS = {"app.kubernetes.io/name": "karmada-apiserver", "app.kubernetes.io/instance": INSTANCE}
"""The karmada-apiserver pods' labels, which the operator's own Service selects (controlplane/apiserver/
manifests.go KarmadaApiserverService)."""
NODEPORT_SERVICE = f"{APISERVER}-nodeport"
INTERNAL_PORT = 6443
"""A kind node's API server port on the docker network (kind's common.APIServerInternalPort)."""


# -- what is applied -----------------------------------------------------------------------------------------------


def operator_objects() -> list[dict[str, Any]]:
    """The operator as its README applies it (the manifest's header says from where), in apply order."""
    text = (resources.files("k8snet.kind") / "manifests" / versions.KARMADA_OPERATOR_MANIFEST).read_text()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: the CRD is a megabyte of YAML
    return [d for d in yaml.load_all(text, Loader=loader) if d]


def instance() -> dict[str, Any]:
    """The ``Karmada`` object: every component at the pinned tags with one replica (the e2e helper's shape;
    karmada-metrics-adapter would default to two), etcd local on an emptyDir (the operator's default volume), the
    karmada-apiserver behind a ClusterIP Service (the default; this machine reaches it through
    :func:`nodeport_service`), and the release's CRD tarball."""
    tag = versions.KARMADA_VERSION

    def karmada_part(image: str) -> dict[str, Any]:
        return {"imageRepository": f"{versions.KARMADA_IMAGE_REPOSITORY}/{image}", "imageTag": tag, "replicas": 1}

    return {
        "apiVersion": API[0], "kind": API[1],
        "metadata": {"name": INSTANCE, "namespace": NAMESPACE},
        "spec": {
            "crdTarball": {"httpSource": {"url": versions.KARMADA_CRDS_URL}, "crdDownloadPolicy": "IfNotPresent"},
            "components": {
                "etcd": {"local": {"imageRepository": "registry.k8s.io/etcd",
                                   "imageTag": versions.KARMADA_ETCD_VERSION, "replicas": 1}},
                "karmadaAPIServer": {"imageRepository": "registry.k8s.io/kube-apiserver",
                                     "imageTag": versions.KARMADA_KUBE_VERSION, "replicas": 1,
                                     "serviceType": "ClusterIP"},
                "kubeControllerManager": {"imageRepository": "registry.k8s.io/kube-controller-manager",
                                          "imageTag": versions.KARMADA_KUBE_VERSION, "replicas": 1},
                "karmadaAggregatedAPIServer": karmada_part("karmada-aggregated-apiserver"),
                "karmadaControllerManager": karmada_part("karmada-controller-manager"),
                "karmadaScheduler": karmada_part("karmada-scheduler"),
                "karmadaWebhook": karmada_part("karmada-webhook"),
                "karmadaMetricsAdapter": karmada_part("karmada-metrics-adapter"),
            },
        },
    }


def nodeport_service() -> dict[str, Any]:
    """The karmada-apiserver on the node's port :data:`~.versions.KARMADA_APISERVER_NODE_PORT`, as ``karmadactl
    init`` exposes it (its Service is NodePort with ``--port``, default 32443). The operator's own Service stays
    ClusterIP: with ``serviceType: NodePort`` the operator would take a random nodePort, which a kind port mapping,
    fixed when the node is made, cannot follow."""
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": NODEPORT_SERVICE, "namespace": NAMESPACE,
                         "labels": {"app.kubernetes.io/managed-by": "k8snet"}},
            "spec": {"type": "NodePort", "selector": dict(APISERVER_LABELS),
                     "ports": [{"name": "client", "protocol": "TCP", "port": APISERVER_PORT,
                                "targetPort": APISERVER_PORT,
                                "nodePort": versions.KARMADA_APISERVER_NODE_PORT}]}}


def probe_policy() -> dict[str, Any]:
    """A PropagationPolicy that only karmada-webhook can admit: sent with ``dryRun=All``, it is accepted once the
    webhook answers, which is when a lesson's policies can be applied."""
    return {"apiVersion": "policy.karmada.io/v1alpha1", "kind": "PropagationPolicy",
            "metadata": {"name": "k8snet-readiness-probe", "namespace": "default"},
            "spec": {"resourceSelectors": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "probe"}]}}


# -- the host cluster ----------------------------------------------------------------------------------------------


def host_config(name: str, image: str = versions.NODE_IMAGE) -> dict[str, Any]:
    """The kind config of the cluster that hosts the control plane: the member's networks
    (:func:`k8snet.clusterset.shape`), one control-plane node (Karmada's own kind host, hack/local-up-karmada.sh's
    karmada-host, is one node too), and the karmada-apiserver's nodePort on a free port of 127.0.0.1."""
    shape = clusterset.shape(name)
    return {
        "kind": "Cluster", "apiVersion": config.API_VERSION, "name": name,
        "networking": {"apiServerAddress": "127.0.0.1", "podSubnet": shape.pod_cidr,
                       "serviceSubnet": shape.service_cidr, "kubeProxyMode": versions.KUBE_PROXY_MODE},
        "nodes": [{"role": "control-plane", "image": image,
                   "extraPortMappings": [{"containerPort": versions.KARMADA_APISERVER_NODE_PORT, "hostPort": 0,
                                          "listenAddress": "127.0.0.1", "protocol": "TCP"}]}],
    }


HOST_HEADER = ("# Generated by k8snet (k8snet.kind.karmada): the kind cluster {name} that hosts a Karmada control "
               "plane.\n# One node, {name}-control-plane; pods {pods}, Services {services}; the karmada-apiserver's "
               "nodePort {port}\n# on a free port of 127.0.0.1 (`docker port {name}-control-plane`).\n")


def render_host_config(cfg: dict[str, Any]) -> str:
    """The host config as the YAML text handed to ``kind create cluster --config``."""
    return HOST_HEADER.format(name=cfg["name"], pods=cfg["networking"]["podSubnet"],
                              services=cfg["networking"]["serviceSubnet"],
                              port=versions.KARMADA_APISERVER_NODE_PORT) + yaml.safe_dump(cfg, sort_keys=False)


def host_kubeconfig(name: str) -> Path:
    """Where kind writes the host cluster's own kubeconfig (``kind create cluster --kubeconfig``): apart from
    ``$KUBECONFIG``, whose context ``kind-<name>`` is the karmada-apiserver. ``kubectl --kubeconfig <this file>
    -n karmada-system get pods`` shows the control plane's pods."""
    return addons.home() / f"{name}-host.kubeconfig"


def is_host(mapping: dict[int, str]) -> bool:
    """Whether a kind cluster's published ports (node port → host address, ``docker port``) are a Karmada host's:
    the karmada-apiserver's nodePort, and no ingress edge (every other member publishes Traefik's web nodePort)."""
    return versions.KARMADA_APISERVER_NODE_PORT in mapping and versions.EDGE_NODE_PORTS["web"] not in mapping


def host_port(mapping: dict[int, str]) -> int:
    """The port of 127.0.0.1 kind published the karmada-apiserver's nodePort on (``127.0.0.1:41234`` → 41234).

    Raises:
        ValueError: the nodePort is not published (the cluster was not made as a Karmada host).
    """
    address = mapping.get(versions.KARMADA_APISERVER_NODE_PORT, "")
    port = address.rpartition(":")[2]
    if not port.isdigit():
        raise ValueError(f"the node does not publish the karmada-apiserver's nodePort "
                         f"{versions.KARMADA_APISERVER_NODE_PORT} (published: {mapping or 'nothing'})")
    return int(port)


def member_endpoint(name: str) -> str:
    """Where Karmada's controllers reach the kind cluster ``name``: its control-plane node on kind's docker network,
    as ``kind get kubeconfig --internal`` writes it (pkg/cluster/internal/kubeconfig: the node's admin.conf, whose
    server is kubeadm's controlPlaneEndpoint ``<name>-control-plane:6443``)."""
    clusterset.check_name(name)
    return f"https://{name}-control-plane:{INTERNAL_PORT}"


# -- the admin kubeconfig --------------------------------------------------------------------------------------------


def admin_kubeconfig(secret: dict[str, Any]) -> dict[str, Any]:
    """The kubeconfig in the operator's admin Secret.

    Raises:
        ValueError: the Secret has no ``karmada.config`` key, or it is not a kubeconfig.
    """
    data = secret.get("data") or {}
    if ADMIN_KEY not in data:
        raise ValueError(f"Secret {NAMESPACE}/{ADMIN_SECRET} has no {ADMIN_KEY!r} key (keys: {sorted(data)})")
    kubeconfig = yaml.safe_load(base64.b64decode(data[ADMIN_KEY]))
    if not isinstance(kubeconfig, dict) or not kubeconfig.get("clusters") or not kubeconfig.get("users"):
        raise ValueError(f"{NAMESPACE}/{ADMIN_SECRET}[{ADMIN_KEY}] is not a kubeconfig with a cluster and a user")
    return kubeconfig


def context_entries(kubeconfig: dict[str, Any], server: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The cluster and user entries of the admin kubeconfig's current context, the cluster's ``server`` replaced by
    ``server`` (its CA kept: the karmada-apiserver's certificate names 127.0.0.1 and localhost)."""
    contexts = {c["name"]: c["context"] for c in kubeconfig.get("contexts") or []}
    current = contexts.get(kubeconfig.get("current-context") or "") or next(iter(contexts.values()), {})
    clusters = {c["name"]: c["cluster"] for c in kubeconfig["clusters"]}
    users = {u["name"]: u["user"] for u in kubeconfig["users"]}
    cluster = copy.deepcopy(clusters.get(current.get("cluster"), next(iter(clusters.values()))))
    user = copy.deepcopy(users.get(current.get("user"), next(iter(users.values()))))
    cluster["server"] = server
    return cluster, user


# -- readiness ---------------------------------------------------------------------------------------------------


def condition(obj: dict[str, Any] | None) -> tuple[bool | None, str]:
    """The Karmada object's ``Ready`` condition as (True when the operator's init job completed, else None; what it
    says). A ``Failed`` one is not final: the operator runs the job again (controller.go requeues on error)."""
    if obj is None:
        return None, "the Karmada object is not there"
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            said = f"Ready={cond.get('status')} {cond.get('reason', '')}: {cond.get('message', '')}".strip()
            return (True if cond.get("status") == "True" else None), said
    return None, "no Ready condition yet (the operator has not picked it up)"


def wait_ready(host: Cluster, timeout: float) -> dict[str, Any]:
    """Wait until the operator reports the control plane Ready; returns the Karmada object."""
    from . import readiness

    def check() -> tuple[dict[str, Any] | None, str]:
        obj = host.find(API[1], INSTANCE, NAMESPACE, api_version=API[0])
        ok, said = condition(obj)
        return (obj if ok else None), said

    return readiness.until(check, timeout, f"the Karmada operator to install {NAMESPACE}/{INSTANCE}")


def karmada_serves(karmada: Cluster) -> tuple[bool | None, str]:
    """Whether the karmada-apiserver answers and serves ``cluster.karmada.io`` (karmada-aggregated-apiserver behind
    its APIService): what :func:`k8snet.federation.join` writes."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        client.CustomObjectsApi(karmada.api).list_cluster_custom_object("cluster.karmada.io", "v1alpha1", "clusters")
    except ApiException as exc:
        return None, f"GET /apis/cluster.karmada.io/v1alpha1/clusters: {exc.status} {exc.reason}"
    except (HTTPError, OSError) as exc:
        return None, f"{karmada.api.configuration.host} does not answer: {exc}"
    return True, "serving"


# -- the steps of ``k8snet kind up --name NAME --karmada`` (k8snet.kind.lifecycle.up_karmada runs them) ---------------


def host_cluster(name: str) -> Cluster:
    """The host cluster through the kubeconfig kind wrote for it (:func:`host_kubeconfig`).

    Raises:
        ToolError: that file is missing (the cluster was not made by ``k8snet kind up --karmada``).
    """
    from kubernetes import config as kube_config

    from ..cluster import Cluster
    from .commands import ToolError

    path = host_kubeconfig(name)
    if not path.exists():
        raise ToolError(f"{path} is missing: the kubeconfig of the Karmada host {name}",
                        f"`kind export kubeconfig --name {name} --kubeconfig {path}` (or re-run `k8snet kind up "
                        f"--name {name} --karmada`)")
    api = kube_config.new_client_from_config(config_file=str(path), context=f"kind-{name}")
    return Cluster("kind", f"kind-{name}", api, name=name)


def install_operator(host: Cluster, timeout: float) -> None:
    """Server-side apply the operator's manifest (the CRD first, as hack/deploy-karmada-operator.sh applies it
    ``--server-side``: it is too large for a last-applied annotation), wait until the CRD is Established and the
    operator's Deployment is Ready."""
    from . import readiness

    objects = operator_objects()
    host.apply(objects)
    host.dynamic.resources.invalidate_cache()  # a new kind: discovery must be read again
    readiness.wait_crds_established(host, [CRD], timeout=120)
    host.wait_ready(OPERATOR, NAMESPACE, timeout=timeout)


def install_control_plane(host: Cluster, timeout: float) -> dict[str, Any]:
    """Apply the Karmada object and the NodePort Service, and wait until the operator reports Ready (its init job
    pulls the images, installs the CRDs and waits for every component); returns the Karmada object."""
    host.apply([instance(), nodeport_service()])
    return wait_ready(host, timeout)


def write_context(host: Cluster, name: str, port: int) -> None:
    """The context ``kind-<name>`` in ``$KUBECONFIG``: the operator's admin kubeconfig with the server this machine
    reaches, ``https://127.0.0.1:<port>``. It becomes the current context only when none is set (a member does not
    take kubectl's context from the workbook's cluster, as on the sandbox)."""
    from .. import kubeconfig

    secret = host.find("Secret", ADMIN_SECRET, NAMESPACE)
    if secret is None:
        raise RuntimeError(f"the Karmada operator reports Ready but wrote no Secret {NAMESPACE}/{ADMIN_SECRET}")
    cluster, user = context_entries(admin_kubeconfig(secret), f"https://127.0.0.1:{port}")
    context = clusterset.context(name, "kind")
    kubeconfig.set_context(context, cluster, user, use=kubeconfig.current_context() in ("", context))


def wait_serving(name: str, timeout: float) -> Cluster:
    """Wait until the karmada-apiserver answers through its context and serves ``cluster.karmada.io``, and
    karmada-webhook admits a dry-run PropagationPolicy; returns the karmada-apiserver's Cluster."""
    from ..cluster import open_cluster
    from . import readiness

    karmada = open_cluster("kind", name)
    readiness.until(lambda: karmada_serves(karmada), timeout, f"the karmada-apiserver of {name} to serve "
                    "cluster.karmada.io (karmada-aggregated-apiserver)")
    readiness.wait_dry_run_accepted(karmada, probe_policy(), timeout=180)
    return karmada
