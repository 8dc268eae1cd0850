"""Server-side defaulting, so stored objects read back like a real cluster's.

Ports the defaulting functions the API server runs on every create and update
(pkg/apis/core/v1/defaults.go, pkg/apis/apps/v1/defaults.go,
pkg/apis/networking/v1/defaults.go, pkg/apis/discovery/v1/defaults.go, wired by
each zz_generated.defaults.go), plus the few create-time mutations that users
also see in ``kubectl get -o yaml``: the registry strategies (Namespace
finalizers, Service IP families) and admission plugins (ServiceAccount,
Priority, DefaultTolerationSeconds). IP and node-port allocation happen
elsewhere.

Each kind's function is registered in :data:`DEFAULTERS` by (group, kind).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from .registry import ResourceType

Obj = dict[str, Any]

DEFAULT_TOLERATION_SECONDS = 300
CLIENT_IP_AFFINITY_SECONDS = 10800  # v1.DefaultClientIPServiceAffinitySeconds
DEFAULT_MODE = 420  # 0644, the default mode of secret/configMap/downwardAPI/projected volumes
SYSTEM_PRIORITIES = {"system-cluster-critical": 2000000000, "system-node-critical": 2000001000}
"""The PriorityClasses every cluster has (pkg/apis/scheduling SystemPriorityClasses)."""


def _set(obj: Obj, key: str, value: Any) -> None:
    """Set ``key`` when it is absent, null or empty: Go defaulters test for the zero value."""
    if obj.get(key) in (None, "", []):
        obj[key] = value


# --------------------------------------------------------------------------
# core/v1: containers and pod specs
# --------------------------------------------------------------------------

def _image_tag(image: str) -> str:
    """The tag parsers.ParseImageName reports: "latest" when neither tag nor digest is given.

    An unparsable reference (upper case in the repository path) yields no tag.
    """
    name, _, digest = image.partition("@")
    first, _, rest = name.partition("/")
    has_domain = bool(rest) and (any(c in first for c in ".:") or first == "localhost" or first.lower() != first)
    path, _, tag = (rest if has_domain else name).partition(":")
    if not path or path.lower() != path:
        return ""
    return tag or ("" if digest else "latest")


def _default_http_get(action: Obj | None) -> None:
    """SetDefaults_HTTPGetAction."""
    if action is not None:
        _set(action, "path", "/")
        _set(action, "scheme", "HTTP")


def _default_probe(probe: Obj | None) -> None:
    """SetDefaults_Probe."""
    if probe is None:
        return
    for key, value in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1),
                       ("failureThreshold", 3)):
        if not probe.get(key):
            probe[key] = value
    _default_http_get(probe.get("httpGet"))


def _default_container(ctr: Obj) -> None:
    """SetDefaults_Container and the container-level defaulters it reaches."""
    if not ctr.get("imagePullPolicy"):
        ctr["imagePullPolicy"] = "Always" if _image_tag(ctr.get("image") or "") == "latest" else "IfNotPresent"
    _set(ctr, "terminationMessagePath", "/dev/termination-log")
    _set(ctr, "terminationMessagePolicy", "File")
    ctr.setdefault("resources", {})  # a non-pointer struct: encoding/json always writes it
    for port in ctr.get("ports") or []:
        _set(port, "protocol", "TCP")  # SetDefaults_ContainerPort
    for env in ctr.get("env") or []:
        field_ref = (env.get("valueFrom") or {}).get("fieldRef")
        if field_ref is not None:
            _set(field_ref, "apiVersion", "v1")  # SetDefaults_ObjectFieldSelector
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(ctr.get(key))
    for hook in (ctr.get("lifecycle") or {}).values():
        if isinstance(hook, dict):
            _default_http_get(hook.get("httpGet"))


_VOLUME_SOURCES = (
    "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret", "nfs", "iscsi",
    "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "downwardAPI", "fc",
    "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "projected",
    "portworxVolume", "scaleIO", "storageos", "csi", "ephemeral", "image",
)


def _default_volume(vol: Obj) -> None:
    """SetDefaults_Volume (emptyDir when no source) and the per-source defaulters."""
    if not any(vol.get(k) is not None for k in _VOLUME_SOURCES):
        vol["emptyDir"] = {}
    for key in ("secret", "configMap", "downwardAPI", "projected"):
        if vol.get(key) is not None and vol[key].get("defaultMode") is None:
            vol[key]["defaultMode"] = DEFAULT_MODE
    if vol.get("hostPath") is not None:
        vol["hostPath"].setdefault("type", "")
    for item in (vol.get("downwardAPI") or {}).get("items") or []:
        if item.get("fieldRef") is not None:
            _set(item["fieldRef"], "apiVersion", "v1")
    for source in (vol.get("projected") or {}).get("sources") or []:
        token = source.get("serviceAccountToken")
        if token is not None and token.get("expirationSeconds") is None:
            token["expirationSeconds"] = 3600


def default_pod_spec(spec: Obj) -> None:
    """SetDefaults_PodSpec plus its containers and volumes: what every pod template gets."""
    _set(spec, "dnsPolicy", "ClusterFirst")
    _set(spec, "restartPolicy", "Always")
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = 30
    _set(spec, "schedulerName", "default-scheduler")
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for ctr in spec.get(key) or []:
            _default_container(ctr)
    for vol in spec.get("volumes") or []:
        _default_volume(vol)


def _tolerates(tolerations: list[Obj], key: str) -> bool:
    """DefaultTolerationSeconds skips a taint the pod already tolerates for NoExecute."""
    return any((t.get("key") == key or (not t.get("key") and t.get("operator") == "Exists"))
               and t.get("effect") in (None, "", "NoExecute") for t in tolerations)


def default_pod(obj: Obj) -> None:
    """SetDefaults_Pod, plus the create-time admission mutations a real Pod shows.

    ServiceAccount admission names the ``default`` account (the deprecated
    ``serviceAccount`` mirrors it in v1), Priority admission sets priority 0 and
    PreemptLowerPriority, DefaultTolerationSeconds adds 300s tolerations for
    not-ready and unreachable nodes. The service-account token volume is not added.
    """
    spec = obj.setdefault("spec", {})
    default_pod_spec(spec)
    for key in ("containers", "initContainers"):
        for ctr in spec.get(key) or []:
            resources = ctr.get("resources") or {}
            if resources.get("limits"):  # requests default to limits on Pods only
                resources.setdefault("requests", {})
                for name, value in resources["limits"].items():
                    resources["requests"].setdefault(name, value)
                ctr["resources"] = resources
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    if spec.get("hostNetwork"):
        for key in ("containers", "initContainers"):
            for ctr in spec.get(key) or []:
                for port in ctr.get("ports") or []:
                    if not port.get("hostPort"):
                        port["hostPort"] = port.get("containerPort")
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    spec["serviceAccountName"] = spec["serviceAccount"] = account
    if spec.get("priority") is None:  # Priority admission: the built-in classes, else no class (0)
        spec["priority"] = SYSTEM_PRIORITIES.get(spec.get("priorityClassName") or "", 0)
    _set(spec, "preemptionPolicy", "PreemptLowerPriority")
    tolerations = spec.get("tolerations") or []
    for taint in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if not _tolerates(tolerations, taint):
            tolerations.append({"effect": "NoExecute", "key": taint, "operator": "Exists",
                                "tolerationSeconds": DEFAULT_TOLERATION_SECONDS})
    spec["tolerations"] = tolerations


def _default_template(spec: Obj) -> None:
    template = spec.setdefault("template", {})
    # A template's ObjectMeta has a zero creationTimestamp, which the 1.33 apiserver serializes as null.
    template.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    default_pod_spec(template.setdefault("spec", {}))


# --------------------------------------------------------------------------
# core/v1: Service, Namespace, Secret, Endpoints
# --------------------------------------------------------------------------

def default_service(obj: Obj) -> None:
    """SetDefaults_Service, plus the IP-family fields the service REST storage fills in."""
    spec = obj.setdefault("spec", {})
    _set(spec, "sessionAffinity", "None")
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        client_ip = (spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}
        if client_ip.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": CLIENT_IP_AFFINITY_SECONDS}}
    _set(spec, "type", "ClusterIP")
    stype = spec["type"]
    for port in spec.get("ports") or []:
        _set(port, "protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    if (stype in ("NodePort", "LoadBalancer") or (stype == "ClusterIP" and spec.get("externalIPs"))):
        _set(spec, "externalTrafficPolicy", "Cluster")
    if spec.get("internalTrafficPolicy") is None and stype in ("ClusterIP", "NodePort", "LoadBalancer"):
        spec["internalTrafficPolicy"] = "Cluster"
    if stype == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True
    if stype != "ExternalName":
        # pkg/registry/core/service/storage (initIPFamilyFields) on a single-stack IPv4 cluster:
        # selectorless headless services ask for RequireDualStack and still get IPv4 only.
        headless_no_selector = spec.get("clusterIP") == "None" and not spec.get("selector")
        _set(spec, "ipFamilyPolicy", "RequireDualStack" if headless_no_selector else "SingleStack")
        _set(spec, "ipFamilies", ["IPv4"])


def default_namespace(obj: Obj) -> None:
    """SetDefaults_Namespace (name label), SetDefaults_NamespaceStatus, and the strategy's finalizer."""
    name = (obj.get("metadata") or {}).get("name")
    if name:
        labels = obj.setdefault("metadata", {}).get("labels") or {}
        labels["kubernetes.io/metadata.name"] = name
        obj["metadata"]["labels"] = labels
    spec = obj.setdefault("spec", {})
    _set(spec, "finalizers", ["kubernetes"])
    _set(obj.setdefault("status", {}), "phase", "Active")


def default_secret(obj: Obj) -> None:
    """SetDefaults_Secret; ``stringData`` merges into ``data`` as v1→internal conversion does."""
    _set(obj, "type", "Opaque")
    string_data = obj.pop("stringData", None)
    if string_data:
        data = obj.get("data") or {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        obj["data"] = data


def default_endpoints(obj: Obj) -> None:
    """SetDefaults_Endpoints."""
    for subset in obj.get("subsets") or []:
        for port in subset.get("ports") or []:
            _set(port, "protocol", "TCP")


# --------------------------------------------------------------------------
# apps/v1, networking/v1, discovery/v1
# --------------------------------------------------------------------------

def default_deployment(obj: Obj) -> None:
    """apps/v1 SetDefaults_Deployment: 1 replica, RollingUpdate 25%/25%, 10 revisions, 600s deadline."""
    spec = obj.setdefault("spec", {})
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    strategy = spec.setdefault("strategy", {})
    _set(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.get("rollingUpdate") or {}
        for key in ("maxUnavailable", "maxSurge"):
            if rolling.get(key) is None:
                rolling[key] = "25%"
        strategy["rollingUpdate"] = rolling
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    if spec.get("progressDeadlineSeconds") is None:
        spec["progressDeadlineSeconds"] = 600
    _default_template(spec)


def default_job(obj: Obj) -> None:
    """batch/v1 SetDefaults_Job: completions and parallelism 1 when both are unset (parallelism 1 alone
    otherwise), backoffLimit 6, NonIndexed, not suspended, replacement once a pod is TerminatingOrFailed."""
    spec = obj.setdefault("spec", {})
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    if spec.get("parallelism") is None:
        spec["parallelism"] = 1
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 6
    _set(spec, "completionMode", "NonIndexed")
    if spec.get("suspend") is None:
        spec["suspend"] = False
    if spec.get("podReplacementPolicy") is None and not spec.get("podFailurePolicy"):
        spec["podReplacementPolicy"] = "TerminatingOrFailed"
    if spec.get("manualSelector") is None:
        pass  # stays unset: the selector is generated (strategies.generate_job_selector)
    _default_template(spec)


def default_cron_job(obj: Obj) -> None:
    """batch/v1 SetDefaults_CronJob: Allow, not suspended, 3 successful and 1 failed Jobs kept."""
    spec = obj.setdefault("spec", {})
    _set(spec, "concurrencyPolicy", "Allow")
    if spec.get("suspend") is None:
        spec["suspend"] = False
    if spec.get("successfulJobsHistoryLimit") is None:
        spec["successfulJobsHistoryLimit"] = 3
    if spec.get("failedJobsHistoryLimit") is None:
        spec["failedJobsHistoryLimit"] = 1
    template = spec.setdefault("jobTemplate", {})
    template.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    default_job(template)


def default_replica_set(obj: Obj) -> None:
    """apps/v1 SetDefaults_ReplicaSet."""
    spec = obj.setdefault("spec", {})
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    _default_template(spec)


def default_daemon_set(obj: Obj) -> None:
    """apps/v1 SetDefaults_DaemonSet: RollingUpdate with maxUnavailable 1 and maxSurge 0, 10 revisions."""
    spec = obj.setdefault("spec", {})
    strategy = spec.setdefault("updateStrategy", {})
    _set(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.get("rollingUpdate") or {}
        for key, value in (("maxUnavailable", 1), ("maxSurge", 0)):
            if rolling.get(key) is None:
                rolling[key] = value
        strategy["rollingUpdate"] = rolling
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    _default_template(spec)


def default_stateful_set(obj: Obj) -> None:
    """apps/v1 SetDefaults_StatefulSet: OrderedReady, RollingUpdate with partition 0, Retain claims, 1 replica,
    10 revisions (maxUnavailable stays unset: MaxUnavailableStatefulSet is alpha in 1.33). Each volume claim
    template reads back as the v1 conversion writes it (apiVersion v1, kind PersistentVolumeClaim) with the
    PersistentVolumeClaim defaults (volumeMode Filesystem, status phase Pending)."""
    spec = obj.setdefault("spec", {})
    _set(spec, "podManagementPolicy", "OrderedReady")
    strategy = spec.setdefault("updateStrategy", {})
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
        strategy.setdefault("rollingUpdate", {})
    if strategy["type"] == "RollingUpdate" and isinstance(strategy.get("rollingUpdate"), dict):
        if strategy["rollingUpdate"].get("partition") is None:
            strategy["rollingUpdate"]["partition"] = 0
    policy = spec.get("persistentVolumeClaimRetentionPolicy") or {}
    _set(policy, "whenDeleted", "Retain")
    _set(policy, "whenScaled", "Retain")
    spec["persistentVolumeClaimRetentionPolicy"] = policy
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    for claim in spec.get("volumeClaimTemplates") or []:
        claim["apiVersion"], claim["kind"] = "v1", "PersistentVolumeClaim"
        claim.setdefault("metadata", {}).setdefault("creationTimestamp", None)
        _set(claim.setdefault("spec", {}), "volumeMode", "Filesystem")
        _set(claim.setdefault("status", {}), "phase", "Pending")
    _default_template(spec)


def default_network_policy(obj: Obj) -> None:
    """networking/v1 SetDefaults_NetworkPolicy and SetDefaults_NetworkPolicyPort."""
    spec = obj.setdefault("spec", {})
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress"] + (["Egress"] if spec.get("egress") else [])
    for direction in ("ingress", "egress"):
        for rule in spec.get(direction) or []:
            for port in rule.get("ports") or []:
                if port.get("protocol") is None:
                    port["protocol"] = "TCP"


def default_ingress_class(obj: Obj) -> None:
    """networking/v1 SetDefaults_IngressClass: parameters default to Cluster scope."""
    params = (obj.get("spec") or {}).get("parameters")
    if params is not None and params.get("scope") is None:
        params["scope"] = "Cluster"


def default_endpoint_slice(obj: Obj) -> None:
    """discovery/v1 SetDefaults_EndpointPort: name "" and protocol TCP."""
    for port in obj.get("ports") or []:
        if port.get("name") is None:
            port["name"] = ""
        if port.get("protocol") is None:
            port["protocol"] = "TCP"


Defaulter = Callable[[Obj], None]

def default_custom_resource_definition(crd: Obj) -> None:
    """apiextensions v1 defaults.go SetDefaults_CustomResourceDefinitionSpec: singular and listKind from the kind,
    conversion strategy None, a webhook service's port 443."""
    spec = crd.setdefault("spec", {})
    names = spec.setdefault("names", {})
    if not names.get("singular") and names.get("kind"):
        names["singular"] = str(names["kind"]).lower()
    if not names.get("listKind") and names.get("kind"):
        names["listKind"] = f"{names['kind']}List"
    if spec.get("conversion") is None:
        spec["conversion"] = {"strategy": "None"}
    service = ((((spec.get("conversion") or {}).get("webhook") or {}).get("clientConfig")) or {}).get("service")
    if isinstance(service, dict) and service.get("port") is None:
        service["port"] = 443


def default_role_binding(obj: Obj) -> None:
    """pkg/apis/rbac/v1/defaults.go SetDefaults_RoleBinding / ClusterRoleBinding and SetDefaults_Subject: the
    roleRef's group, and a User's or Group's (a ServiceAccount's stays empty: it is a core object)."""
    role_ref = obj.get("roleRef")
    if isinstance(role_ref, dict) and not role_ref.get("apiGroup"):
        role_ref["apiGroup"] = "rbac.authorization.k8s.io"
    for subject in obj.get("subjects") or []:
        if isinstance(subject, dict) and not subject.get("apiGroup") and subject.get("kind") in ("User", "Group"):
            subject["apiGroup"] = "rbac.authorization.k8s.io"


DEFAULTERS: dict[tuple[str, str], Defaulter] = {
    ("", "Pod"): default_pod,
    ("", "Service"): default_service,
    ("", "Namespace"): default_namespace,
    ("", "Secret"): default_secret,
    ("", "Endpoints"): default_endpoints,
    ("apps", "Deployment"): default_deployment,
    ("apps", "ReplicaSet"): default_replica_set,
    ("apps", "DaemonSet"): default_daemon_set,
    ("apps", "StatefulSet"): default_stateful_set,
    ("batch", "Job"): default_job,
    ("batch", "CronJob"): default_cron_job,
    ("networking.k8s.io", "NetworkPolicy"): default_network_policy,
    ("networking.k8s.io", "IngressClass"): default_ingress_class,
    ("discovery.k8s.io", "EndpointSlice"): default_endpoint_slice,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): default_custom_resource_definition,
    ("rbac.authorization.k8s.io", "RoleBinding"): default_role_binding,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): default_role_binding,
}
"""(group, kind) → defaulting function. Kinds without an entry (ConfigMap, Ingress) have no visible defaults."""


def apply_defaults(rt: ResourceType, obj: Obj) -> None:
    """Apply the API server's defaults for ``rt`` to ``obj`` in place (idempotent)."""
    fn = DEFAULTERS.get((rt.group, rt.kind))
    if fn is not None:
        fn(obj)
