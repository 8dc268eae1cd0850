"""The exec'd commands of the probe contract, emulated: no host process is ever run.

``kubectl exec`` (and exec probes) land in :func:`run`. What a container
can run depends on its image, as in the real one: agnhost is Alpine (busybox
``sh``/``wget``/``nslookup``, ``curl``, ``bash``, ``/agnhost``), nginx is
Debian (``dash``, ``bash``, ``curl``; no ``wget``/``nslookup``), http-echo and
coredns are distroless (no shell at all). A command the image lacks fails as
the runtime reports it; a command the image has but the sandbox does not
emulate exits 127 with the list of what it does emulate. Outputs, messages and
exit codes follow the real programs (curl 8, busybox 1.37, agnhost connect),
cited at each function. Waits (``sleep``, a timed-out connect) take no time.
"""

from __future__ import annotations

import asyncio
import hashlib
import posixpath
import re
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from . import applets, cniimages, netapplets, outside
from .cilium import cli as ciliumcli
from .context import (
    AWAITED,
    EXEC_CPU_BUDGET,
    OUTPUT_BUDGET,
    AnyOf,
    Budget,
    Ctx,
    Killed,
    Pipe,
    WriteFailed,
    connect,
    wait_for,
)
from .model import (
    PENDING,
    TLS_ALERT,
    Connection,
    DnsError,
    ExecResult,
    HttpRequest,
    HttpResponse,
    NetError,
    Refused,
    Timeout,
    net_error_line,
    settled,
)
from .shell.interp import Host, Interp, Step, new_state
from .shell.split import SERVERS, split_script  # noqa: F401  (split_script re-exported for its users)
from .workloads import (
    BUSYBOX_FAMILIES,
    COREDNS_VERSION,
    EMPTY_REPLY,
    EMULATED,
    HTTP_ECHO_VERSION,
    NO_SPACE,
    RAW_REPLY,
    RESET,
    FileSystem,
    container_spec,
    dialed_ip,
    hostname,
    image_family,
    is_ip,
    nginx_params,
)

if TYPE_CHECKING:
    from . import DataPlane

Pod = dict[str, Any]

CURL_VERSION = {"agnhost": "8.12.1", "nginx": "7.88.1", "netshoot": "8.12.1", "curl": "8.17.0"}
"""Alpine 3.21's curl (agnhost, netshoot); Debian bookworm's (nginx); curlimages/curl's own build."""
OPENSSL_VERSION = {"agnhost": "3.3.3", "nginx": "3.0.17", "netshoot": "3.3.3", "curl": "3.5.4"}
"""The OpenSSL each image's curl is linked with (Alpine 3.21's libssl3, Debian bookworm's libssl3, Alpine 3.22's
for curlimages/curl): curl names it before OpenSSL's error string (lib/vtls/openssl.c ossl_strerror)."""
BASIC = {"cat", "echo", "touch", "rm", "ls", "mkdir", "hostname", "date", "env", "printenv", "sleep", "true",
         "false", "test", "[", "sh", "bash", "pwd"} | set(applets.HANDLERS) | set(applets.STEPWISE)
_NET_BUSYBOX = {"nc", "ping", "ip", "ifconfig", "route", "netstat", "traceroute"}
_BUSYBOX_EMULATED = (BASIC - {"bash"}) | {"ash", "wget", "nslookup"} | _NET_BUSYBOX  # busybox, Alpine: no bash
AVAILABLE = {
    "agnhost": BASIC | {"ash", "curl", "wget", "nslookup", "/agnhost", "/agnhost-2", "ss", "dig", "host"}
    | _NET_BUSYBOX,
    "busybox": _BUSYBOX_EMULATED,
    "busyboxplus": _BUSYBOX_EMULATED | {"curl"},
    "alpine": _BUSYBOX_EMULATED | {"apk"},
    "curl": _BUSYBOX_EMULATED | {"curl"},
    "netshoot": _BUSYBOX_EMULATED | {"curl", "bash", "zsh", "ss", "dig", "host", "tcpdump", "iperf3", "iptables", "iptables-save"},
    "nginx": BASIC | {"dash", "curl", "nginx"},
    "http-echo": {"/http-echo"},
    "serve_hostname": {"/serve_hostname"},
    "coredns": {"/coredns"},
    "kube-proxy": {"iptables", "iptables-save"},  # the node's rules: its pod shares the node's network
    **cniimages.AVAILABLE,
}
"""The commands emulated in each image family."""
_BUSYBOX = ("nc arp awk base64 basename cat chmod chown cp cut date dd df dirname dmesg du echo egrep env expr false "
            "fgrep find free grep gunzip gzip head hostname id ifconfig ip ipcalc kill killall less ln ls md5sum "
            "mkdir mktemp more mount mv netstat nice nohup nslookup pgrep ping ping6 pkill printenv printf ps pwd "
            "readlink realpath rm rmdir route sed seq sh sha256sum sleep sort stat tail tar tee test time timeout "
            "top touch tr traceroute true uname uniq unzip uptime vi watch wc wget which whoami xargs yes [ [[")
_COREUTILS = ("awk base64 basename cat chmod chown cp cut date dd df dirname du echo env expr false find grep "
              "gzip head hostname id kill ln ls md5sum mkdir mktemp mv nice nohup printenv printf pwd readlink "
              "realpath rm rmdir sed seq sh sha256sum sleep sort stat tail tar tee test timeout touch tr true "
              "uname uniq wc which whoami xargs yes [ apt apt-get dpkg perl")
PRESENT = {
    # Alpine 3.21 busybox applets plus the packages agnhost's Dockerfile adds (bind-tools curl netcat-openbsd
    # iproute2 iperf bash) and coredns from the image root
    "agnhost": set(_BUSYBOX.split()) | {"ash", "bash", "curl", "dig", "host", "nc", "ss", "iperf", "apk"},
    "busybox": set(_BUSYBOX.split()) | {"ash"},  # the busybox image: its applets and nothing else
    "busyboxplus": set(_BUSYBOX.split()) | {"ash", "curl"},  # radial/busyboxplus:curl: busybox and curl
    "alpine": set(_BUSYBOX.split()) | {"ash", "apk"},
    "curl": set(_BUSYBOX.split()) | {"ash", "curl", "apk"},  # Alpine with curl
    # Alpine with netshoot's packages (its Dockerfile and build/fetch_binaries.sh)
    "netshoot": set(_BUSYBOX.split()) | {"ash", "bash", "zsh", "curl", "dig", "host", "nc", "ss", "ip", "iperf",
                                         "iperf3", "tcpdump", "nmap", "socat", "mtr", "traceroute", "iftop",
                                         "conntrack", "iptables", "iptables-save", "ethtool", "tshark", "grpcurl",
                                         "httpie", "apk", "jq", "openssl", "ping", "nsenter"},
    # debian:bookworm-slim plus what the nginx image installs (curl, gettext-base's envsubst, nginx)
    "nginx": set(_COREUTILS.split()) | {"bash", "dash", "curl", "envsubst", "nginx", "nginx-debug", "openssl"},
    # distroless-iptables (the kube-proxy image's base): the iptables tools and conntrack, no shell
    "kube-proxy": {"iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save",
                   "ip6tables-restore", "conntrack", "ipset", "kube-proxy"},
    "kindnetd": {"kindnetd"},  # a static binary in a distroless image
    **cniimages.PRESENT,
}
"""Every command the real image has; one outside this set and AVAILABLE is ``not found``."""


SLICE = 0.002
"""Seconds an exec runs before it lets the API server serve others (a cooperative time slice)."""
KILLED = 137  # 128 + SIGKILL, what the runtime reports for a killed process
PROCESS_CPU_SHARE = 0.25
"""The share of a CPU a container's own process may use while busy (a CPU limit, as the CFS quota throttles
it): a container that loops without sleeping slows down instead of slowing the API server."""


@dataclass
class ExecStartFailure(ExecResult):
    """The runtime could not start the process (no such executable).

    ``message`` is containerd's error; :func:`run` raises it as an
    InternalError ApiError, so the exec stream's error channel carries
    ``Internal error occurred: <message>`` and kubectl prints it after
    ``error: `` and exits 1. Exec probes report it as an errored probe.
    """

    message: str = ""


async def run(dataplane: DataPlane, pod: Pod, container: str, argv: list[str], stdin: bytes | None = None,
              tty: bool = False, pipe: Pipe | None = None,
              on_output: Callable[[int, bytes], None] | None = None) -> ExecResult:
    """Run an emulated command in a container (the exec subresource's entry point).

    The command runs in slices of :data:`SLICE` seconds, handing the event loop back in between, so the
    API server answers other clients while a long script runs; ``sleep`` waits on the sandbox clock. With
    ``pipe`` its standard input stays open (an interactive ``kubectl exec -it``); with ``on_output`` what it
    writes is handed over as it is written (1: stdout, 2: stderr) and the result keeps only the rest.

    Raises:
        ApiError: the image has no such executable (containerd's "failed to start exec" error).
    """
    seen: list[Ctx] = []

    def watch(ctx: Ctx) -> None:
        ctx.pipe = pipe
        seen.append(ctx)

    def hand_over() -> None:
        for ctx in seen:
            for channel, stream in ((1, ctx.out), (2, ctx.err)):
                if stream and on_output is not None:
                    data = b"".join(stream)
                    stream.clear()
                    ctx.budget.held -= len(data)
                    on_output(channel, data)

    steps = _steps(dataplane, pod, container, argv, stdin, tty, Budget(), watch)
    result = await drive(dataplane, steps, hand_over if on_output else None, interrupt=pipe)
    if isinstance(result, ExecStartFailure):
        from ..errors import ApiError

        raise ApiError(result.message)
    return result


async def drive(dataplane: DataPlane, steps: Generator[Step, None, ExecResult],
                between: Callable[[], None] | None = None, share: float | None = None,
                interrupt: Pipe | None = None) -> ExecResult:
    """Play a stepwise program on the event loop.

    It hands the loop back every :data:`SLICE` seconds of work, waits on the sandbox clock when the
    program sleeps (``yield t``: not before sandbox time ``t``; Ctrl-C on ``interrupt``'s terminal cuts the
    wait short), and with a CPU ``share`` pauses a busy program so it uses no more than that share.
    ``between`` runs after each step (a container's process turns its new output into log lines there).
    """
    loop = asyncio.get_running_loop()
    clock = dataplane.sb.clock
    started = loop.time()
    while True:
        token = AWAITED.set(True)  # a step may wait for another process: this driver awaits its AnyOf
        try:
            step = next(steps)
        except StopIteration as done:
            return done.value
        finally:
            AWAITED.reset(token)
        if between is not None:
            between()
        if isinstance(step, float):
            if interrupt is None:
                await clock.sleep_until(step)
            else:
                await _first(clock.sleep_until(step), interrupt.until_interrupted())
            started = loop.time()
        elif isinstance(step, Pipe):
            await step.readable()
            started = loop.time()
        elif isinstance(step, AnyOf):
            waits = [p.readable() for p in step.pipes]
            if step.until is not None:
                waits.append(clock.sleep_until(step.until))
            if interrupt is not None:
                waits.append(interrupt.until_interrupted())
            await _first(*waits)
            started = loop.time()
        elif loop.time() - started > SLICE:
            busy = loop.time() - started
            await asyncio.sleep(0 if share is None else busy * (1 / share - 1))
            started = loop.time()


async def _first(*waits: Any) -> None:
    """Wait for whichever of ``waits`` ends first; cancel the others."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


async def run_probe(dataplane: DataPlane, pod: Pod, container: str, argv: list[str],
                    cpu_budget: float) -> ExecResult:
    """An exec probe's command, in slices, bounded by the probe's timeoutSeconds of work."""
    return await drive(dataplane, _steps(dataplane, pod, container, argv, None, False, Budget(cpu=cpu_budget)))


def run_sync(dataplane: DataPlane, pod: Pod, container: str, argv: list[str], stdin: bytes | None = None,
             tty: bool = False, cpu_budget: float = EXEC_CPU_BUDGET) -> ExecResult:
    """The same as :func:`run` in one go, for a synchronous reconcile (a server's setup commands, netexec's
    /shell), bounded by ``cpu_budget``; ``sleep`` returns at once here."""
    return _drain(_steps(dataplane, pod, container, argv, stdin, tty, Budget(cpu=cpu_budget)))


def _drain(steps: Generator[Any, None, Any]) -> Any:
    """Run a stepwise computation in one go; its return value. Nothing here can wait for another process, so
    a connect another member decides is the blocking call (:data:`.context.AWAITED` off)."""
    token = AWAITED.set(False)
    try:
        while True:
            try:
                next(steps)
            except StopIteration as done:
                return done.value
    finally:
        AWAITED.reset(token)


def _steps(dataplane: DataPlane, pod: Pod, container: str, argv: list[str], stdin: bytes | None, tty: bool,
           budget: Budget, watch: Callable[[Ctx], None] | None = None) -> Generator[Step, None, ExecResult]:
    """Run a command, pausing (yield) between the commands of a script; returns its result.

    ``watch`` gets the command's context before it runs: a container's process reads its output between
    steps (its log) and is detached from any terminal. Each step's work is charged to ``budget``.
    """
    spec = container_spec(pod, container)
    if spec is None:
        return ExecResult(b"", f'container {container} is not valid for pod {pod["metadata"]["name"]}\n'.encode(), 1)
    workloads = dataplane.workloads
    workloads.ensure_started(pod)
    family = image_family(spec.get("image", ""))
    ctx = Ctx(dataplane, pod, container, family, workloads.files(pod, container),
              workloads.env(pod, container), tty, stdin or b"", budget=budget)
    if watch is not None:
        watch(ctx)
    if not argv:
        return ExecResult(b"", b"error: you must specify at least one command for the container\n", 1)
    if family is None:
        return _result(ctx, 127, f"k8snet sandbox: the image {spec.get('image')} is not emulated, so no command "
                                 f"can run in its containers. Emulated images: {', '.join(EMULATED)}.\n")
    name = resolve(ctx, argv[0])
    if name is None:
        return start_failure(ctx, argv[0])
    try:
        code = yield from _metered(ctx, program(ctx, [name, *argv[1:]]))
    except Killed as exc:
        return _killed(ctx, argv, exc.budget)
    except WriteFailed as exc:  # the container's own stream cannot fail; a program's file write did
        ctx.error(f"{posixpath.basename(name)}: write error: {exc}\n")
        code = 1
    return ExecResult(b"".join(ctx.out), b"".join(ctx.err), code)


def _metered(ctx: Ctx, steps: Generator[Step, None, int]) -> Generator[Step, None, int]:
    """Charge each step's work to the program's CPU budget (time asleep is not work)."""
    while True:
        began = time.perf_counter()
        try:
            step = next(steps)
        except StopIteration as done:
            ctx.charge(time.perf_counter() - began)
            return done.value
        ctx.charge(time.perf_counter() - began)
        yield step


def program(ctx: Ctx, argv: list[str]) -> Generator[Step, None, int]:
    """A resolved command's run: a stepwise program (a shell, ``sleep``) or an applet that runs at once."""
    name = argv[0]
    stepwise = STEPWISE.get(name) or STEPWISE.get(posixpath.basename(name))
    if stepwise is not None and _emulated(ctx, name):
        return (yield from stepwise(ctx, name, argv[1:]))
    return execute(ctx, argv)


def _budget_event(ctx: Ctx, message: str) -> None:
    """A Warning Event on the pod naming the budget, so ``kubectl describe pod`` says what happened."""
    from ..controllers.events import record

    record(ctx.dp.sb, ctx.pod, "BudgetExceeded", message, "k8snet-sandbox", type_="Warning",
           field_path=f"spec.containers{{{ctx.container}}}")


def _killed(ctx: Ctx, argv: list[str], budget: str) -> ExecResult:
    """A program ended for going over a budget: exit 137 as after SIGKILL, a note naming the budget, and an
    Event on the pod."""
    command = " ".join(argv)[:80]
    message = (f"k8snet sandbox: `{command}` in container {ctx.container} went over its {budget} and was "
               f"ended as a kill would end it (exit {KILLED})")
    _budget_event(ctx, message)
    out = b"".join(ctx.out)[:OUTPUT_BUDGET]
    return ExecResult(out, b"".join(ctx.err)[:1 << 20] + f"{message}\n".encode(), KILLED)


def _result(ctx: Ctx, code: int, stderr: str) -> ExecResult:
    return ExecResult(b"".join(ctx.out), b"".join(ctx.err) + stderr.encode(), code)


def start_failure(ctx: Ctx, exe: str) -> ExecStartFailure:
    """containerd + runc's refusal to start a missing executable, as kubectl prints it after ``error: ``."""
    exec_id = hashlib.sha256(f"{ctx.pod['metadata'].get('uid')}/{ctx.container}/{exe}/{ctx.dp.sb.clock.now()}"
                             .encode()).hexdigest()
    why = f"stat {exe}: no such file or directory" if "/" in exe else "executable file not found in $PATH"
    message = ("error executing command in container: failed to exec in container: "
               f'failed to start exec "{exec_id}": OCI runtime exec failed: exec failed: unable to start container '
               f'process: exec: "{exe}": {why}: unknown')
    return ExecStartFailure(b"", (message + "\n").encode(), 1, message)


def resolve(ctx: Ctx, exe: str) -> str | None:
    """The command an argv[0] names in this image (None: the image has no such executable).

    ``/agnhost`` sits at the image root, outside $PATH, so plain ``agnhost``
    is not found, as in the real image.
    """
    family = ctx.family or ""
    available = AVAILABLE.get(family, set())
    present = PRESENT.get(family, set()) | {name for name in available if not name.startswith("/")}
    if "/" in exe:
        path = FileSystem.norm(exe)
        if path in available:
            return path
        base = posixpath.basename(path)
        in_path = posixpath.dirname(path) in ("/bin", "/usr/bin", "/sbin", "/usr/sbin", "/usr/local/bin")
        return base if in_path and base in present else None
    return exe if exe in present else None


# -- the shell ------------------------------------------------------------------------------

SHELL_NAMES = {"sh", "ash", "bash", "dash", "zsh", "/bin/sh", "/bin/ash", "/bin/bash", "/bin/dash", "/bin/zsh"}


def shell_steps(ctx: Ctx, name: str, args: list[str]) -> Generator[Step, None, int]:
    """``sh -c SCRIPT [NAME [ARGS…]]``, ``sh FILE``, or a script on stdin: busybox ash, dash or bash, by image
    and name (:mod:`.shell.interp`); pauses between commands."""
    flavour = posixpath.basename(name) if posixpath.basename(name) in ("bash", "zsh") else (
        "ash" if ctx.family in BUSYBOX_FAMILIES else "dash")
    base = posixpath.basename(name)
    argv0, params = name, []  # $0, and the name the shell's messages start with
    options = [a for a in args[:1] if a.startswith("-") and a not in ("-c", "-", "--")]
    if options and set(options[0][1:]) <= set("euxf"):  # sh -e -c …, sh -x -c …
        args = args[1:]
    if args[:1] == ["-c"]:
        if len(args) < 2:
            ctx.error(f"{base}: -c requires an argument\n" if flavour != "bash" else
                      "bash: -c: option requires an argument\n")
            return 2
        script = args[1]
        if len(args) > 2:
            argv0, params = args[2], args[3:]
    elif args and args[0] not in ("-", "-s"):
        data = ctx.fs.read(ctx.fs.norm(args[0], ctx.cwd))
        if data is None:
            ctx.error(f"{base}: can't open '{args[0]}': No such file or directory\n" if flavour == "ash" else
                      f"{base}: 0: cannot open {args[0]}: No such file\n" if flavour == "dash" else
                      f"bash: {args[0]}: No such file or directory\n")
            return 2 if flavour != "bash" else 127
        script, argv0, params = data.decode(errors="replace"), args[0], args[1:]
    elif ctx.pipe is not None:  # standard input held open: commands run as their lines arrive
        state = new_state(flavour, argv0, ctx.env, params, 1, ctx.cwd)
        return (yield from Interp(ctx.fork(), state, _host(ctx)).run_interactive(ctx.pipe, ctx.tty))
    elif ctx.stdin:
        script = ctx.stdin.decode(errors="replace")
        ctx.stdin = b""
    elif ctx.detached:  # a container's `sh` with stdin at EOF reads nothing and exits 0 (busybox:latest's CMD)
        return 0
    else:
        ctx.error("k8snet sandbox: interactive shells are not emulated yet; run one command line per exec, e.g. "
                  "kubectl exec POD -- sh -c 'curl -sS web; echo done'\n")
        return 1
    state = new_state(flavour, argv0, ctx.env, params, ctx.budget.next_pid() if ctx.shell else 1, ctx.cwd)
    if options:
        state.options.update(options[0][1:])
    return (yield from Interp(ctx.fork(), state, _host(ctx)).run_text(script))


def _host(ctx: Ctx) -> Host:
    return Host(run=_host_run, lookup=_lookup, now=ctx.dp.sb.clock.time, disk_full=_disk_full)


def _host_run(ctx: Ctx, argv: list[str]) -> Generator[Step, None, int] | None:
    name = resolve(ctx, argv[0])
    return None if name is None else program(ctx, [name, *argv[1:]])


def _lookup(ctx: Ctx, name: str) -> str | None:
    """Where ``command -v`` finds a program: busybox's applets live in /bin in the busybox image and in
    /bin or /usr/bin elsewhere; the sandbox names /usr/bin for all but the shells and /bin's core."""
    found = resolve(ctx, name)
    if found is None:
        return None
    if "/" in found:
        return found
    if ctx.family in ("busybox", "busyboxplus") or found in ("sh", "ash", "bash", "dash", "cat", "ls", "echo", "date", "hostname",
                                            "mkdir", "rm", "touch", "sleep", "true", "false", "pwd"):
        return f"/bin/{found}"
    return f"/usr/bin/{found}"


def _disk_full(ctx: Ctx, program: str) -> None:
    _budget_event(ctx, f"the file system budget ({ctx.fs.budget >> 20} MiB) of container {ctx.container} "
                       f"is full: `{program}` got \"{NO_SPACE}\"")


def _shell_prefix(ctx: Ctx) -> str:
    return {"ash": "sh: ", "dash": "sh: 1: ", "bash": "bash: line 1: "}.get(ctx.shell, "")


def execute(ctx: Ctx, argv: list[str]) -> int:
    """Dispatch one resolved command to its emulation."""
    name, args = argv[0], argv[1:]
    if not _emulated(ctx, name):
        family = ctx.family or ""
        emulated = ", ".join(sorted(AVAILABLE.get(family, set())))
        ctx.error(f"k8snet sandbox: `{name}` is not emulated in the {family} image (no host command is ever "
                  f"run). Emulated here: {emulated}.\n")
        return 127
    handler = HANDLERS.get(name) or HANDLERS.get(posixpath.basename(name))
    assert handler is not None, name
    return handler(ctx, name, args)


def _emulated(ctx: Ctx, name: str) -> bool:
    available = AVAILABLE.get(ctx.family or "", set())
    return name in available or posixpath.basename(name) in available


# -- file and text commands (busybox 1.37 in agnhost, GNU coreutils in nginx) ----------------------------


def _gnu(ctx: Ctx) -> bool:
    return ctx.family == "nginx"


def cmd_cat(ctx: Ctx, name: str, args: list[str]) -> int:
    code = 0
    files = [a for a in args if a != "--"] or ["-"]
    for path in files:
        if path == "-":
            ctx.write(ctx.stdin)
            continue
        full = FileSystem.norm(path, ctx.cwd)
        data = ctx.fs.read(full)
        if ctx.fs.is_dir(full):
            ctx.error(f"cat: {path}: Is a directory\n" if _gnu(ctx) else "cat: read error: Is a directory\n")
            code = 1
        elif data is None:
            ctx.error(f"cat: {path}: No such file or directory\n" if _gnu(ctx) else
                      f"cat: can't open '{path}': No such file or directory\n")
            code = 1
        else:
            ctx.write(data)
    return code


def cmd_echo(ctx: Ctx, name: str, args: list[str]) -> int:
    newline = True
    while args and args[0] in ("-n", "-e", "-ne", "-en"):
        newline = newline and "n" not in args[0]
        args = args[1:]
    ctx.write(" ".join(args) + ("\n" if newline else ""))
    return 0


def cmd_touch(ctx: Ctx, name: str, args: list[str]) -> int:
    code = 0
    for path in [a for a in args if not a.startswith("-")]:
        full = FileSystem.norm(path, ctx.cwd)
        if ctx.fs.exists(full):
            continue
        problem = ctx.fs.write(full, b"")
        if problem:
            ctx.error(f"touch: cannot touch '{path}': {problem}\n" if _gnu(ctx) else f"touch: {path}: {problem}\n")
            code = 1
    return code


def cmd_rm(ctx: Ctx, name: str, args: list[str]) -> int:
    flags = "".join(a[1:] for a in args if a.startswith("-") and len(a) > 1)
    force, recursive = "f" in flags, "r" in flags or "R" in flags
    code = 0
    for path in [a for a in args if not a.startswith("-") or a == "-"]:
        problem = ctx.fs.remove(FileSystem.norm(path, ctx.cwd), recursive)
        if problem == "No such file or directory" and force:
            continue
        if problem == "Is a directory":
            ctx.error(f"rm: cannot remove '{path}': Is a directory\n" if _gnu(ctx) else
                      f"rm: '{path}' is a directory\n")
            code = 1
        elif problem:
            ctx.error(f"rm: cannot remove '{path}': {problem}\n" if _gnu(ctx) else
                      f"rm: can't remove '{path}': {problem}\n")
            code = 1
    return code


def cmd_mkdir(ctx: Ctx, name: str, args: list[str]) -> int:
    parents = any(a.startswith("-") and "p" in a for a in args)
    code = 0
    for path in [a for a in args if not a.startswith("-")]:
        problem = ctx.fs.mkdir(FileSystem.norm(path, ctx.cwd), parents)
        if problem:
            ctx.error(f"mkdir: cannot create directory '{path}': {problem}\n" if _gnu(ctx) else
                      f"mkdir: can't create directory '{path}': {problem}\n")
            code = 1
    return code


def cmd_ls(ctx: Ctx, name: str, args: list[str]) -> int:
    """``ls``: names starting with a dot only with ``-a`` (and ``.``, ``..``) or ``-A``; several directories each
    under its name, a blank line between them (coreutils and busybox ls alike)."""
    flags = "".join(a[1:] for a in args if a.startswith("-"))
    if set(flags) - set("1aA"):
        ctx.error(f"k8snet sandbox: ls -{flags} is not emulated (plain ls, -1, -a and -A are; readlink shows a "
                  "volume's ..data links)\n")
        return 2
    paths = [a for a in args if not a.startswith("-")] or ["."]
    code = 0
    for i, path in enumerate(paths):
        full = FileSystem.norm(path, ctx.cwd)
        if ctx.fs.is_dir(full):
            names = ctx.fs.listdir(full)
            if "a" in flags:
                names = [".", "..", *names]
            elif "A" not in flags:
                names = [n for n in names if not n.startswith(".")]
            if len(paths) > 1:
                ctx.write(f"{chr(10) if i else ''}{path}:\n")
            ctx.write("".join(n + "\n" for n in names))
        elif ctx.fs.exists(full):
            ctx.write(path + "\n")
        else:
            ctx.error(f"ls: cannot access '{path}': No such file or directory\n" if _gnu(ctx) else
                      f"ls: {path}: No such file or directory\n")
            code = 2 if _gnu(ctx) else 1
    return code


def cmd_test(ctx: Ctx, name: str, args: list[str]) -> int:
    """``test``/``[``: file tests (-e -f -d -s), string tests (-z -n = !=), integer comparisons, ``!``."""
    if name == "[":
        if args[-1:] != ["]"]:
            ctx.error(f"{_shell_prefix(ctx)}[: missing ]\n")
            return 2
        args = args[:-1]
    negate = bool(args) and args[0] == "!"
    args = args[1:] if negate else args
    result = _test(ctx, args)
    if result is None:
        ctx.error(f"k8snet sandbox: test {' '.join(args)} is not emulated\n")
        return 2
    return 0 if result != negate else 1


def _test(ctx: Ctx, args: list[str]) -> bool | None:
    if not args:
        return False
    if len(args) == 1:
        return args[0] != ""
    if len(args) == 2:
        op, path = args
        full = FileSystem.norm(path, ctx.cwd)
        checks = {"-e": ctx.fs.exists(full), "-f": ctx.fs.read(full) is not None and not ctx.fs.is_dir(full),
                  "-d": ctx.fs.is_dir(full), "-s": bool(ctx.fs.read(full)), "-z": path == "", "-n": path != "",
                  "-r": ctx.fs.exists(full), "-w": ctx.fs.exists(full), "-x": ctx.fs.exists(full)}
        return checks.get(op)
    if len(args) == 3:
        a, op, b = args
        if op in ("=", "=="):
            return a == b
        if op == "!=":
            return a != b
        ops = {"-eq": int.__eq__, "-ne": int.__ne__, "-lt": int.__lt__, "-le": int.__le__, "-gt": int.__gt__,
               "-ge": int.__ge__}
        if op in ops and a.lstrip("-").isdigit() and b.lstrip("-").isdigit():
            return ops[op](int(a), int(b))
    return None


def cmd_hostname(ctx: Ctx, name: str, args: list[str]) -> int:
    if args[:1] in (["-i"], ["-I"]):
        ctx.write(ctx.pod_ip + (" \n" if args[0] == "-I" else "\n"))
    else:
        ctx.write(hostname(ctx.pod) + "\n")
    return 0


def cmd_date(ctx: Ctx, name: str, args: list[str]) -> int:
    now = ctx.dp.sb.clock.now()
    fmt = next((a[1:] for a in args if a.startswith("+")), "%a %b %e %H:%M:%S UTC %Y")
    ctx.write(now.strftime(fmt.replace("%s", str(int(now.timestamp())))) + "\n")
    return 0


def cmd_env(ctx: Ctx, name: str, args: list[str]) -> int:
    if name == "printenv" and args:
        values = [ctx.env[a] for a in args if a in ctx.env]
        ctx.write("".join(v + "\n" for v in values))
        return 0 if len(values) == len(args) else 1
    if args:
        ctx.error("k8snet sandbox: env with arguments is not emulated (plain env and printenv VAR are)\n")
        return 127
    ctx.write("".join(f"{k}={v}\n" for k, v in ctx.env.items() if k != "?"))
    return 0


def cmd_pwd(ctx: Ctx, name: str, args: list[str]) -> int:
    ctx.write(ctx.cwd + "\n")
    return 0


def cmd_true(ctx: Ctx, name: str, args: list[str]) -> int:
    return 1 if name == "false" else 0


SLEEP_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def cmd_sleep(ctx: Ctx, name: str, args: list[str]) -> Generator[Step, None, int]:
    """``sleep N[smhd]…`` (busybox and coreutils both add up several durations, take fractions and ``inf``):
    waits on the sandbox clock (a synchronous run returns at once)."""
    if not args:
        ctx.error("sleep: missing operand\nTry 'sleep --help' for more information.\n" if _gnu(ctx) else
                  "BusyBox v1.37.0 (2024-12-13 17:06:28 UTC) multi-call binary.\n\nUsage: sleep [N]...\n")
        return 1
    total = 0.0
    for arg in args:
        m = re.fullmatch(r"(inf(?:inity)?|[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)([smhd]?)", arg)
        if m is None:
            ctx.error(f"sleep: invalid time interval '{arg}'\nTry 'sleep --help' for more information.\n"
                      if _gnu(ctx) else f"sleep: invalid number '{arg}'\n")
            return 1
        total += float(m.group(1)) * SLEEP_UNITS[m.group(2)]
    if total > 0:
        yield ctx.dp.sb.clock.time() + min(total, 1e12)
    if ctx.pipe is not None and ctx.pipe.interrupted:
        return 130  # Ctrl-C: SIGINT ended it (128 + 2)
    return 0


def cmd_shell(ctx: Ctx, name: str, args: list[str]) -> Generator[Step, None, int]:
    return (yield from shell_steps(ctx, name, args))


def cmd_nginx(ctx: Ctx, name: str, args: list[str]) -> int:
    """nginx's command line (src/core/nginx.c): -v, -t, -s reload, and a start that reads the configuration."""
    workloads = ctx.dp.workloads
    version = workloads.program(ctx.pod, ctx.container).opts.get("version", "")
    stamp = ctx.dp.sb.clock.now().strftime("%Y/%m/%d %H:%M:%S")
    conf = "/etc/nginx/nginx.conf"
    if args[:1] in (["-v"], ["-V"]):
        ctx.error(f"nginx version: nginx/{version}\n")
        return 0
    params = nginx_params(args)  # -g: read before the file, so a directive in both is a duplicate
    if args[:1] == ["-t"]:
        problem = workloads.load_nginx(ctx.pod, ctx.container, params)
        if isinstance(problem, str):
            ctx.error(f"nginx: [emerg] {problem}\nnginx: configuration file {conf} test failed\n")
            return 1
        ctx.error(f"nginx: the configuration file {conf} syntax is ok\n"
                  f"nginx: configuration file {conf} test is successful\n")
        return 0
    if args[:2] == ["-s", "reload"]:
        problem = workloads.reload_nginx(ctx.pod, ctx.container)
        if problem:
            ctx.error(f"nginx: [emerg] {problem}\n")
            return 1
        ctx.error(f"{stamp} [notice] 40#40: signal process started\n")
        ctx.dp.logs.append(ctx.pod["metadata"].get("uid", ""), ctx.container,
                           f"{stamp} [notice] 1#1: signal 1 (SIGHUP) received from 40, reconfiguring\n"
                           f"{stamp} [notice] 1#1: reconfiguring\n")
        return 0
    if args and args[0] not in ("-g", "-c", "-e", "-p"):
        ctx.error(f"nginx: invalid option: \"{args[0].lstrip('-')}\"\n")
        return 1
    config = workloads.load_nginx(ctx.pod, ctx.container, params)
    if isinstance(config, str):  # what stops nginx at start: the error log (stderr) and the master's own line
        ctx.error(f"{stamp} [emerg] 1#1: {config}\nnginx: [emerg] {config}\n")
        return 1
    port = min(config.ports() or {(80, "TCP"): ""})[0]  # a second nginx in a running container
    ctx.error(f"nginx: [emerg] bind() to 0.0.0.0:{port} failed (98: Address already in use)\n" * 5
              + "nginx: [emerg] still could not bind()\n")
    return 1


def cmd_http_echo(ctx: Ctx, name: str, args: list[str]) -> int:
    """``/http-echo -version``; a second server in the container cannot bind :5678 (main.go)."""
    if any(a.lstrip("-") == "version" for a in args):
        ctx.write(f"http-echo v{HTTP_ECHO_VERSION} (k8snet sandbox)\nBuilt: -\n")
        return 0
    stamp = ctx.dp.sb.clock.now().strftime("%Y/%m/%d %H:%M:%S")
    ctx.error(f"{stamp} [INFO] server is listening on :5678\n{stamp} [ERR] server exited with: listen tcp :5678: "
              "bind: address already in use\n")
    return 1


def cmd_coredns(ctx: Ctx, name: str, args: list[str]) -> int:
    """``/coredns -version``; a second server cannot bind :53."""
    if args[:1] == ["-version"]:
        ctx.write(f"CoreDNS-{COREDNS_VERSION}\nlinux/amd64, go1.23.3, 51e11f1\n")
        return 0
    ctx.error("Listen: listen tcp :53: bind: address already in use\n")
    return 1


# -- /agnhost connect (test/images/agnhost/connect/connect.go) -----------------------------------------


def go_duration(text: str) -> float | None:
    """Parse a Go duration (``1s``, ``500ms``, ``1m30s``) into seconds."""
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    if text == "0":
        return 0.0
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(a + b for a, b in parts) != text:
        return None
    return sum(float(a) * units[b] for a, b in parts)


AGNHOST_COMMANDS = {
    # test/images/agnhost/agnhost.go: the subcommands cobra knows
    "audit-proxy", "connect", "crd-conversion-webhook", "dns-server-list", "dns-suffix", "entrypoint-tester",
    "etc-hosts", "fake-gitserver", "grpc-health-checking", "guestbook", "help", "inclusterclient", "liveness",
    "logs-generator", "mounttest", "net", "netexec", "nettest", "no-snat-test", "no-snat-test-proxy", "pause",
    "port-forward-tester", "porter", "resource-consumer-controller", "serve-hostname", "tcp-reset",
    "test-webserver", "webhook", "completion",
}


def cmd_agnhost(ctx: Ctx, name: str, args: list[str]) -> Generator[Step, None, int]:
    if args[:1] != ["connect"]:
        sub = args[0] if args else ""
        if sub and sub not in AGNHOST_COMMANDS:  # cobra's answer (command.go: unknown command)
            ctx.error(f'Error: unknown command "{sub}" for "agnhost"\nRun \'agnhost --help\' for usage.\n')
            return 1
        ctx.error(f"k8snet sandbox: `/agnhost {sub}` is not emulated in exec; `/agnhost connect HOST:PORT "
                  "--timeout=1s --protocol=tcp|udp|sctp` is\n")
        return 127
    opts = {"timeout": "0s", "protocol": "tcp", "udp-data": "hostname", "sctp-data": "hostname"}
    positional: list[str] = []
    rest = args[1:]
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg.startswith("--"):
            key, eq, value = arg[2:].partition("=")
            if key not in opts:
                ctx.error(f"Error: unknown flag: --{key}\n")
                return 1
            if not eq:
                i += 1
                value = rest[i] if i < len(rest) else ""
            opts[key] = value
        else:
            positional.append(arg)
        i += 1
    if len(positional) != 1:
        ctx.error(f"Error: accepts 1 arg(s), received {len(positional)}\n")
        return 1
    if go_duration(opts["timeout"]) is None:
        ctx.error(f'Error: invalid argument "{opts["timeout"]}" for "--timeout" flag: time: invalid duration '
                  f'"{opts["timeout"]}"\n')
        return 1
    dest, protocol = positional[0], opts["protocol"]
    host, sep, port = dest.rpartition(":")
    host = host.strip("[]")
    if protocol in ("", "tcp"):
        if not sep or not port:
            ctx.error(f"UNKNOWN: address {dest}: missing port in address\n")
            return 1
    elif protocol not in ("udp", "sctp"):
        ctx.error(f"Unsupported protocol\n{protocol}")
        return 1
    if not sep or not port.isdigit():
        ctx.error(f"DNS: address {dest}: {'missing port in address' if not sep else 'invalid port'}\n")
        return 1
    try:
        conn = yield from connect(ctx, host, int(port), "TCP" if protocol in ("", "tcp") else protocol.upper())
    except DnsError as exc:
        ctx.error(net_error_line(exc) + "\n")
        return 1
    except NetError as exc:
        if protocol in ("", "tcp"):
            ctx.error(net_error_line(exc) + "\n")
        elif protocol == "udp":  # parseUDPErrorAndExit prints the Go error after the prefix
            src = f"{ctx.pod_ip}:{ctx.dp.workloads.ephemeral_port()}"
            if isinstance(exc, Timeout):
                ctx.error(f"TIMEOUT: read udp {src}->{host}:{port}: i/o timeout\n")
            elif isinstance(exc, Refused):
                ctx.error(f"REFUSED: read udp {src}->{host}:{port}: connection refused\n")
            else:
                ctx.error(f"UNKNOWN: {exc.message}\n")
        else:
            ctx.error("TIMEOUT\n" if isinstance(exc, Timeout) else f"OTHER: {exc.message}\n")
        return 1
    if protocol in ("", "tcp"):
        return 0
    reply = ctx.dp.workloads.serve_udp(conn, opts["udp-data" if protocol == "udp" else "sctp-data"] + "\n")
    if reply is None:
        ip = dialed_ip(conn, host)
        ctx.error(f"TIMEOUT: read udp {conn.client_ip}:{conn.client_port}->{ip}:{port}: i/o timeout\n"
                  if protocol == "udp" else "TIMEOUT\n")
        return 1
    return 0


# -- curl 8 (https://curl.se/libcurl/c/libcurl-errors.html; lib/multi.c and lib/cf-socket.c wording) ------

CURL_VALUE = {"-o": "output", "--output": "output", "-w": "write-out", "--write-out": "write-out",
              "-m": "max-time", "--max-time": "max-time", "--connect-timeout": "connect-timeout",
              "-H": "header", "--header": "header", "-X": "request", "--request": "request",
              "--resolve": "resolve", "--cacert": "cacert", "--cert": "cert", "--key": "key",
              "-A": "user-agent", "--user-agent": "user-agent", "-d": "data", "--data": "data",
              "--data-raw": "data", "--data-binary": "data", "-e": "referer", "--referer": "referer"}
CURL_FLAGS = {"-s": "silent", "--silent": "silent", "-S": "show-error", "--show-error": "show-error",
              "-k": "insecure", "--insecure": "insecure", "-I": "head", "--head": "head", "-i": "include",
              "--include": "include", "-f": "fail", "--fail": "fail", "-L": "location", "--location": "location",
              "--http1.1": "http1.1", "-4": "ipv4", "--ipv4": "ipv4", "--no-progress-meter": "no-progress",
              "-N": "no-buffer", "--no-buffer": "no-buffer", "-q": "q"}


@dataclass
class CurlOpts:
    values: dict[str, str] = field(default_factory=dict)
    headers: list[str] = field(default_factory=list)
    resolve: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    urls: list[str] = field(default_factory=list)


def curl_args(args: list[str]) -> CurlOpts | str:
    """Parse curl's options (short flags combine: ``-sS``, ``-sSo /dev/null``); an unknown option is an error."""
    o = CurlOpts()
    i = 0

    def take(key: str, value: str) -> None:
        if key == "header":
            o.headers.append(value)
        elif key == "resolve":
            o.resolve.append(value)
        else:
            o.values[key] = value

    while i < len(args):
        arg = args[i]
        if arg.startswith("--"):
            key, eq, value = arg.partition("=")
            if key in CURL_FLAGS:
                o.flags.add(CURL_FLAGS[key])
            elif key in CURL_VALUE:
                if not eq:
                    i += 1
                    if i >= len(args):
                        return f"curl: option {key}: requires parameter"
                    value = args[i]
                take(CURL_VALUE[key], value)
            else:
                return f"option {key}: is not emulated by the k8snet sandbox"
        elif arg.startswith("-") and len(arg) > 1:
            j = 1
            while j < len(arg):
                short = "-" + arg[j]
                if short in CURL_FLAGS:
                    o.flags.add(CURL_FLAGS[short])
                    j += 1
                elif short in CURL_VALUE:
                    value = arg[j + 1:]
                    if not value:
                        i += 1
                        if i >= len(args):
                            return f"curl: option {short}: requires parameter"
                        value = args[i]
                    take(CURL_VALUE[short], value)
                    break
                else:
                    return f"option {short}: is not emulated by the k8snet sandbox"
        else:
            o.urls.append(arg)
        i += 1
    return o


def cmd_curl(ctx: Ctx, name: str, args: list[str]) -> Generator[Step, None, int]:
    """curl 8 (7.88 on Debian) for HTTP: the flags of the probe contract, its error lines and exit codes; a
    server that takes its time (httpbin /delay/N) is waited for on the sandbox clock, up to ``-m``."""
    parsed = curl_args(args)
    if isinstance(parsed, str):
        supported = " ".join(sorted({*CURL_FLAGS, *CURL_VALUE}))
        ctx.error(f"curl: {parsed}\ncurl: emulated options: {supported}\n")
        return 2
    o = parsed
    if not o.urls:
        ctx.error("curl: no URL specified\ncurl: try 'curl --help' or 'curl --manual' for more information\n")
        return 2
    silent = "silent" in o.flags
    show_errors = not silent or "show-error" in o.flags
    version = CURL_VERSION.get(ctx.family or "", "8.12.1")
    state: dict[str, Any] = {"url": o.urls[0], "status": 0, "ip": "", "port": 0, "local_port": 0,
                             "body": b"", "headers": b"", "redirects": 0, "content_type": ""}
    code, message = yield from _curl_transfer(ctx, o, version, state)
    if state.get("delay"):
        limit = float(o.values.get("max-time") or 0)
        yield ctx.dp.sb.clock.time() + (min(state["delay"], limit) if limit else state["delay"])
        if limit and state["delay"] > limit:
            code, message = 28, f"Operation timed out after {int(limit * 1000) + 1} milliseconds with 0 bytes received"
            state["body"], state["headers"], state["status"] = b"", b"", 0
    output = state["headers"] if "head" in o.flags else (
        state["headers"] + state["body"] if "include" in o.flags else state["body"])
    if code == 0 and "fail" in o.flags and state["status"] >= 400:
        code, message, output = 22, f"The requested URL returned error: {state['status']}", b""
    if code == 0 or output:
        target = o.values.get("output")
        if target and target != "-":
            problem = ctx.fs.write(FileSystem.norm(target, ctx.cwd), output)
            if problem:
                ctx.error(f"Warning: Failed to open the file {target}: {problem}\n")
                code, message = 23, "Failure writing output to destination"
        else:
            ctx.write(output)
    meter = not silent and "no-progress" not in o.flags and (not ctx.tty or o.values.get("output"))
    if meter:
        ctx.error(_curl_meter(len(state["body"]) if code == 0 else 0))
    if "write-out" in o.values:
        ctx.write(_curl_write_out(ctx, o.values["write-out"], state, code, message))
    if code and show_errors:
        ctx.error(f"curl: ({code}) {message}\n")
    return code


def _curl_transfer(ctx: Ctx, o: CurlOpts, version: str,
                   state: dict[str, Any]) -> Generator[Step, None, tuple[int, str]]:
    """Connect, send and receive (following redirects with -L); returns (curl exit code, error message)."""
    method = o.values.get("request") or ("HEAD" if "head" in o.flags else ("POST" if "data" in o.values else "GET"))
    url = state["url"]
    for _ in range(51):
        parts = urlsplit(url if "://" in url else "http://" + url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            return 1, f'Protocol "{parts.scheme}" not supported'
        host = parts.hostname or ""
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            return 3, "URL rejected: Port number was not a decimal number between 0 and 65535"
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        state["url"] = f"{scheme}://{parts.netloc}{path}"
        address = host
        for entry in o.resolve:
            r_host, _, rest = entry.partition(":")
            r_port, _, r_addr = rest.partition(":")
            if r_host == host and r_port == str(port) and r_addr:
                address = r_addr.strip("[]")
        timeout = min([float(o.values[k]) for k in ("max-time", "connect-timeout") if k in o.values] or [0])
        try:
            conn = yield from connect(ctx, address, port, "TCP", stub="libc")
        except DnsError:
            return 6, f"Could not resolve host: {host}"
        except Timeout:
            if timeout:
                return 28, f"Connection timed out after {int(timeout * 1000) + 1} milliseconds"
            # no -m: the kernel gives up after tcp_syn_retries=6 (about 130 s)
            return 28, f"Failed to connect to {host} port {port} after 130530 ms: Timeout was reached"
        except NetError:
            return 7, f"Failed to connect to {host} port {port} after 0 ms: Couldn't connect to server"
        if conn.remote is not None:  # the TCP handshake's round trip to another cluster
            state["connect_delay"] = state.get("connect_delay", 0.0) + conn.remote.rtt_ms / 1000
        state.update(ip=dialed_ip(conn, address), port=port,
                     local_port=conn.client_port if conn.client_ip == ctx.pod_ip else
                     ctx.dp.workloads.ephemeral_port())
        if conn.reset and scheme == "https":  # the ClientHello is answered by an RST (a ztunnel closed it)
            return 35, "Recv failure: Connection reset by peer"
        if scheme == "https":
            code, message, session = yield from _curl_tls(ctx, o, conn, host, version, timeout)
            if code:
                return code, message
        headers = {"Host": parts.netloc, "User-Agent": o.values.get("user-agent", f"curl/{version}"), "Accept": "*/*"}
        if "referer" in o.values:
            headers["Referer"] = o.values["referer"]
        body = o.values.get("data", "").encode()
        if "data" in o.values:
            headers.update({"Content-Length": str(len(body)), "Content-Type": "application/x-www-form-urlencoded"})
        for h in o.headers:
            key, _, value = h.partition(":")
            headers = {k: v for k, v in headers.items() if k.lower() != key.strip().lower()}
            if value.strip() or not h.endswith(":"):
                headers[key.strip()] = value.strip()
        request = HttpRequest(method, path, headers, body, host=parts.netloc, scheme=scheme,
                              tls=session if scheme == "https" else None)
        response = ctx.dp.workloads.serve_http(conn, request)
        if response.status == PENDING:
            response = yield from await_answer(ctx, response, timeout)
            if response is None:
                return 28, f"Operation timed out after {int(timeout * 1000) + 1} milliseconds with 0 bytes received"
        if response.status == RAW_REPLY:
            return 1, "Received HTTP/0.9 when not allowed"
        if response.status == EMPTY_REPLY:
            return 52, "Empty reply from server"
        if response.status == RESET:
            return 56, "Recv failure: Connection reset by peer"
        if response.status == TLS_ALERT:
            return 56, f"OpenSSL SSL_read: {_openssl(ctx)}: {response.body.decode()}, errno 0"
        _curl_record(state, response, method)
        state["delay"] = state.get("delay", 0.0) + response.delay
        location = response.headers.get("Location")
        if "location" in o.flags and 300 <= response.status < 400 and location:
            url = location if "://" in location else f"{scheme}://{parts.netloc}{location}"
            state["redirects"] += 1
            if response.status in (301, 302, 303) and method == "POST":
                method = "GET"
            continue
        return 0, ""
    return 47, "Maximum (50) redirects followed"


def await_answer(ctx: Ctx, response: HttpResponse, timeout: float) -> Generator[Step, None, HttpResponse | None]:
    """Wait for a real component's answer (None: ``timeout`` seconds passed first, 0 = no limit); a connection
    it broke reads as an empty reply. Run in one go (nothing can wait), an answer another member gives in place
    still comes (:func:`.model.settled`)."""
    if not AWAITED.get():
        return settled(response)
    if not (yield from wait_for(ctx, response.pending, timeout)):
        return None if timeout else HttpResponse(EMPTY_REPLY)
    if response.pending.cancelled() or response.pending.exception() is not None:
        return HttpResponse(EMPTY_REPLY)
    answer: HttpResponse = response.pending.result()
    answer.served_by = response.served_by
    return answer


CURL_VERIFY_HELP = ("\nMore details here: https://curl.se/docs/sslcerts.html\n\ncurl failed to verify the legitimacy "
                    "of the server and therefore could not\nestablish a secure connection to it. To learn more about "
                    "this situation and\nhow to fix it, please visit the webpage mentioned above.")
"""What curl's tool adds after a CURLE_PEER_FAILED_VERIFICATION (60) message (src/tool_operate.c)."""


def _curl_tls(ctx: Ctx, o: CurlOpts, conn: Connection, host: str, version: str,
              timeout: float) -> Generator[Step, None, tuple[int, str, Any]]:
    """A real handshake with the server's certificate (:mod:`.tls`), then curl's checks and words
    (lib/vtls/openssl.c: cert_stuff, ossl_connect_step2, ossl_verifyhost, ossl_recv); the session on success.

    The client certificate loads first (58), then the CA file (77). A server that refuses the client's
    certificate (one that requires it, as Go's RequireAndVerifyClientCert) sends its alert after the TLS 1.3
    client has finished: curl reads it as its first ``SSL_read`` fails (56, the alert's text); nginx does not
    refuse at the handshake, it answers 400 (:mod:`.nginx`). A real server (Traefik) does the handshake itself,
    over a socket, and its alert comes with the answer (:data:`.model.TLS_ALERT`)."""
    from . import tls

    openssl = _openssl(ctx)
    sni = "" if is_ip(host) else host  # curl sends no SNI for an IP address
    server = ctx.dp.workloads.tls_server(conn, sni)
    if server is None:  # a plain-HTTP server answers the ClientHello with an HTTP 400
        return 35, _curl_connect_error(version, f"{openssl}: error:0A00010B:SSL routines::wrong version number"), None
    verify = "insecure" not in o.flags
    files: dict[str, bytes] = {}
    for opt in ("cert", "key", "cacert"):
        if opt in o.values:
            data = ctx.fs.read(FileSystem.norm(o.values[opt], ctx.cwd))
            if data is None and opt == "cert":
                return 58, (f"could not load PEM client certificate from {o.values[opt]}, OpenSSL error {openssl}: "
                            "error:80000002:system library::No such file or directory, (no key found, wrong pass "
                            "phrase, or wrong file format?)"), None
            if data is None and opt == "key":
                return 58, f"unable to set private key file: '{o.values[opt]}' type PEM", None
            if data is None:
                return 77, f"error setting certificate file: {o.values[opt]}", None
            files[opt] = data
    try:
        # --cacert replaces the image's CA bundle, whose roots sign the emulated internet's hosts (dataplane/outside.py)
        client = tls.client_context(files.get("cacert") or outside.roots_pem(ctx.dp.sb), verify,
                                    files.get("cert", b""), files.get("key", b""))
    except tls.TlsLoadError as exc:
        if exc.what == "certificate":
            return 58, (f"could not load PEM client certificate from {o.values.get('cert', '')}, OpenSSL error "
                        f"{openssl}: {exc.openssl}, (no key found, wrong pass phrase, or wrong file format?)"), None
        if exc.what == "mismatch":
            return 58, "Private key does not match the certificate public key", None
        return 58, f"unable to set private key file: '{o.values.get('key', o.values.get('cert', ''))}' type PEM", None
    except ValueError:
        return 77, f"error setting certificate file: {o.values.get('cacert', '')}", None
    offered = (files["cert"], files.get("key") or files["cert"]) if "cert" in files else None
    if isinstance(server, tls.Remote):
        opening = server.open(client, sni)
        if not (yield from wait_for(ctx, opening, timeout)):
            return 28, f"SSL connection timeout after {int(timeout * 1000) + 1} milliseconds", None
        shake = opening.result()
        if shake.failed_side == "reset":
            return 35, "Recv failure: Connection reset by peer", None
    else:
        shake = tls.handshake(client, server, sni, offered, ctx.dp.sb.clock.now())
    if not shake.ok:
        if shake.verify_code:
            return 60, f"SSL certificate problem: {shake.verify_message}{CURL_VERIFY_HELP}", None
        if shake.failed_side == "server":  # TLS 1.3: the server's alert arrives with the first read
            return 56, f"OpenSSL SSL_read: {openssl}: {shake.error_string or shake.error}, errno 0", None
        return 35, _curl_connect_error(version, f"{openssl}: {shake.error_string or shake.error}"), None
    if verify:
        problem = tls.check_host(shake.peer_chain[0], host, ctx.dp.sb.clock.now())
        if problem:
            shake.close()
            return 60, problem + CURL_VERIFY_HELP, None
    return 0, "", shake


def _openssl(ctx: Ctx) -> str:
    """The OpenSSL build the image's curl names in its TLS errors."""
    return f"OpenSSL/{OPENSSL_VERSION.get(ctx.family or '', OPENSSL_VERSION['agnhost'])}"


def _curl_connect_error(version: str, error: str) -> str:
    """ossl_connect_step2's CURLE_SSL_CONNECT_ERROR line: curl 8 says ``TLS connect error:`` before OpenSSL's
    error, curl 7.88 prints the error alone."""
    return f"TLS connect error: {error}" if version >= "8" else error


def _curl_record(state: dict[str, Any], response: HttpResponse, method: str) -> None:
    import http as http_status

    try:
        reason = http_status.HTTPStatus(response.status).phrase
    except ValueError:
        reason = ""
    lines = [f"HTTP/1.1 {response.status} {reason}".rstrip()] + [f"{k}: {v}" for k, v in response.headers.items()]
    state["headers"] += ("\r\n".join(lines) + "\r\n\r\n").encode()
    state["status"] = response.status
    state["body"] = b"" if method == "HEAD" else response.body
    state["content_type"] = response.headers.get("Content-Type", "")


def _curl_meter(size: int) -> str:
    """curl's progress meter, printed on stderr when its output is not a terminal and -s is not given."""
    done = "100" if size else "  0"
    return ("  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n"
            "                                 Dload  Upload   Total   Spent    Left  Speed\n"
            f"\r{done} {size:>5} {done} {size:>5}    0     0      0      0 --:--:-- --:--:-- --:--:--     0\n")


def _curl_write_out(ctx: Ctx, fmt: str, state: dict[str, Any], code: int, message: str) -> str:
    """``-w``: the common %{variables}; times are the sandbox's (small and fixed), not measured."""
    ok = code == 0
    values = {
        "http_code": f"{state['status']:03d}" if ok or state["status"] else "000",
        "remote_ip": state["ip"], "remote_port": str(state["port"] or ""),
        "local_ip": ctx.pod_ip, "local_port": str(state["local_port"] or ""),
        "size_download": str(len(state["body"])), "size_header": str(len(state["headers"])),
        # the server's time (httpbin's /delay) and the round trips to another cluster are the sandbox clock's
        "time_namelookup": "0.000021",
        "time_connect": f"{0.000187 + state.get('connect_delay', 0.0):.6f}" if ok else "0.000000",
        "time_starttransfer": f"{0.000905 + state.get('delay', 0.0):.6f}" if ok else "0.000000",
        "time_total": f"{0.001012 + state.get('delay', 0.0):.6f}",
        "url_effective": state["url"], "content_type": state["content_type"], "exitcode": str(code),
        "errormsg": message.split("\n")[0], "num_connects": "1" if state["ip"] else "0",
        "num_redirects": str(state["redirects"]), "scheme": urlsplit(state["url"]).scheme,
        "http_version": "1.1" if ok else "0", "method": "", "speed_download": str(len(state["body"]) * 1000),
    }
    values["response_code"] = values["http_code"]
    if code == 28:
        values["time_total"] = values["time_connect"] = "1.001113"

    def var(m: re.Match[str]) -> str:
        if m.group(0) == "%%":
            return "%"
        if m.group(1) not in values:
            ctx.error(f"curl: unknown --write-out variable: '{m.group(1)}'\n")
            return ""
        return values[m.group(1)]

    fmt = fmt.replace("\\n", "\n").replace("\\t", "\t").replace("\\r", "\r").replace("\\\\", "\\")
    return re.sub(r"%%|%\{([a-z_]+)\}", var, fmt)


# -- busybox wget 1.37 (networking/wget.c) ----------------------------------------------------------------


WGET_USAGE = ("BusyBox v1.37.0 (2024-12-13 17:06:28 UTC) multi-call binary.\n\nUsage: wget [-cqS] "
              "[--spider] [-O FILE] [-o LOGFILE] [--header STR] [--post-data STR | --post-file FILE] "
              "[-Y on/off] [--no-check-certificate] [-P DIR] [-U AGENT] [-T SEC] URL...\n")
WGET_LONG = {
    # busybox networking/wget.c wget_longopts (FEATURE_WGET_LONG_OPTIONS, DESKTOP): name → (short, has_arg);
    # "" marks the options busybox accepts and ignores
    "continue": ("c", False), "quiet": ("q", False), "server-response": ("S", False),
    "output-document": ("O", True), "output-file": ("o", True), "directory-prefix": ("P", True),
    "proxy": ("Y", True), "user-agent": ("U", True), "timeout": ("T", True), "tries": ("t", True),
    "header": ("header", True), "post-data": ("post-data", True), "post-file": ("post-file", True),
    "spider": ("spider", False), "no-check-certificate": ("no-check-certificate", False), "passive-ftp": ("", False),
    "no-cache": ("", False), "no-verbose": ("", False), "no-clobber": ("", False),
    "no-host-directories": ("", False), "no-parent": ("", False),
}
WGET_SHORT = {"c": False, "q": False, "S": False, "O": True, "o": True, "P": True, "Y": True, "U": True, "T": True,
              "t": True}


def wget_options(args: list[str]) -> tuple[list[tuple[str, str]], list[str]] | str:
    """busybox wget's command line as getopt_long reads it: (options, URLs), or the error line.

    Long options take ``--name=value`` or ``--name value`` and any unambiguous prefix (``--time=2``), short
    ones cluster (``-qO-``); an option busybox does not know is ``unrecognized option`` / ``invalid option``.
    """
    opts: list[tuple[str, str]] = []
    urls: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            urls += args[i + 1:]
            break
        if arg.startswith("--"):
            key, eq, value = arg[2:].partition("=")
            matches = [n for n in WGET_LONG if n == key] or [n for n in WGET_LONG if n.startswith(key)]
            if len(matches) != 1:
                word = "ambiguous" if len(matches) > 1 else "unrecognized"
                return f"wget: {word} option '{arg.split('=')[0] if word == 'ambiguous' else arg}'"
            short, has_arg = WGET_LONG[matches[0]]
            if has_arg and not eq:
                if i + 1 >= len(args):
                    return f"wget: option '--{matches[0]}' requires an argument"
                i += 1
                value = args[i]
            elif not has_arg and eq:
                return f"wget: option '--{matches[0]}' doesn't allow an argument"
            if short:
                opts.append((short, value))
        elif arg.startswith("-") and len(arg) > 1:
            j = 1
            while j < len(arg):
                c = arg[j]
                if c not in WGET_SHORT:
                    return f"wget: invalid option -- '{c}'"
                if WGET_SHORT[c]:
                    value = arg[j + 1:]
                    if not value:
                        if i + 1 >= len(args):
                            return f"wget: option requires an argument -- '{c}'"
                        i += 1
                        value = args[i]
                    opts.append((c, value))
                    break
                opts.append((c, ""))
                j += 1
        else:
            urls.append(arg)
        i += 1
    return opts, urls


def _wget_tls(ctx: Ctx, conn: Connection, host: str, check: bool, timeout: float) -> Generator[Step, None, Any]:
    """busybox wget's TLS: the busybox image's own TLS code verifies nothing and says so (networking/tls.c
    via wget.c spawn_ssl_client); Alpine's busybox hands the connection to ``ssl_client`` (OpenSSL), which
    verifies against the image's public CAs unless --no-check-certificate. The session, or None: the transfer
    failed."""
    from . import tls

    sni = "" if is_ip(host) else host
    server = ctx.dp.workloads.tls_server(conn, sni)
    if server is None:
        ctx.error("wget: error getting response: Connection reset by peer\n")
        return None
    internal = ctx.family in ("busybox", "busyboxplus")
    if internal and check:
        ctx.error("wget: note: TLS certificate validation not implemented\n")
    client = tls.client_context(outside.roots_pem(ctx.dp.sb), check and not internal)
    if isinstance(server, tls.Remote):  # a real server (Traefik) does its own handshake
        opening = server.open(client, sni)
        if not (yield from wait_for(ctx, opening, timeout)):
            ctx.error("wget: download timed out\n")
            return None
        shake = opening.result()
        if shake.failed_side == "reset":
            ctx.error("wget: error getting response: Connection reset by peer\n")
            return None
    else:
        shake = tls.handshake(client, server, sni, now=ctx.dp.sb.clock.now())
    if shake.ok:
        return shake
    step = "tls_post_process_server_certificate" if shake.verify_code else "ssl3_read_bytes"
    ctx.error(f"40D7F2E6A67F0000:error:0A000086:SSL routines:{step}:{shake.verify_message or shake.error}:"
              "ssl/statem/statem_clnt.c:2124:\nssl_client: SSL_connect\n"
              "wget: error getting response: Connection reset by peer\n")
    return None


def cmd_apk(ctx: Ctx, name: str, args: list[str]) -> int:
    """Alpine's package manager: the emulated outside world (:mod:`.outside`) has no package mirror, so none
    answers."""
    if args[:1] in (["--version"], ["-V"]):
        ctx.write("apk-tools 2.14.6, compiled for x86_64.\n")
        return 0
    ctx.error("k8snet sandbox: apk cannot reach a package mirror: the sandbox's outside world has none. "
              "Use an image that has the program (curlimages/curl for curl, nicolaka/netshoot for dig, nc, "
              "tcpdump).\n")
    return 1


def cmd_wget(ctx: Ctx, name: str, args: list[str]) -> Generator[Step, None, int]:
    """busybox wget: GET (or POST with --post-data), --spider, -S, -O, -T, --header, -U (networking/wget.c)."""
    parsed = wget_options(args)
    if isinstance(parsed, str):
        ctx.error(f"{parsed}\n{WGET_USAGE}")
        return 1
    opts, urls = parsed
    quiet, output, spider, show_headers, check = False, "", False, False, True
    headers: list[str] = []
    ua, post, timeout = "Wget", None, 900  # busybox's default -T: 900 s
    for key, value in opts:
        if key == "q":
            quiet = True
        elif key == "O":
            output = value
        elif key == "U":
            ua = value
        elif key == "S":
            show_headers = True
        elif key == "header":
            headers.append(value)
        elif key == "post-data":
            post = value.encode()
        elif key == "post-file":
            post = ctx.fs.read(FileSystem.norm(value, ctx.cwd))
            if post is None:
                ctx.error(f"wget: can't open '{value}': No such file or directory\n")
                return 1
        elif key == "spider":
            spider = True
        elif key == "no-check-certificate":
            check = False
        elif key == "T" and not value.isdigit():  # "T:+": a number (xatou)
            ctx.error(f"wget: invalid number '{value}'\n")
            return 1
        elif key == "T":
            timeout = int(value)
        # -T: a timed-out connection fails at once either way; -c -P -Y -t -o: accepted, no effect here
    if not urls:
        ctx.error(WGET_USAGE)
        return 1
    parts = urlsplit(urls[0] if "://" in urls[0] else "http://" + urls[0])
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn = yield from connect(ctx, host, port, "TCP", stub="libc")
    except DnsError:
        ctx.error(f"wget: bad address '{host}'\n")
        return 1
    except Timeout:
        ctx.error("wget: download timed out\n")
        return 1
    except NetError as exc:
        from .workloads import _hop_ip

        ip = host if is_ip(host) else _hop_ip(exc, host)
        ctx.error(f"wget: can't connect to remote host ({ip}): Connection refused\n")
        return 1
    ip = dialed_ip(conn, host)
    if not quiet:
        ctx.error(f"Connecting to {parts.netloc} ({ip}:{port})\n")
    if conn.reset:  # a ztunnel accepted the connection and closed it (busybox wget.c: "error getting response")
        ctx.error("wget: error getting response: Connection reset by peer\n")
        return 1
    session = (yield from _wget_tls(ctx, conn, host, check, float(timeout))) if parts.scheme == "https" else None
    if parts.scheme == "https" and session is None:
        return 1
    request_headers = {"Host": parts.netloc, "User-Agent": ua, "Connection": "close"}
    if post is not None:
        request_headers["Content-Type"] = "application/x-www-form-urlencoded"
        request_headers["Content-Length"] = str(len(post))
    for h in headers:
        key, _, value = h.partition(":")
        request_headers[key.strip()] = value.strip()
    method = "POST" if post is not None else "HEAD" if spider else "GET"
    response = ctx.dp.workloads.serve_http(conn, HttpRequest(method, path, request_headers, body=post or b"",
                                                             host=parts.netloc, scheme=parts.scheme or "http",
                                                             tls=session))
    if response.status == PENDING:
        response = yield from await_answer(ctx, response, float(timeout))
        if response is None:
            ctx.error("wget: download timed out\n")
            return 1
    if response.status in (RAW_REPLY, EMPTY_REPLY, TLS_ALERT):
        ctx.error("wget: error getting response\n")
        return 1
    if show_headers:  # -S: the status line and headers, two spaces in (wget.c gethdr with option_mask S)
        import http as http_status

        reason = http_status.HTTPStatus(response.status).phrase if 100 <= response.status < 600 else ""
        ctx.error(f"  HTTP/1.1 {response.status} {reason}\n" +
                  "".join(f"  {k}: {v}\n" for k, v in response.headers.items()))
    if response.status >= 400:
        import http as http_status

        reason = http_status.HTTPStatus(response.status).phrase if response.status < 600 else ""
        ctx.error(f"wget: server returned error: HTTP/1.1 {response.status} {reason}\n")
        return 1
    if spider:
        if not quiet:
            ctx.error("remote file exists\n")
        return 0
    target = output or posixpath.basename(parts.path) or "index.html"
    size = len(response.body)
    if not quiet:
        shown = "-" if target == "-" else target
        ctx.error("writing to stdout\n" if target == "-" else f"saving to '{target}'\n")
        ctx.error(f"{shown[:20]:<20} 100% |{'*' * 32}| {size:>5}  0:00:00 ETA\n")
        ctx.error("written to stdout\n" if target == "-" else f"'{target}' saved\n")
    if target == "-":
        ctx.write(response.body)
    else:
        problem = ctx.fs.write(FileSystem.norm(target, ctx.cwd), response.body)
        if problem:
            ctx.error(f"wget: can't open '{target}': {problem}\n")
            return 1
    return 0


# -- nslookup (busybox; the answer comes from dns.Resolver) -----------------------------------------------


def cmd_nslookup(ctx: Ctx, name: str, args: list[str]) -> int:
    qtype = "A"
    names = []
    for arg in args:
        if arg.startswith(("-type=", "-query=", "-q=")):
            qtype = arg.partition("=")[2].upper()
        elif arg.startswith("-"):
            ctx.error(f"k8snet sandbox: nslookup {arg} is not emulated (-type= is)\n")
            return 1
        else:
            names.append(arg)
    if not names:
        ctx.error("BusyBox v1.37.0 (2024-12-13 17:06:28 UTC) multi-call binary.\n\nUsage: nslookup [-type=QUERY_TYPE] "
                  "[-debug] HOST [DNS_SERVER]\n\nQuery DNS about HOST\n")
        return 1
    resolver = ctx.dp.dns
    answer = resolver.lookup(ctx.pod, names[0], qtype)
    formatter = getattr(resolver, "format_nslookup", None)
    if formatter is None:
        from .dns import format_nslookup as formatter  # type: ignore[no-redef]
    stdout, stderr, code = formatter(answer)
    ctx.write(stdout)
    if stderr:
        ctx.error(stderr)
    return code


HANDLERS = {
    "cat": cmd_cat, "echo": cmd_echo, "touch": cmd_touch, "rm": cmd_rm, "ls": cmd_ls, "mkdir": cmd_mkdir,
    "hostname": cmd_hostname, "date": cmd_date, "env": cmd_env, "printenv": cmd_env,
    "true": cmd_true, "false": cmd_true, "test": cmd_test, "[": cmd_test, "pwd": cmd_pwd, "apk": cmd_apk,
    "nslookup": cmd_nslookup, "nginx": cmd_nginx, "/http-echo": cmd_http_echo, "/coredns": cmd_coredns,
}
HANDLERS.update(applets.HANDLERS)
HANDLERS.update(netapplets.HANDLERS)
HANDLERS.update({name: cniimages.cmd_probe for name in ("calico-node", "/bin/calico-node", "check-status",
                                                        "/usr/bin/check-status", "/cni-uninstall.sh")})
HANDLERS.update({"hubble": ciliumcli.cmd_hubble, "cilium-dbg": ciliumcli.cmd_cilium_dbg})
STEPWISE = {"wget": cmd_wget, "sleep": cmd_sleep, "sh": cmd_shell, "ash": cmd_shell, "bash": cmd_shell, "dash": cmd_shell,
            "zsh": cmd_shell, "curl": cmd_curl, "/agnhost": cmd_agnhost, "/agnhost-2": cmd_agnhost,
            **applets.STEPWISE, **netapplets.STEPWISE}
"""Programs that pause: they yield between their steps, and ``sleep`` waits on the clock."""
