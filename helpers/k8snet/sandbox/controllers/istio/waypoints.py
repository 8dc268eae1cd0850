"""istiod's gateway deployment controller and Gateway status, for waypoints (class ``istio-waypoint``).

While an istiod pod runs, each Gateway whose class's controller is ``istio.io/mesh-controller`` gets what istiod
1.31 makes for it (pilot/pkg/config/kube/gatewaycommon/deploymentcontroller.go configureIstioGateway, rendering
the ``waypoint`` template of the istio-sidecar-injector ConfigMap, manifests/charts/istio-control/istio-discovery/
files/waypoint.yaml; pilot/pkg/config/kube/gatewaycommon/testdata/deployment/waypoint.yaml is upstream's expected
output):

- a ServiceAccount, a Deployment and a Service, each named after the Gateway (no ``-istio-waypoint`` suffix:
  DisableNameSuffix; ``gateway.istio.io/name-override`` and ``gateway.istio.io/service-account`` rename them),
  labelled with the Gateway's own labels (EnableGatewayAPICopyLabelsAnnotations: ``spec.infrastructure.labels``
  instead when set) plus ``gateway.networking.k8s.io/gateway-name``, ``gateway.networking.k8s.io/gateway-class-name``
  and ``gateway.istio.io/managed: istio.io-mesh-controller``, owned by the Gateway (an ownerReference without
  ``controller``), server-side applied with force as ``istio.io/gateway-controller``. An object of that name that
  exists without the ``gateway.istio.io/managed`` label is left alone (canManage). No HorizontalPodAutoscaler or
  PodDisruptionBudget: the template renders them only with an overlay (requiredOverlays).
- the waypoint pod runs ``docker.io/istio/proxyv2:1.31.0-distroless`` with ``proxy waypoint`` and the template's
  env, probes (startup and readiness on :15021 /healthz/ready) and volumes; its labels include
  ``istio.io/dataplane-mode: none`` (a waypoint is never captured) and ``sidecar.istio.io/inject: "false"``.
- the Service: ClusterIP, ``ipFamilyPolicy: PreferDualStack``, ``status-port`` 15021 (appProtocol tcp) and one port
  per listener (``mesh`` 15008, appProtocol ``hbone``), annotated ``networking.istio.io/traffic-distribution:
  PreferClose``.
- Gateway status (pilot/pkg/config/kube/gateway/conversion.go reportGatewayStatus, buildListener;
  gatewaycommon/conversion.go SetProgrammedCondition, context.go ResolveGatewayInstances): ``Accepted`` ("Resource
  accepted") and ``ResolvedRefs`` ("All references resolved"); ``Programmed`` True, "Resource programmed, assigned to
  service(s) <name>.<ns>.svc.cluster.local:15008", once the Service has an endpoint (ready or not: istiod counts
  unready endpoints too) -- until then False, ``AddressNotAssigned``, "Failed to assign to any requested addresses:
  no instances found for hostname ..."; addresses, both the ClusterIP and the Service's hostname (the waypoint
  class reports both address types), once programmed and never removed; each listener with Accepted,
  Conflicted=False (NoConflicts), Programmed and ResolvedRefs, "No errors found", and no supported route kinds
  (HBONE carries none).

A Gateway of class ``istio`` (Istio's own ingress gateway) is not deployed here: it gets a Warning event saying so.
A Gateway of class ``istio-remote`` gets istiod's unmanaged status ("This Gateway is remote; Istio will not program
it"). The ``gateway.istio.io/controller-version`` annotation istiod patches through ``/status`` is dropped by the
API server's custom-resource status strategy on both backends (only status is written there), so it is not written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ...apiserver import WriteOptions
from ...errors import ApiError
from ...jsoncopy import clone
from ...store import Event
from .. import Controller, Key
from ..events import record
from . import names, nodes

if TYPE_CHECKING:
    from ...instance import Sandbox

Obj = dict[str, Any]
GATEWAYS = "gateways.gateway.networking.k8s.io"
GATEWAY_CLASSES = "gatewayclasses.gateway.networking.k8s.io"
GATEWAY_NAME = "gateway.networking.k8s.io/gateway-name"
GATEWAY_CLASS_NAME = "gateway.networking.k8s.io/gateway-class-name"
MESH_CONTROLLER_LABEL = "istio.io-mesh-controller"
"""constants.ManagedGatewayMeshControllerLabel; also what apply writes as gateway.istio.io/managed (the controller
name with / replaced by -)."""
OMIT_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration", "gateway.istio.io/name-override",
                    "gateway.istio.io/service-account", "gateway.istio.io/controller-version")
WAYPOINT_RESOURCES = {"limits": {"cpu": "2", "memory": "1Gi"}, "requests": {"cpu": "100m", "memory": "128Mi"}}
"""values.yaml global.waypoint.resources, used when the injector's values do not say."""


def controller(sb: Sandbox) -> Controller:
    return Controller("istio-gateway-deployment", reconcile, {
        GATEWAYS: _same,
        GATEWAY_CLASSES: _gateways_of_class,
        "serviceaccounts": _owner_gateway,
        "deployments.apps": _owner_gateway,
        "services": _owner_gateway,
        "endpointslices.discovery.k8s.io": _slice_gateway,
        "pods": _istiod_started,
    })


def _same(sb: Sandbox, event: Event) -> Iterable[Key]:
    meta = event.obj["metadata"]
    return [(meta.get("namespace", ""), meta["name"])]


def _gateways_of_class(sb: Sandbox, event: Event) -> Iterable[Key]:
    name = event.obj["metadata"]["name"]
    return [(g["metadata"]["namespace"], g["metadata"]["name"]) for g in sb.store.list(GATEWAYS)
            if (g.get("spec") or {}).get("gatewayClassName") == name]


def _owner_gateway(sb: Sandbox, event: Event) -> Iterable[Key]:
    out = []
    for obj in (event.obj, event.old):
        meta = (obj or {}).get("metadata") or {}
        for ref in meta.get("ownerReferences") or []:
            if ref.get("kind") == "Gateway" and ref.get("apiVersion", "").startswith("gateway.networking.k8s.io/"):
                out.append((meta.get("namespace", ""), ref["name"]))
    return out


def _slice_gateway(sb: Sandbox, event: Event) -> Iterable[Key]:
    meta = event.obj["metadata"]
    service = (meta.get("labels") or {}).get("kubernetes.io/service-name")
    svc = sb.store.get("services", meta.get("namespace", ""), service or "") if service else None
    return _owner_gateway(sb, Event("MODIFIED", "services", svc, 0)) if svc else []


def _istiod_started(sb: Sandbox, event: Event) -> Iterable[Key]:
    if any(nodes.repository(c.get("image", "")) == nodes.PILOT for p in (event.obj, event.old) if p
           for c in (p.get("spec") or {}).get("containers") or []):
        return [(g["metadata"]["namespace"], g["metadata"]["name"]) for g in sb.store.list(GATEWAYS)]
    return []


def reconcile(sb: Sandbox, key: Key) -> float | None:
    if not nodes.istiod_pods(sb):
        return None
    gw = sb.store.get(GATEWAYS, *key)
    if gw is None or gw["metadata"].get("deletionTimestamp"):
        return None  # what it owned goes with it (garbage collection)
    controller_name = class_controller(sb, (gw.get("spec") or {}).get("gatewayClassName", ""))
    if controller_name == names.MESH_CONTROLLER:
        deploy_waypoint(sb, gw)
        report_status(sb, gw)
    elif controller_name == "istio.io/unmanaged-gateway":
        report_unmanaged(sb, gw)
    elif controller_name == "istio.io/gateway-controller":
        warn_ingress(sb, gw)
    return None


def class_controller(sb: Sandbox, class_name: str) -> str | None:
    """The Gateway's controller: its GatewayClass's, else a built-in class's (FetchGatewayClass)."""
    gc = sb.store.get(GATEWAY_CLASSES, "", class_name)
    if gc is not None:
        return (gc.get("spec") or {}).get("controllerName")
    builtin = names.GATEWAY_CLASSES.get(class_name)
    return builtin[0] if builtin else None


# -- what the template renders ------------------------------------------------------------------------------------


def injector_values(sb: Sandbox) -> Obj:
    """The ``values`` of the istio-sidecar-injector ConfigMap istiod renders gateways with ({} when absent)."""
    cm = sb.store.get("configmaps", names.ISTIO_NAMESPACE, "istio-sidecar-injector") or {}
    try:
        return json.loads((cm.get("data") or {}).get("values") or "{}")
    except ValueError:
        return {}


def proxy_image(values: Obj) -> str:
    """inject.ProxyImage: ``<hub>/<global.proxy.image>:<tag>-<imageType>`` (the mesh config's
    ``defaultConfig.image.imageType``, which the chart sets from global.variant)."""
    if not values:
        return names.istio_image("proxyv2")  # no injector values: the pinned release's
    g = values.get("global") or {}
    image = (g.get("proxy") or {}).get("image") or "proxyv2"
    if "/" in image:
        return image
    hub, tag = g.get("hub") or names.istio_image("proxyv2").rsplit("/", 1)[0], g.get("tag") or names.ISTIO_VERSION
    variant = g.get("variant") or ""
    return f"{hub}/{image}:{tag}" + (f"-{variant}" if variant and variant != "default" else "")


def infrastructure(gw: Obj, labels: bool) -> dict[str, str]:
    """extractInfrastructureMetadata: spec.infrastructure's labels/annotations (without gateway.networking.k8s.io/
    keys) when set, else a copy of the Gateway's own."""
    infra = ((gw.get("spec") or {}).get("infrastructure") or {}).get("labels" if labels else "annotations")
    if infra is not None:
        return {k: v for k, v in infra.items() if not k.startswith("gateway.networking.k8s.io/")}
    return dict((gw["metadata"].get("labels" if labels else "annotations")) or {})


def service_ports(gw: Obj) -> list[Obj]:
    """extractServicePorts: status-port 15021, then one port per listener port (named after the listener, periods
    as dashes, 63 characters at most), appProtocol the listener's protocol in lower case."""
    ports = [{"name": "status-port", "port": 15021, "protocol": "TCP", "appProtocol": "tcp"}]
    seen: set[int] = set()
    used = {"status-port"}
    for i, listener in enumerate((gw.get("spec") or {}).get("listeners") or []):
        port = listener.get("port")
        if port in seen:
            continue
        seen.add(port)
        name = str(listener.get("name") or "").replace(".", "-")[:63] or f"{str(listener.get('protocol', '')).lower()}-{i}"
        candidate, suffix = name, f"-{port}"
        while candidate in used:
            candidate = name[:63 - len(suffix)] + suffix
            suffix += "x"
        used.add(candidate)
        ports.append({"name": candidate, "port": port, "protocol": "TCP",
                      "appProtocol": str(listener.get("protocol", "")).lower()})
    return ports


def render(sb: Sandbox, gw: Obj) -> list[Obj]:
    """The ServiceAccount, Deployment and Service the ``waypoint`` template renders for ``gw``."""
    meta = gw["metadata"]
    ns, name, uid = meta["namespace"], meta["name"], meta.get("uid", "")
    annotations = meta.get("annotations") or {}
    deployment_name = annotations.get("gateway.istio.io/name-override") or name
    account = annotations.get("gateway.istio.io/service-account") or name
    klass = gw["spec"]["gatewayClassName"]
    values = injector_values(sb)
    g = values.get("global") or {"variant": names.ISTIO_VARIANT}
    proxy = g.get("proxy") or {}
    infra_labels = infrastructure(gw, True)
    infra_annotations = {k: v for k, v in infrastructure(gw, False).items() if k not in OMIT_ANNOTATIONS}
    owner = [{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "name": name, "uid": uid}]
    base_labels = {**infra_labels, GATEWAY_NAME: name, GATEWAY_CLASS_NAME: klass}
    managed = {names.GATEWAY_MANAGED: MESH_CONTROLLER_LABEL}
    trust_domain = names.TRUST_DOMAIN
    domain = proxy.get("clusterDomain") or "cluster.local"

    def field(path: str) -> Obj:
        return {"valueFrom": {"fieldRef": {"fieldPath": path}}}

    def resource(res: str) -> Obj:
        return {"valueFrom": {"resourceFieldRef": {"resource": res, "divisor": "1"}}}

    env = [{"name": "ISTIO_META_SERVICE_ACCOUNT", **field("spec.serviceAccountName")},
           {"name": "ISTIO_META_NODE_NAME", **field("spec.nodeName")},
           {"name": "PILOT_CERT_PROVIDER", "value": g.get("pilotCertProvider") or "istiod"},
           {"name": "CA_ADDR", "value": g.get("caAddress") or f"istiod.{names.ISTIO_NAMESPACE}.svc:15012"},
           {"name": "POD_NAME", **field("metadata.name")},
           {"name": "POD_NAMESPACE", **field("metadata.namespace")},
           {"name": "INSTANCE_IP", **field("status.podIP")},
           {"name": "SERVICE_ACCOUNT", **field("spec.serviceAccountName")},
           {"name": "HOST_IP", **field("status.hostIP")},
           {"name": "ISTIO_CPU_LIMIT", **resource("limits.cpu")},
           # protoToJSON of the mesh's proxy config without its defaults (pkg/kube/inject/template.go
           # cleanProxyConfig): the ambient profile's proxyMetadata and image type, in proto field order
           {"name": "PROXY_CONFIG", "value": json.dumps(
               {"proxyMetadata": {"ISTIO_META_ENABLE_HBONE": "true"},
                **({"image": {"imageType": g["variant"]}} if g.get("variant") else {})},
               separators=(",", ":")) + "\n"},
           {"name": "ISTIO_META_ENABLE_HBONE", "value": "true"},
           {"name": "GOMEMLIMIT", **resource("limits.memory")},
           {"name": "GOMAXPROCS", **resource("limits.cpu")},
           {"name": "ISTIO_META_CLUSTER_ID", "value": (g.get("multiCluster") or {}).get("clusterName")
            or "Kubernetes"},
           {"name": "ISTIO_META_INTERCEPTION_MODE", "value": "REDIRECT"},
           {"name": "ISTIO_META_WORKLOAD_NAME", "value": deployment_name},
           {"name": "ISTIO_META_OWNER", "value": f"kubernetes://apis/apps/v1/namespaces/{ns}/deployments/"
                                                 f"{deployment_name}"},
           {"name": "ISTIO_META_MESH_ID", "value": g.get("meshID") or trust_domain},
           {"name": "TRUST_DOMAIN", "value": trust_domain}]
    probe = {"httpGet": {"path": "/healthz/ready", "port": 15021, "scheme": "HTTP"}, "successThreshold": 1,
             "timeoutSeconds": 1}
    container = {
        "name": "istio-proxy",
        "ports": [{"containerPort": 15020, "name": "metrics", "protocol": "TCP"},
                  {"containerPort": 15021, "name": "status-port", "protocol": "TCP"},
                  {"containerPort": 15090, "protocol": "TCP", "name": "http-envoy-prom"}],
        "image": annotations.get("sidecar.istio.io/proxyImage") or proxy_image(values),
        "args": ["proxy", "waypoint", "--domain", f"$(POD_NAMESPACE).svc.{domain}", "--serviceCluster",
                 f"{account}.$(POD_NAMESPACE)", "--proxyLogLevel",
                 annotations.get("sidecar.istio.io/logLevel") or proxy.get("logLevel") or "warning",
                 "--proxyComponentLogLevel",
                 annotations.get("sidecar.istio.io/componentLogLevel") or proxy.get("componentLogLevel")
                 or "misc:error", "--log_output_level",
                 annotations.get("sidecar.istio.io/agentLogLevel") or (g.get("logging") or {}).get("level")
                 or "default:info"],
        "env": env,
        "resources": (g.get("waypoint") or {}).get("resources") or WAYPOINT_RESOURCES,
        "startupProbe": {"failureThreshold": 30, **probe, "initialDelaySeconds": 1, "periodSeconds": 1},
        "readinessProbe": {"failureThreshold": 4, **probe, "initialDelaySeconds": 0, "periodSeconds": 15},
        "securityContext": {"privileged": False, "runAsGroup": 1337, "runAsUser": 1337,
                            "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                            "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"mountPath": "/var/run/secrets/workload-spiffe-uds", "name": "workload-socket"},
                         {"mountPath": "/var/run/secrets/istio", "name": "istiod-ca-cert"},
                         {"mountPath": "/var/lib/istio/data", "name": "istio-data"},
                         {"mountPath": "/etc/istio/proxy", "name": "istio-envoy"},
                         {"mountPath": "/var/run/secrets/tokens", "name": "istio-token"},
                         {"mountPath": "/etc/istio/pod", "name": "istio-podinfo"}]}
    volumes = [{"name": "workload-socket", "emptyDir": {}},
               {"name": "istio-envoy", "emptyDir": {"medium": "Memory"}},
               {"name": "go-proxy-envoy", "emptyDir": {"medium": "Memory"}},
               {"name": "istio-data", "emptyDir": {}},
               {"name": "go-proxy-data", "emptyDir": {}},
               {"name": "istio-podinfo", "downwardAPI": {"items": [
                   {"fieldRef": {"fieldPath": "metadata.labels"}, "path": "labels"},
                   {"fieldRef": {"fieldPath": "metadata.annotations"}, "path": "annotations"}]}},
               {"name": "istio-token", "projected": {"sources": [{"serviceAccountToken": {
                   "audience": "istio-ca", "expirationSeconds": 43200, "path": "istio-token"}}]}},
               {"name": "istiod-ca-cert", "configMap": {"name": names.ROOT_CERT_CONFIGMAP}}]
    pod_labels = {"sidecar.istio.io/inject": "false", names.DATAPLANE_MODE: names.DATAPLANE_MODE_NONE,
                  "service.istio.io/canonical-name": deployment_name, "service.istio.io/canonical-revision": "latest",
                  **base_labels, **managed}
    pod_annotations = {**infra_annotations, names.REV: "default", "prometheus.io/path": "/stats/prometheus",
                       "prometheus.io/port": "15020", "prometheus.io/scrape": "true"}
    account_obj = {"apiVersion": "v1", "kind": "ServiceAccount",
                   "metadata": {"name": account, "namespace": ns, "annotations": dict(infra_annotations),
                                "labels": {**base_labels, **managed}, "ownerReferences": owner}}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": deployment_name, "namespace": ns, "annotations": dict(infra_annotations),
                               "labels": {**base_labels, **managed}, "ownerReferences": owner},
                  "spec": {"selector": {"matchLabels": {GATEWAY_NAME: name}},
                           "template": {"metadata": {"annotations": pod_annotations, "labels": pod_labels},
                                        "spec": {"serviceAccountName": account, "containers": [container],
                                                 "volumes": volumes}}}}
    service = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": deployment_name, "namespace": ns,
                            "annotations": {"networking.istio.io/traffic-distribution": "PreferClose",
                                            **infra_annotations},
                            "labels": {**base_labels, **managed}, "ownerReferences": owner},
               "spec": {"ipFamilyPolicy": "PreferDualStack", "ports": service_ports(gw),
                        "selector": {GATEWAY_NAME: name}, "type": "ClusterIP"}}
    return [account_obj, deployment, service]


def deploy_waypoint(sb: Sandbox, gw: Obj) -> None:
    """apply: server-side apply each rendered object, forcing, unless an object of that name exists that istiod
    does not manage (canManage)."""
    ns = gw["metadata"]["namespace"]
    for obj in render(sb, gw):
        group, _, version = obj["apiVersion"].rpartition("/")
        plural = {"ServiceAccount": "serviceaccounts", "Deployment": "deployments", "Service": "services"}[obj["kind"]]
        rt = sb.registry.lookup(group, version, plural)
        assert rt is not None
        existing = sb.store.get(rt.group_resource, ns, obj["metadata"]["name"])
        if existing is not None and names.GATEWAY_MANAGED not in (existing["metadata"].get("labels") or {}):
            continue
        if existing is not None and _holds(existing, obj):
            continue  # a no-op apply (the API server would store nothing new either)
        sb.api.patch(rt, ns, obj["metadata"]["name"], "apply", obj,
                     WriteOptions(field_manager=names.GATEWAY_CONTROLLER_FIELD_MANAGER, force=True))


def _holds(stored: Any, applied: Any) -> bool:
    """Whether ``stored`` already has every field ``applied`` sets, with the same value (defaults may add more)."""
    if isinstance(applied, dict):
        return isinstance(stored, dict) and all(k in stored and _holds(stored[k], v) for k, v in applied.items())
    if isinstance(applied, list):
        return isinstance(stored, list) and len(stored) == len(applied) and all(
            _holds(a, b) for a, b in zip(stored, applied, strict=True))
    return bool(stored == applied)


# -- Gateway status -----------------------------------------------------------------------------------------------


def _instances(sb: Sandbox, ns: str, service: str) -> bool:
    """Whether the Service has an endpoint on any of its EndpointSlices (istiod counts unready ones)."""
    return any(s.get("endpoints") for s in sb.store.list("endpointslices.discovery.k8s.io", ns)
               if (s["metadata"].get("labels") or {}).get("kubernetes.io/service-name") == service)


def _conditions(sb: Sandbox, generation: int, existing: list[Obj], wanted: dict[str, tuple[str, str, str]]) \
        -> list[Obj]:
    """kstatus.UpdateConditionIfChanged for each wanted (type → status, reason, message), in sorted type order:
    lastTransitionTime kept while the status stays."""
    out = [dict(c) for c in existing]
    for ctype in sorted(wanted):
        status, reason, message = wanted[ctype]
        new = {"type": ctype, "status": status, "observedGeneration": generation, "lastTransitionTime": sb.api.now(),
               "reason": reason, "message": message}
        for i, c in enumerate(out):
            if c.get("type") == ctype:
                if c.get("status") == status:
                    new["lastTransitionTime"] = c.get("lastTransitionTime", new["lastTransitionTime"])
                out[i] = new
                break
        else:
            out.append(new)
    return out


def report_status(sb: Sandbox, gw: Obj) -> None:
    meta = gw["metadata"]
    ns, generation = meta["namespace"], meta.get("generation", 1)
    name = (meta.get("annotations") or {}).get("gateway.istio.io/name-override") or meta["name"]
    hostname = f"{name}.{ns}.svc.cluster.local"
    svc = sb.store.get("services", ns, name)
    listeners = (gw.get("spec") or {}).get("listeners") or []
    status = dict(gw.get("status") or {})
    programmed = ("True", "Programmed", "Resource programmed, assigned to service(s) " + ", ".join(
        f"{hostname}:{p}" for p in sorted({lst.get('port') for lst in listeners})))
    if svc is None:
        programmed = ("False", "AddressNotUsable", f'Failed to assign to any requested addresses: hostname '
                                                   f'"{hostname}" not found')
    elif not _instances(sb, ns, name):
        programmed = ("False", "AddressNotAssigned", f'Failed to assign to any requested addresses: no instances '
                                                     f'found for hostname "{hostname}"')
    elif programmed[0] == "True":
        ips = [ip for ip in ((svc.get("spec") or {}).get("clusterIPs") or [(svc.get("spec") or {}).get("clusterIP")])
               if ip and ip != "None"]
        status["addresses"] = [*({"type": "IPAddress", "value": ip} for ip in ips),
                               {"type": "Hostname", "value": hostname}]
    status["conditions"] = _conditions(sb, generation, status.get("conditions") or [], {
        "Accepted": ("True", "Accepted", "Resource accepted"),
        "Programmed": programmed,
        "ResolvedRefs": ("True", "ResolvedRefs", "All references resolved")})
    old_listeners = {lst.get("name"): lst for lst in status.get("listeners") or []}
    status["listeners"] = [{
        "name": lst["name"], "attachedRoutes": 0, "supportedKinds": [],
        "conditions": _conditions(sb, generation, (old_listeners.get(lst["name"]) or {}).get("conditions") or [], {
            "Accepted": ("True", "Accepted", "No errors found"),
            "Conflicted": ("False", "NoConflicts", "No errors found"),
            "Programmed": ("True", "Programmed", "No errors found"),
            "ResolvedRefs": ("True", "ResolvedRefs", "No errors found")})} for lst in listeners]
    _write_status(sb, gw, status)


def report_unmanaged(sb: Sandbox, gw: Obj) -> None:
    """reportUnmanagedGatewayStatus: accepted and "programmed", the spec's addresses, no listeners."""
    status = dict(gw.get("status") or {})
    status["addresses"] = [dict(a) for a in (gw.get("spec") or {}).get("addresses") or []]
    status.pop("listeners", None)
    status["conditions"] = _conditions(sb, gw["metadata"].get("generation", 1), status.get("conditions") or [], {
        "Accepted": ("True", "Accepted", "Resource accepted"),
        "Programmed": ("True", "Programmed", "This Gateway is remote; Istio will not program it")})
    _write_status(sb, gw, status)


def _write_status(sb: Sandbox, gw: Obj, status: Obj) -> None:
    if status == gw.get("status"):
        return
    rt = sb.registry.lookup("gateway.networking.k8s.io", "v1", "gateways")
    assert rt is not None
    updated = clone(gw)
    updated["status"] = status
    try:
        sb.api.update(rt, gw["metadata"]["namespace"], gw["metadata"]["name"], updated,
                      WriteOptions(field_manager=names.GATEWAY_CONTROLLER_FIELD_MANAGER), subresource="status")
    except ApiError as exc:
        if exc.code not in (404, 409):
            raise


def warn_ingress(sb: Sandbox, gw: Obj) -> None:
    """A Gateway of Istio's ingress class: once, a Warning that the sandbox runs no Istio ingress gateway."""
    uid = gw["metadata"].get("uid")
    if any(e.get("reason") == "NotEmulated" and (e.get("involvedObject") or {}).get("uid") == uid
           for e in sb.store.list("events", gw["metadata"]["namespace"])):
        return
    record(sb, gw, "NotEmulated", "k8snet sandbox: Istio's ingress gateway (GatewayClass istio, a Deployment of "
           "istio/proxyv2 as a router) is not emulated: nothing is deployed for this Gateway. The sandbox's "
           "ingress is Traefik (GatewayClass traefik); Istio's GatewayClass istio-waypoint is emulated.",
           "istiod", type_="Warning")
