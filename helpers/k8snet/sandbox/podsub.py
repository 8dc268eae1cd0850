"""Pod subresources: ``exec`` over WebSocket, ``log`` as plain text, ``binding`` and ``eviction``.

In a real cluster the API server proxies exec and log to the kubelet; here the
emulated data plane answers (``sandbox.dataplane.exec`` and
``sandbox.dataplane.logs``), and this module speaks the wire protocols and
words the errors as kube-apiserver and the kubelet do:

- exec: the channel WebSocket protocols of
  k8s.io/apimachinery/pkg/util/httpstream/wsstream (v5 as the API server's
  stream translator serves it, staging/src/k8s.io/apiserver/pkg/util/proxy/
  websocket.go + streamtranslator.go; v4 and older as the kubelet serves them).
  kubectl >= 1.30 offers only ``v5.channel.k8s.io`` over WebSocket and falls
  back to SPDY only when the upgrade fails
  (client-go tools/remotecommand/websocket.go, fallback.go); SPDY is refused
  with a clear message. The Python client offers v5 then v4
  (kubernetes/stream/ws_client.py).
- log: pkg/registry/core/pod/strategy.go (LogLocation, validateContainer) and
  the kubelet's validateContainerLogStatus (pkg/kubelet/kubelet_pods.go).
- binding: pkg/registry/core/pod/storage/storage.go (BindingREST,
  setPodNodeAndMetadata); eviction: pkg/registry/core/pod/storage/eviction.go
  (no PodDisruptionBudgets are served, so every eviction is allowed).

The emulated commands run to completion on the stdin collected so far
(:data:`STDIN_QUIET`), since no real process reads stdin as it arrives.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from . import decode, errors, options, protobuf
from .apiserver import DeleteOptions
from .dataplane.commands import KILLED
from .dataplane.context import Pipe, Terminal
from .server import API_SERVER
from .validation import check_schema

if TYPE_CHECKING:
    from .instance import Sandbox
    from .registry import ResourceType

log = logging.getLogger("k8snet.sandbox.podsub")

Pod = dict[str, Any]

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
V4_BASE64 = "v4.base64.channel.k8s.io"
V1 = "channel.k8s.io"
V1_BASE64 = "base64.channel.k8s.io"
PROTOCOLS = (V5, V4, V4_BASE64, V1, V1_BASE64)
"""What the kubelet (v1-v4) and the API server's translator (v5) accept; the client's order wins."""

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255

STDIN_QUIET = 0.5
"""Seconds without stdin after which the command runs on what arrived: a client half-closes stdin
only with v5 and without a TTY (``echo x | kubectl exec -i``); ``kubectl exec -it POD -- hostname``
and v4 clients never do, and a real ``hostname`` would not wait for them."""
STDIN_LIMIT = 16 * 1024 * 1024
FRAME = 32 * 1024
"""Payload bytes per WebSocket message (client-go's read buffer is 32 KiB)."""
FOLLOW_POLL = 0.5
"""Seconds between checks that a followed pod still runs and its client is still there."""


def truthy(value: str | None) -> bool:
    """A boolean query parameter as Go's strconv.ParseBool reads it (the parameter codec)."""
    return (value or "").lower() in ("1", "t", "true")


def choose_container(pod: Pod, container: str) -> str:
    """The container a request names, or the only one; worded as validateContainer upstream."""
    name = pod["metadata"]["name"]
    containers = [c["name"] for c in pod["spec"].get("containers") or []]
    every = [c["name"] for key in ("initContainers", "containers", "ephemeralContainers")
             for c in pod["spec"].get(key) or []]
    if not container:
        if len(containers) == 1:
            return containers[0]
        if not containers:
            raise errors.bad_request(f"a container name must be specified for pod {name}")
        raise errors.bad_request(f"a container name must be specified for pod {name}, "
                                 f"choose one of: [{' '.join(every)}]")
    if container not in every:
        raise errors.bad_request(f"container {container} is not valid for pod {name}")
    return container


def container_status(pod: Pod, container: str) -> dict[str, Any] | None:
    status = pod.get("status") or {}
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for cs in status.get(key) or []:
            if cs.get("name") == container:
                return cs
    return None


def require_node(pod: Pod) -> None:
    """exec needs a node to proxy to (streamLocation in pkg/registry/core/pod/strategy.go)."""
    if not pod["spec"].get("nodeName"):
        raise errors.bad_request(f"pod {pod['metadata']['name']} does not have a host assigned")


# -- exec -------------------------------------------------------------------------------


@dataclass
class ExecOptions:
    """The PodExecOptions query parameters."""

    command: list[str]
    container: str = ""
    stdin: bool = False
    stdout: bool = False
    stderr: bool = False
    tty: bool = False

    @classmethod
    def from_query(cls, query: Any) -> ExecOptions:
        # "input"/"output"/"error" are the kubelet's names for the same flags.
        def flag(name: str, alias: str) -> bool:
            return truthy(query.get(name)) or truthy(query.get(alias))

        tty = truthy(query.get("tty"))
        return cls(command=list(query.getall("command", [])), container=query.get("container", ""),
                   stdin=flag("stdin", "input"), stdout=flag("stdout", "output"),
                   stderr=flag("stderr", "error") and not tty, tty=tty)

    def validate(self) -> None:
        if not self.command:
            raise errors.bad_request("you must specify at least one command for the container")
        if not (self.stdin or self.stdout or self.stderr):
            raise errors.bad_request("you must specify at least 1 of stdin, stdout, stderr")


def exit_status(code: int) -> dict[str, Any]:
    """The metav1.Status sent on the error channel, as JSON-marshalled by upstream (no kind, ``metadata: {}``)."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: command terminated with exit code {code}",
            "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def internal_status(message: str) -> dict[str, Any]:
    """An apierrors.NewInternalError as the stream translator reports a failed session."""
    return {"metadata": {}, "status": "Failure", "message": f"Internal error occurred: {message}",
            "reason": "InternalError", "details": {"causes": [{"message": message}]}, "code": 500}


def not_running(pod: Pod, container: str) -> str:
    """Why exec cannot reach the container ('' when it runs): the kubelet's findContainer error."""
    cs = container_status(pod, container) or {}
    if (cs.get("state") or {}).get("running") is None:
        return f'unable to upgrade connection: container not found ("{container}")'
    return ""


class Channels:
    """One negotiated channel protocol: framing of outgoing and incoming messages."""

    def __init__(self, ws: web.WebSocketResponse, protocol: str):
        self.ws = ws
        self.protocol = protocol
        self.base64 = protocol in (V4_BASE64, V1_BASE64)
        self.v5 = protocol == V5
        self.json_status = protocol in (V5, V4, V4_BASE64)

    def encode(self, channel: int, data: bytes) -> bytes | str:
        """wsstream: binary frames are ``[channel] + data``; base64 frames ``'0'+channel`` + base64(data)."""
        if self.base64:
            return chr(ord("0") + channel) + base64.b64encode(data).decode()
        return bytes([channel]) + data

    def decode(self, data: bytes | str) -> tuple[int, bytes] | None:
        """Inverse of :meth:`encode`; text frames of binary protocols are accepted too (the Python client
        sends ``str`` stdin as text frames)."""
        raw = data.encode() if isinstance(data, str) else data
        if not raw:
            return None
        if self.base64:
            return raw[0] - ord("0"), base64.b64decode(raw[1:])
        return raw[0], raw[1:]

    async def send(self, channel: int, data: bytes) -> None:
        frames = [data[i:i + FRAME] for i in range(0, len(data), FRAME)] or [b""]
        for chunk in frames:
            frame = self.encode(channel, chunk)
            if isinstance(frame, str):
                await self.ws.send_str(frame)
            else:
                await self.ws.send_bytes(frame)

    async def send_status(self, status: dict[str, Any]) -> None:
        """v4+ send the Status as JSON, success included; v1-v3 send only a failure's message
        (the kubelet's v1WriteStatusFunc / v4WriteStatusFunc)."""
        if self.json_status:
            await self.send(ERROR, json.dumps(status, separators=(",", ":")).encode())
        elif status["status"] != "Success":
            await self.send(ERROR, status["message"].encode())

    async def read_stdin(self, quiet: float) -> bytes | None:
        """Collect stdin until the client closes it (v5), or sends nothing for ``quiet`` seconds.

        Returns None when the client went away.
        """
        loop = asyncio.get_running_loop()
        buf = bytearray()
        deadline = loop.time() + quiet
        while True:
            try:
                msg = await self.ws.receive(timeout=max(0.0, deadline - loop.time()))
            except TimeoutError:
                return bytes(buf)
            if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                return None
            frame = self.decode(msg.data)
            if frame is None:
                continue
            channel, data = frame
            if channel == CLOSE and self.v5:
                if data[:1] == bytes([STDIN]):
                    return bytes(buf)
            elif channel == STDIN:
                if len(buf) < STDIN_LIMIT:
                    buf += data[:STDIN_LIMIT - len(buf)]
                deadline = loop.time() + quiet


PYTHON_CLIENT = "OpenAPI-Generator/"
"""The User-Agent prefix of the kubernetes Python client, which buffers every channel from the first frame."""

STREAM_SETUP_GRACE = 0.02
"""Seconds between the upgrade and the first frame for other clients. client-go (kubectl) starts reading the
WebSocket while it is still registering its streams (tools/remotecommand/websocket.go: ``go
creator.readDemuxLoop`` before ``streamer.stream(creator)``) and drops frames for streams it has not registered
yet ("Unknown stream id 1, discarding message", then "closed all streams"). A real API server first dials the
kubelet and the runtime starts the process, which takes longer than that registration; an emulated command
answers at once, so the sandbox waits as long as that start would take."""


def data_plane(sb: Sandbox) -> Any:
    """The sandbox's data plane, or a clear 503 while its modules are missing."""
    try:
        return sb.dataplane
    except ImportError as exc:
        raise errors.ApiError(f"the sandbox data plane is not available: {exc}", 503, "ServiceUnavailable") from exc


async def exec_(sb: Sandbox, request: web.Request, rt: ResourceType, ns: str, name: str) -> web.StreamResponse:
    """``pods/exec``: validate before the upgrade (errors as HTTP Status), then run over the channels."""
    pod = sb.api.get(rt, ns, name)
    opts = ExecOptions.from_query(request.query)
    container = choose_container(pod, opts.container)
    require_node(pod)
    opts.validate()
    ws, channels = await upgrade(request, "exec")
    if not opts.stdin and not request.headers.get("User-Agent", "").startswith(PYTHON_CLIENT):
        await asyncio.sleep(STREAM_SETUP_GRACE)
    try:
        # As the API server does: an empty message on the lowest writable channel says "established".
        await channels.send(STDOUT if opts.stdout else STDERR if opts.stderr else ERROR, b"")
        status = await run_exec(sb, pod, container, opts, channels)
        if status is not None:
            await channels.send_status(status)
    except ConnectionResetError:  # the client went away; nothing to report to
        pass
    finally:
        await ws.close()
    return ws


async def upgrade(request: web.Request, verb: str) -> tuple[web.WebSocketResponse, Channels]:
    """Switch the request to a WebSocket with the channel protocol it offers (errors as HTTP Status)."""
    ws = web.WebSocketResponse(protocols=PROTOCOLS, max_msg_size=0)
    ready = ws.can_prepare(request)
    if not ready.ok:
        if request.headers.get("Upgrade", "").lower().startswith("spdy"):
            raise errors.bad_request(f"the k8snet sandbox serves {verb} over WebSocket only (v5.channel.k8s.io, "
                                     "v4.channel.k8s.io); SPDY is not supported")
        raise errors.bad_request("Upgrade request required")
    await ws.prepare(request)
    return ws, Channels(ws, ready.protocol or V1)  # no subprotocol: the kubelet's "" is channel.k8s.io


async def run_exec(sb: Sandbox, pod: Pod, container: str, opts: ExecOptions,
                   channels: Channels) -> dict[str, Any] | None:
    """Run the emulated command, its output sent as it is written; the Status to send (None: client gone).

    With a terminal and stdin the session is interactive (the keys go through the pty's line discipline
    into the command's open standard input, as ``kubectl exec -it POD -- sh``); stdin without a terminal is
    collected first (``echo … | kubectl exec -i``)."""
    problem = not_running(pod, container)
    if problem:
        return internal_status(problem)
    pipe = terminal = None
    stdin: bytes | None = None
    if opts.stdin and opts.tty:
        pipe = Pipe()
        terminal = Terminal(pipe)
    elif opts.stdin:
        stdin = await channels.read_stdin(STDIN_QUIET)
        if stdin is None:
            return None
    try:
        dp = data_plane(sb)
    except errors.ApiError as exc:
        return internal_status(exc.message)
    output: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
    uid = pod["metadata"]["uid"]
    ended = dp.session(uid)
    task = asyncio.create_task(dp.exec(pod, container, opts.command, stdin, opts.tty, pipe,
                                       lambda channel, data: output.put_nowait((channel, data))))
    # A client that leaves ends the command, with or without a terminal: the kubelet's streaming server runs the
    # exec under the request's context (cri-streaming remotecommand.ServeExec: ExecInContainer(req.Context(), …))
    # and containerd's CRI kills the process with SIGKILL once that context is done (container_execsync.go).
    keys = asyncio.create_task(pump_stdin(channels, pipe, terminal))
    try:
        while not task.done() or not output.empty():
            getter = asyncio.create_task(output.get())
            done, _ = await asyncio.wait({getter, task, keys, ended}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                if ended in done and not task.done():  # the pod's containers were killed, the process with them
                    task.cancel()
                    return exit_status(KILLED)
                if keys in done and not task.done():
                    task.cancel()  # the client left: the command is killed with its session
                    return None
                continue
            await _send_output(channels, opts, *getter.result())
        result = task.result()
    except errors.ApiError as exc:
        return internal_status(exc.message)
    except ImportError as exc:  # a data plane module has not landed yet
        return internal_status(f"the sandbox data plane is not available: {exc}")
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a bug: reported on the error channel, as the translator reports failures
        log.exception("exec %s in %s/%s failed", opts.command, pod["metadata"].get("namespace"),
                      pod["metadata"]["name"])
        return internal_status(f"{type(exc).__name__}: {exc}")
    finally:
        keys.cancel()
        dp.close_session(uid, ended)
        if not task.done():
            task.cancel()
    await _send_output(channels, opts, 1, result.stdout)
    await _send_output(channels, opts, 2, result.stderr)
    return exit_status(result.exit_code)


async def _send_output(channels: Channels, opts: ExecOptions, channel: int, data: bytes) -> None:
    """A chunk of the command's output on its channel; a terminal has one output stream, with CR LF."""
    if not data:
        return
    if opts.tty:
        if opts.stdin:
            data = Terminal.output(data)
        if opts.stdout:
            await channels.send(STDOUT, data)
    elif channel == 1 and opts.stdout:
        await channels.send(STDOUT, data)
    elif channel == 2 and opts.stderr:
        await channels.send(STDERR, data)


async def pump_stdin(channels: Channels, pipe: Pipe | None, terminal: Terminal | None) -> None:
    """The client's standard input into a held-open ``pipe`` (through the ``terminal``'s line discipline, whose
    echo goes back on stdout) until the client leaves; v5's close of stdin is end of file. Without a pipe
    what the client sends is read and dropped."""
    while True:
        msg = await channels.ws.receive()
        if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
            return
        frame = channels.decode(msg.data)
        if frame is None:
            continue
        channel, data = frame
        if channel == CLOSE and channels.v5 and data[:1] == bytes([STDIN]):
            if pipe is not None:
                pipe.close()
        elif channel == STDIN and terminal is not None:
            echo = terminal.keys(data)
            if echo:
                await channels.send(STDOUT, echo)
        elif channel == STDIN and pipe is not None and not pipe.closed:
            pipe.feed(data)


# -- log --------------------------------------------------------------------------------


@dataclass
class LogOptions:
    """The PodLogOptions query parameters."""

    container: str = ""
    follow: bool = False
    previous: bool = False
    timestamps: bool = False
    tail_lines: int | None = None
    limit_bytes: int | None = None
    since_seconds: int | None = None
    since_time: datetime | None = None

    @classmethod
    def from_query(cls, query: Any, name: str) -> LogOptions:
        def integer(key: str) -> int | None:
            text = query.get(key)
            if text in (None, ""):
                return None
            try:
                return int(text)
            except ValueError:
                raise errors.bad_request(f'strconv.ParseInt: parsing "{text}": invalid syntax') from None

        since_time = None
        if query.get("sinceTime"):
            try:
                since_time = datetime.fromisoformat(query["sinceTime"].replace("Z", "+00:00"))
            except ValueError:
                raise errors.bad_request(f'parsing time "{query["sinceTime"]}" as RFC3339: invalid') from None
        opts = cls(container=query.get("container", ""), follow=truthy(query.get("follow")),
                   previous=truthy(query.get("previous")), timestamps=truthy(query.get("timestamps")),
                   tail_lines=integer("tailLines"), limit_bytes=integer("limitBytes"),
                   since_seconds=integer("sinceSeconds"), since_time=since_time)
        opts.validate(name)
        return opts

    def validate(self, name: str) -> None:
        """ValidatePodLogOptions (pkg/apis/core/validation), a 422 on PodLogOptions."""
        causes = []
        if self.tail_lines is not None and self.tail_lines < 0:
            causes.append(errors.field_error("PodLogOptions", "must be greater than or equal to 0", "tailLines",
                                             self.tail_lines))
        if self.limit_bytes is not None and self.limit_bytes < 1:
            causes.append(errors.field_error("PodLogOptions", "must be greater than 0", "limitBytes",
                                             self.limit_bytes))
        if self.since_seconds is not None and self.since_time is not None:
            causes.append(errors.field_error("PodLogOptions", "at most one of `sinceTime` or `sinceSeconds` may "
                                             "be specified", "", forbidden_=True))
        elif self.since_seconds is not None and self.since_seconds < 1:
            causes.append(errors.field_error("PodLogOptions", "must be greater than 0", "sinceSeconds",
                                             self.since_seconds))
        if causes:
            raise errors.invalid("PodLogOptions", "", name, causes)


def rfc3339nano(t: datetime) -> str:
    """Go's time.RFC3339Nano in UTC, as the kubelet prefixes lines with ``timestamps=true`` (trailing zeros cut)."""
    t = t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC)
    fraction = f"{t.microsecond:06d}".rstrip("0")
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


def log_problem(pod: Pod, container: str, previous: bool) -> str:
    """The kubelet's validateContainerLogStatus: why there are no logs to read ('' when there are)."""
    pod_name = pod["metadata"]["name"]
    cs = container_status(pod, container)
    if cs is None:
        if (pod.get("status") or {}).get("phase", "Pending") == "Pending":
            return f'container "{container}" in pod "{pod_name}" is waiting to start: ContainerCreating'
        return f'container "{container}" in pod "{pod_name}" is not available'
    state, last = cs.get("state") or {}, (cs.get("lastState") or {}).get("terminated")
    if previous:
        if not last or not last.get("containerID"):
            return f'previous terminated container "{container}" in pod "{pod_name}" not found'
        return ""
    if state.get("running") is not None or (state.get("terminated") or {}).get("containerID"):
        return ""
    if state.get("terminated") is not None or last:
        if last and last.get("containerID"):
            return ""
        return f'container "{container}" in pod "{pod_name}" is terminated'
    waiting = state.get("waiting")
    if waiting is not None:
        reason = waiting.get("reason", "")
        if reason == "ErrImagePull":
            return f'container "{container}" in pod "{pod_name}" is waiting to start: image can\'t be pulled'
        if reason == "ImagePullBackOff":
            return (f'container "{container}" in pod "{pod_name}" is waiting to start: trying and failing to '
                    f'pull image')
        return f'container "{container}" in pod "{pod_name}" is waiting to start: {reason}'
    return f'container "{container}" in pod "{pod_name}" is waiting to start - no logs yet'


class LogWriter:
    """Renders log lines with the options: since, tail (backlog only), timestamps, limitBytes (whole stream)."""

    def __init__(self, opts: LogOptions, now: datetime):
        self.opts = opts
        self.left = opts.limit_bytes
        self.since = opts.since_time
        if opts.since_seconds is not None:
            self.since = now - timedelta(seconds=opts.since_seconds)

    def backlog(self, lines: list[tuple[datetime, str]]) -> bytes:
        if self.since is not None:
            lines = [(t, s) for t, s in lines if aware(t) >= aware(self.since)]
        if self.opts.tail_lines is not None:
            lines = lines[max(0, len(lines) - self.opts.tail_lines):] if self.opts.tail_lines else []
        return b"".join(self.line(t, s) for t, s in lines)

    def line(self, t: datetime, text: str) -> bytes:
        out = ((rfc3339nano(t) + " ") if self.opts.timestamps else "") + text
        data = (out if out.endswith("\n") else out + "\n").encode()
        if self.left is not None:
            data, self.left = data[:self.left], max(0, self.left - len(data))
        return data

    @property
    def exhausted(self) -> bool:
        return self.left == 0


def aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


async def log_(sb: Sandbox, request: web.Request, rt: ResourceType, ns: str, name: str) -> web.StreamResponse:
    """``pods/log``: the container's lines as text/plain; ``follow`` streams until the container goes away."""
    pod = sb.api.get(rt, ns, name)
    opts = LogOptions.from_query(request.query, name)
    container = choose_container(pod, opts.container)
    if not pod["spec"].get("nodeName"):  # LogLocation returns no location: an empty stream
        return web.Response(body=b"", content_type="text/plain")
    problem = log_problem(pod, container, opts.previous)
    if problem:
        raise errors.bad_request(problem)
    book = data_plane(sb).logs
    uid = pod["metadata"]["uid"]
    writer = LogWriter(opts, sb.clock.now())
    if opts.previous:  # the last terminated instance's lines (never followed: that instance has ended)
        return web.Response(body=writer.backlog(book.previous(uid, container)), content_type="text/plain")
    if not opts.follow:
        return web.Response(body=writer.backlog(book.lines(uid, container)), content_type="text/plain")
    queue = book.subscribe(uid, container)  # before reading the backlog: no line falls in between
    try:
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        await resp.write(writer.backlog(book.lines(uid, container)))
        while not writer.exhausted and still_following(sb, request, rt, ns, name, uid, container):
            try:
                item = await asyncio.wait_for(queue.get(), FOLLOW_POLL)
            except TimeoutError:
                continue
            if item is None:
                break
            await resp.write(writer.line(*item))
        await resp.write_eof()
    except ConnectionResetError:
        pass
    finally:
        book.unsubscribe(queue)
    return resp


def still_following(sb: Sandbox, request: web.Request, rt: ResourceType, ns: str, name: str, uid: str,
                    container: str) -> bool:
    """The kubelet stops following when the container stops; the server, when the client has gone or it stops."""
    transport = request.transport
    if transport is None or transport.is_closing():
        return False
    server = request.app.get(API_SERVER)
    if server is not None and server.stopping.is_set():
        return False
    pod = sb.store.get(rt.group_resource, ns, name)
    if pod is None or pod["metadata"].get("uid") != uid:
        return False
    return ((container_status(pod, container) or {}).get("state") or {}).get("running") is not None


# -- binding and eviction ---------------------------------------------------------------


async def read_body(sb: Sandbox, request: web.Request, group: str, kind: str) -> dict[str, Any]:
    """A Binding or Eviction body decoded and type-checked as the apiserver decodes it (decode.py, the kind's
    schema), and its create options validated (CreateOptions: dryRun, fieldManager)."""
    options.validate_write("CreateOptions", request.query, request.query.get("fieldManager", ""))
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise decode.too_large() from None
    ctype = request.headers.get("Content-Type", "application/json").split(";")[0].strip()
    if ctype == "application/vnd.kubernetes.protobuf":
        body = protobuf.decode(raw)
    elif ctype in ("application/yaml", "application/x-yaml"):
        body = decode.decode_yaml(raw).value
    else:
        body = decode.decode_json(raw).value if raw else None
    if not isinstance(body, dict):
        raise errors.bad_request(f"the body of the request was not a {kind} object")
    node = sb.schemas.for_kind(group, "v1", kind)
    body.setdefault("apiVersion", f"{group}/v1" if group else "v1")
    body.setdefault("kind", kind)
    meta = body.get("metadata")
    check_schema(body, sb.schemas, node, kind=kind, group=group, mode="Ignore",
                 name=str(meta.get("name", "")) if isinstance(meta, dict) else "")
    return body


def created_status() -> web.Response:
    """What a create that returns a Status answers (the create handler fills in code 201)."""
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
    return web.json_response(body, status=201)


async def binding(sb: Sandbox, request: web.Request, rt: ResourceType, ns: str, name: str) -> web.Response:
    """``pods/binding``: assign a node, as the scheduler does (BindingREST.Create)."""
    body = await read_body(sb, request, "", "Binding")
    meta = body.get("metadata") or {}
    if meta.get("name", name) != name:
        raise errors.bad_request("name in URL does not match name in Binding object")
    target = body.get("target") or {}
    causes = []
    if target.get("kind") and target["kind"] != "Node":
        causes.append(errors.field_error("Binding", "", "target.kind", target["kind"], not_supported=["Node",
                                                                                                       "<empty>"]))
    if not target.get("name"):
        causes.append(errors.field_error("Binding", "", "target.name", required=True))
    if causes:
        raise errors.invalid("Binding", "", name, causes)
    node = target["name"]
    if sb.store.get("nodes", "", node) is None:  # the sandbox cannot run pods on a node it does not have
        nodes = ", ".join(n["metadata"]["name"] for n in sb.store.list("nodes"))
        raise errors.bad_request(f'node "{node}" does not exist in the k8snet sandbox (nodes: {nodes})')
    pod = sb.api.get(rt, ns, name)
    if pod["metadata"].get("deletionTimestamp"):
        raise errors.ApiError(f"pod {name} is being deleted, cannot be assigned to a host", 500)
    if pod["spec"].get("nodeName"):
        raise errors.conflict("pods/binding", "", name,
                              f'pod {name} is already assigned to node "{pod["spec"]["nodeName"]}"')
    for key in ("uid", "resourceVersion"):
        if meta.get(key) and meta[key] != pod["metadata"].get(key):
            raise errors.conflict("pods/binding", "", name, f"Precondition failed: {key} in precondition: "
                                  f"{meta[key]}, {key} in object meta: {pod['metadata'].get(key)}")
    if options.dry_run(request.query):
        return created_status()
    new = copy.deepcopy(pod)
    new["spec"]["nodeName"] = node
    if meta.get("annotations"):
        new["metadata"].setdefault("annotations", {}).update(meta["annotations"])
    conditions = new.setdefault("status", {}).setdefault("conditions", [])
    scheduled = {"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                 "lastTransitionTime": sb.api.now()}
    conditions[:] = [c for c in conditions if c.get("type") != "PodScheduled"] + [scheduled]
    sb.store.put(rt.group_resource, new)
    return created_status()


async def eviction(sb: Sandbox, request: web.Request, rt: ResourceType, ns: str, name: str) -> web.Response:
    """``pods/eviction``: a graceful delete with the Eviction's deleteOptions (no PDBs, so always allowed)."""
    body = await read_body(sb, request, "policy", "Eviction")
    if (body.get("metadata") or {}).get("name", name) != name:
        raise errors.bad_request("name in URL does not match name in Eviction object")
    sb.api.get(rt, ns, name)
    delete = body.get("deleteOptions") or {}
    dry_run = options.dry_run(request.query) or list(delete.get("dryRun") or [])
    options.validate_delete(delete.get("propagationPolicy"), delete.get("orphanDependents"), dry_run)
    sb.api.delete(rt, ns, name, DeleteOptions(
        propagation=delete.get("propagationPolicy"), grace_period=delete.get("gracePeriodSeconds"),
        preconditions=delete.get("preconditions") or {}, dry_run=bool(dry_run)))
    return created_status()


# -- dispatch ---------------------------------------------------------------------------

METHODS = {"exec": ("GET", "POST"), "log": ("GET",), "binding": ("POST",), "eviction": ("POST",)}
HANDLERS = {"exec": exec_, "log": log_, "binding": binding, "eviction": eviction}


async def handle(sb: Sandbox, request: web.Request, rt: ResourceType, ns: str, name: str,
                 sub: str) -> web.StreamResponse:
    """Serve one pod subresource (called by :meth:`Sandbox.subresource`)."""
    if sub not in HANDLERS:
        raise errors.method_not_allowed(f"pods/{sub} is not served by the k8snet sandbox")
    if request.method not in METHODS[sub]:
        raise errors.method_not_allowed("the server does not allow this method on the requested resource")
    return await HANDLERS[sub](sb, request, rt, ns, name)
