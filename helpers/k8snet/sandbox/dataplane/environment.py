"""The variables the kubelet puts in a container's environment, or why it cannot (Kubernetes 1.33).

pkg/kubelet/kubelet_pods.go ``makeEnvironmentVariables``, called by ``GenerateRunContainerOptions`` when the
container runtime builds the container's config (pkg/kubelet/kuberuntime/kuberuntime_container.go
``generateContainerConfig``):

1. ``envFrom`` first, in order: every key of the ConfigMap's ``data`` or the Secret's ``data``, behind the
   ``prefix``; a later source overwrites an earlier one. Since Kubernetes 1.30 the keys are not checked against
   the C-identifier rule any more (kubernetes/kubernetes#123385, RelaxedEnvironmentVariableValidation; the
   ``InvalidEnvironmentVariableNames`` event is gone, kubernetes/kubernetes#130099): ``app.mode`` or ``1st`` is
   passed to the container as it is (``env`` shows it; a shell cannot name it).
2. ``env`` next, in order, each replacing what came before: a ``value`` with its ``$(VAR)`` references expanded
   from the variables declared so far, then the Service variables (third_party/forked/golang/expansion; ``$$``
   is a ``$``, an unknown reference stays as written); or a ``valueFrom``: ``fieldRef`` (podFieldSelectorRuntimeValue
   and pkg/fieldpath: the pod's name, namespace, uid, ``metadata.labels['k']``/``metadata.annotations['k']``, node
   name, service account, host and pod IPs), ``resourceFieldRef`` (containerResourceRuntimeValue and
   pkg/api/v1/resource ``ExtractContainerResourceValue``: the value divided by ``divisor`` and rounded up, cpu in
   millicores; a limit the container does not set is the node's allocatable, defaultPodLimitsForDownwardAPI),
   ``configMapKeyRef`` or ``secretKeyRef``.
3. The Service variables (pkg/kubelet/envvars ``FromServices``) that no declared variable has taken.

A ConfigMap or Secret that does not exist is an error unless the reference is ``optional`` (then an ``envFrom``
adds nothing and a ``valueFrom`` sets nothing): ``configmap "NAME" not found`` / ``secret "NAME" not found``, the
NotFound of the kubelet's watch-based managers, which name the resource in the singular (pkg/kubelet/configmap,
pkg/kubelet/secret: ``corev1.Resource("configmap")``). A key missing from an existing object is
``couldn't find key KEY in ConfigMap NS/NAME`` / ``couldn't find key KEY in Secret NS/NAME``, unless ``optional``.
The first error ends the work: the runtime does not create the container (``CreateContainerConfigError``, see
:mod:`k8snet.sandbox.controllers.containerconfig`).
"""

from __future__ import annotations

import base64
import math
import re
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..instance import Sandbox

Pod = dict[str, Any]

NODE_DEFAULT_LIMITS = ("cpu", "memory", "ephemeral-storage")
"""The limits defaultPodLimitsForDownwardAPI fills from the node's allocatable (pkg/kubelet/kubelet_resources.go)."""
_SUFFIXES = {"": 1, "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "k": 10**3, "M": 10**6,
             "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30,
             "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def service_links(sb: Sandbox, ns: str, enabled: bool) -> dict[str, str]:
    """The Service variables the kubelet sets (pkg/kubelet/envvars FromServices, kubelet_pods.go
    getServiceEnvVarMap): for each Service of the pod's namespace with a ClusterIP (all of them unless
    ``enableServiceLinks: false``) and always for ``default/kubernetes``, ``NAME_SERVICE_HOST``,
    ``NAME_SERVICE_PORT[_PORTNAME]`` and the Docker-link ``NAME_PORT_80_TCP…`` set."""
    chosen: dict[str, dict[str, Any]] = {}
    for svc in sb.store.list("services", ns) if enabled else []:
        chosen[svc["metadata"]["name"]] = svc
    master = sb.store.get("services", "default", "kubernetes")
    if master is not None and "kubernetes" not in chosen:
        chosen["kubernetes"] = master
    env: dict[str, str] = {}
    for name, svc in sorted(chosen.items()):
        spec = svc.get("spec") or {}
        ip, ports = spec.get("clusterIP") or "", spec.get("ports") or []
        if ip in ("", "None") or not ports:
            continue
        prefix = name.upper().replace("-", "_")
        env[f"{prefix}_SERVICE_HOST"] = ip
        env[f"{prefix}_SERVICE_PORT"] = str(ports[0].get("port"))
        for port in ports:
            if port.get("name"):
                env[f"{prefix}_SERVICE_PORT_{port['name'].upper().replace('-', '_')}"] = str(port.get("port"))
        host = f"[{ip}]" if ":" in ip else ip
        first = ports[0]
        env[f"{prefix}_PORT"] = f"{first.get('protocol', 'TCP').lower()}://{host}:{first.get('port')}"
        for port in ports:
            proto = port.get("protocol", "TCP")
            link = f"{prefix}_PORT_{port.get('port')}_{proto.upper()}"
            env[link] = f"{proto.lower()}://{host}:{port.get('port')}"
            env[f"{link}_PROTO"] = proto.lower()
            env[f"{link}_PORT"] = str(port.get("port"))
            env[f"{link}_ADDR"] = ip
    return env


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion in command, args and env values (``$$`` escapes)."""
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), text)


def make_environment(sb: Sandbox, pod: Pod, container: dict[str, Any]) -> tuple[dict[str, str], str]:
    """makeEnvironmentVariables: (the variables, declared ones first, then the Service ones left; '') or
    ({}, the error that stops the container's creation)."""
    meta = pod["metadata"]
    ns = meta.get("namespace") or "default"
    service = service_links(sb, ns, pod["spec"].get("enableServiceLinks", True) is not False)
    objects: dict[tuple[str, str], dict[str, Any] | None] = {}

    def read(resource: str, name: str) -> dict[str, Any] | None:  # each object read once, as the kubelet does
        if (resource, name) not in objects:
            objects[(resource, name)] = sb.store.get(resource, ns, name)
        return objects[(resource, name)]

    declared: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        resource = "configmaps" if "configMapRef" in source else "secrets" if "secretRef" in source else ""
        if not resource:
            continue
        ref = source.get("configMapRef") or source.get("secretRef") or {}
        obj = read(resource, ref.get("name", ""))
        if obj is None:
            if ref.get("optional"):
                continue
            return {}, _not_found(resource, ref.get("name", ""))
        prefix = source.get("prefix") or ""
        for key, value in _data(resource, obj).items():
            declared[prefix + key] = value
    for var in container.get("env") or []:
        value, source = var.get("value") or "", var.get("valueFrom")
        if value:
            value = expand(value, {**service, **declared})
        elif source:
            if "fieldRef" in source:
                value = _field_value(sb, pod, source["fieldRef"].get("fieldPath", ""))
            elif "resourceFieldRef" in source:
                value, error = _resource_value(sb, pod, container, source["resourceFieldRef"])
                if error:
                    return {}, error
            elif "configMapKeyRef" in source or "secretKeyRef" in source:
                resource = "configmaps" if "configMapKeyRef" in source else "secrets"
                ref = source.get("configMapKeyRef") or source.get("secretKeyRef") or {}
                name, key = ref.get("name", ""), ref.get("key", "")
                obj = read(resource, name)
                if obj is None:
                    if ref.get("optional"):
                        continue
                    return {}, _not_found(resource, name)
                data = _data(resource, obj)
                if key not in data:
                    if ref.get("optional"):
                        continue
                    kind = "ConfigMap" if resource == "configmaps" else "Secret"
                    return {}, f"couldn't find key {key} in {kind} {ns}/{name}"
                value = data[key]
        declared[var["name"]] = value
    return {**declared, **{k: v for k, v in service.items() if k not in declared}}, ""


def _not_found(resource: str, name: str) -> str:
    """apierrors.NewNotFound of the kubelet's configmap and secret managers (the resource in the singular)."""
    return f'{"configmap" if resource == "configmaps" else "secret"} "{name}" not found'


def _data(resource: str, obj: dict[str, Any]) -> dict[str, str]:
    """A ConfigMap's ``data`` (not its ``binaryData``), or a Secret's ``data`` decoded."""
    if resource == "configmaps":
        return {k: str(v) for k, v in (obj.get("data") or {}).items()}
    return {k: base64.b64decode(v).decode(errors="replace") for k, v in (obj.get("data") or {}).items()}


def _field_value(sb: Sandbox, pod: Pod, path: str) -> str:
    """podFieldSelectorRuntimeValue, then pkg/fieldpath ExtractFieldPathAsString for the metadata fields."""
    meta, spec, status = pod["metadata"], pod["spec"], pod.get("status") or {}
    m = re.fullmatch(r"metadata\.(labels|annotations)\['(.*)'\]", path)
    if m:
        return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
    if path in ("metadata.labels", "metadata.annotations"):  # pkg/fieldpath FormatMap
        return "\n".join(f'{k}="{v}"' for k, v in sorted((meta.get(path.split(".")[1]) or {}).items()))
    host_ips = [a["address"] for a in ((sb.store.get("nodes", "", spec.get("nodeName", "")) or {})
                                       .get("status") or {}).get("addresses") or [] if a.get("type") == "InternalIP"]
    pod_ips = [p.get("ip", "") for p in status.get("podIPs") or []] or (
        [status["podIP"]] if status.get("podIP") else [])
    return {"metadata.name": meta.get("name", ""), "metadata.namespace": meta.get("namespace", ""),
            "metadata.uid": meta.get("uid", ""), "spec.nodeName": spec.get("nodeName", ""),
            "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
            "status.hostIP": host_ips[0] if host_ips else status.get("hostIP", ""),
            "status.hostIPs": ",".join(host_ips) or status.get("hostIP", ""),
            "status.podIP": pod_ips[0] if pod_ips else "", "status.podIPs": ",".join(pod_ips)}.get(path, "")


def _quantity(text: Any) -> Decimal:
    """A resource.Quantity's exact value (0 for what does not parse: the API server has validated it)."""
    m = re.fullmatch(r"([+-]?[0-9.]+)([eE][+-]?[0-9]+|[a-zA-Z]*)", str(text or "0").strip())
    if m is None or (m.group(2)[:1] not in ("e", "E") and m.group(2) not in _SUFFIXES):
        return Decimal(0)
    try:
        if m.group(2)[:1] in ("e", "E"):
            return Decimal(m.group(1) + m.group(2))
        return Decimal(m.group(1)) * Decimal(_SUFFIXES[m.group(2)])
    except InvalidOperation:
        return Decimal(0)


def _resource_value(sb: Sandbox, pod: Pod, container: dict[str, Any], ref: dict[str, Any]) -> tuple[str, str]:
    """containerResourceRuntimeValue: (the value, '') or ('', the error). ``divisor`` 0 or unset is 1; cpu
    compares millicores (MilliValue), the others whole units (Value), each rounded up before the division."""
    target = container
    if ref.get("containerName"):
        target = next((c for key in ("containers", "initContainers") for c in pod["spec"].get(key) or []
                       if c.get("name") == ref["containerName"]), None)
        if target is None:
            return "", f"container {ref['containerName']} not found"
    resource = ref.get("resource", "")
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or not (name in NODE_DEFAULT_LIMITS or name.startswith("hugepages-")):
        return "", f"unsupported container resource : {resource}"
    values = dict(((target.get("resources") or {}).get(kind)) or {})
    if kind == "limits" and name in NODE_DEFAULT_LIMITS and name not in values:
        node = sb.store.get("nodes", "", pod["spec"].get("nodeName", "")) or {}
        values[name] = ((node.get("status") or {}).get("allocatable") or {}).get(name, "0")
    value, divisor = _quantity(values.get(name, "0")), _quantity(ref.get("divisor") or "0")
    if divisor == 0:
        divisor = Decimal(1)
    scale = 1000 if name == "cpu" else 1
    return str(-(-math.ceil(value * scale) // math.ceil(divisor * scale))), ""
