"""Telling one kind cluster about another: what ``cilium clustermesh connect`` writes into each of the two.

cilium-cli's connect (cilium-cli/clustermesh/clustermesh.go, ``ConnectWithHelm``) reads each cluster's access
information (``extractAccessInformation``): its cilium-config name and ID, the ``clustermesh-apiserver`` Service
(for type NodePort: the nodePort, and the first node's ExternalIP, else its InternalIP: "we can't really support
multiple nodes as the NodePort will be different and the current use of hostAliases will lead to DNS-style RR"),
the CA of ``cilium-ca`` and the client certificate of ``clustermesh-apiserver-remote-cert``. Then it upgrades each
cluster's Helm release with the other one in ``clustermesh.config.clusters`` (``{name, ips: [ip], port}``, plus
``tls: {cert, key, caCert}`` only when the two CAs differ, ``validateCAMatch``), and the chart renders

- the Secret ``kube-system/cilium-clustermesh``: one key per remote cluster holding its etcd client configuration
  (templates/clustermesh-config/clustermesh-secret.yaml and ``clustermesh-config-generate-etcd-cfg`` in
  _helpers.tpl): the endpoint ``https://<name>.mesh.cilium.io:<port>`` and, with a shared CA, the ``common-``
  files the agents mount from their own cluster's remote certificate; with CAs that differ, ``<name>.``-prefixed
  files that the Secret carries itself (``<name>.etcd-client.crt``, ``.key``, ``-ca.crt``);
- ``hostAliases`` on the cilium DaemonSet's pods, ``<name>.mesh.cilium.io`` → that IP (cilium-agent/daemonset.yaml,
  rendered when KVStoreMesh is off), which is how an agent finds the remote clustermesh-apiserver: the name is the
  one the remote's server certificate is valid for (``*.mesh.cilium.io``); the same on the cilium-operator's pods
  when the operator reads the Cluster Mesh configuration too (cilium-operator/deployment.yaml renders them with
  MCS-API or EndpointSlice synchronization on: :mod:`.mcsapi`).

k8snet has no Helm release on kind, so it writes the same two things itself: the Secret's keys with a merge patch
(other remotes' keys stay), the alias list with a merge patch that replaces it whole (computed from the current
list). Changing the pod template rolls the agents, as ``helm upgrade`` does.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import certs

if TYPE_CHECKING:
    from ...cluster import Cluster

NAMESPACE = certs.NAMESPACE
SECRET = "cilium-clustermesh"
DAEMONSET = "cilium"
OPERATOR = "cilium-operator"
SERVICE = "clustermesh-apiserver"
DOMAIN = "mesh.cilium.io"
"""The chart's ``clustermesh.config.domain``."""
MOUNT = "/var/lib/cilium/clustermesh"
"""Where the agents mount the Secret and their remote certificate (cilium.yaml's clustermesh-secrets volume)."""
FIELD_MANAGER = "k8snet-clustermesh"


@dataclass(frozen=True)
class Access:
    """What cilium-cli's extractAccessInformation reads from one cluster."""

    name: str
    cluster_id: int
    ip: str
    port: int
    ca: bytes
    client_cert: bytes
    client_key: bytes

    @property
    def host(self) -> str:
        return f"{self.name}.{DOMAIN}"


def _decode(data: dict[str, Any], key: str, what: str) -> bytes:
    if key not in data:
        raise RuntimeError(f"{what} has no {key!r}")
    return base64.b64decode(data[key])


def node_address(node: dict[str, Any]) -> str | None:
    """cilium-cli's pick for one node: its ExternalIP, else its InternalIP."""
    addresses = ((node.get("status") or {}).get("addresses")) or []
    external = [a["address"] for a in addresses if a.get("type") == "ExternalIP"]
    internal = [a["address"] for a in addresses if a.get("type") == "InternalIP"]
    return (external or internal or [None])[0]


def access(cluster: Cluster) -> Access:
    """The cluster's access information, as ``cilium clustermesh connect`` extracts it.

    Raises:
        RuntimeError: no Cilium, no clustermesh-apiserver Service (the member was not made Cluster Mesh ready), a
            Service without a nodePort, no node address, or a certificate Secret that is missing.
    """
    cm = cluster.find("ConfigMap", "cilium-config", NAMESPACE)
    if cm is None:
        raise RuntimeError(f"{cluster.context} does not run Cilium (no {NAMESPACE}/cilium-config)")
    data = cm.get("data") or {}
    svc = cluster.find("Service", SERVICE, NAMESPACE)
    if svc is None:
        raise RuntimeError(f"{cluster.context} has no {NAMESPACE}/{SERVICE} Service: its clustermesh-apiserver is "
                           f"not installed (`k8snet kind up --name {cluster.name} --cni cilium` installs it, or "
                           "k8snet.kind.clustermesh.enable(cluster); `cilium clustermesh enable` upstream)")
    spec = svc.get("spec") or {}
    ports = spec.get("ports") or []
    if spec.get("type") != "NodePort" or not ports or not ports[0].get("nodePort"):
        raise RuntimeError(f"{cluster.context}: {SERVICE} is not a NodePort Service with a nodePort (type "
                           f"{spec.get('type')!r}): k8snet's kind members expose it as NodePort")
    ip = next((a for a in map(node_address, cluster.get("Node")) if a), None)
    if ip is None:
        raise RuntimeError(f"{cluster.context}: no node has an ExternalIP or InternalIP to reach {SERVICE} at")
    remote = cluster.find("Secret", certs.REMOTE_SECRET, NAMESPACE)
    if remote is None:
        raise RuntimeError(f"{cluster.context} has no {NAMESPACE}/{certs.REMOTE_SECRET}")
    ca_secret = cluster.find("Secret", certs.CA_SECRET, NAMESPACE)
    rdata = remote.get("data") or {}
    # cilium-cli reads the CA from cilium-ca and falls back to the remote certificate's ca.crt
    ca = (_decode(ca_secret.get("data") or {}, "ca.crt", f"{NAMESPACE}/{certs.CA_SECRET}") if ca_secret
          else _decode(rdata, "ca.crt", f"{NAMESPACE}/{certs.REMOTE_SECRET}"))
    try:
        cluster_id = int(data.get("cluster-id") or 0)
    except ValueError:
        cluster_id = -1
    return Access(str(data.get("cluster-name") or "default"), cluster_id, ip, int(ports[0]["nodePort"]), ca,
                  _decode(rdata, "tls.crt", f"{NAMESPACE}/{certs.REMOTE_SECRET}"),
                  _decode(rdata, "tls.key", f"{NAMESPACE}/{certs.REMOTE_SECRET}"))


def etcd_config(name: str, port: int, own_tls: bool = False) -> str:
    """The value under a remote cluster's key: ``clustermesh-config-generate-etcd-cfg`` for a cluster given by
    ``ips`` (so dialled by name) without KVStoreMesh: the ``common-`` client files with a shared CA, the
    ``<name>.`` ones (and their CA) when the cluster brings its own TLS."""
    prefix = f"{name}." if own_tls else "common-"
    return (f"endpoints:\n- https://{name}.{DOMAIN}:{port}\n"
            f"trusted-ca-file: {MOUNT}/{prefix}etcd-client-ca.crt\n"
            f"key-file: {MOUNT}/{prefix}etcd-client.key\n"
            f"cert-file: {MOUNT}/{prefix}etcd-client.crt")


def secret_data(remote: Access, own_tls: bool = False) -> dict[str, str]:
    """The keys the chart renders into ``cilium-clustermesh`` for one remote cluster (values base64, as in a
    Secret's ``data``)."""

    def b64(v: bytes) -> str:
        return base64.b64encode(v).decode()

    data = {remote.name: b64(etcd_config(remote.name, remote.port, own_tls).encode())}
    if own_tls:
        data |= {f"{remote.name}.etcd-client-ca.crt": b64(remote.ca),
                 f"{remote.name}.etcd-client.key": b64(remote.client_key),
                 f"{remote.name}.etcd-client.crt": b64(remote.client_cert)}
    return data


def remote_keys(name: str) -> list[str]:
    """Every key of ``cilium-clustermesh`` that belongs to one remote cluster."""
    return [name] + [f"{name}.etcd-client{suffix}" for suffix in ("-ca.crt", ".key", ".crt")]


def aliases_with(current: list[dict[str, Any]], name: str, ip: str | None) -> list[dict[str, Any]]:
    """The DaemonSet's hostAliases with ``<name>.mesh.cilium.io`` pointing at ``ip`` (None: without it); every
    other alias is kept as it is."""
    host = f"{name}.{DOMAIN}"
    out = []
    for alias in current:
        hostnames = [h for h in alias.get("hostnames") or [] if h != host]
        if hostnames:
            out.append({**alias, "hostnames": hostnames})
    if ip is not None:
        out.append({"ip": ip, "hostnames": [host]})
    return sorted(out, key=lambda a: (a["hostnames"][0] if a["hostnames"] else "", a["ip"]))


def _set_secret_keys(cluster: Cluster, data: dict[str, str | None]) -> None:
    if cluster.find("Secret", SECRET, NAMESPACE) is None:
        present = {k: v for k, v in data.items() if v is not None}
        if present:
            cluster.core.create_namespaced_secret(NAMESPACE, {"metadata": {"name": SECRET, "namespace": NAMESPACE},
                                                              "data": present}, field_manager=FIELD_MANAGER)
        return
    cluster.core.patch_namespaced_secret(SECRET, NAMESPACE, {"data": data}, field_manager=FIELD_MANAGER,
                                         _content_type="application/merge-patch+json")


def _aliases(workload: dict[str, Any]) -> list[dict[str, Any]]:
    return ((workload.get("spec") or {}).get("template") or {}).get("spec", {}).get("hostAliases") or []


def reads_mesh(deployment: dict[str, Any]) -> bool:
    """Whether the cilium-operator Deployment mounts the Cluster Mesh configuration (``clustermesh-secrets``)."""
    pod = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    return any(v.get("name") == "clustermesh-secrets" for v in pod.get("volumes") or [])


def _patch_aliases(cluster: Cluster, kind: str, wanted: list[dict[str, Any]]) -> None:
    body = {"spec": {"template": {"spec": {"hostAliases": wanted or None}}}}
    patch = cluster.apps.patch_namespaced_daemon_set if kind == "DaemonSet" else cluster.apps.patch_namespaced_deployment
    patch(DAEMONSET if kind == "DaemonSet" else OPERATOR, NAMESPACE, body, field_manager=FIELD_MANAGER,
          _content_type="application/merge-patch+json")


def _set_aliases(cluster: Cluster, name: str, ip: str | None) -> None:
    ds = cluster.find("DaemonSet", DAEMONSET, NAMESPACE, api_version="apps/v1")
    if ds is None:
        raise RuntimeError(f"{cluster.context} has no {NAMESPACE}/{DAEMONSET} DaemonSet: Cilium is not installed")
    current = _aliases(ds)
    wanted = aliases_with(current, name, ip)
    if wanted != current:  # else nothing changes: the agents are not rolled
        _patch_aliases(cluster, "DaemonSet", wanted)
    op = cluster.find("Deployment", OPERATOR, NAMESPACE, api_version="apps/v1")
    if op is not None and reads_mesh(op):
        current = _aliases(op)
        wanted = aliases_with(current, name, ip)
        if wanted != current:
            _patch_aliases(cluster, "Deployment", wanted)


def sync_operator_aliases(cluster: Cluster) -> None:
    """Give an operator that reads the Cluster Mesh configuration the agents' ``<cluster>.mesh.cilium.io`` aliases
    (the chart renders both from ``clustermesh.config.clusters``); its other aliases are kept."""
    ds = cluster.find("DaemonSet", DAEMONSET, NAMESPACE, api_version="apps/v1")
    op = cluster.find("Deployment", OPERATOR, NAMESPACE, api_version="apps/v1")
    if ds is None or op is None or not reads_mesh(op):
        return
    wanted = current = _aliases(op)
    for alias in _aliases(ds):
        for host in alias.get("hostnames") or []:
            if host.endswith(f".{DOMAIN}"):
                wanted = aliases_with(wanted, host.removesuffix(f".{DOMAIN}"), alias["ip"])
    if wanted != current:
        _patch_aliases(cluster, "Deployment", wanted)


def write(local: Cluster, remote: Access, own_tls: bool = False) -> None:
    """Tell ``local``'s agents about ``remote``: its keys in the Secret, its name in the agents' hosts file."""
    stale = {k: None for k in remote_keys(remote.name)}
    _set_secret_keys(local, stale | secret_data(remote, own_tls))
    _set_aliases(local, remote.name, remote.ip)


def erase(local: Cluster, remote_name: str) -> None:
    """``cilium clustermesh disconnect``: ``remote_name``'s keys and alias out of ``local``."""
    _set_secret_keys(local, {k: None for k in remote_keys(remote_name)})
    _set_aliases(local, remote_name, None)


def configured(secret: dict[str, Any] | None, local_name: str) -> list[str]:
    """The remote clusters a ``cilium-clustermesh`` Secret configures, as cilium-cli counts them
    (``determineStatusConnectivity``: a key other than the local cluster's whose value has ``endpoints:``)."""
    out = []
    for key, value in ((secret or {}).get("data") or {}).items():
        try:
            text = base64.b64decode(value or "").decode()
        except (ValueError, UnicodeDecodeError):
            continue
        if key != local_name and "endpoints:" in text:
            out.append(key)
    return sorted(out)
