"""Commands of the Cilium agent image (quay.io/cilium/cilium) that read the agent's state:
``hubble observe`` and ``cilium-dbg endpoint list``, run with ``kubectl exec -n kube-system ds/cilium -- …`` (on a
real cluster too: the image ships the hubble CLI, which talks to the local agent's Hubble socket).

``hubble observe`` (hubble/cmd/observe in github.com/cilium/cilium) prints the node's last flows, oldest first:
``--last N`` (20 when not following, its default), ``--all``; filters ``--pod``/``--from-pod``/``--to-pod``
(``[namespace/]pod``, a prefix of the pod's name), ``-n``/``--namespace``, ``--verdict``, ``--port``/
``--to-port``/``--from-port``, ``--protocol``, ``-t``/``--type`` (``trace``, ``drop``, ``l7``), ``--ip``; values
of one flag are alternatives, different flags must all hold. ``-o compact`` (default), ``-o jsonpb``/``json``,
``--print-node-name``. ``--follow`` cannot stream through this exec and is refused.
"""

from __future__ import annotations

from typing import Any

from .hubble import Flow
from .identity import state

USAGE = "Usage:\n  hubble observe [flags]\n"
VALUE_FLAGS = {"--last", "--first", "--pod", "--from-pod", "--to-pod", "-n", "--namespace", "--verdict", "--port",
               "--to-port", "--from-port", "--protocol", "-t", "--type", "-o", "--output", "--ip", "--from-ip",
               "--to-ip"}


def cmd_hubble(ctx: Any, name: str, args: list[str]) -> int:
    if not args or args[0] in ("-h", "--help", "help"):
        ctx.write("Hubble is a utility to observe and inspect recent Cilium routed traffic in a cluster.\n\n"
                  "Usage:\n  hubble [command]\n\nAvailable Commands:\n  observe     Observe flows of a Hubble "
                  "server\n")
        return 0
    if args[0] != "observe":
        ctx.error(f"k8snet sandbox: `hubble {args[0]}` is not emulated (hubble observe is)\n")
        return 1
    opts: dict[str, list[str]] = {}
    flags: set[str] = set()
    rest = args[1:]
    i = 0
    while i < len(rest):
        arg = rest[i]
        key, eq, value = arg.partition("=")
        if key in VALUE_FLAGS:
            if not eq:
                if i + 1 >= len(rest):
                    ctx.error(f'Error: flag needs an argument: {key}\n')
                    return 1
                value = rest[i + 1]
                i += 1
            opts.setdefault(key, []).append(value)
        elif arg in ("-f", "--follow"):
            ctx.error("k8snet sandbox: hubble observe --follow streams flows, which an exec of the emulated agent "
                      "cannot do; use --last N\n")
            return 1
        elif arg in ("--all", "--print-node-name", "--no-flows-lost"):
            flags.add(arg)
        else:
            ctx.error(f"Error: unknown flag: {arg}\n{USAGE}")
            return 1
        i += 1
    node = (ctx.pod.get("spec") or {}).get("nodeName", "")
    flows = [f for f in state(ctx.dp.sb).ring(node) if matches(f, opts)]
    if "--all" not in flags:
        last = int((opts.get("--last") or ["20"])[-1])
        flows = flows[-last:] if last > 0 else flows
    output = (opts.get("-o") or opts.get("--output") or ["compact"])[-1]
    for f in flows:
        if output in ("jsonpb", "json"):
            ctx.write(f.jsonpb() + "\n")
        elif output == "compact":
            ctx.write(f.compact("--print-node-name" in flags) + "\n")
        else:
            ctx.error(f"k8snet sandbox: hubble observe -o {output} is not emulated (compact, jsonpb are)\n")
            return 1
    return 0


def _pod_matches(value: str, namespace: str, pod: str) -> bool:
    ns, sep, prefix = value.rpartition("/")
    if not sep:
        ns, prefix = "default", value
    return bool(pod) and namespace == ns and pod.startswith(prefix)


def l7_protocol(f: Flow) -> str:
    """The L7 protocol ``--protocol`` also matches (``http``, ``dns``; '' for an L3/L4 flow)."""
    return "" if f.l7 is None else ("dns" if "dns" in f.l7 else "http")


def matches(f: Flow, opts: dict[str, list[str]]) -> bool:
    """Whether a flow passes hubble observe's filters."""
    def any_of(key: str, test: Any) -> bool:
        values = opts.get(key)
        return not values or any(test(v) for v in values)

    checks = [
        any_of("--pod", lambda v: _pod_matches(v, f.src.namespace, f.src.pod) or
               _pod_matches(v, f.dst.namespace, f.dst.pod)),
        any_of("--from-pod", lambda v: _pod_matches(v, f.src.namespace, f.src.pod)),
        any_of("--to-pod", lambda v: _pod_matches(v, f.dst.namespace, f.dst.pod)),
        any_of("--namespace", lambda v: v in (f.src.namespace, f.dst.namespace)),
        any_of("-n", lambda v: v in (f.src.namespace, f.dst.namespace)),
        any_of("--verdict", lambda v: v.upper() == f.verdict),
        any_of("--port", lambda v: v in (str(f.src.port), str(f.dst.port))),
        any_of("--to-port", lambda v: v == str(f.dst.port)),
        any_of("--from-port", lambda v: v == str(f.src.port)),
        any_of("--protocol", lambda v: v.lower() in (f.protocol.lower(), l7_protocol(f))),
        any_of("--ip", lambda v: v in (f.src.ip, f.dst.ip)),
        any_of("--from-ip", lambda v: v == f.src.ip),
        any_of("--to-ip", lambda v: v == f.dst.ip),
        any_of("-t", lambda v: v == f.kind), any_of("--type", lambda v: v == f.kind),
    ]
    return all(checks)


def cmd_cilium_dbg(ctx: Any, name: str, args: list[str]) -> int:
    """``cilium-dbg endpoint list`` (cilium-dbg/cmd/endpoint_list.go): the node's endpoints, one per pod, with
    their policy enforcement, identity, labels, addresses and state."""
    if args[:2] not in (["endpoint", "list"], ["endpoint", "ls"]):
        ctx.error(f"k8snet sandbox: `cilium-dbg {' '.join(args)}` is not emulated (cilium-dbg endpoint list is)\n")
        return 1
    sb = ctx.dp.sb
    engine = ctx.dp.policy
    node = (ctx.pod.get("spec") or {}).get("nodeName", "")
    from ...controllers.cilium import enforcement

    rows = []
    for pod in sb.store.list("pods"):
        spec, status = pod.get("spec") or {}, pod.get("status") or {}
        if spec.get("nodeName") != node or spec.get("hostNetwork") or not status.get("podIP") or \
                status.get("phase") != "Running" or not hasattr(engine, "endpoint"):
            continue
        ep = engine.endpoint(pod)
        ingress, egress = enforcement(sb, engine, pod)
        rows.append((ep.endpoint_id, "Enabled" if ingress else "Disabled", "Enabled" if egress else "Disabled",
                     ep.identity, ep.label_strings(), ep.ip))
    rows.sort()
    widths = [10, 19, 18, 10, max([len(label) for r in rows for label in r[4]] + [27]) + 3, 7, 14]
    head = [("ENDPOINT", "POLICY (ingress)", "POLICY (egress)", "IDENTITY", "LABELS (source:key[=value])", "IPv6",
             "IPv4", "STATUS"), ("", "ENFORCEMENT", "ENFORCEMENT", "", "", "", "", "")]
    lines = ["".join(c.ljust(w) for c, w in zip(h, [*widths, 0], strict=True)).rstrip() for h in head]
    for eid, ing, eg, ident, labels, ip in rows:
        first = [str(eid), ing, eg, str(ident), labels[0] if labels else "", "", ip, "ready"]
        lines.append("".join(c.ljust(w) for c, w in zip(first, [*widths, 0], strict=True)).rstrip())
        for label in labels[1:]:
            lines.append(" " * sum(widths[:4]) + label)
    ctx.write("\n".join(lines) + "\n")
    return 0
