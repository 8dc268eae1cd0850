"""The generated kind config, checked against kind's v1alpha4 config API without running kind.

The field table below restates kind's types (kubernetes-sigs/kind v0.32.0,
pkg/apis/config/v1alpha4/types.go): each key kind decodes, with its Go type.
kind decodes the file strictly (pkg/internal/apis/config/encoding/load.go,
yamlUnmarshalStrict), so an unknown key or a wrong type fails ``kind create``;
the semantic checks follow kind's validate.go (pkg/internal/apis/config).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import pytest
import yaml

from k8snet.kind import addons, config, versions

INT32 = "int32"
STR = "string"
BOOL = "bool"


class Enum(tuple):
    """A Go string type whose values the types file lists as constants."""


class ListOf:
    def __init__(self, item: Any):
        self.item = item


class MapOf:
    def __init__(self, key: Any, value: Any):
        self.key, self.value = key, value


# PatchJSON6902: group, version, kind, patch (all strings, required in YAML).
PATCH_JSON6902 = {"group": STR, "version": STR, "kind": STR, "patch": STR}
# Mount (a close copy of the CRI Mount): paths, flags and the propagation enum.
MOUNT = {"containerPath": STR, "hostPath": STR, "readOnly": BOOL, "selinuxRelabel": BOOL,
         "propagation": Enum(("None", "HostToContainer", "Bidirectional"))}
# PortMapping: container and host port (int32), listen address, protocol enum.
PORT_MAPPING = {"containerPort": INT32, "hostPort": INT32, "listenAddress": STR,
                "protocol": Enum(("TCP", "UDP", "SCTP"))}
# Node: role enum, image, labels, mounts, port mappings, kubeadm patches.
NODE = {"role": Enum(("control-plane", "worker")), "image": STR, "labels": MapOf(STR, STR),
        "extraMounts": ListOf(MOUNT), "extraPortMappings": ListOf(PORT_MAPPING),
        "kubeadmConfigPatches": ListOf(STR), "kubeadmConfigPatchesJSON6902": ListOf(PATCH_JSON6902)}
# Networking: ip family enum, API server port/address, subnets, CNI switch, kube-proxy mode enum, DNS search.
NETWORKING = {"ipFamily": Enum(("ipv4", "ipv6", "dual")), "apiServerPort": INT32, "apiServerAddress": STR,
              "podSubnet": STR, "serviceSubnet": STR, "disableDefaultCNI": BOOL,
              "kubeProxyMode": Enum(("iptables", "ipvs", "nftables")), "dnsSearch": ListOf(STR)}
# Cluster: TypeMeta inline (kind, apiVersion), name, nodes, networking, feature gates, runtime config, patches.
CLUSTER = {"kind": STR, "apiVersion": STR, "name": STR, "nodes": ListOf(NODE), "networking": NETWORKING,
           "featureGates": MapOf(STR, BOOL), "runtimeConfig": MapOf(STR, STR),
           "kubeadmConfigPatches": ListOf(STR), "kubeadmConfigPatchesJSON6902": ListOf(PATCH_JSON6902),
           "containerdConfigPatches": ListOf(STR), "containerdConfigPatchesJSON6902": ListOf(STR)}


def type_errors(value: Any, spec: Any, path: str) -> list[str]:
    """Every key that kind's strict decoder would reject, with its path."""
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            return [f"{path}: want an object, got {type(value).__name__}"]
        errs = []
        for key, item in value.items():
            if key not in spec:
                errs.append(f"{path}.{key}: unknown field")
            else:
                errs += type_errors(item, spec[key], f"{path}.{key}")
        return errs
    if isinstance(spec, ListOf):
        if not isinstance(value, list):
            return [f"{path}: want a list, got {type(value).__name__}"]
        return [e for i, item in enumerate(value) for e in type_errors(item, spec.item, f"{path}[{i}]")]
    if isinstance(spec, MapOf):
        if not isinstance(value, dict):
            return [f"{path}: want a map, got {type(value).__name__}"]
        return [e for k, v in value.items() for e in type_errors(k, spec.key, f"{path}<key>")
                + type_errors(v, spec.value, f"{path}.{k}")]
    if isinstance(spec, Enum):
        return [] if value in spec else [f"{path}: {value!r} is not one of {list(spec)}"]
    if spec == STR:
        return [] if isinstance(value, str) else [f"{path}: want a string, got {value!r}"]
    if spec == BOOL:
        return [] if isinstance(value, bool) else [f"{path}: want a bool, got {value!r}"]
    if spec == INT32:
        ok = isinstance(value, int) and not isinstance(value, bool) and -(2**31) <= value < 2**31
        return [] if ok else [f"{path}: want an int32, got {value!r}"]
    raise AssertionError(f"bad spec at {path}")


def semantic_errors(cfg: dict[str, Any]) -> list[str]:
    """kind's Cluster.Validate and Node.Validate, for the fields k8snet sets."""
    errs = []
    if not re.fullmatch(r"[a-z0-9.-]+", cfg.get("name", "")):
        errs.append("invalid cluster name")
    family = cfg.get("networking", {}).get("ipFamily", "ipv4")
    for key in ("podSubnet", "serviceSubnet"):
        value = cfg.get("networking", {}).get(key)
        if value is not None:
            net = ipaddress.ip_network(value, strict=False)
            if family == "ipv4" and net.version != 4:
                errs.append(f"{key}: expected IPv4 CIDR for IPv4 family")
    roles = [n.get("role", "control-plane") for n in cfg.get("nodes", [])]
    if "control-plane" not in roles:
        errs.append("must have at least one control-plane node")
    for i, node in enumerate(cfg.get("nodes", [])):
        if not node.get("image"):
            errs.append(f"node {i}: image is a required field")
        seen = set()
        for m in node.get("extraPortMappings", []):
            for key in ("hostPort", "containerPort"):
                if not -1 <= m.get(key, 0) <= 65535:
                    errs.append(f"node {i}: invalid {key}")
            ipaddress.ip_address(m.get("listenAddress", "0.0.0.0"))
            bind = (m.get("listenAddress", "0.0.0.0"), m["hostPort"], m.get("protocol", "TCP"))
            if bind in seen:
                errs.append(f"node {i}: port mapping with same listen address, port and protocol already configured")
            seen.add(bind)
    return errs


@pytest.fixture
def cfg(monkeypatch) -> dict[str, Any]:
    monkeypatch.delenv("K8SNET_EDGE_HTTP_PORT", raising=False)
    monkeypatch.delenv("K8SNET_EDGE_HTTPS_PORT", raising=False)
    return yaml.safe_load(config.render())


def test_every_key_is_a_v1alpha4_field_with_the_right_type(cfg):
    assert cfg["apiVersion"] == "kind.x-k8s.io/v1alpha4" and cfg["kind"] == "Cluster"
    assert type_errors(cfg, CLUSTER, "Cluster") == []


def test_the_checker_rejects_what_kinds_strict_decoder_rejects():
    bad = {"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4", "nodes": [
        {"role": "master", "extraPortMappings": [{"containerPort": "80", "hostPort": 2**31}]}],
        "networking": {"kubeProxyMode": "userspace", "bogus": True}}
    errs = type_errors(bad, CLUSTER, "Cluster")
    assert "Cluster.networking.bogus: unknown field" in errs
    assert any("role" in e and "master" in e for e in errs)
    assert any("containerPort" in e for e in errs) and any("hostPort" in e for e in errs)
    assert any("kubeProxyMode" in e for e in errs)


def test_it_passes_kinds_validation(cfg):
    assert semantic_errors(cfg) == []


def test_three_nodes_named_as_the_sandbox_names_them(cfg):
    assert cfg["name"] == versions.CLUSTER_NAME == "k8snet"
    assert [n["role"] for n in cfg["nodes"]] == ["control-plane", "worker", "worker"]
    # kind names nodes <cluster>-control-plane, <cluster>-worker, <cluster>-worker2
    assert versions.NODE_NAMES == ("k8snet-control-plane", "k8snet-worker", "k8snet-worker2")


def test_every_node_runs_the_pinned_v1_33_image(cfg):
    assert {n["image"] for n in cfg["nodes"]} == {versions.NODE_IMAGE}
    assert re.fullmatch(r"kindest/node:v1\.33\.\d+@sha256:[0-9a-f]{64}", versions.NODE_IMAGE)
    assert versions.NODE_IMAGE.split("@")[0].endswith(versions.KUBERNETES_VERSION)


def test_networks_are_the_sandboxs(cfg):
    net = cfg["networking"]
    assert net["podSubnet"] == "10.244.0.0/16"
    assert net["serviceSubnet"] == "10.96.0.0/12"  # kind's default would be a /16
    assert net["kubeProxyMode"] == "iptables"
    assert net["apiServerAddress"] == "127.0.0.1"
    assert not ipaddress.ip_network(net["podSubnet"]).overlaps(ipaddress.ip_network(net["serviceSubnet"]))


def test_the_edge_is_on_localhost_8080_and_8443_mapped_to_traefiks_node_ports(cfg):
    mappings = cfg["nodes"][0]["extraPortMappings"]
    assert [(m["hostPort"], m["containerPort"], m["listenAddress"], m["protocol"]) for m in mappings] == [
        (8080, 32080, "127.0.0.1", "TCP"), (8443, 32443, "127.0.0.1", "TCP")]
    assert all("extraPortMappings" not in n for n in cfg["nodes"][1:])
    # kind's guide: with a NodePort, the mapping's containerPort must equal the Service's nodePort
    svc = next(o for o in addons.manifest_objects("traefik.yaml") if o["kind"] == "Service")
    assert {p["name"]: p["nodePort"] for p in svc["spec"]["ports"]} == versions.EDGE_NODE_PORTS
    assert {m["containerPort"] for m in mappings} == set(versions.EDGE_NODE_PORTS.values())


def test_no_node_carries_the_old_ingress_ready_label(cfg):
    assert all("labels" not in n for n in cfg["nodes"])
    assert "ingress-ready" not in config.render()


def test_edge_ports_follow_the_environment(monkeypatch):
    monkeypatch.setenv("K8SNET_EDGE_HTTP_PORT", "18080")
    monkeypatch.setenv("K8SNET_EDGE_HTTPS_PORT", "18443")
    mappings = config.cluster_config()["nodes"][0]["extraPortMappings"]
    assert [m["hostPort"] for m in mappings] == [18080, 18443]
    assert [m["containerPort"] for m in mappings] == [32080, 32443]


@pytest.mark.parametrize("value", ["http", "0", "70000", "-1"])
def test_a_bad_edge_port_is_refused_with_the_variable_named(monkeypatch, value):
    monkeypatch.setenv("K8SNET_EDGE_HTTP_PORT", value)
    with pytest.raises(ValueError, match=r"\$K8SNET_EDGE_HTTP_PORT=.* is not a port number"):
        versions.edge_ports()


def test_equal_edge_ports_are_refused():
    with pytest.raises(ValueError, match="must differ"):
        config.cluster_config(http_port=9000, https_port=9000)


def test_write_creates_the_file_kind_reads(tmp_path):
    path = config.write(tmp_path / "sub" / "kind-config.yaml")
    text = path.read_text()
    assert text.startswith("# Generated by k8snet")
    assert yaml.safe_load(text) == config.cluster_config()


def test_no_lesson_or_lab_asks_for_traefiks_node_ports():
    """A NodePort Service in a lesson that asked for one of these would be refused on kind (already allocated)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    asked = {}
    for path in [*root.glob("notebooks/*.ipynb"), *root.glob("labs/**/*.ipynb"), *root.glob("labs/**/*.yaml")]:
        for port in re.findall(r"nodePort\\?\"?:\s*(\d+)", path.read_text()):
            asked.setdefault(int(port), []).append(path.relative_to(root).as_posix())
    taken = {p: asked[p] for p in versions.EDGE_NODE_PORTS.values() if p in asked}
    assert not taken, f"these lessons ask for Traefik's nodePorts: {taken}"
    assert 30080 in asked  # the scan sees lesson 01's NodePort Service


# -- members of a cluster set (k8snet kind up --name east) ---------------------------------------------------------


@pytest.fixture
def east(monkeypatch) -> dict[str, Any]:
    monkeypatch.setenv("K8SNET_EDGE_HTTP_PORT", "18080")  # the default cluster's override: not east's
    return yaml.safe_load(config.render(config.cluster_config("east")))


def test_a_member_passes_kinds_decoding_and_validation(east):
    assert type_errors(east, CLUSTER, "Cluster") == [] and semantic_errors(east) == []
    assert east["name"] == "east"


def test_east_and_west_have_cilium_clustermesh_networks_apart_from_the_default_cluster(east):
    """cilium/cilium Makefile kind-clustermesh: PODSUBNET=10.1.0.0/16 SERVICESUBNET=172.20.1.0/24, then 10.2/172.20.2."""
    west = config.cluster_config("west")
    default = config.cluster_config()
    assert (east["networking"]["podSubnet"], east["networking"]["serviceSubnet"]) == ("10.1.0.0/16", "172.20.1.0/24")
    assert (west["networking"]["podSubnet"], west["networking"]["serviceSubnet"]) == ("10.2.0.0/16", "172.20.2.0/24")
    nets = [ipaddress.ip_network(c["networking"][k]) for c in (east, west, default)
            for k in ("podSubnet", "serviceSubnet")]
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])


def test_a_member_maps_its_own_edge_ports_not_the_default_clusters(east):
    mappings = east["nodes"][0]["extraPortMappings"]
    assert [(m["hostPort"], m["containerPort"]) for m in mappings] == [(8180, 32080), (8543, 32443)]
    west = config.cluster_config("west")["nodes"][0]["extraPortMappings"]
    assert [m["hostPort"] for m in west] == [8280, 8643]


def test_a_members_file_says_which_member_it_is(tmp_path):
    text = config.write(tmp_path / "east.yaml", config.cluster_config("east")).read_text()
    assert text.startswith("# Generated by k8snet") and "cluster east of the workbook's cluster set" in text
    assert "east-control-plane" in text and "10.1.0.0/16" in text


@pytest.mark.parametrize("name", ["East", "east_1", "", "a" * 51])
def test_a_name_kind_refuses_is_refused_before_kind_runs(name):
    with pytest.raises(ValueError, match="cluster name"):
        config.cluster_config(name)
