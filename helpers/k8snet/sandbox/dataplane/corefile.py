"""What the sandbox's DNS reads of CoreDNS's configuration: the ``multicluster`` zones of its kubernetes plugin.

CoreDNS reads its Corefile from the kube-system/coredns ConfigMap (kubeadm mounts it at /etc/coredns); the
kubernetes plugin serves the Multi-Cluster Services DNS zone when its block says so (coredns/coredns
plugin/kubernetes/README.md, "Configure multicluster", since v1.12.2)::

    kubernetes cluster.local clusterset.local in-addr.arpa ip6.arpa {
       multicluster clusterset.local
       ...
    }

(the edit docs.cilium.io's Multi-Cluster Services API guide makes, by hand or with
``clustermesh.mcsapi.corednsAutoConfigure``). Its setup (plugin/kubernetes/setup.go ParseStanza) refuses a
``multicluster`` zone the plugin is not authoritative for ("is not authoritative for the multicluster zone …"), and
CoreDNS releases before v1.12.2 know no ``multicluster`` property ("unknown property"): a Corefile CoreDNS refuses
keeps the previous configuration running (the reload plugin), which for the sandbox is kubeadm's (no multicluster
zone), and the DNS says why in its answers' notes.

Only this is read; the rest of the Corefile (other plugins, other server blocks, ttl, pods mode) is served as
kubeadm's default configures it (dataplane/dns.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..instance import Sandbox

CONFIGMAP = ("kube-system", "coredns")
MULTICLUSTER_SINCE = (1, 12, 2)
"""The first CoreDNS release whose kubernetes plugin has the ``multicluster`` option (coredns/coredns#7266)."""
CLUSTER_LABEL = "k8s-app=kube-dns"


@dataclass(frozen=True)
class Multicluster:
    """The multicluster zones CoreDNS serves, or why it serves none although the Corefile asks."""

    zones: tuple[str, ...] = ()
    problem: str = ""


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        out += re.findall(r"[{}]|[^\s{}]+", line)
        out.append("\n")
    return out


def _blocks(tokens: list[str]) -> list[tuple[list[str], list[list[str]]]]:
    """(server block keys, its directive lines, each a token list with nested ``{``/``}`` kept) of a Corefile."""
    blocks: list[tuple[list[str], list[list[str]]]] = []
    i, n = 0, len(tokens)
    while i < n:
        keys: list[str] = []
        while i < n and tokens[i] != "{":
            if tokens[i] != "\n":
                keys.append(tokens[i])
            i += 1
        i += 1
        lines: list[list[str]] = []
        depth, line = 1, []
        while i < n and depth:
            t = tokens[i]
            i += 1
            if t == "{":
                depth += 1
            elif t == "}":
                depth -= 1
                if depth == 0:
                    break
            if t == "\n":
                if line and depth == 1:
                    lines.append(line)
                    line = []
                elif line:
                    line.append(t)
                continue
            line.append(t)
        if line:
            lines.append(line)
        if keys:
            blocks.append((keys, lines))
    return blocks


def _zone(key: str) -> str:
    """A server block key's zone: ``.:53`` is the root, ``example.org:53`` that name (lower case, no dot)."""
    host = key.split("://", 1)[-1].rsplit(":", 1)[0] if not key.startswith("[") else key
    return host.strip(".").lower()


def _within(name: str, zone: str) -> bool:
    return zone == "" or name == zone or name.endswith("." + zone)


def parse(text: str, version: tuple[int, ...] | None) -> Multicluster:
    """The multicluster zones the Corefile's kubernetes plugin serves under the root server block, for a CoreDNS of
    ``version`` (None: unknown, taken as new enough)."""
    for keys, lines in _blocks(_tokens(text)):
        if "" not in {_zone(k) for k in keys}:
            continue  # only the root block (kubeadm's ``.:53``) serves cluster zones here
        for line in lines:
            if line[0] != "kubernetes":
                continue
            args, rest = _until_brace(line[1:])
            zones = [a.strip(".").lower() for a in args] or [""]
            asked = _option(rest, "multicluster")
            if asked is None:
                return Multicluster()
            if version is not None and version < MULTICLUSTER_SINCE:
                shown = "v" + ".".join(map(str, version))
                return Multicluster(problem=f"CoreDNS {shown} refuses this Corefile (plugin/kubernetes: unknown "
                                    "property 'multicluster'; the option came in v1.12.2), so it keeps serving "
                                    "the previous one: no multicluster zone")
            mc = tuple(z.strip(".").lower() for z in asked) or tuple(zones)
            for z in mc:
                if z not in zones:
                    return Multicluster(problem=f"CoreDNS refuses this Corefile (plugin/kubernetes: is not "
                                        f"authoritative for the multicluster zone {z}), so it keeps serving the "
                                        "previous one: no multicluster zone")
            return Multicluster(mc)
    return Multicluster()


def _until_brace(tokens: list[str]) -> tuple[list[str], list[str]]:
    if "{" in tokens:
        i = tokens.index("{")
        return tokens[:i], tokens[i + 1:]
    return tokens, []


def _option(block: list[str], name: str) -> list[str] | None:
    """The arguments of option ``name`` inside a directive's block (its lines separated by newlines)."""
    line: list[str] = []
    for t in block + ["\n"]:
        if t == "\n":
            if line and line[0] == name:
                return line[1:]
            line = []
        elif t not in ("{", "}"):
            line.append(t)
    return None


def version_of(image: str) -> tuple[int, ...] | None:
    """The release of a CoreDNS image from its tag, as Cilium's auto-configuration reads it (validateCoreDNSVersion:
    ``v1.12.2``, a ``-suffix`` and ``@digest`` dropped); None when the tag is no version."""
    tag = image.rsplit("/", 1)[-1].partition(":")[2].split("@", 1)[0].split("-", 1)[0].lstrip("v")
    parts = tag.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    return tuple(int(p) for p in parts)


def running_version(sb: Sandbox) -> tuple[int, ...] | None:
    """The oldest release among the running CoreDNS pods (the Deployment's template when none runs)."""
    versions = []
    for pod in sb.store.list("pods", CONFIGMAP[0]):
        if (pod["metadata"].get("labels") or {}).get("k8s-app") != "kube-dns" or \
                (pod.get("status") or {}).get("phase") != "Running":
            continue
        for c in pod["spec"].get("containers") or []:
            if c.get("name") == "coredns":
                versions.append(version_of(c.get("image", "")))
    if not versions:
        deploy: Any = sb.store.get("deployments.apps", CONFIGMAP[0], "coredns") or {}
        containers = (((deploy.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
        versions = [version_of(c.get("image", "")) for c in containers if c.get("name") == "coredns"]
    known = [v for v in versions if v is not None]
    return min(known) if known else None


def multicluster(sb: Sandbox) -> Multicluster:
    """The running CoreDNS's multicluster zones, from the ConfigMap's Corefile."""
    cm = sb.store.get("configmaps", *CONFIGMAP) or {}
    text = (cm.get("data") or {}).get("Corefile") or ""
    if "multicluster" not in text:
        return Multicluster()
    return parse(text, running_version(sb))


def within(name: str, zones: tuple[str, ...]) -> str | None:
    """The longest of ``zones`` that ``name`` falls in, or None."""
    found = [z for z in zones if _within(name, z)]
    return max(found, key=len) if found else None
