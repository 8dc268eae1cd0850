"""The outside world on kind: the hosts of :mod:`k8snet.outside` as one nginx container beside the nodes, at
the sandbox's addresses, with their names in CoreDNS.

The design, the simplest that keeps policies written for the sandbox working unchanged:

- **One container, every address.** ``k8snet-outside`` runs the nginx lesson image on the ``kind`` Docker
  network with :func:`k8snet.outside.nginx_conf` (the file the sandbox's nginx emulation reads) and the hosts'
  certificates copied in. nginx listens on each host's own address (``listen 203.0.113.10:80``), which the
  container may bind before it holds them (``net.ipv4.ip_nonlocal_bind=1``, a per-namespace sysctl Docker
  sets). A one-shot helper in the container's network namespace (the netshoot lesson image with
  ``NET_ADMIN``; nginx itself runs without it) then puts the addresses on its loopback and writes its
  firewall: TCP 80 (and 443 for the HTTPS hosts) to a host's address is accepted, everything else to the two
  documentation ranges is dropped, so an unlisted port or an address no host has times out, as in the sandbox.
- **Routes on the nodes.** Each node gets ``ip route replace 203.0.113.0/24 via <the container's address on
  the kind network>`` (and the same for 198.51.100.0/24): a pod's packet leaves through its node as to the
  internet, after the CNI plugin's masquerade (kindnet's ``KIND-MASQ-AGENT``, Cilium's and Calico's), so an
  ``ipBlock``/``toCIDR`` rule meets the real destination address.
- **The kind host's address.** A real server on the internet would see the kind host's address after Docker's
  masquerade too, but the container sits on the kind network, before it; so its own nat table stands in for
  that second NAT: new connections are SNATed to :data:`k8snet.outside.PUBLIC_IP` on the way in (nat
  ``INPUT``), and the hosts report the same client as in the sandbox.
- **Names.** A server block for the four names in kube-system/coredns's Corefile (:func:`patch_corefile`):
  the ``hosts`` plugin answers their A records with the sandbox's TTL, ``header`` makes the answers look as a
  forwarding resolver's do (no ``aa``, ``ra`` set: BIND's nslookup prints "Non-authoritative answer" as in
  the sandbox), and anything else under those names goes on to ``forward . /etc/resolv.conf`` as before.
- **HTTPS.** The hosts' certificates come from a CA k8snet makes once (``$K8SNET_HOME/kind/outside/ca.crt``);
  no image trusts it, so on kind ``curl`` needs ``-k`` (or ``--cacert`` with that file) where the sandbox's
  images trust their emulated public CA.

Addresses, routes and the nginx process do not survive a restart of Docker or of the nodes; ``k8snet kind up``
puts them back (every step here is idempotent). The container serves every kind cluster on the host (each
``up`` routes its own nodes to it); ``k8snet kind down`` removes it with the last cluster.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .. import outside
from . import commands, versions

if TYPE_CHECKING:
    from ..cluster import Cluster

CONTAINER = f"{versions.CLUSTER_NAME}-outside"
NETWORK = "kind"
HELPER_IMAGE = versions.NETSHOOT_IMAGE
"""The one-shot helper that sets up the container's network namespace (``ip``, ``iptables``)."""
LABEL = "io.k8snet.outside"
IMAGES = (outside.IMAGE, HELPER_IMAGE)
CHAIN = "K8SNET-OUTSIDE"

BEGIN = "# k8snet outside world: begin (k8snet kind up writes this block; do not edit it)"
END = "# k8snet outside world: end"

Say = Callable[[str], None]


# -- files -------------------------------------------------------------------------------------------------------

def home() -> Path:
    from .addons import home as kind_home

    return kind_home() / "outside"


def ensure_files(base: Path | None = None, now: dt.datetime | None = None) -> Path:
    """The files copied into the container, under ``base/nginx`` (nginx's ``/etc/nginx``): nginx.conf, written
    each time (it follows k8snet), and the hosts' certificates, made once with their CA (``base/ca.crt``, kept
    so a learner's ``--cacert`` stays valid); returns ``base/nginx``."""
    from ..sandbox.pki import make_ca, pem_cert, write_private

    base = base or home()
    tree = base / "nginx"
    certs = {path: tree / path.removeprefix("/etc/nginx/")
             for host in outside.HOSTS if host.https for path in (host.cert, host.key)}
    if not (base / "ca.crt").exists() or not all(p.exists() for p in certs.values()):
        now = now or dt.datetime.now(dt.UTC)
        key, ca = make_ca(outside.CA_NAME, now)
        for path, data in outside.certificate_files(key, ca, now).items():
            certs[path].parent.mkdir(parents=True, exist_ok=True)
            write_private(certs[path], data)
        (base / "ca.crt").write_bytes(pem_cert(ca))
    tree.mkdir(parents=True, exist_ok=True)
    (tree / "nginx.conf").write_text(outside.nginx_conf())
    return tree


# -- the container's network namespace ----------------------------------------------------------------------------

def netns_script() -> str:
    """What the helper runs in the container's network namespace, idempotently: the addresses on ``lo``, the
    firewall (TCP to each host's ports accepted, the rest of the ranges dropped), the SNAT to the kind host's
    public address."""
    lines = ["set -e"]
    lines += [f"ip addr replace {h.ip}/32 dev lo" for h in outside.HOSTS]
    lines += [f"iptables -w -N {CHAIN} 2>/dev/null || iptables -w -F {CHAIN}",
              f"iptables -w -C INPUT -j {CHAIN} 2>/dev/null || iptables -w -A INPUT -j {CHAIN}"]
    for h in outside.HOSTS:
        for port, _ in h.ports:
            lines.append(f"iptables -w -A {CHAIN} -p tcp -d {h.ip} --dport {port} -j ACCEPT")
    lines += [f"iptables -w -A {CHAIN} -d {cidr} -j DROP" for cidr in outside.CIDRS]
    lines += [f"iptables -w -t nat -N {CHAIN} 2>/dev/null || iptables -w -t nat -F {CHAIN}",
              f"iptables -w -t nat -C INPUT -j {CHAIN} 2>/dev/null || iptables -w -t nat -A INPUT -j {CHAIN}"]
    lines += [f"iptables -w -t nat -A {CHAIN} -p tcp -d {cidr} -j SNAT --to-source {outside.PUBLIC_IP}"
              for cidr in outside.CIDRS]
    return "\n".join(lines) + "\n"


def create_argv() -> list[str]:
    """The nginx container, created stopped (its files are copied in before it starts: :func:`copy_argv`)."""
    return ["docker", "create", "--name", CONTAINER, "--network", NETWORK, "--hostname", CONTAINER,
            "--label", f"{LABEL}=true", "--sysctl", "net.ipv4.ip_nonlocal_bind=1", outside.IMAGE]


def copy_argv(tree: Path) -> list[str]:
    """``docker cp DIR/. C:/etc/nginx/``: the directory's contents over nginx's (no bind mount, so it works with
    Docker Desktop and remote engines alike)."""
    return ["docker", "cp", f"{tree}/.", f"{CONTAINER}:/etc/nginx/"]


def reload_argv() -> list[str]:
    return ["docker", "exec", CONTAINER, "nginx", "-s", "reload"]


def netns_argv() -> list[str]:
    return ["docker", "run", "--rm", "--network", f"container:{CONTAINER}", "--cap-add", "NET_ADMIN",
            HELPER_IMAGE, "sh", "-c", netns_script()]


def address_argv() -> list[str]:
    return ["docker", "container", "inspect", "--format",
            '{{with index .NetworkSettings.Networks "' + NETWORK + '"}}{{.IPAddress}}{{end}}', CONTAINER]


def kind_nodes_argv(name: str) -> list[str]:
    return ["kind", "get", "nodes", "--name", name]


def route_argv(node: str, cidr: str, via: str) -> list[str]:
    return ["docker", "exec", node, "ip", "route", "replace", cidr, "via", via]


# -- the steps -------------------------------------------------------------------------------------------------

def ensure_images(say: Say, timeout: float = 600) -> None:
    for image in IMAGES:
        if commands.run(commands.docker_image_present_argv(image), check=False, timeout=30).returncode != 0:
            say(f"  pulling {image}")
            commands.run(commands.docker_pull_argv(image), timeout=timeout)


def ensure_container(tree: Path) -> str:
    """Create and start the container, or bring its files up to date (a running nginx reloads them); returns
    what it did."""
    state = commands.container_state(CONTAINER)
    if state is None:
        commands.run(create_argv(), timeout=120)
    commands.run(copy_argv(tree), timeout=60)
    if state == "running":
        commands.run(reload_argv(), timeout=60)
        return "running"
    commands.run(commands.docker_start_argv(CONTAINER), timeout=60)
    return "started" if state is None else "restarted"


def container_address() -> str:
    """The container's address on the kind network (what the nodes route the outside ranges to)."""
    address = commands.run(address_argv(), timeout=30).stdout.strip()
    if not address:
        raise commands.ToolError(f"container {CONTAINER} has no address on the {NETWORK!r} network",
                                 f"`docker rm -f {CONTAINER}` and re-run `k8snet kind up`")
    return address


def route_nodes(name: str, via: str) -> list[str]:
    """Route both outside ranges through the container on every node of cluster ``name``; returns the nodes."""
    nodes = commands.run(kind_nodes_argv(name), timeout=60).stdout.split()
    for node in nodes:
        for cidr in outside.CIDRS:
            commands.run(route_argv(node, cidr, via), timeout=60)
    return nodes


# -- DNS: the Corefile ---------------------------------------------------------------------------------------------

def corefile_block() -> str:
    """The server block for the hosts' names (CoreDNS 1.12: plugin/hosts with inline entries, ``ttl`` and
    ``fallthrough``; plugin/header's ``response`` rules; plugin order from plugin.cfg puts header before hosts
    before forward)."""
    names = " ".join(f"{h.name}:53" for h in outside.HOSTS)
    entries = "".join(f"        {h.ip} {h.name}\n" for h in outside.HOSTS)
    return (f"{BEGIN}\n{names} {{\n    errors\n    hosts {{\n{entries}        ttl {outside.TTL}\n"
            "        fallthrough\n    }\n    header {\n        response set ra\n        response clear aa\n    }\n"
            f"    forward . /etc/resolv.conf\n}}\n{END}\n")


def unpatch_corefile(text: str) -> str:
    """The Corefile without k8snet's block (unchanged when it has none).

    Raises:
        ValueError: a begin marker without its end (the block was edited by hand: fix it, or delete both).
    """
    start = text.find(BEGIN)
    if start < 0:
        return text
    end = text.find(END, start)
    if end < 0:
        raise ValueError(f"the Corefile holds {BEGIN!r} but not {END!r}: remove k8snet's block by hand")
    end += len(END)
    if text[end:end + 1] == "\n":
        end += 1
    before = text[:start]
    return before.rstrip("\n") + "\n" + text[end:] if before.strip() else text[end:]


def patch_corefile(text: str) -> str:
    """The Corefile with k8snet's block at its end, replacing an older one: applying it twice is applying it
    once."""
    base = unpatch_corefile(text).rstrip("\n")
    return (base + "\n" if base else "") + corefile_block()


RESTARTED = "kubectl.kubernetes.io/restartedAt"


def configure_dns(cluster: Cluster, timeout: float = 300, remove: bool = False) -> bool:
    """Patch (or with ``remove``, unpatch) kube-system/coredns's Corefile; when it changed, restart CoreDNS as
    ``kubectl rollout restart`` does (its reload plugin would take up to the kubelet's ConfigMap sync plus its
    own 30 s) and wait for the rollout. Returns whether the Corefile changed."""
    cm = cluster.core.read_namespaced_config_map("coredns", "kube-system")
    text = (cm.data or {}).get("Corefile", "")
    new = unpatch_corefile(text) if remove else patch_corefile(text)
    if new == text:
        return False
    cluster.core.patch_namespaced_config_map("coredns", "kube-system", {"data": {"Corefile": new}})
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    cluster.apps.patch_namespaced_deployment(
        "coredns", "kube-system", {"spec": {"template": {"metadata": {"annotations": {RESTARTED: stamp}}}}})
    cluster.wait_ready("coredns", "kube-system", timeout=timeout)
    return True


def dns_configured(cluster: Cluster) -> bool:
    cm = cluster.core.read_namespaced_config_map("coredns", "kube-system")
    return BEGIN in ((cm.data or {}).get("Corefile") or "")


# -- install and remove --------------------------------------------------------------------------------------------

def install(cluster: Cluster, name: str = versions.CLUSTER_NAME, say: Say = print, timeout: float = 600) -> str:
    """Everything above, in order; returns the container's address on the kind network."""
    ensure_images(say, timeout)
    what = ensure_container(ensure_files())
    commands.run(netns_argv(), timeout=120)
    via = container_address()
    nodes = route_nodes(name, via)
    changed = configure_dns(cluster, timeout=timeout)
    say(f"  {CONTAINER} {what} at {via}: {', '.join(h.name for h in outside.HOSTS)}; {len(nodes)} nodes route "
        f"{' and '.join(outside.CIDRS)} to it; CoreDNS {'patched' if changed else 'already knows the names'}")
    return via


def remove(say: Say = print) -> None:
    """Remove the container (``kind down`` does, with the last cluster: the nodes' routes and the Corefile block
    go with the cluster itself)."""
    say(f"• removing {CONTAINER}")
    commands.run(commands.docker_rm_argv(CONTAINER), check=False, timeout=60)
