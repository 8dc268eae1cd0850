"""The CNI plugins' images as programs: Cilium 1.20 (``quay.io/cilium/cilium``, ``quay.io/cilium/operator-generic``)
and Calico 3.32 (``quay.io/calico/node``, ``quay.io/calico/cni``, ``quay.io/calico/kube-controllers``), as the
manifests in ``k8snet/kind/manifests`` run them (:mod:`k8snet.sandbox.cni`).

Each program logs a few of its real startup lines, listens on its real ports and answers its probes; the data plane
does its work (:mod:`.podnet`: addresses, interfaces, routes). Their init containers do their one job and exit 0:

- cilium-agent (``cilium-agent --config-dir=…``): 9879 on 127.0.0.1 (``/healthz``, the probes' endpoint: 200 and
  ``{"state":"Ok"}``, daemon/cmd/health.go's brief status), 4240 (cilium-health's HTTP API, every node's health
  endpoint), 4244 (Hubble's gRPC server, hubble-listen-address; plain HTTP gets nothing here). Startup lines from
  pkg/k8s/client (``Establishing connection to apiserver``, ``Connected to apiserver``) and daemon/cmd
  (``Initializing daemon``, ``Daemon initialization completed``), in slog's text format. Init containers
  ``cilium-dbg build-config``, the cgroup and sysctl helpers (``sh -ec``), ``mount-bpf-fs``, ``/init-container.sh``,
  ``/install-plugin.sh`` end at once; the preStop hook ``/cni-uninstall.sh`` exits 0.
- cilium-operator-generic: 9234 on 127.0.0.1 (``/healthz``: ``ok``), 9963 (``/metrics``).
- calico-node (the image's ``start_runit``): Felix's health server on 9099 (FELIX_HEALTHENABLED, felix/config
  HealthPort 9099: ``/readiness``, ``/liveness``), BIRD's BGP on 179. Startup lines from
  node/pkg/lifecycle (startup.go ``Early log level set to info``, utils.go ``Using NODENAME environment for node
  name``, ``Determined node name``, startup.go ``found v4=… in the kubeadm config map``). The probes' commands
  ``/bin/calico-node -felix-ready -bird-ready`` / ``-felix-live -bird-live`` exit 0, ``-shutdown`` (preStop) too.
  Init containers: calico/cni's ``/opt/cni/bin/calico-ipam -upgrade`` and ``/opt/cni/bin/install`` (its log:
  cni-plugin/pkg/install/install.go) and calico/node's ``calico-node -init -best-effort``.
- calico-kube-controllers: its probes' ``/usr/bin/check-status -r`` / ``-l`` exit 0; it listens on nothing.
"""

from __future__ import annotations

import posixpath
from datetime import datetime
from typing import Any

from .model import EMPTY_REPLY, HttpRequest, HttpResponse, Program, go_response

CILIUM_VERSION = "1.20.2"
CALICO_VERSION = "3.32.1"
"""The releases the images are (k8snet.sandbox.cni keeps the same values; kept here so the data plane imports
nothing above it)."""

FAMILIES = {"cilium/cilium": "cilium", "cilium/operator-generic": "cilium-operator", "calico/node": "calico-node",
            "calico/cni": "calico-cni", "calico/kube-controllers": "calico-kube-controllers"}
"""Image repository path → the program family the sandbox emulates."""

IMAGE_DEFAULTS: dict[str, tuple[list[str], list[str]]] = {
    "cilium": ([], []),  # images/cilium/Dockerfile: no ENTRYPOINT; the chart gives the command
    "cilium-operator": ([], []),
    "calico-node": ([], ["start_runit"]),  # node/Dockerfile: CMD ["start_runit"]
    "calico-cni": ([], []),
    "calico-kube-controllers": (["/usr/bin/kube-controllers"], []),  # kube-controllers/Dockerfile ENTRYPOINT
}

EMULATED: dict[str, dict[str, Any]] = {
    "cilium": {
        "images": [f"quay.io/cilium/cilium:v{CILIUM_VERSION} (the kube-system/cilium DaemonSet's agent)"],
        "programs": ["cilium-agent: 9879 /healthz (probes), 4240 cilium-health, 4244 Hubble; its init containers; "
                     "the sandbox's data plane does its work (addresses, lxc veths, routes via cilium_host)"],
        "commands": ["hubble observe (the node's flows: --last, --pod, --namespace, --verdict, --port, -t, -o "
                     "jsonpb), cilium-dbg endpoint list (dataplane/cilium/cli.py)"],
    },
    "cilium-operator": {
        "images": [f"quay.io/cilium/operator-generic:v{CILIUM_VERSION}"],
        "programs": ["cilium-operator-generic: 9234 /healthz, 9963 /metrics"],
        "commands": ["none"],
    },
    "calico-node": {
        "images": [f"quay.io/calico/node:v{CALICO_VERSION} (the kube-system/calico-node DaemonSet's)"],
        "programs": ["calico-node (Felix, BIRD, confd): 9099 Felix health, 179 BGP; the sandbox's data plane does "
                     "its work (/26 blocks, cali veths, IP-in-IP routes via tunl0)"],
        "commands": ["/bin/calico-node -felix-ready -bird-ready, -felix-live -bird-live, -shutdown (probes, preStop)"],
    },
    "calico-cni": {
        "images": [f"quay.io/calico/cni:v{CALICO_VERSION} (calico-node's init containers)"],
        "programs": ["/opt/cni/bin/install, /opt/cni/bin/calico-ipam -upgrade: they log and exit 0"],
        "commands": ["none"],
    },
    "calico-kube-controllers": {
        "images": [f"quay.io/calico/kube-controllers:v{CALICO_VERSION}"],
        "programs": ["kube-controllers (node, loadbalancer): its startup log"],
        "commands": ["/usr/bin/check-status -r, -l (probes)"],
    },
}
"""The rows of the sandbox's table of emulated images (workloads.EMULATED)."""

AVAILABLE = {
    "cilium": {"true", "/cni-uninstall.sh", "hubble", "cilium-dbg"},
    "cilium-operator": {"true"},
    "calico-node": {"true", "calico-node", "/bin/calico-node"},
    "calico-cni": {"true"},
    "calico-kube-controllers": {"true", "check-status", "/usr/bin/check-status"},
}
"""Commands exec (probes, hooks) runs in each image: ``true`` is what a finished init container's process runs."""

PRESENT = {
    "cilium": {"cilium-agent", "cilium-dbg", "cilium-health", "hubble", "sh", "bash", "mount", "grep", "nsenter", "cp", "rm",
               "ip", "iptables", "iptables-save", "true"},
    "cilium-operator": {"cilium-operator-generic"},
    "calico-node": {"calico-node", "start_runit", "bird", "birdcl", "calico-felix", "sh", "bash", "ip", "iptables",
                    "iptables-save", "ipset", "true"},
    "calico-cni": {"calico", "calico-ipam", "install", "true"},
    "calico-kube-controllers": {"kube-controllers", "check-status"},
}
"""Every command the real image has (a command outside this and AVAILABLE is ``not found``)."""

ONESHOT = "oneshot"
"""The program of an init container that does its job and exits 0 (its process runs ``true``)."""

NAMES = ("cilium-agent", "cilium-operator", "calico-node", "calico-kube-controllers")


def family(image_path: str) -> str | None:
    return FAMILIES.get(image_path)


def program(family_name: str, argv: list[str], env: dict[str, str]) -> Program | None:
    """The program a CNI image runs with ``argv`` (None: not one of these images)."""
    if family_name not in FAMILIES.values():
        return None
    exe = posixpath.basename(argv[0]) if argv else ""
    args = argv[1:]
    if family_name == "cilium":
        if exe == "cilium-agent":
            node = env.get("K8S_NODE_NAME", "")
            return Program("cilium-agent", family_name, {(9879, "TCP"): "http", (4240, "TCP"): "http",
                                                          (4244, "TCP"): "grpc"}, {"args": args}, startup=[
                # pkg/k8s/client (the kind guide's troubleshooting shows the first line), daemon/cmd (cells.go)
                f'{{slog}} level=info msg="Cilium {CILIUM_VERSION}" subsys=daemon',
                '{slog} level=info msg="Establishing connection to apiserver" host="https://10.96.0.1:443" '
                'subsys=k8s-client',
                '{slog} level=info msg="Connected to apiserver" subsys=k8s-client',
                f'{{slog}} level=info msg="Initializing daemon" subsys=daemon nodeName={node}',
                '{slog} level=info msg="Daemon initialization completed" subsys=daemon bootstrapTime=3.2s'],
                sigterm_exit=0)
        return Program(ONESHOT, family_name, opts={"args": args})  # the init containers
    if family_name == "cilium-operator":
        if exe == "cilium-operator-generic":
            return Program("cilium-operator", family_name, {(9234, "TCP"): "http", (9963, "TCP"): "http"},
                           {"args": args}, startup=[
                               f'{{slog}} level=info msg="Cilium Operator {CILIUM_VERSION}" subsys=cilium-operator',
                               '{slog} level=info msg="Establishing connection to apiserver" '
                               'host="https://10.96.0.1:443" subsys=k8s-client',
                               '{slog} level=info msg="Connected to apiserver" subsys=k8s-client'], sigterm_exit=0)
        return _other(family_name, argv)
    if family_name == "calico-node":
        if exe == "start_runit":
            node = env.get("NODENAME", "")
            return Program("calico-node", family_name, {(9099, "TCP"): "http", (179, "TCP"): "grpc"},
                           {"args": args}, startup=[
                               "{calico} [INFO][1] startup/startup.go 553: Early log level set to info",
                               f"{{calico}} [INFO][1] utils/utils.go 125: Using NODENAME environment for node name "
                               f"{node}",
                               f"{{calico}} [INFO][1] utils/utils.go 137: Determined node name: {node}",
                               "{calico} [INFO][1] startup/startup.go 942: found v4=10.244.0.0/16 in the kubeadm "
                               "config map"], sigterm_exit=0)
        if exe == "calico-node" and args[:1] == ["-init"]:
            return Program(ONESHOT, family_name, opts={"args": args})
        return _other(family_name, argv)
    if family_name == "calico-cni":
        if argv[:1] == ["/opt/cni/bin/install"]:
            return Program(ONESHOT, family_name, opts={"args": args}, startup=[  # cni-plugin/pkg/install/install.go
                "{calico} [INFO][1] cni-installer/install.go 220: Installed /host/opt/cni/bin/calico",
                "{calico} [INFO][1] cni-installer/install.go 220: Installed /host/opt/cni/bin/calico-ipam",
                "{calico} [INFO][1] cni-installer/install.go 224: Wrote Calico CNI binaries to /host/opt/cni/bin",
                f"{{calico}} [INFO][1] cni-installer/install.go 229: CNI plugin version: v{CALICO_VERSION}",
                "{calico} [INFO][1] cni-installer/install.go 411: Created /host/etc/cni/net.d/10-calico.conflist",
                "{calico} [INFO][1] cni-installer/install.go 249: Done configuring CNI.  Sleep= false"])
        if argv[:1] == ["/opt/cni/bin/calico-ipam"]:
            return Program(ONESHOT, family_name, opts={"args": args})
        return _other(family_name, argv)
    if exe == "kube-controllers":  # calico-kube-controllers
        return Program("calico-kube-controllers", family_name, {}, {"args": args}, startup=[
            "{calico} [INFO][1] main.go 218: Starting status report routine"], sigterm_exit=0)
    return _other(family_name, argv)


def _other(family_name: str, argv: list[str]) -> Program:
    what = " ".join(argv) or "(no command)"
    message = f"{family_name} runs `{what}`, which the k8snet sandbox does not emulate (only the command and " \
              "arguments of the manifests in k8snet/kind/manifests are)"
    return Program("exited", family_name, problem=message, opts={"not-emulated": [message]})


def serve(program: Program, port: int, req: HttpRequest, now: datetime) -> HttpResponse:
    """The health and metrics answers of the CNI programs (Go HTTP servers), by port and path."""
    path = req.path.split("?", 1)[0]
    if program.ports.get((port, "TCP")) == "grpc":
        return HttpResponse(EMPTY_REPLY)
    name = program.name
    if name == "cilium-agent" and port == 9879 and path == "/healthz":
        return go_response(now, 200, b'{"state":"Ok"}\n', content_type="application/json")
    if name == "cilium-agent" and port == 4240 and path == "/hello":
        return go_response(now, 200, b"")
    if name == "cilium-operator" and port == 9234 and path == "/healthz":
        return go_response(now, 200, b"ok")
    if name == "cilium-operator" and port == 9963 and path == "/metrics":
        return go_response(now, 200, b"# HELP cilium_operator_version Cilium Operator version\n",
                           content_type="text/plain; version=0.0.4")
    if name == "calico-node" and port == 9099 and path in ("/readiness", "/liveness"):
        return go_response(now, 204, b"")
    return go_response(now, 404, b"404 page not found\n", {"X-Content-Type-Options": "nosniff"})


def cmd_probe(ctx: Any, name: str, args: list[str]) -> int:
    """``/bin/calico-node -felix-ready -bird-ready`` and its siblings, ``check-status -r|-l``, ``/cni-uninstall.sh``:
    the checks of a program the sandbox keeps healthy, so they pass (exit 0, silent)."""
    return 0
