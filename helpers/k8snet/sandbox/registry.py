"""The resources the sandbox serves, registered as data.

A resource is one :class:`ResourceType`: group, version, plural, kind, scope,
discovery names, subresources and the field selectors it supports. One
generic handler serves every registered type; validation, defaulting and
table printing look their per-kind behaviour up by the same keys. A new kind
(a CRD-shaped group such as cert-manager.io) is one more registration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
CRD_VERBS = ("delete", "deletecollection", "get", "list", "patch", "create", "update", "watch")
"""A custom resource's verbs, in the apiextensions DiscoveryController's order."""
TERMINATING_CRD_VERBS = ("delete", "deletecollection", "get", "list", "watch")
"""What discovery lists for a custom resource whose CRD is terminating."""
READ_VERBS = ("get", "list", "watch")

# Field selectors every resource supports (k8s.io/apiserver generic registry: DefaultClusterScopedAttr).
COMMON_FIELDS = ("metadata.name", "metadata.namespace")


@dataclass(frozen=True)
class ResourceType:
    """One served resource: the facts discovery, the handler and the store need."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[str, ...] = ()
    field_selectors: tuple[str, ...] = ()
    schema_name: str | None = None
    """Definition name in the SchemaSet; None means the upstream GVK lookup."""
    crd: str = ""
    """The CustomResourceDefinition serving this type (``widgets.example.com``), "" for built-in kinds."""
    singular_name: str = ""
    """The singular name when it is not the lower-case kind (a CRD's ``names.singular``)."""
    storage_version: str = ""
    """The version objects are stored in, when it is not this one (a CRD's storage version)."""

    @property
    def singular(self) -> str:
        return self.singular_name or self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """``deployments.apps``: how messages and keys name the resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def selectable_fields(self) -> tuple[str, ...]:
        return COMMON_FIELDS + self.field_selectors


@dataclass
class Registry:
    """All served resource types, indexed for discovery and routing."""

    types: list[ResourceType] = field(default_factory=list)

    def add(self, rt: ResourceType) -> None:
        self.types.append(rt)

    def remove_crd(self, name: str) -> list[ResourceType]:
        """Stop serving every version a CRD registered; returns what was removed."""
        gone = [rt for rt in self.types if rt.crd == name]
        self.types = [rt for rt in self.types if rt.crd != name]
        return gone

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        for rt in self.types:
            if rt.group == group and rt.version == version and rt.plural == plural:
                return rt
        return None

    def by_kind(self, group: str, kind: str) -> ResourceType | None:
        for rt in self.types:
            if rt.group == group and rt.kind == kind:
                return rt
        return None

    def groups(self) -> dict[str, list[str]]:
        """Group name → its versions (preferred first), core group under ""."""
        out: dict[str, list[str]] = {}
        custom: set[str] = set()
        for rt in self.types:
            versions = out.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
            if rt.crd:
                custom.add(rt.group)
        for group in custom:  # CRD groups: apiextensions sortGroupDiscoveryByKubeAwareVersion
            out[group].sort(key=kube_aware_key)
        return out

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [rt for rt in self.types if rt.group == group and rt.version == version]


def kube_aware_key(version: str) -> tuple:
    """Sort key for apimachinery version.CompareKubeAwareVersionStrings, highest priority first: GA before beta
    before alpha, higher major (then minor) first, versions that are not Kubernetes-like last, alphabetically."""
    m = re.fullmatch(r"v([1-9][0-9]*)(?:(alpha|beta)([1-9][0-9]*))?", version)
    if m is None:
        return (1, 0, 0, 0, version)
    stage = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    return (0, stage, -int(m.group(1)), -int(m.group(3) or 0), version)


def builtin() -> Registry:
    """The built-in resources of the lessons (core, apps, discovery, networking, RBAC, certificates)."""
    r = Registry()
    core = [
        ResourceType("", "v1", "namespaces", "Namespace", namespaced=False, short_names=("ns",),
                     verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
                     subresources=("status", "finalize"), field_selectors=("status.phase",)),
        ResourceType("", "v1", "nodes", "Node", namespaced=False, short_names=("no",),
                     subresources=("status", "proxy"),
                     field_selectors=("spec.unschedulable",)),
        ResourceType("", "v1", "pods", "Pod", short_names=("po",), categories=("all",),
                     subresources=("status", "exec", "attach", "portforward", "log", "binding", "eviction", "proxy",
                                   "ephemeralcontainers"),
                     field_selectors=("spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                                      "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
                                      "status.podIP", "status.nominatedNodeName")),
        ResourceType("", "v1", "services", "Service", short_names=("svc",), categories=("all",),
                     subresources=("status", "proxy")),
        ResourceType("", "v1", "endpoints", "Endpoints", short_names=("ep",)),
        ResourceType("", "v1", "configmaps", "ConfigMap", short_names=("cm",)),
        ResourceType("", "v1", "secrets", "Secret", field_selectors=("type",)),
        ResourceType("", "v1", "serviceaccounts", "ServiceAccount", short_names=("sa",), subresources=("token",)),
        # served so that listing them answers as on kind (`kubectl cluster-info dump` lists them), read-only
        # while the sandbox runs no controller for them: a write is refused with 405, never silently accepted
        ResourceType("", "v1", "replicationcontrollers", "ReplicationController", short_names=("rc",),
                     categories=("all",), verbs=READ_VERBS),
        ResourceType("", "v1", "events", "Event", short_names=("ev",),
                     field_selectors=("involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                                      "involvedObject.uid", "involvedObject.apiVersion",
                                      "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
                                      "reportingComponent", "source", "type")),
    ]
    apps = [
        ResourceType("apps", "v1", "deployments", "Deployment", short_names=("deploy",), categories=("all",),
                     subresources=("status", "scale")),
        ResourceType("apps", "v1", "replicasets", "ReplicaSet", short_names=("rs",), categories=("all",),
                     subresources=("status", "scale"), field_selectors=("status.replicas",)),
        ResourceType("apps", "v1", "daemonsets", "DaemonSet", short_names=("ds",), categories=("all",),
                     subresources=("status",)),
        ResourceType("apps", "v1", "statefulsets", "StatefulSet", short_names=("sts",), categories=("all",),
                     subresources=("status", "scale")),
        # the DaemonSet and StatefulSet controllers' history, which kubectl rollout history|undo reads
        ResourceType("apps", "v1", "controllerrevisions", "ControllerRevision"),
    ]
    batch = [
        ResourceType("batch", "v1", "jobs", "Job", categories=("all",), subresources=("status",)),
        ResourceType("batch", "v1", "cronjobs", "CronJob", short_names=("cj",), categories=("all",),
                     subresources=("status",)),
    ]
    networking = [
        ResourceType("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
        ResourceType("networking.k8s.io", "v1", "ingresses", "Ingress", short_names=("ing",),
                     subresources=("status",)),
        ResourceType("networking.k8s.io", "v1", "ingressclasses", "IngressClass", namespaced=False),
        ResourceType("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", short_names=("netpol",)),
    ]
    coordination = [ResourceType("coordination.k8s.io", "v1", "leases", "Lease")]
    # apiextensions-apiserver's registry/customresourcedefinition: short names crd, crds; category api-extensions
    apiextensions = [ResourceType("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
                                  namespaced=False, short_names=("crd", "crds"), categories=("api-extensions",),
                                  subresources=("status",))]
    # RBAC as kube-apiserver serves it (pkg/registry/rbac): no short names, no subresources
    rbac = [ResourceType("rbac.authorization.k8s.io", "v1", plural, kind, namespaced=namespaced)
            for plural, kind, namespaced in (("clusterrolebindings", "ClusterRoleBinding", False),
                                             ("clusterroles", "ClusterRole", False),
                                             ("rolebindings", "RoleBinding", True), ("roles", "Role", True))]
    # kubectl auth can-i / whoami and the access reviews: create-only, answered and never stored (reviews.py)
    reviews = [ResourceType("authorization.k8s.io", "v1", plural, kind, namespaced=plural.startswith("local"),
                            verbs=("create",))
               for plural, kind in (("localsubjectaccessreviews", "LocalSubjectAccessReview"),
                                    ("selfsubjectaccessreviews", "SelfSubjectAccessReview"),
                                    ("selfsubjectrulesreviews", "SelfSubjectRulesReview"),
                                    ("subjectaccessreviews", "SubjectAccessReview"))]
    reviews += [ResourceType("authentication.k8s.io", "v1", plural, kind, namespaced=False, verbs=("create",))
                for plural, kind in (("selfsubjectreviews", "SelfSubjectReview"), ("tokenreviews", "TokenReview"))]
    # pkg/registry/certificates/certificates: cluster-scoped, short name csr, /approval and /status, selectable
    # by spec.signerName
    certificates = [ResourceType("certificates.k8s.io", "v1", "certificatesigningrequests", "CertificateSigningRequest",
                                 namespaced=False, short_names=("csr",), subresources=("approval", "status"),
                                 field_selectors=("spec.signerName",))]
    for rt in core + apps + batch + networking + coordination + apiextensions + rbac + reviews + certificates:
        r.add(rt)
    return r
