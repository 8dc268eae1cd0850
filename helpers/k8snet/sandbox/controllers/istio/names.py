"""The names Istio 1.31 writes and reads: namespaces, labels, annotations, Secrets, ConfigMaps, GatewayClasses.

Each value is upstream's, from github.com/istio/istio at release-1.31 (the module or API field it comes from is
named beside it; ``istio.io/api`` defines the label and annotation names). The emulated control plane, node agent
and data path in the sandbox, and the learner-side helpers, take them from here.
"""

from __future__ import annotations

from ....pins import ISTIO_NAMESPACE, ISTIO_VARIANT, ISTIO_VERSION, istio_image  # noqa: F401  (re-exported)

TRUST_DOMAIN = "cluster.local"
"""The mesh's trust domain (the ``istio`` ConfigMap's ``trustDomain``): SPIFFE IDs are
``spiffe://cluster.local/ns/<namespace>/sa/<service account>``, and the self-signed root's organisation."""

# -- labels and annotations on workloads and namespaces (istio.io/api label/annotation) -------------------------

DATAPLANE_MODE = "istio.io/dataplane-mode"
"""label.IoIstioDataplaneMode: ``ambient`` on a namespace or pod enrols it; ``none`` on a pod opts it out."""
DATAPLANE_MODE_AMBIENT = "ambient"
DATAPLANE_MODE_NONE = "none"
"""pkg/config/constants DataplaneModeAmbient, DataplaneModeNone."""

AMBIENT_REDIRECTION = "ambient.istio.io/redirection"
"""annotation.AmbientRedirection: written by the istio-cni node agent on a pod it has captured (cni/pkg/util/
podutil.go AnnotateEnrolledPod, a merge patch of pods/status); removed (not set to another value) when it lets the
pod go (AnnotateUnenrollPod). THE sign that a pod's traffic goes through its node's ztunnel."""
REDIRECTION_ENABLED = "enabled"
"""constants.AmbientRedirectionEnabled: redirection is in place and the node's ztunnel has the pod."""
REDIRECTION_PENDING = "pending"
"""constants.AmbientRedirectionPending: the pod's traffic is redirected but its node's ztunnel has not taken it yet
(the agent could not reach ztunnel); the agent retries until it is ``enabled``."""

USE_WAYPOINT = "istio.io/use-waypoint"
"""label.IoIstioUseWaypoint: on a namespace (``istioctl waypoint apply --enroll-namespace``), service or pod: the
waypoint that handles its traffic."""
WAYPOINT_FOR = "istio.io/waypoint-for"
"""label.IoIstioWaypointFor: on a waypoint Gateway, the traffic it takes (service, workload, all, none); absent, istiod
treats it as ``service``."""
REV = "istio.io/rev"

SIDECAR_INJECT = "sidecar.istio.io/inject"
"""label (and legacy annotation) sidecar.istio.io/inject: asks the sidecar injector for a sidecar."""
INJECTION_NAMESPACE_LABEL = "istio-injection"
"""The namespace label of sidecar injection (``istio-injection=enabled``)."""
SIDECAR_STATUS = "sidecar.istio.io/status"
"""annotation.SidecarStatus: the injector's mark on an injected pod; the node agent never captures such a pod."""

# -- the control plane's objects -------------------------------------------------------------------------------

CA_SECRET = "istio-ca-secret"
"""security/pkg/pki/ca/ca.go CASecret: the self-signed CA istiod makes at its first start, in its namespace."""
CA_SECRET_TYPE = "istio.io/ca-root"
"""ca.go istioCASecretType."""
CA_CERT_KEY, CA_KEY_KEY, CERT_CHAIN_KEY, KEY_KEY, ROOT_CERT_KEY = (
    "ca-cert.pem", "ca-key.pem", "cert-chain.pem", "key.pem", "root-cert.pem")
"""ca.go CACertFile, CAPrivateKeyFile, CertChainFile, PrivateKeyFile, RootCertFile: the Secret's keys."""

ROOT_CERT_CONFIGMAP = "istio-ca-root-cert"
"""pilot/pkg/features PILOT_CA_CERT_CONFIGMAP's default: the root certificate in every namespace."""
ROOT_CERT_CONFIGMAP_KEY = "root-cert.pem"
"""pkg/config/constants CACertNamespaceConfigMapDataName."""
CRL_CONFIGMAP = "istio-ca-crl"
"""pilot/pkg/features PILOT_CRL_CONFIGMAP's default, written beside the root (PILOT_ENABLE_CA_CRL is on)."""
CRL_CONFIGMAP_KEY = "ca-crl.pem"
"""pkg/config/constants CACRLNamespaceConfigMapDataName."""
CONFIGMAP_LABELS = {"istio.io/config": "true"}
"""pilot/pkg/serviceregistry/kube/controller/namespacecontroller.go configMapLabel."""
IGNORED_NAMESPACES = frozenset({"kube-public", "kube-node-lease", "local-path-storage"})
"""The namespaces istiod's namespace controller skips: pkg/kube/inject IgnoredNamespaces without kube-system
(namespacecontroller.go keeps kube-system "to enable deploying ztunnel in that namespace")."""

ISTIO_CNI_CONFIG = "istio-cni-config"
"""The istio-cni chart's ConfigMap (AMBIENT_ENABLEMENT_SELECTOR, EXCLUDE_NAMESPACES)."""

# -- Gateway API classes (pilot/pkg/config/kube/gatewaycommon/classinfo.go, pkg/config/constants) ----------------

GATEWAY_CLASSES = {
    "istio": ("istio.io/gateway-controller", "The default Istio GatewayClass"),
    "istio-remote": ("istio.io/unmanaged-gateway", "Remote to this cluster. Does not deploy or affect configuration."),
    "istio-waypoint": ("istio.io/mesh-controller", "The default Istio waypoint GatewayClass"),
}
"""The GatewayClasses istiod creates when they are missing (ClassController, gatewayclass.go) with an ambient
control plane: features.GatewayAPIDefaultGatewayClass ``istio``, ``istio-remote`` (PILOT_MULTI_NETWORK_DISCOVER_
GATEWAY_API, on by default) and ``istio-waypoint`` (PILOT_ENABLE_AMBIENT_WAYPOINTS): name → (controllerName,
description)."""
WAYPOINT_CLASS = "istio-waypoint"
MESH_CONTROLLER = "istio.io/mesh-controller"
GATEWAY_CONTROLLER_FIELD_MANAGER = "istio.io/gateway-controller"
"""features.ManagedGatewayController: the field manager of istiod's server-side applies (deploymentcontroller.go)."""
GATEWAY_MANAGED = "gateway.istio.io/managed"
"""label.GatewayManaged, set on what the deployment controller writes: the controller name with / replaced by -."""
CONTROLLER_VERSION_ANNOTATION = "gateway.istio.io/controller-version"
CONTROLLER_VERSION = "5"
"""deploymentcontroller.go ControllerVersionAnnotation, ControllerVersion."""
WAYPOINT_PORT = 15008
"""The HBONE port of a waypoint's ``mesh`` listener (istioctl waypoint apply)."""
DEFAULT_WAYPOINT = "waypoint"
"""pkg/config/constants DefaultNamespaceWaypoint."""

# -- ports of the programs (manifests/charts and ztunnel's config.rs) ------------------------------------------

ZTUNNEL_PORTS = {15008: "inbound (HBONE)", 15001: "outbound", 15006: "inbound plaintext", 15020: "stats",
                 15021: "readiness"}
"""ztunnel's listeners (src/config.rs defaults; in in-pod mode the data-path ones are opened inside each captured
pod's network namespace)."""
WAYPOINT_PORTS = {15008: "HBONE", 15020: "merged metrics", 15021: "status (health)", 15090: "Envoy metrics"}
"""A waypoint's listeners: pilot-agent's status port 15021 and metrics 15020, Envoy's HBONE 15008 and Prometheus
15090 (files/waypoint.yaml)."""
