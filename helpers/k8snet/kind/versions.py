"""Every version, image and URL the kind backend pins, in one place.

Other parts of k8snet import from here, so a bump is one edit (the sandbox's Traefik
emulation keeps :data:`TRAEFIK_VERSION` and the image in step; tests/kind checks it).
Each pin names its source.
Images are pinned by digest where a digest could be confirmed from the
project's release notes or from several independent pinning sites; the
lesson images are pulled by the tag the lessons use, because ``kind load``
keys images by name.
"""

from __future__ import annotations

from .. import pins

# -- the cluster --------------------------------------------------------------------------

CLUSTER_NAME = "k8snet"
"""kind names nodes ``<cluster>-control-plane``, ``<cluster>-worker``, ``<cluster>-worker2``: the sandbox's names."""

CONTEXT = f"kind-{CLUSTER_NAME}"
"""The kubeconfig context ``kind create cluster`` writes (``kind-<name>``)."""

NODE_NAMES = (f"{CLUSTER_NAME}-control-plane", f"{CLUSTER_NAME}-worker", f"{CLUSTER_NAME}-worker2")

KIND_VERSION = "v0.32.0"
"""The kind release k8snet pins and names in install hints (kind's newest release when pinned, 2026-06-02)."""

KIND_MIN_VERSION = (0, 32, 0)
"""Oldest kind accepted. kindnet enforces NetworkPolicy since v0.24.0, but the v0.32.0 release notes say its
node images need kind v0.32.0 or newer (``kind load`` handles their containerd v4 config,
kubernetes-sigs/kind b22acfaf), so the pinned node image sets the floor."""

KUBERNETES_VERSION = "v1.33.12"
"""The sandbox reports Kubernetes 1.33; the kind cluster runs the v1.33 node image of the pinned kind release."""

NODE_IMAGE = "kindest/node:v1.33.12@sha256:3f5c8443c620245e4d355cfe09e96a91ead32ceaa569d3f1ca9edf0cb2fe2ff4"
"""The v1.33 image listed in the kind v0.32.0 release notes
(https://github.com/kubernetes-sigs/kind/releases/tag/v0.32.0); kind asks for the digest to be used with it."""

KUBE_PROXY_MODE = "iptables"
"""kind's default, set explicitly: the sandbox emulates kube-proxy's iptables mode."""

DOCKER_MIN_VERSION = (20, 10, 0)
"""kind runs node containers with ``--cgroupns=private`` (pkg/cluster/internal/providers/docker/provision.go in
kind v0.32.0), an option docker added in 20.10 (API 1.41, docker/cli#2024)."""

KUBECTL_MINORS = (32, 33, 34)
"""kubectl is optional; within one minor of the server (Kubernetes' version skew policy) it is fully supported."""

# -- the ingress edge ------------------------------------------------------------------------

EDGE_HTTP_PORT = pins.EDGE_HTTP_PORT
EDGE_HTTPS_PORT = pins.EDGE_HTTPS_PORT
"""Host ports of the ingress edge, the same URLs as the sandbox's edge listener; ``K8SNET_EDGE_HTTP_PORT`` and
``K8SNET_EDGE_HTTPS_PORT`` override them (one parser for both backends: :func:`k8snet.pins.edge_ports`)."""

EDGE_NODE_PORTS = pins.EDGE_NODE_PORTS
"""Traefik's Service nodePorts; the kind config maps the host edge ports onto them. kind's docs: with a NodePort,
the extraPortMapping's containerPort must equal the nodePort (site/content/docs/user/configuration.md). Kept at
the top of the NodePort range (30000-32767) so they never take a port a lesson's NodePort Service asks for
(lesson 01 uses 30080); tests/kind checks that no notebook or lab asks for these."""


def edge_ports() -> tuple[int, int]:
    """The (http, https) edge ports on 127.0.0.1, after the environment overrides (fixed ports: 0 is refused)."""
    return pins.edge_ports(any_port=False)


# -- add-ons ---------------------------------------------------------------------------------

TRAEFIK_VERSION = pins.TRAEFIK_VERSION
"""The Traefik release installed on kind and emulated by the sandbox (one value in :mod:`k8snet.pins`)."""

TRAEFIK_IMAGE = pins.TRAEFIK_IMAGE

TRAEFIK_CRDS_URL = ("https://raw.githubusercontent.com/traefik/traefik/v3.7.14/docs/content/reference/"
                    "dynamic-configuration/kubernetes-crd-definition-v1.yml")
"""Traefik's CRDs, as its Kubernetes CRD provider docs install them, pinned to the release tag (not the branch)."""

GATEWAY_API_VERSION = "v1.5.1"
"""The Gateway API release Traefik v3.7 implements (docs/content/reference/install-configuration/providers/
kubernetes/kubernetes-gateway.md on traefik's v3.7 branch: "supports Standard version v1.5.1")."""

GATEWAY_API_CRDS_URL = (f"https://github.com/kubernetes-sigs/gateway-api/releases/download/{GATEWAY_API_VERSION}/"
                        "standard-install.yaml")

CERT_MANAGER_VERSION = "v1.21.1"
"""cert-manager's newest v1.21 release when pinned; the sandbox emulates its controllers and webhook over the CRDs
of the same tag (sandbox/crds/cert-manager.io.yaml names it; tests/kind checks the two agree)."""

CERT_MANAGER_MANIFEST_URL = (f"https://github.com/cert-manager/cert-manager/releases/download/{CERT_MANAGER_VERSION}/"
                             "cert-manager.yaml")
"""The release's static manifest (CRDs, the cert-manager namespace, controller, cainjector and webhook), as
cert-manager.io/docs/installation/kubectl/ installs it."""

CERT_MANAGER_NAMESPACE = "cert-manager"
CERT_MANAGER_DEPLOYMENTS = ("cert-manager", "cert-manager-cainjector", "cert-manager-webhook")
"""The Deployments of the static manifest (deploy/charts/cert-manager/templates/*-deployment.yaml, release name
cert-manager)."""

CLOUD_PROVIDER_KIND_VERSION = "v0.11.1"
CLOUD_PROVIDER_KIND_IMAGE = ("registry.k8s.io/cloud-provider-kind/cloud-controller-manager:v0.11.1"
                             "@sha256:40e18b9cd9c798cce40d39ff5c099a4f16a36c268d8e1dda469d73955a35e403")
"""Runs on the host as a container with the docker socket, as its README's "Running via Docker Image" says."""

CLOUD_PROVIDER_CONTAINER = f"{CLUSTER_NAME}-cloud-provider-kind"
CLOUD_PROVIDER_LABEL = "io.x-k8s.cloud-provider-kind.cluster"
"""cloud-provider-kind labels the load-balancer containers it starts with the cluster name (pkg/constants)."""

TRUST_MANAGER_VERSION = "v0.24.0"
"""trust-manager's release (its newest tag when pinned): kind installs its Helm chart of that tag, rendered into
manifests/trust-manager.yaml (no ``helm`` needed); the sandbox serves the same CRD (sandbox/crds/
trust.cert-manager.io.yaml) and emulates its Bundle controller (sandbox/controllers/trust/). It needs cert-manager,
which issues its webhook's certificate."""

TRUST_MANAGER_IMAGE = f"quay.io/jetstack/trust-manager:{TRUST_MANAGER_VERSION}"
"""The chart's image at its appVersion (the release tag). By tag, not digest: no digest of it could be confirmed
from the release's own notes."""

TRUST_MANAGER_NAMESPACE = "cert-manager"
"""Where the chart is installed (cert-manager.io/docs/trust/trust-manager/installation: ``--namespace
cert-manager``), which is also its trust namespace (``app.trust.namespace``): sources are read there only."""

CILIUM_VERSION = "1.20.2"
"""Cilium's release for ``k8snet kind up --cni cilium`` (its newest patch of 1.20 when pinned): its Helm chart
rendered into manifests/cilium.yaml (the header says with which values); the sandbox emulates the same images
(k8snet.sandbox.cni, dataplane/cniimages.py)."""

CILIUM_IMAGES = (
    "quay.io/cilium/cilium:v1.20.2@sha256:2939231d0d3e3ebddcd80fffa168b7ddcc78fdf0dc864d1c8c126ff523c54f01",
    "quay.io/cilium/operator-generic:v1.20.2@sha256:64d8798350e8569b8e7622563fed6e44dce2625f311e4651b774816516c744fc")
"""The chart's images at 1.20.2, by tag and digest as the chart pins them."""

CLUSTERMESH_APISERVER_IMAGE = ("quay.io/cilium/clustermesh-apiserver:v1.20.2"
                               "@sha256:e9ffc79baf76bb98efb87c01be3bca8da998779f4ccdafc97c74132b307305ce")
"""The clustermesh-apiserver of Cilium 1.20.2 (the same image runs its etcd: it ships /usr/bin/etcd), by tag and
digest as the release notes list it under "Docker Manifests" (github.com/cilium/cilium/releases/tag/v1.20.2) and
as Rancher's mirror list pins it. manifests/clustermesh-apiserver.yaml runs it; the nodes pull it when a member
is made Cluster Mesh ready (``k8snet kind up --name … --cni cilium``)."""

CLUSTERMESH_APISERVER_NODE_PORT = 32379
"""The chart's ``clustermesh.apiserver.service.nodePort``: the same in every member, which is safe with kube-proxy
(the chart warns only for kube-proxy replacement, values.yaml). No lesson asks for it, and it is not an edge port."""

CALICO_VERSION = "v3.32.1"
"""Calico's release for ``k8snet kind up --cni calico``: the newest tag of projectcalico/calico whose manifest could
be read when pinned. Its manifest install's kube-system objects are manifests/calico.yaml; its CRDs come from
:data:`CALICO_MANIFEST_URL`."""

CALICO_MANIFEST_URL = f"https://raw.githubusercontent.com/projectcalico/calico/{CALICO_VERSION}/manifests/calico.yaml"
"""The release's manifest install (docs.tigera.io calico/latest/getting-started/kubernetes/kind, "Manifest"): kind
up takes its CustomResourceDefinitions from it (downloaded once, cached) and applies them first."""

CALICO_APISERVER_URL = f"https://raw.githubusercontent.com/projectcalico/calico/{CALICO_VERSION}/manifests/apiserver.yaml"
"""Calico's aggregated API server (docs.tigera.io calico/latest/operations/install-apiserver, "Manifest install"):
it serves projectcalico.org/v3 (NetworkPolicy, GlobalNetworkPolicy, Tier, …) to kubectl, as the sandbox does."""

CALICO_APISERVER_IMAGE = f"quay.io/calico/apiserver:{CALICO_VERSION}"

CALICO_IMAGES = tuple(f"quay.io/calico/{name}:{CALICO_VERSION}" for name in ("node", "cni", "kube-controllers"))
"""The manifest's images, by tag as the release manifest names them."""

ISTIO_VERSION = pins.ISTIO_VERSION
"""Istio's release (one value in :mod:`k8snet.pins`: the sandbox emulates the same images)."""

ISTIO_NAMESPACE = pins.ISTIO_NAMESPACE

ISTIO_MANIFEST = "istio-ambient.yaml"
"""Istio's base, istiod, istio-cni and ztunnel charts at :data:`ISTIO_VERSION` with the ambient profile, rendered
into manifests/ (the file's header says from what and what it leaves out): ``k8snet mesh install istio`` applies it
on both backends."""

ISTIO_IMAGES = tuple(pins.istio_image(name) for name in ("pilot", "install-cni", "ztunnel", "proxyv2"))
"""The images the manifest runs (proxyv2: the waypoints istiod starts), by tag: no digest of the 1.31.0 images could
be confirmed from the release's own notes. They are pulled by the nodes when the mesh is installed, not preloaded:
most lessons do not need them."""

KARMADA_VERSION = pins.KARMADA_VERSION
"""Karmada's release for ``k8snet kind up --name karmada --karmada`` (one value in :mod:`k8snet.pins`)."""

KARMADA_OPERATOR_MANIFEST = "karmada-operator.yaml"
"""The Karmada operator of that tag as its README's "Using YAML resource" and hack/deploy-karmada-operator.sh apply
it (manifests/; the header says what): the kind path installs Karmada with the operator, driven through the
Kubernetes API alone. ``karmadactl init`` needs a binary from the release page (none is on PyPI) and the chart
``charts/karmada`` needs helm and generates its certificates in a pre-install Job."""

KARMADA_OPERATOR_IMAGE = f"docker.io/karmada/karmada-operator:{KARMADA_VERSION}"
"""By tag, as the release workflow publishes it: no digest could be confirmed from the release's own notes."""

KARMADA_IMAGE_REPOSITORY = "docker.io/karmada"
"""Where the operator takes Karmada's own components from (operator/pkg/constants: KarmadaDefaultRepository)."""

KARMADA_KUBE_VERSION = "v1.36.2"
KARMADA_ETCD_VERSION = "3.6.8-0"
"""The karmada-apiserver's and its kube-controller-manager's image tag (registry.k8s.io/kube-apiserver,
kube-controller-manager) and etcd's (registry.k8s.io/etcd): the operator's defaults at the tag
(operator/pkg/constants/constants.go: KubeDefaultVersion, EtcdDefaultVersion), written into the Karmada object so
they stay pinned whatever the operator's defaults become."""

KARMADA_CRDS_URL = f"https://github.com/karmada-io/karmada/releases/download/{KARMADA_VERSION}/crds.tar.gz"
"""Karmada's CRDs as the release attaches them (release.yml, release-crds-assests); the operator downloads them into
the karmada-apiserver (``spec.crdTarball``; its default is the same URL for the operator's own version,
operator/pkg/init.go defaultCrdURL)."""

KARMADA_APISERVER_NODE_PORT = 32443
"""The karmada-apiserver's nodePort, ``karmadactl init --port``'s default (pkg/karmadactl/cmdinit/cmdinit.go). The
host cluster runs no Traefik, so it does not meet the edge's websecure nodePort of the other members; kind publishes
it on a free port of 127.0.0.1 (hostPort 0: kind's validate.go, "Port -1 and 0 cause a random port to be
selected"), which ``docker port`` reads back."""

# -- lesson images ---------------------------------------------------------------------------

AGNHOST_IMAGE = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
HTTP_ECHO_IMAGE = "hashicorp/http-echo:1.0.0"
NGINX_IMAGE = "nginx:1.29.1"
NETSHOOT_IMAGE = "nicolaka/netshoot:v0.13"  # lesson 02 reads a node's iptables with it (k8snet.kubeproxy)
LESSON_IMAGES = (AGNHOST_IMAGE, HTTP_ECHO_IMAGE, NGINX_IMAGE, NETSHOOT_IMAGE)
"""Pulled on the host and ``kind load``-ed into every node so lessons never wait on a pull. Lessons must name
these exact references (by tag): kind loads an image under the name it was pulled by."""
