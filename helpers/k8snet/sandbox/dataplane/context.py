"""What a program running in a container sees: its pod, files, environment, streams and budgets.

A program writes through file descriptors (:attr:`Ctx.fds`): 1 and 2 are the exec's or the container's
streams until the shell points them at a file, a pipe or a command substitution. Work and output are
counted against budgets shared by everything one exec (or one container process) runs, so a script cannot
outrun them by starting subshells or background jobs.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .files import NO_SPACE, FileSystem
from .model import CAN_WAIT, Connection, Deferred, Timeout

if TYPE_CHECKING:
    from . import DataPlane

Pod = dict[str, Any]

EXEC_CPU_BUDGET = 10.0
"""Seconds of work one exec may take (a probe gets its timeoutSeconds). The sandbox runs every program in
its own process, so a learner's 200,000-command script is run in slices between other requests, and a
program past its budget is ended as a kill would end it (exit 137) instead of running for ever."""
OUTPUT_BUDGET = 128 << 20
"""Bytes of output one exec may hold (what it writes to its streams; output redirected to a file counts
against the file system's budget instead): a program that writes without end is ended like one past its
CPU budget."""


class Killed(Exception):
    """A program went over one of its budgets; ``budget`` names it."""

    def __init__(self, budget: str):
        super().__init__(budget)
        self.budget = budget


class WriteFailed(Exception):
    """A write the file system refused (``No space left on device``); the program reports it and fails."""


@dataclass
class Budget:
    """CPU seconds and held output bytes, shared by all the shells and jobs of one exec or process."""

    cpu: float = EXEC_CPU_BUDGET
    cpu_used: float = 0.0
    held: int = 0  # output bytes written to the streams and not yet handed on (to the log, to the client)
    pids: int = 1  # the last process ID handed out ($$, $!)

    def charge(self, seconds: float) -> None:
        """Count work done; past the CPU budget the program is ended (:class:`Killed`)."""
        self.cpu_used += seconds
        if self.cpu_used > self.cpu:
            raise Killed(f"CPU budget ({self.cpu:g} s)")

    def hold(self, size: int) -> None:
        self.held += size
        if self.held > OUTPUT_BUDGET:
            raise Killed(f"output budget ({OUTPUT_BUDGET >> 20} MiB)")

    def next_pid(self) -> int:
        self.pids += 1
        return self.pids


class Sink(Protocol):
    def write(self, data: bytes) -> None: ...


@dataclass
class Stream:
    """One of the exec's (or the container's) own streams: what reaches the client or the log."""

    chunks: list[bytes]
    budget: Budget

    def write(self, data: bytes) -> None:
        if data:
            self.budget.hold(len(data))
            self.chunks.append(data)


@dataclass
class Capture:
    """A pipe's or a command substitution's buffer, read when the writer is done."""

    budget: Budget
    data: bytearray = field(default_factory=bytearray)

    def write(self, data: bytes) -> None:
        self.budget.hold(len(data))
        self.data += data


@dataclass
class FileSink:
    """A file opened by a redirection: every write lands in the container's file system at once, so another
    exec reading it sees it grow."""

    fs: FileSystem
    path: str

    def write(self, data: bytes) -> None:
        if data and self.fs.write(self.path, data, append=True) == NO_SPACE:
            raise WriteFailed(NO_SPACE)


class Null:
    """A closed descriptor (``>&-``) or ``/dev/null``: writes vanish."""

    def write(self, data: bytes) -> None:
        return None


class Pipe:
    """A container's standard input held open (``stdin: true``): what ``kubectl attach`` or ``kubectl run -i``
    sends arrives here, a line at a time for the shell reading it; closed is end of file."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.closed = False
        self.interrupted = False  # Ctrl-C on its terminal: the foreground command stops at its next step
        self._waiter: asyncio.Future[None] | None = None
        self._interrupt: asyncio.Future[None] | None = None

    def feed(self, data: bytes) -> None:
        self.data += data
        self._wake()

    def close(self) -> None:
        self.closed = True
        self._wake()

    def line(self) -> bytes | None:
        """The next whole line (the rest at end of file); None while it has not arrived."""
        end = self.data.find(b"\n")
        if end < 0 and not (self.closed and self.data):
            return None
        end = len(self.data) if end < 0 else end + 1
        out = bytes(self.data[:end])
        del self.data[:end]
        return out

    def ready(self) -> bool:
        return b"\n" in self.data or self.closed or self.interrupted

    def interrupt(self) -> None:
        self.interrupted = True
        self._wake()
        if self._interrupt is not None and not self._interrupt.done():
            self._interrupt.set_result(None)

    async def until_interrupted(self) -> None:
        while not self.interrupted:
            self._interrupt = asyncio.get_running_loop().create_future()
            await self._interrupt

    async def readable(self) -> None:
        """Wait until a line (or end of file) is there."""
        while not self.ready():
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


@dataclass
class AnyOf:
    """A step that waits for the first of several things: input on any of ``pipes`` (a background job's
    netcat or tcpdump, a held-open stdin) or sandbox time ``until``."""

    pipes: list[Pipe]
    until: float | None = None

    def ready(self, now: float) -> bool:
        return any(p.ready() for p in self.pipes) or (self.until is not None and now >= self.until)


class Terminal:
    """A pty's canonical line discipline between typed keys and a held-open standard input: characters are
    echoed, Enter ends a line, backspace erases, Ctrl-C interrupts and drops the line, Ctrl-D on an empty
    line is end of file; output newlines become CR LF (ONLCR)."""

    def __init__(self, pipe: Pipe | None):
        self.pipe = pipe
        self.line = bytearray()

    def keys(self, data: bytes) -> bytes:
        """Take typed bytes; what the terminal echoes back."""
        echo = bytearray()
        for byte in data:
            ch = bytes([byte])
            if ch in (b"\r", b"\n"):
                echo += b"\r\n"
                if self.pipe is not None and not self.pipe.closed:
                    self.pipe.feed(bytes(self.line) + b"\n")
                self.line.clear()
            elif ch in (b"\x7f", b"\x08"):
                if self.line:
                    self.line.pop()
                    echo += b"\b \b"
            elif ch == b"\x03":
                echo += b"^C\r\n"
                self.line.clear()
                if self.pipe is not None:
                    self.pipe.interrupt()
            elif ch == b"\x04":
                if not self.line and self.pipe is not None:
                    self.pipe.close()
            else:
                self.line += ch
                echo += ch
        return bytes(echo)

    @staticmethod
    def output(data: bytes) -> bytes:
        return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


@dataclass
class Ctx:
    """One program's view of its container: the pod, its files and environment, its descriptors."""

    dp: DataPlane
    pod: Pod
    container: str
    family: str | None
    fs: FileSystem
    env: dict[str, str]
    tty: bool = False
    stdin: bytes = b""
    detached: bool = False  # a container's own process: no terminal, stdin at EOF (a bare `sh` just exits)
    cwd: str = "/"
    shell: str = ""  # "ash", "dash" or "bash" inside a script, "" at the top level
    out: list[bytes] = field(default_factory=list)  # the exec's or container's stdout, as written
    err: list[bytes] = field(default_factory=list)
    budget: Budget = field(default_factory=Budget)
    fds: dict[int, Sink] = field(default_factory=dict)
    pipe: Pipe | None = None  # standard input held open (a container with ``stdin: true``)

    def __post_init__(self) -> None:
        if not self.fds:
            self.fds = {1: Stream(self.out, self.budget), 2: Stream(self.err, self.budget)}

    def write(self, text: str | bytes) -> None:
        self.fds.get(1, NULL).write(text.encode() if isinstance(text, str) else text)

    def error(self, text: str) -> None:
        self.fds.get(2, NULL).write(text.encode())

    def charge(self, seconds: float) -> None:
        self.budget.charge(seconds)

    def fork(self) -> Ctx:
        """A child's view (a subshell, a pipeline's stage, a background job): its own descriptors, directory
        and input, the same container, streams and budgets."""
        return dataclasses.replace(self, env=dict(self.env), fds=dict(self.fds))

    @property
    def pod_ip(self) -> str:
        return (self.pod.get("status") or {}).get("podIP", "")


NULL = Null()


AWAITED: contextvars.ContextVar[bool] = contextvars.ContextVar("awaited", default=False)
"""Set while the event loop drives a program (``commands.drive``): its steps are awaited, so a step may wait
for another process. A program run in one go (``run_sync``: a server's setup, netexec's /shell) cannot."""


def wait_for(ctx: Ctx, future: asyncio.Future[Any], timeout: float) -> Generator[AnyOf, None, bool]:
    """A program's step that waits for a real process's work (False: ``timeout`` seconds of sandbox time passed
    first, 0 = no limit, and the work is cancelled)."""
    done = Pipe()
    future.add_done_callback(lambda _: done.close())
    yield AnyOf([done], ctx.dp.sb.clock.time() + timeout if timeout else None)
    if not future.done():
        future.cancel()
        return False
    return True


def connect(ctx: Ctx, host: str, port: int, protocol: str = "TCP",
            stub: str = "go") -> Generator[AnyOf, None, Connection]:
    """Open a connection from the program's pod as :meth:`.DataPlane.connect` does; when another member of the
    cluster set decides it (a pod of another cluster), the program waits for that member's answer as a step,
    and the sandbox's loop serves everyone else meanwhile. Raises NetError."""
    token = CAN_WAIT.set(AWAITED.get())
    try:
        return ctx.dp.connect(ctx.pod, host, port, protocol, stub=stub)
    except Deferred as deferred:
        pending = deferred
    finally:
        CAN_WAIT.reset(token)
    yield from wait_for(ctx, pending.answer, 0)
    if pending.answer.cancelled() or pending.answer.exception() is not None:
        raise Timeout(f"connect {host}:{port}: the other cluster's answer was lost")
    return pending.finish(pending.answer.result())

