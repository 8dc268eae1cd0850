"""The ``k8snet`` command: ``k8snet sandbox up|down|status|reset|clock [--name N]``, ``k8snet kind up|down|status``,
``k8snet mesh install|uninstall|enroll|waypoint``, ``k8snet doctor``."""

from __future__ import annotations

import argparse
import functools
import sys

from .clusterset import DEFAULT_NAME
from .sandbox import process


def _settings_errors(fn):
    """A wrong K8SNET_* setting (an edge port that is no port) or a cluster name kind would refuse ends in its
    message, not a traceback."""
    @functools.wraps(fn)
    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    return run


def sandbox_up(args: argparse.Namespace) -> int:
    try:
        running = process.up(port=args.port, seed=args.seed, edge_http_port=args.edge_http_port,
                             edge_https_port=args.edge_https_port, cni=args.cni, name=args.name,
                             karmada=True if args.karmada else None)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    info = _info(running)
    named = _named(running.name)
    network = "Karmada control plane" if info.get("karmada") else f"CNI {info.get('cniTitle', '?')}"
    print(f"Sandbox cluster{named} is running at {running.server} (Kubernetes {info.get('kubernetesVersion', '?')}, "
          f"{network}, pid {running.pid})")
    print(f"kubectl context: {running.context}  (try: kubectl --context {running.context} get nodes)" if named
          else f"kubectl context: {running.context}  (try: kubectl get nodes)")
    if named:
        print(_networks(info))
    if running.edge_http_port:
        print(f"Ingress edge: http://127.0.0.1:{running.edge_http_port}  https://127.0.0.1:{running.edge_https_port}"
              f"  (try: curl --resolve HOST:{running.edge_http_port}:127.0.0.1 http://HOST:{running.edge_http_port}/)")
    return 0


def _info(running: process.Running) -> dict:
    if running.facts:  # what up prints, from ready.json: no request (and no wait while the sandbox starts)
        return running.facts
    try:
        return process.admin(running, "status")
    except OSError:
        return {}


def _networks(info: dict) -> str:
    """One line with the cluster's networks and nodes (the sandbox's status says them)."""
    cluster = info.get("cluster") or {}
    if info.get("karmada"):
        return (f"Karmada control plane (the karmada-apiserver: no nodes, no pods); Services "
                f"{cluster.get('serviceCIDR', '?')}; members join with k8snet.federation.join")
    nodes = ", ".join(f"{n['name']} {n['internalIP']}" for n in cluster.get("nodes") or [])
    return (f"Networks: pods {cluster.get('podCIDR', '?')}, Services {cluster.get('serviceCIDR', '?')}; "
            f"nodes {nodes or '?'}")


def _name_flag(name: str | None) -> str:
    """`` --name east`` for a named member, '' for the default cluster: what its commands add."""
    return f" --name {name}" if name and name != DEFAULT_NAME else ""


def _named(name: str | None) -> str:
    """`` east`` for a named member, '' for the default cluster: what its messages add after "Sandbox"."""
    return f" {name}" if name and name != DEFAULT_NAME else ""


@_settings_errors
def sandbox_down(args: argparse.Namespace) -> int:
    stopped = process.down(name=args.name)
    print(f"Sandbox{_named(args.name)} stopped; its state is kept (k8snet sandbox reset{_name_flag(args.name)} wipes it)."
          if stopped else f"No sandbox{_named(args.name)} was running.")
    return 0


@_settings_errors
def sandbox_status(args: argparse.Namespace) -> int:
    """One member (``--name``), or every running member of the set (the default cluster's output unchanged when it
    runs alone)."""
    if args.name is not None:
        running = process.status(name=args.name)
        if running is None:
            print(f"No sandbox{_named(args.name)} is running (start it with: k8snet sandbox "
                  f"up{_name_flag(args.name)}).")
            return 1
        _print_status(running, named=running.name != DEFAULT_NAME)
        return 0
    found = process.members()
    if not found:
        print("No sandbox is running (start one with: k8snet sandbox up).")
        return 1
    alone = list(found) == [DEFAULT_NAME]
    for i, running in enumerate(found.values()):
        if not alone:
            print(f"{'' if i == 0 else chr(10)}== cluster {running.name} (context {running.context})")
        _print_status(running, named=not alone)
    return 0


def _print_status(running: process.Running, named: bool) -> None:
    info = process.admin(running, "status")
    objects = sum(info["objects"].values())
    print(f"Sandbox running at {running.server}, pid {running.pid}, Kubernetes {info['kubernetesVersion']}, "
          f"seed {info['seed']}, {objects} objects, resourceVersion {info['resourceVersion']}")
    if not info.get("karmada"):  # a Karmada control plane has no nodes, so no pod network
        print(f"CNI plugin: {info.get('cniTitle', info.get('cni', '?'))} (chosen when the cluster was made; "
              "k8snet sandbox reset --cni kindnet|cilium|calico makes a new cluster with another)")
    if named:
        print(_networks(info))
    if running.edge_http_port:
        print(f"Ingress edge: http://127.0.0.1:{running.edge_http_port} and https://127.0.0.1:"
              f"{running.edge_https_port}")
    ports = info.get("nodePorts") or {}
    for port, svc in (ports.get("listening") or {}).items():
        print(f"NodePort {port} ({svc}): 127.0.0.1:{port} on this machine stands for <node IP>:{port}")
    for port, svc in (ports.get("busy") or {}).items():
        print(f"NodePort {port} ({svc}): not reachable from this machine, 127.0.0.1:{port} is in use")


@_settings_errors
def sandbox_reset(args: argparse.Namespace) -> int:
    running = process.status(name=args.name)
    if running is None:
        running = process.up(seed=args.seed, name=args.name)  # the store's own plugin: reset then switches it
    body: dict = {"seed": args.seed} if args.seed is not None else {}
    if args.cni is not None:
        body["cni"] = args.cni
    info = process.admin(running, "reset", body)
    print(f"Sandbox{_named(args.name)} reset: a fresh cluster (seed {info['seed']}, "
          f"CNI {info.get('cniTitle', info.get('cni'))}).")
    return 0


@_settings_errors
def sandbox_clock(args: argparse.Namespace) -> int:
    """``k8snet sandbox clock``: the sandbox's time; ``k8snet sandbox clock advance 1440h`` moves it forward."""
    import datetime as dt

    from . import durations

    running = process.status(name=args.name)
    if running is None:
        print(f"No sandbox{_named(args.name)} is running (start it with: k8snet sandbox "
              f"up{_name_flag(args.name)}).", file=sys.stderr)
        return 1
    if args.action == "advance":
        if args.duration is None:
            print("error: say how far, as a Go duration: k8snet sandbox clock advance 1440h", file=sys.stderr)
            return 2
        try:
            seconds = durations.parse(args.duration)
        except ValueError as exc:
            print(f"error: {exc} (use h, m and s, as in 1440h or 90m)", file=sys.stderr)
            return 2
        if seconds < 0:
            print("error: the sandbox clock only moves forward", file=sys.stderr)
            return 2
        try:
            info = process.admin(running, "clock", {"advance": seconds})
        except OSError as exc:
            print(f"error: {getattr(exc, 'read', lambda: b'')().decode() or exc}", file=sys.stderr)
            return 1
    else:
        info = process.admin(running, "status")
    now = dt.datetime.strptime(info["now"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    ahead = (now - dt.datetime.now(dt.UTC)).total_seconds()
    lead = f" ({durations.format(round(ahead))} ahead of this machine)" if ahead >= 1 else ""
    print(f"Sandbox time: {info['now']}{lead}")
    return 0


def explain(args: argparse.Namespace) -> int:
    """Why one connection is allowed or dropped, per direction (k8snet.policy.explain)."""
    from .connection import connect
    from .policy import explain as walkthrough

    result = walkthrough(connect(args.backend, start=False), args.source, args.target, args.port, args.protocol)
    print(result)
    return 0 if result.allowed else 3


@_settings_errors
def kind_up(args: argparse.Namespace) -> int:
    """Create or resume the kind cluster with its pinned add-ons (k8snet.kind.lifecycle.up)."""
    from .kind import lifecycle

    opts = lifecycle.Options(name=args.name, cloud_provider=not args.no_cloud_provider, preload=not args.no_preload,
                             canary=not args.no_canary, cni=args.cni, outside=not args.no_outside,
                             karmada=args.karmada)
    lifecycle.up(opts)  # a NetworkPolicy canary that fails is reported plainly, not an error: lessons still run
    return 0


@_settings_errors
def kind_down(args: argparse.Namespace) -> int:
    from .kind import lifecycle

    lifecycle.down(args.name)
    return 0


@_settings_errors
def kind_status(args: argparse.Namespace) -> int:
    from .kind import lifecycle

    st = lifecycle.status(args.name)
    if st.reachable and st.karmada is not None:  # a Karmada host: no edge, no add-ons
        nodes = ", ".join(f"{n} {'Ready' if ok else 'NotReady'}" for n, ok in sorted(st.nodes.items()))
        print(f"kind cluster {args.name} hosts Karmada: Kubernetes {st.kubernetes}; {nodes}")
        print(f"Karmada control plane: {st.karmada}; karmada-apiserver: kubectl --context kind-{args.name}")
    elif st.reachable:
        nodes = ", ".join(f"{n} {'Ready' if ok else 'NotReady'}" for n, ok in sorted(st.nodes.items()))
        print(f"kind cluster {args.name}: Kubernetes {st.kubernetes}; {nodes}")
        print(f"Traefik: {st.traefik or 'not Ready'}; cert-manager: {st.cert_manager or 'not Ready'}; "
              f"trust-manager: {st.trust_manager or 'not Ready'}; "
              f"cloud-provider-kind: {st.cloud_provider or 'not started'}; "
              f"outside world: {st.outside or 'not created'}{'' if st.outside_dns else ' (names not in CoreDNS)'}; "
              f"LoadBalancer IP of traefik/traefik: {st.load_balancer_ip or '<pending>'}")
        for answer in st.edge:
            print(f"edge: {answer}")
    for problem in st.problems:
        print(f"problem: {problem.what}\n  fix: {problem.fix}")
    return 0 if st.ready else 1


@_settings_errors
def doctor(args: argparse.Namespace) -> int:
    """What is installed, which backend is active, and whether it works (k8snet.doctor)."""
    from . import doctor as checks

    findings = checks.diagnose(canary=not args.no_canary)
    print(checks.render(findings))
    return 1 if any(f.state == checks.FAIL for f in findings) else 0


@_settings_errors
def mesh_install(args: argparse.Namespace) -> int:
    """Install the service mesh (Istio 1.31, ambient mode) and wait until it runs on every node
    (k8snet.mesh.install)."""
    from . import mesh
    from .connection import connect

    mesh.install(connect(args.backend, start=False), args.mesh, timeout=args.timeout)
    return 0


@_settings_errors
def mesh_uninstall(args: argparse.Namespace) -> int:
    from . import mesh
    from .connection import connect

    mesh.uninstall(connect(args.backend, start=False), args.mesh)
    return 0


def mesh_enroll(args: argparse.Namespace) -> int:
    """Label a namespace ``istio.io/dataplane-mode=ambient`` (k8snet.mesh.enroll)."""
    from . import mesh
    from .connection import connect

    mesh.enroll(connect(args.backend, start=False), args.namespace)
    print(f"namespace/{args.namespace} labeled (istio.io/dataplane-mode=ambient)")
    return 0


@_settings_errors
def mesh_waypoint(args: argparse.Namespace) -> int:
    """``istioctl waypoint apply -n NS [--name N] [--enroll-namespace] --wait`` (k8snet.mesh.waypoint)."""
    from . import mesh
    from .connection import connect

    mesh.waypoint(connect(args.backend, start=False), args.namespace, args.name, args.enroll_namespace,
                  for_traffic=args.for_traffic, overwrite=args.overwrite, timeout=args.timeout)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="k8snet", description="Drive the k8snet workbook's clusters.")
    groups = p.add_subparsers(dest="noun", required=True)
    sb = groups.add_parser("sandbox", help="the embedded sandbox cluster")
    verbs = sb.add_subparsers(dest="verb", required=True)
    up = verbs.add_parser("up", help="start the sandbox (idempotent) and add the k8snet-sandbox context")
    up.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: the last one, else any)")
    up.add_argument("--seed", type=int, default=None, help="random seed (default: $K8SNET_SEED or 0)")
    up.add_argument("--edge-http-port", type=int, default=None,
                    help="the ingress edge's HTTP port on 127.0.0.1 (default: $K8SNET_EDGE_HTTP_PORT or 8080; 0: any)")
    up.add_argument("--edge-https-port", type=int, default=None,
                    help="the ingress edge's HTTPS port on 127.0.0.1 (default: $K8SNET_EDGE_HTTPS_PORT or 8443; "
                         "0: any)")
    up.add_argument("--cni", choices=["kindnet", "cilium", "calico"], default=None,
                    help="the CNI plugin of a new cluster (default: the cluster's own, else kindnet, as kind); "
                         "a cluster made with another is refused: reset --cni switches")
    up.add_argument("--karmada", action="store_true",
                    help="make a new cluster a Karmada control plane (its API holds templates and policies, no "
                         "nodes); members join with k8snet.federation.join")
    up.set_defaults(func=sandbox_up)
    name_help = ("the cluster's name in the cluster set (default k8snet, the workbook's own cluster): its own process, "
                 "state, context k8snet-NAME and networks, as `kind create cluster --name NAME`")
    up.add_argument("--name", default=None, help=name_help)
    down = verbs.add_parser("down", help="stop the sandbox and remove its context")
    down.add_argument("--name", default=None, help=name_help)
    down.set_defaults(func=sandbox_down)
    status = verbs.add_parser("status", help="is it running, where, what is in it (without --name: every running "
                                             "member of the cluster set)")
    status.add_argument("--name", default=None, help=name_help)
    status.set_defaults(func=sandbox_status)
    reset = verbs.add_parser("reset", help="wipe every object: a fresh cluster")
    reset.add_argument("--name", default=None, help=name_help)
    reset.add_argument("--seed", type=int, default=None)
    reset.add_argument("--cni", choices=["kindnet", "cilium", "calico"], default=None,
                       help="the new cluster's CNI plugin (default: the one it has)")
    reset.set_defaults(func=sandbox_reset)
    clock = verbs.add_parser("clock", help="print the sandbox's time, or move it forward (clock advance 1440h)",
                             description="The sandbox's clock: real time plus an offset that only grows. "
                                         "`advance` takes a Go duration (h, m, s: 1440h, 90m, 1h30m) and fires "
                                         "what was due in between (certificate renewals, probes, token expiry).")
    clock.add_argument("action", nargs="?", choices=["advance"], help="move the clock forward")
    clock.add_argument("duration", nargs="?", help="how far, as a Go duration (1440h, 90m, 30s)")
    clock.add_argument("--name", default=None, help=name_help)
    clock.set_defaults(func=sandbox_clock)
    ex = groups.add_parser("explain", help="why a connection is allowed or dropped by NetworkPolicies",
                           description="Walk through the NetworkPolicies that select each end of a connection: "
                                       "egress of the source, ingress of the destination. Exit status 0 when "
                                       "allowed, 3 when dropped.")
    ex.add_argument("source", help="the source pod as namespace/name, e.g. shop/cart")
    ex.add_argument("target", help="the target pod as namespace/name, or a Service as svc:namespace/name")
    ex.add_argument("--port", type=int, required=True, help="destination port (a Service port for svc: targets)")
    ex.add_argument("--protocol", default="TCP", choices=["TCP", "UDP", "SCTP"], type=str.upper)
    ex.add_argument("--backend", choices=["sandbox", "kind"], default=None,
                    help="which cluster (default: $K8SNET_BACKEND, else the sandbox)")
    ex.set_defaults(func=explain)
    kd = groups.add_parser("kind", help="the kind cluster (needs Docker and kind)")
    kverbs = kd.add_subparsers(dest="verb", required=True)
    kup = kverbs.add_parser("up", help="create or resume cluster k8snet with Traefik, CRDs, cert-manager and "
                                       "cloud-provider-kind (idempotent)")
    kup.add_argument("--no-cloud-provider", action="store_true", help="skip cloud-provider-kind (no LoadBalancer IPs)")
    kup.add_argument("--no-preload", action="store_true", help="do not pre-pull and load the lesson images")
    kup.add_argument("--no-canary", action="store_true", help="skip the NetworkPolicy enforcement canary")
    kup.add_argument("--no-outside", action="store_true",
                     help="skip the outside world's hosts (api.payments.example … beside the nodes, names in CoreDNS)")
    kup.add_argument("--cni", choices=["kindnet", "cilium", "calico"], default="kindnet",
                     help="the CNI plugin (default kindnet, kind's own; cilium and calico disable it and install "
                          "the pinned release)")
    kind_name_help = ("the kind cluster's name (default k8snet; another is a member of the cluster set with its own "
                      "pod and Service subnets, context kind-NAME)")
    kup.add_argument("--name", default="k8snet", help=kind_name_help)
    kup.add_argument("--karmada", action="store_true",
                     help="host a Karmada control plane instead (the pinned release, installed by the Karmada "
                          "operator on a one-node cluster): context kind-NAME is then the karmada-apiserver; members "
                          "join with k8snet.federation.join")
    kup.set_defaults(func=kind_up)
    kdown = kverbs.add_parser("down", help="delete the cluster, its kubeconfig context and cloud-provider-kind "
                                           "(kept while another kind cluster uses it)")
    kdown.add_argument("--name", default="k8snet", help=kind_name_help)
    kdown.set_defaults(func=kind_down)
    kstatus = kverbs.add_parser("status", help="nodes, add-ons, edge ports; exit 1 when something is wrong")
    kstatus.add_argument("--name", default="k8snet", help=kind_name_help)
    kstatus.set_defaults(func=kind_status)
    ms = groups.add_parser("mesh", help="the service mesh (Istio ambient) on the active backend")
    mverbs = ms.add_subparsers(dest="verb", required=True)

    def backend(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--backend", choices=["sandbox", "kind"], default=None,
                         help="which cluster (default: $K8SNET_BACKEND, else the sandbox)")

    mi = mverbs.add_parser("install", help="install Istio 1.31 in ambient mode and wait until it runs (idempotent)",
                           description="Apply Istio's CRDs, istiod, istio-cni and ztunnel (the charts with the "
                                       "ambient profile, rendered into one manifest) and wait until istiod is "
                                       "Available and istio-cni and ztunnel run on every node.")
    mi.add_argument("mesh", choices=["istio"], help="the mesh to install")
    mi.add_argument("--timeout", type=float, default=600, help="seconds each step may take (default 600)")
    backend(mi)
    mi.set_defaults(func=mesh_install)
    mu = mverbs.add_parser("uninstall", help="remove what install applied (the CRDs stay, as helm keeps them)")
    mu.add_argument("mesh", choices=["istio"])
    backend(mu)
    mu.set_defaults(func=mesh_uninstall)
    me = mverbs.add_parser("enroll", help="label a namespace istio.io/dataplane-mode=ambient")
    me.add_argument("namespace")
    backend(me)
    me.set_defaults(func=mesh_enroll)
    mw = mverbs.add_parser("waypoint", help="deploy a waypoint in a namespace (istioctl waypoint apply --wait)",
                           description="As `istioctl waypoint apply -n NAMESPACE --wait`: a Gateway of class "
                                       "istio-waypoint (listener mesh, 15008/HBONE), waiting until it is "
                                       "Programmed; with --enroll-namespace, the namespace is then labelled "
                                       "istio.io/use-waypoint=NAME.")
    mw.add_argument("namespace")
    mw.add_argument("--name", default="waypoint", help="name of the waypoint (default: waypoint)")
    mw.add_argument("--enroll-namespace", action="store_true",
                    help="label the namespace with the waypoint name (istio.io/use-waypoint)")
    mw.add_argument("--for", dest="for_traffic", choices=["all", "none", "service", "workload"], default=None,
                    help="the traffic the waypoint takes (label istio.io/waypoint-for; istiod's default: service)")
    mw.add_argument("--overwrite", action="store_true", help="replace the waypoint the namespace already uses")
    mw.add_argument("--timeout", type=float, default=90, help="seconds to wait for Programmed (default 90)")
    backend(mw)
    mw.set_defaults(func=mesh_waypoint)
    dr = groups.add_parser("doctor", help="what is installed, which backend is active, and what to fix")
    dr.add_argument("--no-canary", action="store_true", help="skip the NetworkPolicy enforcement canary")
    dr.set_defaults(func=doctor)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (RuntimeError, TimeoutError, LookupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
