"""``pods/attach``: a client joins a running container's own process (``kubectl attach``, ``kubectl run -i``).

What the process writes from then on reaches the client; what the client types reaches the process's
held-open standard input (a container with ``stdin: true``). With ``tty: true`` the kubelet's terminal sits
in between as a pty's line discipline does: typed characters are echoed, Enter ends a line, backspace
erases, Ctrl-C drops the line, Ctrl-D on an empty line is end of file, and output newlines become CR LF.
When the client leaves a ``stdinOnce`` container, its standard input is closed (kubectl run -i --rm:
the shell reads end of file and exits, the pod completes, kubectl deletes it). The session ends when the
process does, with a Success status, as the kubelet's attach does.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import errors
from .dataplane.context import Pipe, Terminal
from .podsub import (
    ERROR,
    STDERR,
    STDOUT,
    Channels,
    choose_container,
    internal_status,
    not_running,
    pump_stdin,
    require_node,
    truthy,
    upgrade,
)

if TYPE_CHECKING:
    from .instance import Sandbox
    from .registry import ResourceType

log = logging.getLogger("k8snet.sandbox.attach")
Pod = dict[str, Any]


@dataclass
class AttachOptions:
    """The PodAttachOptions query parameters."""

    container: str = ""
    stdin: bool = False
    stdout: bool = False
    stderr: bool = False
    tty: bool = False

    @classmethod
    def from_query(cls, query: Any) -> AttachOptions:
        tty = truthy(query.get("tty"))
        return cls(query.get("container", ""), truthy(query.get("stdin")), truthy(query.get("stdout")),
                   truthy(query.get("stderr")) and not tty, tty)


async def attach(sb: Sandbox, request: web.Request, rt: ResourceType, ns: str, name: str) -> web.StreamResponse:
    """``pods/attach``: validate before the upgrade, then join the container's process."""
    pod = sb.api.get(rt, ns, name)
    opts = AttachOptions.from_query(request.query)
    container = choose_container(pod, opts.container)
    require_node(pod)
    if not (opts.stdin or opts.stdout or opts.stderr):
        raise errors.bad_request("you must specify at least 1 of stdin, stdout, stderr")
    ws, channels = await upgrade(request, "attach")
    try:
        await channels.send(STDOUT if opts.stdout else STDERR if opts.stderr else ERROR, b"")
        status = await _session(sb, pod, container, opts, channels)
        if status is not None:
            await channels.send_status(status)
    except ConnectionResetError:
        pass
    finally:
        await ws.close()
    return ws


async def _session(sb: Sandbox, pod: Pod, container: str, opts: AttachOptions,
                   channels: Channels) -> dict[str, Any] | None:
    problem = not_running(pod, container)
    if problem:
        return internal_status(problem)
    output: asyncio.Queue[bytes | None] = asyncio.Queue()
    processes = sb.dataplane.processes
    pipe = processes.attach(pod, container, output.put_nowait)
    if pipe is False:  # a server the sandbox emulates: its log lines are its output
        return await _follow_log(sb, pod, container, opts, channels)
    terminal = Terminal(pipe if isinstance(pipe, Pipe) else None) if opts.tty else None
    spec = next((c for c in pod["spec"].get("containers") or [] if c.get("name") == container), {})
    stdin = pipe if isinstance(pipe, Pipe) and opts.stdin else None
    reader = asyncio.create_task(pump_stdin(channels, stdin, terminal if opts.stdin else None))
    try:
        while True:
            getter = asyncio.create_task(output.get())
            done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                return None  # the client left
            data = getter.result()
            if data is None:
                return {"metadata": {}, "status": "Success"}
            if opts.stdout or opts.tty:
                await channels.send(STDOUT, Terminal.output(data) if opts.tty else data)
    finally:
        reader.cancel()
        processes.detach(pod, container, output.put_nowait)
        if opts.stdin and spec.get("stdinOnce") and isinstance(pipe, Pipe):
            pipe.close()  # the kubelet closes a stdinOnce container's input when its one client leaves


async def _follow_log(sb: Sandbox, pod: Pod, container: str, opts: AttachOptions,
                      channels: Channels) -> dict[str, Any] | None:
    """Attach to an emulated server: each new log line is its output, until the pod goes."""
    logs = sb.dataplane.logs
    lines = logs.subscribe(pod["metadata"].get("uid", ""), container)
    leaving = asyncio.create_task(pump_stdin(channels, None, None))  # a server reads no standard input
    try:
        while True:
            getter = asyncio.create_task(lines.get())
            done, _ = await asyncio.wait({getter, leaving}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                return None
            line = getter.result()
            if line is None:
                return {"metadata": {}, "status": "Success"}
            data = (line[1] + "\n").encode()
            await channels.send(STDOUT, Terminal.output(data) if opts.tty else data)
    finally:
        leaving.cancel()
        logs.unsubscribe(lines)
