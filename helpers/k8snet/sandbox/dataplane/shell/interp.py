"""The shell that runs scripts in containers: busybox ash (and dash, and the POSIX part of bash).

A script is read a line at a time (:mod:`.syntax`) and run as a generator: it pauses (``yield None``)
before every pipeline and loop turn, so the data plane plays it in slices between the API server's other
requests, and ``yield t`` asks not to be resumed before sandbox time ``t`` (``sleep``). Background jobs
(``cmd &``) are generators too, interleaved by the shell that started them (:meth:`Interp._scheduled`);
``wait`` pauses until they end. Pipelines run their stages one after the other, each in a subshell, the
output of one becoming the input of the next: a stage that never ends (``yes | head``) keeps the rest
waiting until the exec's budget ends it.

Programs come from the :class:`Host` (the data plane's emulated applets); the shell itself provides the
special built-ins (XCU 2.14) and the regular built-ins a script needs (cd, read, wait, kill, command…).
"""

from __future__ import annotations

import posixpath
import queue
import re
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..context import NULL, AnyOf, Capture, Ctx, FileSink, Pipe, Sink, WriteFailed
from . import arith
from .syntax import (
    DQ,
    AndOr,
    Arith,
    Case,
    CmdSub,
    Compound,
    For,
    FuncDef,
    Group,
    If,
    Item,
    Lit,
    Loop,
    Param,
    Parser,
    Pipeline,
    Quoted,
    Redir,
    Script,
    ShellSyntaxError,
    Simple,
    Word,
    is_name,
)


@dataclass
class Waiting:
    """Yielded by ``wait``: resume once these jobs have ended."""

    jobs: list[Job]


Step = float | Waiting | Pipe | AnyOf | None
Steps = Generator[Step, None, Any]

UNCHANGED: tuple[()] = ()  # what _redirect returns when a command has no redirections (nothing to put back)
QUOTED, SPLIT, BREAK = 1, 2, 4  # expansion segment flags: taken literally / field-split and globbed / "$@" break
GLOB_CHARS = set("*?[")
MAX_FUNCTION_DEPTH = 1000  # ash recurses until the stack ends; the sandbox stops here with a message
BUILTINS = {":", ".", "break", "cd", "command", "continue", "eval", "exec", "exit", "export", "local", "read",
            "readonly", "return", "set", "shift", "source", "trap", "type", "umask", "ulimit", "unset", "wait",
            "kill", "echo", "printf", "test", "[", "true", "false", "pwd"}
"""Commands the shell knows without a file (``command -v`` names them bare); the last seven run the image's
applets, which behave the same."""
SIGNALS = {"HUP": 1, "INT": 2, "QUIT": 3, "KILL": 9, "USR1": 10, "USR2": 12, "TERM": 15, "EXIT": 0, "CHLD": 17}


class Exit(Exception):
    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


class Return(Exception):
    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


class Break(Exception):
    def __init__(self, levels: int):
        super().__init__(levels)
        self.levels = levels


class Continue(Break):
    pass


class Interrupted(Exception):
    """Ctrl-C on the terminal (SIGINT): the foreground command stops; an interactive shell goes on, any other
    ends with 130 (128 + SIGINT)."""


class ShellError(Exception):
    """An error that ends a non-interactive shell (a bad substitution, ``${x?}``, ``set -u``), exit 2."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.message, self.code = message, code


@dataclass
class Host:
    """What the shell needs from the data plane."""

    run: Callable[[Ctx, list[str]], Steps | None]  # a program's steps; None: the image has no such command
    lookup: Callable[[Ctx, str], str | None]  # the path ``command -v`` prints
    now: Callable[[], float]  # sandbox time, for ``sleep`` and the scheduler
    disk_full: Callable[[Ctx, str], None]  # a program's write found the file system full


@dataclass
class Job:
    pid: int
    steps: Steps
    wake: Step = None
    done: bool = False
    status: int = 0


@dataclass
class State:
    """A shell's variables, parameters, functions and options; a subshell gets a copy."""

    flavour: str  # ash, dash or bash
    argv0: str
    vars: dict[str, str]
    exported: set[str]
    params: list[str] = field(default_factory=list)
    funcs: dict[str, FuncDef] = field(default_factory=dict)
    options: set[str] = field(default_factory=set)  # e, u, x, f, pipefail
    traps: dict[str, str] = field(default_factory=dict)
    readonly: set[str] = field(default_factory=set)
    status: int = 0
    last_bg: int | None = None
    pid: int = 1
    line: int = 1
    frames: list[dict[str, str | None]] = field(default_factory=list)  # locals saved by each function call

    def copy(self) -> State:
        return State(self.flavour, self.argv0, dict(self.vars), set(self.exported), list(self.params),
                     dict(self.funcs), set(self.options), dict(self.traps), set(self.readonly), self.status,
                     self.last_bg, self.pid, self.line, [])

    def environment(self) -> dict[str, str]:
        return {k: v for k, v in self.vars.items() if k in self.exported}


def new_state(flavour: str, argv0: str, env: dict[str, str], params: list[str], pid: int, cwd: str) -> State:
    """A fresh shell's variables: the environment it was given (exported) and the ones a shell sets itself."""
    values = dict(env)
    exported = set(values)
    values.setdefault("IFS", " \t\n")
    values.setdefault("PS1", "# " if flavour != "bash" else "\\s-\\v\\$ ")
    values.setdefault("PS2", "> ")
    values.setdefault("PS4", "+ ")
    values.setdefault("OPTIND", "1")
    values["PWD"] = cwd
    values.setdefault("PPID", "0")
    exported.add("PWD")
    return State(flavour, argv0, values, exported, params, pid=pid)


class Interp:
    """One shell (or subshell) running in a container."""

    def __init__(self, ctx: Ctx, state: State, host: Host):
        self.ctx, self.state, self.host = ctx, state, host
        self.jobs: list[Job] = []
        self.loops = 0
        self.conditions = 0  # > 0 while running a condition (set -e does not apply there)
        self.calls = 0
        self._subst_status: int | None = None  # the status of the last command substitution (``x=$(false)``)

    # -- entry points ---------------------------------------------------------------------------

    def run_text(self, text: str) -> Steps:
        """Run a script's text a line at a time; the shell's exit status."""
        return self._scheduled(self._top(self._lines(text)))

    def run_script(self, script: Script) -> Steps:
        """Run a parsed script as this (sub)shell's whole life; its exit status."""
        return self._scheduled(self._top(self._one(script)))

    def run_interactive(self, pipe: Pipe, terminal: bool) -> Steps:
        """Read commands from a held-open standard input as they arrive (``kubectl run -i``, ``attach``);
        on a terminal, with the prompt, and errors do not end the shell."""
        return self._scheduled(self._top(self._interactive(pipe, terminal)))

    def _interactive(self, pipe: Pipe, terminal: bool) -> Steps:
        status, pending = 0, ""
        if self.state.flavour == "zsh" and terminal:
            self.ctx.error("k8snet sandbox: zsh is emulated by the sandbox's POSIX shell (no zsh-only syntax, "
                           "no theme)\n")
        while True:
            if terminal:
                self.ctx.error(self._prompt(continued=bool(pending)))
            while (data := pipe.line()) is None and not pipe.interrupted:
                if pipe.closed:
                    return status
                yield pipe
            if pipe.interrupted:  # Ctrl-C at the prompt: the line is dropped, a fresh prompt
                pipe.interrupted, pending = False, ""
                self.state.status = status = 130
                continue
            if not data and pipe.closed:
                return status
            pending += data.decode(errors="replace")
            try:
                script = Parser(pending, bash=self.state.flavour == "bash").whole()
            except ShellSyntaxError as exc:
                unfinished = exc.unexpected == "end of file" or exc.message == "unterminated quoted string"
                if unfinished and not pipe.closed:
                    continue  # the construct goes on on the next line (PS2)
                self.ctx.error(f"{self.state.argv0}: {exc.text(self.state.flavour)}\n")
                pending, status = "", 2
                continue
            pending = ""
            try:
                status = yield from self._script(script)
            except ShellError as exc:
                self.ctx.error(self._message(exc.message))
                status = exc.code
            except Interrupted:
                pipe.interrupted, status = False, 130
            if pipe.interrupted:  # the foreground command was interrupted as it ended
                pipe.interrupted, status = False, 130
            self.state.status = status

    def _prompt(self, continued: bool) -> str:
        """PS1 as each image's shell shows it to root: ash ``/ # ``, dash ``# ``, Debian's bash
        ``root@HOST:/# ``; PS2 ``> `` on a continued line."""
        if continued:
            return self.state.vars.get("PS2", "> ")
        home = self.state.vars.get("HOME", "/root")
        where = "~" + self.ctx.cwd[len(home):] if self.ctx.cwd == home or self.ctx.cwd.startswith(home + "/") \
            else self.ctx.cwd
        if self.state.flavour == "bash":
            return f"root@{self.state.vars.get('HOSTNAME', '')}:{where}# "
        if self.state.flavour == "zsh":  # zsh's own default for root, %m%# (netshoot's theme is not drawn)
            return f"{self.state.vars.get('HOSTNAME', '').split('.')[0]}# "
        if self.state.flavour == "dash":
            return "# "
        return f"{where} # "

    def subshell(self) -> Interp:
        return Interp(self.ctx.fork(), self.state.copy(), self.host)

    def _one(self, script: Script) -> Steps:
        return (yield from self._script(script))

    def _lines(self, text: str) -> Steps:
        lines = _read_inline(text, self.state.flavour) if len(text) <= INLINE_SCRIPT else _read_aside(text, self)
        status = 0
        for line in lines:
            if line is WAIT_FOR_READER:
                yield self.host.now() + READER_POLL
                continue
            if isinstance(line, ShellSyntaxError):
                self.ctx.error(f"{self.state.argv0}: {line.text(self.state.flavour)}\n")
                raise Exit(2)
            if isinstance(line, RecursionError):
                self.ctx.error(f"{self.state.argv0}: k8snet sandbox: the script nests too deeply to read\n")
                raise Exit(2)
            status = yield from self._script(line)
        return status

    def _top(self, body: Steps) -> Steps:
        """A shell's life: its script, ``exit``, the errors that end it, then its EXIT trap."""
        try:
            status = yield from body
        except Exit as exc:
            status = exc.code
        except ShellError as exc:
            self.ctx.error(self._message(exc.message))
            status = exc.code
        except (Break, Return) as exc:
            status = getattr(exc, "code", 0)
        except Interrupted:
            status = 130
        except RecursionError:
            self.ctx.error(self._message("k8snet sandbox: the script nests too deeply"))
            status = 2
        action = self.state.traps.pop("EXIT", None)
        if action:
            self.state.status = status
            try:
                yield from self._eval(action)
            except Exit as exc:
                status = exc.code
            except ShellError as exc:
                self.ctx.error(self._message(exc.message))
        return status & 0xFF

    def _scheduled(self, main: Steps) -> Steps:
        """Run ``main`` and the background jobs it starts, interleaved; killed when ``main`` ends."""
        state: Step = None
        try:
            while True:
                live = [j for j in self.jobs if not j.done]
                if not live:
                    try:
                        state = next(main)
                    except StopIteration as done:
                        return done.value
                    yield state
                    continue
                now = self.host.now()
                ran = False
                if _ready(state, now):
                    try:
                        state = next(main)
                    except StopIteration as done:
                        return done.value
                    ran = True
                for job in live:
                    if not job.done and _ready(job.wake, now):
                        ran = True
                        try:
                            job.wake = next(job.steps)
                        except StopIteration as done:
                            job.done, job.status = True, done.value
                if ran:
                    yield None
                else:  # nothing can move: sleep until the earliest timer or the first input, never spin
                    wakes = [state, *(j.wake for j in live if not j.done)]
                    times = [w for w in wakes if isinstance(w, float)]
                    pipes = [p for w in wakes for p in ([w] if isinstance(w, Pipe) else
                                                         w.pipes if isinstance(w, AnyOf) else [])]
                    times += [w.until for w in wakes if isinstance(w, AnyOf) and w.until is not None]
                    if pipes:
                        yield AnyOf(pipes, min(times) if times else None)
                    else:
                        yield min(times) if times else None
        finally:
            for job in self.jobs:
                if not job.done:
                    job.steps.close()
                    job.done = True

    # -- lists and pipelines --------------------------------------------------------------------

    def _script(self, script: Script) -> Steps:
        status = 0
        for item in script.items:
            if item.background:
                self._spawn(item.body)
                status = 0
                continue
            status = yield from self._and_or(item.body)
        return status

    def _condition(self, script: Script) -> Steps:
        self.conditions += 1
        try:
            return (yield from self._script(script))
        finally:
            self.conditions -= 1

    def _and_or(self, node: AndOr) -> Steps:
        if not node.rest:
            return (yield from self._pipeline(node.first))
        self.conditions += 1
        try:
            status = yield from self._pipeline(node.first)
        finally:
            self.conditions -= 1
        for i, (op, pipe) in enumerate(node.rest):
            if (op == "&&") != (status == 0):
                continue
            last = i == len(node.rest) - 1
            self.conditions += 0 if last else 1
            try:
                status = yield from self._pipeline(pipe)
            finally:
                self.conditions -= 0 if last else 1
        return status

    def _pipeline(self, pipe: Pipeline) -> Steps:
        yield None  # a pause point before every pipeline: a long script runs in slices
        if self.ctx.pipe is not None and self.ctx.pipe.interrupted:
            raise Interrupted
        if len(pipe.commands) == 1:
            status = yield from self._command(pipe.commands[0])
        else:
            status = yield from self._stages(pipe)
        if pipe.negate:
            status = int(status == 0)
        self.state.status = status
        if status and "e" in self.state.options and not self.conditions and not pipe.negate:
            raise Exit(status)
        return status

    def _stages(self, pipe: Pipeline) -> Steps:
        """``a | b | c``: each stage in a subshell, its output the next one's input."""
        data: bytes | None = None
        statuses = []
        for i, cmd in enumerate(pipe.commands):
            child = self.subshell()
            if data is not None:
                child.ctx.stdin = data
            capture = None
            if i < len(pipe.commands) - 1:
                capture = Capture(self.ctx.budget)
                child.ctx.fds[1] = capture
            statuses.append((yield from child.run_script(Script([_item(cmd)]))))
            if capture is not None:
                data = bytes(capture.data)
                self.ctx.budget.held -= len(capture.data)
        if "pipefail" in self.state.options:
            return next((s for s in reversed(statuses) if s), 0)
        return statuses[-1]

    def _spawn(self, node: AndOr) -> None:
        """``cmd &``: a job in a subshell, its input empty (XCU 2.9.3), interleaved with the shell."""
        child = self.subshell()
        child.ctx.stdin = b""
        pid = self.ctx.budget.next_pid()
        child.state.pid = pid
        self.jobs.append(Job(pid, child.run_script(Script([_item_of(node)]))))
        self.state.last_bg = pid

    # -- commands -------------------------------------------------------------------------------

    def _command(self, cmd: Any) -> Steps:
        if isinstance(cmd, Simple):
            return (yield from self._simple(cmd))
        if isinstance(cmd, FuncDef):
            self.state.funcs[cmd.name] = cmd
            return 0
        return (yield from self._compound(cmd))

    def _compound(self, cmd: Compound) -> Steps:
        saved = yield from self._redirect(cmd.redirs)
        if saved is None:
            return 1
        try:
            body = cmd.body
            if isinstance(body, Group):
                if body.subshell:
                    return (yield from self.subshell().run_script(body.body))
                return (yield from self._script(body.body))
            if isinstance(body, If):
                for cond, then in body.branches:
                    if (yield from self._condition(cond)) == 0:
                        return (yield from self._script(then))
                return (yield from self._script(body.otherwise)) if body.otherwise else 0
            if isinstance(body, Loop):
                return (yield from self._loop(body))
            if isinstance(body, For):
                return (yield from self._for(body))
            if isinstance(body, Case):
                return (yield from self._case(body))
            raise AssertionError(body)
        finally:
            self._restore(saved)

    def _loop(self, loop: Loop) -> Steps:
        status = 0
        self.loops += 1
        try:
            while True:
                yield None
                if self.ctx.pipe is not None and self.ctx.pipe.interrupted:
                    raise Interrupted
                if ((yield from self._condition(loop.cond)) == 0) == loop.until:
                    return status
                turn, broke = yield from self._turn(loop.body)
                if broke:
                    return 0
                status = status if turn is None else turn
        finally:
            self.loops -= 1

    def _for(self, loop: For) -> Steps:
        values = list(self.state.params) if loop.words is None else (yield from self._fields(loop.words))
        status = 0
        self.loops += 1
        try:
            for value in values:
                yield None
                self._assign(loop.var, value)
                turn, broke = yield from self._turn(loop.body)
                if broke:
                    return 0
                status = status if turn is None else turn
        finally:
            self.loops -= 1
        return status

    def _turn(self, body: Script) -> Steps:
        """One turn of a loop: (its status, None after ``continue``; whether ``break`` ended the loop). A
        ``break N``/``continue N`` aimed at an outer loop goes on up one level less."""
        try:
            return (yield from self._script(body)), False
        except Continue as exc:
            if exc.levels > 1:
                raise Continue(exc.levels - 1) from None
            return None, False
        except Break as exc:
            if exc.levels > 1:
                raise Break(exc.levels - 1) from None
            return None, True

    def _case(self, case: Case) -> Steps:
        subject = yield from self._string(case.word)
        for patterns, body in case.arms:
            for pattern in patterns:
                regex = yield from self._pattern(pattern)
                if re.fullmatch(regex, subject, re.S):
                    return (yield from self._script(body))
        return 0

    def _simple(self, cmd: Simple) -> Steps:
        self.state.line = cmd.line
        self._subst_status = None
        argv = yield from self._fields(cmd.words)
        assigns = []
        for name, value in cmd.assigns:
            assigns.append((name, (yield from self._string(value))))
        if "x" in self.state.options and (argv or assigns):
            shown = [f"{n}={_quote(v)}" for n, v in assigns] + [_quote(a) for a in argv]
            self.ctx.error(self.state.vars.get("PS4", "+ ") + " ".join(shown) + "\n")
        if not argv:
            for name, value in assigns:
                self._assign(name, value)
            saved = yield from self._redirect(cmd.redirs)
            if saved is None:
                return 1
            self._restore(saved)
            return self._subst_status or 0
        name = argv[0]
        if argv == ["exec"]:  # redirections alone: they stay for the rest of the shell
            return 0 if (yield from self._redirect(cmd.redirs)) is not None else 1
        if name in SPECIAL_BUILTINS:  # their assignments stay (XCU 2.14)
            for key, value in assigns:
                self._assign(key, value)
            assigns = []
        saved = yield from self._redirect(cmd.redirs)
        if saved is None:
            return 1
        try:
            return (yield from self._run(argv, dict(assigns)))
        finally:
            self._restore(saved)

    def _run(self, argv: list[str], assigns: dict[str, str], functions: bool = True) -> Steps:
        name = argv[0]
        builtin = BUILTIN_HANDLERS.get(name)
        if builtin is not None:
            return (yield from builtin(self, argv[1:]))
        if functions and name in self.state.funcs:
            return (yield from self._call(self.state.funcs[name], argv, assigns))
        return (yield from self._program(argv, assigns))

    def _program(self, argv: list[str], assigns: dict[str, str]) -> Steps:
        ctx = self.ctx
        saved_env, saved_shell = ctx.env, ctx.shell
        ctx.env = {**self.state.environment(), **assigns}
        ctx.shell = self.state.flavour
        try:
            steps = self.host.run(ctx, argv)
            if steps is None:
                ctx.error(self._not_found(argv[0]))
                return 127
            try:
                return (yield from steps)
            except WriteFailed as exc:
                program = posixpath.basename(argv[0])
                ctx.error(f"{program}: write error: {exc}\n")
                self.host.disk_full(ctx, program)
                return 1
        finally:
            ctx.env, ctx.shell = saved_env, saved_shell

    def _call(self, func: FuncDef, argv: list[str], assigns: dict[str, str]) -> Steps:
        if self.calls >= MAX_FUNCTION_DEPTH:
            raise ShellError(f"{argv[0]}: k8snet sandbox: functions nest deeper than {MAX_FUNCTION_DEPTH} calls")
        saved_params, self.state.params = self.state.params, argv[1:]
        frame: dict[str, str | None] = {}
        self.state.frames.append(frame)
        for key, value in assigns.items():
            frame.setdefault(key, self.state.vars.get(key))
            self._assign(key, value)
        self.calls += 1
        try:
            return (yield from self._compound(func.body))
        except Return as exc:
            return exc.code
        finally:
            self.calls -= 1
            self.state.params = saved_params
            self.state.frames.pop()
            for key, old in frame.items():
                if old is None:
                    self.state.vars.pop(key, None)
                else:
                    self.state.vars[key] = old

    def _eval(self, text: str) -> Steps:
        try:
            script = Parser(text, bash=self.state.flavour == "bash").whole()
        except ShellSyntaxError as exc:
            self.ctx.error(f"{self.state.argv0}: {exc.text(self.state.flavour)}\n")
            return 2
        return (yield from self._script(script))

    # -- redirections ---------------------------------------------------------------------------

    def _redirect(self, redirs: list[Redir]) -> Steps:
        """Apply redirections; the descriptors and input to put back afterwards (None: one failed)."""
        if not redirs:
            return UNCHANGED
        saved = (dict(self.ctx.fds), self.ctx.stdin)
        for r in redirs:
            if r.op in ("<<", "<<-"):
                text = yield from self._string(r.heredoc or [])
                if r.fd == 0:
                    self.ctx.stdin = text.encode()
                continue
            target = yield from self._string(r.target)
            if r.op == "<<<":
                if r.fd == 0:
                    self.ctx.stdin = (target + "\n").encode()
                continue
            if r.op in (">&", "<&"):
                if target == "-":
                    self.ctx.fds[r.fd] = NULL
                elif target.isdigit():
                    source = int(target)
                    if r.op == ">&":
                        if source not in self.ctx.fds:
                            self.ctx.error(self._message(f"{target}: Bad file descriptor"))
                            self._restore(saved)
                            return None
                        self.ctx.fds[r.fd] = self.ctx.fds[source]
                elif r.op == ">&":  # >&file: both streams, like &>
                    sink = self._open(target, False)
                    if sink is None:
                        self._restore(saved)
                        return None
                    self.ctx.fds[1] = self.ctx.fds[2] = sink
                continue
            if r.op == "<":
                data = self._read_file(target)
                if data is None:
                    self._restore(saved)
                    return None
                if r.fd == 0:
                    self.ctx.stdin = data
                continue
            sink = self._open(target, r.op == ">>")
            if sink is None:
                self._restore(saved)
                return None
            if r.op == "&>":
                self.ctx.fds[1] = self.ctx.fds[2] = sink
            else:
                self.ctx.fds[r.fd] = sink
        return saved

    def _restore(self, saved: tuple[dict[int, Sink], bytes] | tuple[()] | None) -> None:
        if saved:
            self.ctx.fds, self.ctx.stdin = saved

    def _open(self, target: str, append: bool) -> Sink | None:
        if target in ("/dev/null", "/dev/zero"):
            return NULL
        if target in ("/dev/stdout", "/proc/self/fd/1"):
            return self.ctx.fds.get(1, NULL)
        if target in ("/dev/stderr", "/proc/self/fd/2"):
            return self.ctx.fds.get(2, NULL)
        path = self.ctx.fs.norm(target, self.ctx.cwd)
        problem = self.ctx.fs.write(path, b"", append)
        if problem:
            flavour = self.state.flavour
            if flavour == "bash":
                self.ctx.error(self._message(f"{target}: {problem}"))
            elif problem == "No such file or directory":
                word = "Directory nonexistent" if flavour == "dash" else "nonexistent directory"
                verb = "cannot" if flavour == "dash" else "can't"
                self.ctx.error(self._message(f"{verb} create {target}: {word}"))
            else:
                verb = "cannot" if flavour == "dash" else "can't"
                self.ctx.error(self._message(f"{verb} create {target}: {problem}"))
            return None
        return FileSink(self.ctx.fs, path)

    def _read_file(self, target: str) -> bytes | None:
        if target in ("/dev/null", "/dev/zero"):
            return b""
        path = self.ctx.fs.norm(target, self.ctx.cwd)
        data = self.ctx.fs.read(path)
        if data is None or self.ctx.fs.is_dir(path):
            flavour = self.state.flavour
            if flavour == "bash":
                self.ctx.error(self._message(f"{target}: No such file or directory"))
            else:
                self.ctx.error(self._message(f"{'cannot' if flavour == 'dash' else 'can' + chr(39) + 't'} open "
                                             f"{target}: {'No such file' if flavour == 'dash' else 'no such file'}"))
            return None
        return data

    # -- messages -------------------------------------------------------------------------------

    def _message(self, text: str) -> str:
        """An error line as the shell prints it: ``sh: …`` (ash), ``sh: 3: …`` (dash), ``bash: line 3: …``."""
        line = self.state.line
        if self.state.flavour == "dash":
            return f"{self.state.argv0}: {line}: {text}\n"
        if self.state.flavour == "bash":
            return f"{self.state.argv0}: line {line}: {text}\n"
        return f"{self.state.argv0}: {text}\n"

    def _not_found(self, name: str) -> str:
        if self.state.flavour == "zsh":
            return f"zsh: command not found: {name}\n"
        if self.state.flavour == "bash":
            return self._message(f"{name}: {'No such file or directory' if '/' in name else 'command not found'}")
        return self._message(f"{name}: not found")

    # -- variables ------------------------------------------------------------------------------

    def _assign(self, name: str, value: str) -> None:
        if name in self.state.readonly:
            raise ShellError(f"{name}: is read only" if self.state.flavour != "bash" else f"{name}: readonly variable")
        self.state.vars[name] = value
        if "a" in self.state.options:
            self.state.exported.add(name)

    def _get(self, name: str) -> str | None:
        """A parameter's value (None: unset); ``$@``/``$*`` joined with spaces."""
        s = self.state
        if name.isdigit():
            n = int(name)
            if n == 0:
                return s.argv0
            return s.params[n - 1] if n <= len(s.params) else None
        special = {"#": lambda: str(len(s.params)), "?": lambda: str(s.status), "$": lambda: str(s.pid),
                   "!": lambda: None if s.last_bg is None else str(s.last_bg), "-": lambda: "".join(
                       sorted(o for o in s.options if len(o) == 1)), "@": lambda: " ".join(s.params),
                   "*": lambda: (s.vars.get("IFS", " ")[:1]).join(s.params),
                   "LINENO": lambda: str(s.line), "RANDOM": lambda: str(self.ctx.dp.sb.random.stream("shell").randrange(32768))}
        if name in special and (name not in ("LINENO", "RANDOM") or name not in s.vars):
            return special[name]()
        return s.vars.get(name)

    # -- expansion ------------------------------------------------------------------------------

    def _fields(self, words: list[Word]) -> Steps:
        """Words expanded into fields: parameters, substitutions, arithmetic, splitting, globbing, quotes."""
        out: list[str] = []
        for word in words:
            if len(word) == 1 and isinstance(word[0], Lit) and not (GLOB_CHARS & set(word[0].text)) \
                    and not word[0].text.startswith("~"):
                out.append(word[0].text)  # the common case: a plain word
                continue
            segments = yield from self._segments(word, quoted=False)
            for fld in self._split(segments):
                out.extend(self._glob(fld))
        return out

    def _string(self, word: Word) -> Steps:
        """A word expanded to one string, without splitting or globbing (assignments, redirections, case)."""
        segments = yield from self._segments(word, quoted=False)
        return "".join(text for text, flags in segments if not flags & BREAK)

    def _pattern(self, word: Word) -> Steps:
        """A word as a pattern (case, ``${x%pat}``): a regular expression; quoted characters match themselves."""
        segments = yield from self._segments(word, quoted=False)
        return glob_regex(segments)

    def _segments(self, word: Word, quoted: bool) -> Steps:
        """(text, flags) pieces of an expanded word; flags say whether a piece may be split and globbed."""
        segs: list[tuple[str, int]] = []
        for i, part in enumerate(word):
            if isinstance(part, Lit):
                text = part.text
                if i == 0 and not quoted and text.startswith("~"):
                    user, slash, rest = text[1:].partition("/")
                    if not user:
                        segs.append((self.state.vars.get("HOME", "/root"), QUOTED))
                        text = slash + rest
                segs.append((text, QUOTED if quoted else 0))
            elif isinstance(part, Quoted):
                segs.append((part.text, QUOTED))
            elif isinstance(part, DQ):
                inner = yield from self._segments(part.parts, quoted=True)
                at_only = any(isinstance(p, Param) and p.name == "@" and not p.op for p in part.parts)
                if not inner and not (at_only and not self.state.params):
                    inner = [("", QUOTED)]
                segs.extend(inner)
            elif isinstance(part, Param):
                segs.extend((yield from self._param(part, quoted)))
            elif isinstance(part, CmdSub):
                text = yield from self._command_substitution(part)
                segs.append((text, QUOTED if quoted else SPLIT))
            elif isinstance(part, Arith):
                expr = yield from self._string(part.expr)
                try:
                    value = arith.evaluate(expr, lambda n: self._get(n) or "", self._assign)
                except arith.ArithError as exc:
                    raise ShellError(str(exc)) from None
                segs.append((str(value), QUOTED if quoted else SPLIT))
        return segs

    def _command_substitution(self, part: CmdSub) -> Steps:
        child = self.subshell()
        capture = Capture(self.ctx.budget)
        child.ctx.fds[1] = capture
        status = yield from child.run_script(part.body)
        self._subst_status = status
        self.state.status = status
        self.ctx.budget.held -= len(capture.data)
        return bytes(capture.data).decode(errors="replace").rstrip("\n")

    def _param(self, p: Param, quoted: bool) -> Steps:
        flag = QUOTED if quoted else SPLIT
        if p.name == "@" and not p.op:
            return _with_breaks([(v, flag) for v in self.state.params])
        value = self._get(p.name)
        op = p.op
        if op == "#len":
            return [(str(len(value or "")), flag)]
        if not op:
            if value is None and "u" in self.state.options and p.name not in ("@", "*"):
                raise ShellError(f"{p.name}: parameter not set")
            return [(value or "", flag)]
        unset = value is None or (op.startswith(":") and op != ":" and value == "")
        if op in (":-", "-"):
            if unset:
                return (yield from self._segments(p.arg or [], quoted))
            return [(value or "", flag)]
        if op in (":=", "="):
            if unset:
                if not is_name(p.name):
                    raise ShellError(f"{p.name}: bad variable name" if self.state.flavour != "bash"
                                     else f"${p.name}: cannot assign in this way")
                text = yield from self._string(p.arg or [])
                self._assign(p.name, text)
                return [(text, flag)]
            return [(value or "", flag)]
        if op in (":?", "?"):
            if unset:
                text = yield from self._string(p.arg or [])
                raise ShellError(f"{p.name}: {text or ('parameter null or not set' if op == ':?' else 'parameter not set')}")
            return [(value or "", flag)]
        if op in (":+", "+"):
            if unset:
                return []
            return (yield from self._segments(p.arg or [], quoted))
        value = value or ""
        if op in ("%", "%%", "#", "##"):
            regex = re.compile(glob_regex((yield from self._segments(p.arg or [], False))), re.S)
            return [(_trim(value, regex, op), flag)]
        if op in ("/", "//"):
            regex = re.compile(glob_regex((yield from self._segments(p.arg or [], False))), re.S)
            repl = yield from self._string(p.repl or [])
            return [(_substitute(value, regex, repl, op == "//"), flag)]
        if op == ":":
            spec = yield from self._string(p.arg or [])
            offset_text, _, length_text = spec.partition(":")
            try:
                getter = lambda n: self._get(n) or ""  # noqa: E731
                offset = arith.evaluate(offset_text, getter, self._assign) if offset_text.strip() else 0
                length = arith.evaluate(length_text, getter, self._assign) if length_text.strip() else None
            except arith.ArithError as exc:
                raise ShellError(str(exc)) from None
            if offset < 0:
                offset = max(0, len(value) + offset)
            end = len(value) if length is None else (offset + length if length >= 0 else len(value) + length)
            return [(value[offset:end], flag)]
        raise ShellError("bad substitution")

    def _split(self, segs: list[tuple[str, int]]) -> list[list[tuple[str, int]]]:
        """Field splitting (XCU 2.6.5) of the unquoted expansion results, at the characters of $IFS."""
        ifs = self.state.vars.get("IFS", " \t\n")
        fields: list[list[tuple[str, int]]] = []
        current: list[tuple[str, int]] = []
        real = False
        for text, flags in segs:
            if flags & BREAK:
                if real or current:
                    fields.append(current)
                current, real = [], False
                continue
            if not flags & SPLIT or not ifs:
                current.append((text, flags))
                real = real or bool(text) or bool(flags & QUOTED)
                continue
            for i, piece in enumerate(_ifs_split(text, ifs)):
                if i > 0:
                    if real:
                        fields.append(current)
                    current, real = [], False
                if piece:
                    current.append((piece, flags))
                    real = True
        if real:
            fields.append(current)
        return fields

    def _glob(self, fld: list[tuple[str, int]]) -> list[str]:
        """Pathname expansion (XCU 2.6.6) against the container's files; no match leaves the word as it is."""
        text = "".join(t for t, _ in fld)
        if "f" in self.state.options or not any(not f & QUOTED and GLOB_CHARS & set(t) for t, f in fld):
            return [text]
        regex = glob_regex(fld)
        absolute = text.startswith("/")
        base = "/" if absolute else self.ctx.cwd
        parts = [p for p in regex_components(fld) if p]
        matches = [""]
        for component in parts:
            nxt = []
            for prefix in matches:
                directory = self.ctx.fs.norm(prefix or ".", base)
                if not self.ctx.fs.is_dir(directory):
                    continue
                pattern = re.compile(component, re.S)
                for name in self.ctx.fs.listdir(directory):
                    if name.startswith(".") and not component.startswith(r"\."):
                        continue
                    if pattern.fullmatch(name):
                        nxt.append(posixpath.join(prefix, name) if prefix else name)
            matches = nxt
        del regex
        if not matches:
            return [text]
        return sorted("/" + m if absolute else m for m in matches)


INLINE_SCRIPT = 64 << 10
"""A script longer than this is read by a thread beside the event loop, a line ahead of the shell, so a
3 MiB one-line script does not hold the API server while it is read."""
READER_POLL = 0.005  # seconds of sandbox time between looks at the reader's progress
WAIT_FOR_READER = object()


def _read_inline(text: str, flavour: str) -> Iterator[Any]:
    """The script's lines, read as they are reached (what comes before a syntax error runs)."""
    parser = Parser(text, bash=flavour == "bash")
    while True:
        try:
            line = parser.next_line()
        except (ShellSyntaxError, RecursionError) as exc:
            yield exc
            return
        if line is None:
            return
        yield line


def _read_aside(text: str, interp: Interp) -> Iterator[Any]:
    """The script's lines from a reader thread; :data:`WAIT_FOR_READER` while the next one is not read yet.
    The thread's time is charged to the program; it stops at the next line once the program has gone."""
    lines: queue.SimpleQueue[Any] = queue.SimpleQueue()
    stop = threading.Event()
    done = object()

    def reader() -> None:
        began = time.thread_time()
        try:
            for line in _read_inline(text, interp.state.flavour):
                if stop.is_set():
                    return
                lines.put(line)
        finally:
            lines.put((done, time.thread_time() - began))

    threading.Thread(target=reader, name="k8snet-script-reader", daemon=True).start()
    try:
        while True:
            try:
                item = lines.get_nowait()
            except queue.Empty:
                yield WAIT_FOR_READER
                continue
            if isinstance(item, tuple) and item[:1] == (done,):
                interp.ctx.charge(item[1])
                return
            yield item
    finally:
        stop.set()


# -- built-ins ------------------------------------------------------------------------------------

SPECIAL_BUILTINS = {":", ".", "break", "continue", "eval", "exec", "exit", "export", "readonly", "return", "set",
                    "shift", "trap", "unset", "source", "local"}


def _number(interp: Interp, name: str, text: str) -> int:
    if not re.fullmatch(r"[0-9]+", text):
        raise ShellError(f"{name}: Illegal number: {text}" if interp.state.flavour != "bash"
                         else f"{name}: {text}: numeric argument required")
    return int(text)


def b_colon(interp: Interp, args: list[str]) -> Steps:
    return 0
    yield


def b_exit(interp: Interp, args: list[str]) -> Steps:
    raise Exit(_number(interp, "exit", args[0]) & 0xFF if args else interp.state.status)
    yield


def b_return(interp: Interp, args: list[str]) -> Steps:
    code = _number(interp, "return", args[0]) & 0xFF if args else interp.state.status
    if not interp.calls:
        raise Exit(code)  # return outside a function ends a sourced or -c script as ash does
    raise Return(code)
    yield


def b_break(interp: Interp, args: list[str]) -> Steps:
    levels = _number(interp, "break", args[0]) if args else 1
    if levels == 0:
        raise ShellError("break: Illegal number: 0")
    if interp.loops:
        raise Break(min(levels, interp.loops))
    return 0
    yield


def b_continue(interp: Interp, args: list[str]) -> Steps:
    levels = _number(interp, "continue", args[0]) if args else 1
    if interp.loops:
        raise Continue(min(levels, interp.loops))
    return 0
    yield


def b_export(interp: Interp, args: list[str], readonly: bool = False) -> Steps:
    s = interp.state
    names = [a for a in args if a != "-p"]
    if not names:
        keyword = "readonly" if readonly else "export"
        chosen = s.readonly if readonly else s.exported
        for key in sorted(k for k in chosen if k in s.vars):
            interp.ctx.write(f"{keyword} {key}={_quote(s.vars[key], always=True)}\n")
        return 0
    for arg in names:
        key, eq, value = arg.partition("=")
        if not is_name(key):
            interp.ctx.error(interp._message(f"{'readonly' if readonly else 'export'}: {key}: bad variable name"))
            return 1 if s.flavour == "bash" else 2
        if eq:
            interp._assign(key, value)
        (s.readonly if readonly else s.exported).add(key)
        if readonly and key not in s.vars:
            s.vars[key] = ""
    return 0
    yield


def b_readonly(interp: Interp, args: list[str]) -> Steps:
    return (yield from b_export(interp, args, readonly=True))


def b_unset(interp: Interp, args: list[str]) -> Steps:
    functions = "-f" in args
    for name in [a for a in args if a not in ("-f", "-v")]:
        if functions:
            interp.state.funcs.pop(name, None)
            continue
        if name in interp.state.readonly:
            interp.ctx.error(interp._message(f"unset: {name}: is read only"))
            return 1
        interp.state.vars.pop(name, None)
        interp.state.exported.discard(name)
    return 0
    yield


def b_local(interp: Interp, args: list[str]) -> Steps:
    if not interp.state.frames:
        raise ShellError("local: not in a function")
    frame = interp.state.frames[-1]
    for arg in args:
        key, eq, value = arg.partition("=")
        frame.setdefault(key, interp.state.vars.get(key))
        interp._assign(key, value if eq else interp.state.vars.get(key, ""))
    return 0
    yield


OPTION_NAMES = {"errexit": "e", "nounset": "u", "xtrace": "x", "noglob": "f", "allexport": "a",
                "pipefail": "pipefail", "verbose": "v", "noclobber": "C", "monitor": "m", "notify": "b"}


def b_set(interp: Interp, args: list[str]) -> Steps:
    s = interp.state
    if not args:
        for key in sorted(s.vars):
            interp.ctx.write(f"{key}={_quote(s.vars[key], always=True)}\n")
        return 0
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            s.params = args[i + 1:]
            return 0
        if arg in ("-o", "+o"):
            if i + 1 >= len(args):
                for long, short in OPTION_NAMES.items():
                    interp.ctx.write(f"{long:<15} {'on' if short in s.options else 'off'}\n")
                return 0
            short = OPTION_NAMES.get(args[i + 1])
            if short is None:
                raise ShellError(f"set: Illegal option -o {args[i + 1]}" if s.flavour != "bash"
                                 else f"set: {args[i + 1]}: invalid option name")
            (s.options.add if arg == "-o" else s.options.discard)(short)
            i += 2
            continue
        if arg[:1] in ("-", "+") and len(arg) > 1:
            for letter in arg[1:]:
                if letter not in "euxfavCmbhn":
                    raise ShellError(f"set: Illegal option -{letter}" if s.flavour != "bash"
                                     else f"set: -{letter}: invalid option")
                (s.options.add if arg[0] == "-" else s.options.discard)(letter)
            i += 1
            continue
        s.params = args[i:]
        return 0
    return 0
    yield


def b_shift(interp: Interp, args: list[str]) -> Steps:
    n = _number(interp, "shift", args[0]) if args else 1
    if n > len(interp.state.params):
        raise ShellError("shift: can't shift that many" if interp.state.flavour != "bash"
                         else f"shift: {n}: shift count out of range")
    interp.state.params = interp.state.params[n:]
    return 0
    yield


def b_eval(interp: Interp, args: list[str]) -> Steps:
    return (yield from interp._eval(" ".join(args)))


def b_source(interp: Interp, args: list[str]) -> Steps:
    if not args:
        raise ShellError(".: filename argument required" if interp.state.flavour == "bash" else ".: missing arg")
    data = interp.ctx.fs.read(interp.ctx.fs.norm(args[0], interp.ctx.cwd))
    if data is None:
        raise ShellError(f".: can't open '{args[0]}': No such file or directory" if interp.state.flavour == "ash"
                         else f".: cannot open {args[0]}: No such file" if interp.state.flavour == "dash"
                         else f"{args[0]}: No such file or directory", 1 if interp.state.flavour == "bash" else 2)
    saved = interp.state.params
    if args[1:]:
        interp.state.params = args[1:]
    try:
        return (yield from interp._eval(data.decode(errors="replace")))
    finally:
        interp.state.params = saved


def b_exec(interp: Interp, args: list[str]) -> Steps:
    if not args:
        return 0
    code = yield from interp._run(args, {}, functions=False)
    raise Exit(code)


def b_trap(interp: Interp, args: list[str]) -> Steps:
    s = interp.state
    if not args or args == ["-p"]:
        for sig, action in s.traps.items():
            interp.ctx.write(f"trap -- {_quote(action, always=True)} {sig}\n")
        return 0
    action, signals = (None, args[1:]) if args[0] == "-" else (args[0], args[1:])
    if not signals:  # trap N…: reset
        action, signals = None, args
    for sig in signals:
        name = sig.upper().removeprefix("SIG")
        if name.isdigit():
            name = next((k for k, v in SIGNALS.items() if str(v) == name), name)
        if name not in SIGNALS:
            interp.ctx.error(interp._message(f"trap: {sig}: bad trap" if s.flavour != "bash"
                                             else f"trap: {sig}: invalid signal specification"))
            return 1
        if action is None:
            s.traps.pop(name, None)
        else:
            s.traps[name] = action
    return 0
    yield


def b_wait(interp: Interp, args: list[str]) -> Steps:
    targets = interp.jobs
    if args:
        pids = {a.lstrip("%") for a in args}
        targets = [j for j in interp.jobs if str(j.pid) in pids]
        if not targets:
            return 127
    while any(not j.done for j in targets):
        yield Waiting(targets)
    return targets[-1].status if args and targets else 0


def b_kill(interp: Interp, args: list[str]) -> Steps:
    signal = 15
    rest = list(args)
    if rest[:1] == ["-l"]:
        interp.ctx.write(" ".join(k for k in SIGNALS if k not in ("EXIT",)) + "\n")
        return 0
    if rest and rest[0] == "-s" and len(rest) > 1:
        signal, rest = SIGNALS.get(rest[1].upper().removeprefix("SIG"), 15), rest[2:]
    elif rest and rest[0].startswith("-") and len(rest[0]) > 1:
        name = rest[0][1:].upper().removeprefix("SIG")
        signal, rest = (int(name) if name.isdigit() else SIGNALS.get(name, 15)), rest[1:]
    if not rest:
        interp.ctx.error("kill: usage: kill [-s sigspec | -n signum | -sigspec] pid | jobspec ...\n"
                         if interp.state.flavour == "bash" else interp._message("kill: usage: kill [-s sigspec | "
                                                                                "-signum | -sigspec] [pid | job]... "
                                                                                "or\nkill -l [exitstatus]"))
        return 1 if interp.state.flavour != "dash" else 2
    code = 0
    for target in rest:
        job = next((j for j in interp.jobs if str(j.pid) == target.lstrip("%")
                    or (target.startswith("%") and target[1:] == str(interp.jobs.index(j) + 1))), None)
        if job is None or job.done:
            interp.ctx.error(interp._message(f"kill: ({target}) - No such process" if interp.state.flavour == "bash"
                                             else f"kill: can't kill pid {target}: No such process"))
            code = 1
            continue
        if signal == 0:
            continue
        job.steps.close()
        job.done, job.status = True, 128 + signal
    return code
    yield


def b_cd(interp: Interp, args: list[str]) -> Steps:
    ctx, s = interp.ctx, interp.state
    target = args[0] if args else s.vars.get("HOME", "/root")
    if target == "-":
        target = s.vars.get("OLDPWD", ctx.cwd)
        ctx.write(target + "\n")
    path = ctx.fs.norm(target, ctx.cwd)
    if not ctx.fs.is_dir(path):
        problem = "Not a directory" if ctx.fs.exists(path) else "No such file or directory"
        if s.flavour == "bash":
            ctx.error(interp._message(f"cd: {target}: {problem}"))
            return 1
        ctx.error(interp._message(f"cd: {'can' + chr(39) + 't'} cd to {target}: {problem}" if s.flavour == "ash"
                                  else f"cd: can't cd to {target}"))
        return 2 if s.flavour != "bash" else 1
    s.vars["OLDPWD"], ctx.cwd = ctx.cwd, path
    s.vars["PWD"] = path
    return 0
    yield


def b_read(interp: Interp, args: list[str]) -> Steps:
    raw = False
    names: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "-r":
            raw = True
        elif arg in ("-p", "-t", "-u", "-n", "-d"):
            i += 1  # a prompt (shown only to a terminal), a timeout (input is all there already)
        elif arg.startswith("-"):
            raw = raw or "r" in arg
        else:
            names.append(arg)
        i += 1
    ctx = interp.ctx
    data = ctx.stdin
    line_bytes, newline, rest = data.partition(b"\n")
    ctx.stdin = rest
    line = line_bytes.decode(errors="replace")
    if not raw:
        line = re.sub(r"\\(.)", r"\1", line)
    names = names or ["REPLY"]
    ifs = interp.state.vars.get("IFS", " \t\n")
    if names == ["REPLY"] and not args:
        values = [line]
    else:
        values = _read_split(line, ifs, len(names))
    for j, name in enumerate(names):
        interp._assign(name, values[j] if j < len(values) else "")
    return 0 if newline else 1
    yield


def b_command(interp: Interp, args: list[str]) -> Steps:
    if args[:1] in (["-v"], ["-V"]):
        code = 0
        for name in args[1:]:
            found = _describe(interp, name, args[0] == "-V")
            if found is None:
                code = 1
                if args[0] == "-V":
                    interp.ctx.error(interp._message(f"command: {name}: not found"))
                continue
            interp.ctx.write(found + "\n")
        return code
    if not args:
        return 0
    return (yield from interp._run(args, {}, functions=False))


def b_type(interp: Interp, args: list[str]) -> Steps:
    code = 0
    for name in args:
        found = _describe(interp, name, True)
        if found is None:
            interp.ctx.write(f"{name}: not found\n" if interp.state.flavour != "bash" else "")
            if interp.state.flavour == "bash":
                interp.ctx.error(interp._message(f"type: {name}: not found"))
            code = 1
        else:
            interp.ctx.write(found + "\n")
    return code
    yield


def _describe(interp: Interp, name: str, verbose: bool) -> str | None:
    if name in interp.state.funcs:
        return f"{name} is a function" if verbose else name
    if name in SPECIAL_BUILTINS and name not in ("source", "local"):
        return f"{name} is a special shell builtin" if verbose else name
    if name in BUILTINS or name in SPECIAL_BUILTINS:
        return f"{name} is a shell builtin" if verbose else name
    path = interp.host.lookup(interp.ctx, name)
    if path is None:
        return None
    return f"{name} is {path}" if verbose else path


def b_umask(interp: Interp, args: list[str]) -> Steps:
    if not args:
        interp.ctx.write("0022\n")
    return 0
    yield


def b_ulimit(interp: Interp, args: list[str]) -> Steps:
    if not [a for a in args if a not in ("-n", "-a", "-S", "-H")] or args == ["-n"]:
        interp.ctx.write("1048576\n" if "-n" in args else "unlimited\n")
    return 0
    yield


BUILTIN_HANDLERS: dict[str, Callable[[Interp, list[str]], Steps]] = {
    ":": b_colon, "exit": b_exit, "return": b_return, "break": b_break, "continue": b_continue,
    "export": b_export, "readonly": b_readonly, "unset": b_unset, "local": b_local, "set": b_set,
    "shift": b_shift, "eval": b_eval, ".": b_source, "source": b_source, "exec": b_exec, "trap": b_trap,
    "wait": b_wait, "kill": b_kill, "cd": b_cd, "read": b_read, "command": b_command, "type": b_type,
    "umask": b_umask, "ulimit": b_ulimit,
}


def static_words(words: list[Word], env: dict[str, str]) -> list[str] | None:
    """Words as they expand before anything runs (literals, quotes, ``$VAR`` from ``env``): how the
    sandbox reads which server a container's script ends in; None when a word needs the script to run."""
    out = []
    for word in words:
        text = _static(word, env)
        if text is None:
            return None
        out.append(text)
    return out


def _static(parts: list[Any], env: dict[str, str]) -> str | None:
    pieces = []
    for part in parts:
        if isinstance(part, (Lit, Quoted)):
            pieces.append(part.text)
        elif isinstance(part, DQ):
            inner = _static(part.parts, env)
            if inner is None:
                return None
            pieces.append(inner)
        elif isinstance(part, Param) and not part.op and is_name(part.name):
            pieces.append(env.get(part.name, ""))
        else:
            return None
    return "".join(pieces)


# -- helpers --------------------------------------------------------------------------------------


def _ready(step: Step, now: float) -> bool:
    if step is None:
        return True
    if isinstance(step, Waiting):
        return all(j.done for j in step.jobs)
    if isinstance(step, Pipe):
        return step.ready()
    if isinstance(step, AnyOf):
        return step.ready(now)
    return now >= step


def _item(cmd: Any) -> Item:
    return Item(AndOr(Pipeline([cmd])))


def _item_of(node: AndOr) -> Item:
    return Item(node)


def _with_breaks(segs: list[tuple[str, int]]) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for i, seg in enumerate(segs):
        if i:
            out.append(("", BREAK))
        out.append(seg)
    return out


def _ifs_split(text: str, ifs: str) -> list[str]:
    """Split at IFS characters: runs of IFS white space are one separator (XCU 2.6.5)."""
    white = "".join(c for c in ifs if c in " \t\n")
    other = "".join(c for c in ifs if c not in " \t\n")
    parts = []
    if white:
        parts.append(f"[{re.escape(white)}]+")
    if other:
        parts.insert(0, f"[{re.escape(white)}]*[{re.escape(other)}][{re.escape(white)}]*" if white
                     else f"[{re.escape(other)}]")
    return re.split("|".join(parts), text)


def _read_split(line: str, ifs: str, count: int) -> list[str]:
    """``read a b c``: the first fields to the first names, the rest of the line (trimmed) to the last."""
    white = "".join(c for c in ifs if c in " \t\n")
    text = line.strip(white) if white else line
    values = []
    for _ in range(count - 1):
        if not text:
            break
        pieces = _ifs_split(text, ifs)
        first = pieces[0]
        values.append(first)
        m = re.match(re.escape(first) + "(" + ("|".join(filter(None, [f"[{re.escape(white)}]*[{re.escape(c)}]"
                                                                          f"[{re.escape(white)}]*" for c in ifs
                                                                          if c not in ' \t\n'] +
                                                                     ([f"[{re.escape(white)}]+"] if white else []))))
                     + ")", text)
        text = text[m.end():] if m else ""
    values.append(text.rstrip(white) if white else text)
    return values


def glob_regex(segs: list[tuple[str, int]]) -> str:
    """A shell pattern as a regular expression: ``*``, ``?`` and ``[…]`` from unquoted text only."""
    out: list[str] = []
    for text, flags in segs:
        if flags & BREAK:
            continue
        if flags & QUOTED:
            out.append(re.escape(text))
            continue
        i = 0
        while i < len(text):
            c = text[i]
            if c == "*":
                out.append(".*")
            elif c == "?":
                out.append(".")
            elif c == "[":
                end = text.find("]", i + 2 if text[i + 1:i + 2] in ("!", "^") else i + 1)
                if end < 0:
                    out.append(r"\[")
                else:
                    body = text[i + 1:end]
                    negate = body[:1] in ("!", "^")
                    body = body[1:] if negate else body
                    out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]")
                    i = end
            elif c == "\\" and i + 1 < len(text):
                out.append(re.escape(text[i + 1]))
                i += 1
            else:
                out.append(re.escape(c))
            i += 1
    return "".join(out)


def regex_components(fld: list[tuple[str, int]]) -> list[str]:
    """A field's pattern cut at each ``/``: one regular expression per path component."""
    comps: list[list[tuple[str, int]]] = [[]]
    for text, flags in fld:
        pieces = text.split("/")
        for i, piece in enumerate(pieces):
            if i:
                comps.append([])
            if piece:
                comps[-1].append((piece, flags))
    return [glob_regex(c) for c in comps]


def _trim(value: str, regex: re.Pattern[str], op: str) -> str:
    n = len(value)
    if op == "#":
        order = range(0, n + 1)
    elif op == "##":
        order = range(n, -1, -1)
    elif op == "%":
        order = range(n, -1, -1)
    else:
        order = range(0, n + 1)
    for i in order:
        if op.startswith("#") and regex.fullmatch(value, 0, i):
            return value[i:]
        if op.startswith("%") and regex.fullmatch(value, i, n):
            return value[:i]
    return value


def _substitute(value: str, regex: re.Pattern[str], repl: str, every: bool) -> str:
    """``${v/pat/repl}``: the longest match at the leftmost place; ``//`` every one."""
    out, i, n = [], 0, len(value)
    while i <= n:
        match_end = -1
        for j in range(n, i - 1, -1):
            if regex.fullmatch(value, i, j):
                match_end = j
                break
        if match_end < 0 or (match_end == i and not regex.pattern):
            if i < n:
                out.append(value[i])
            i += 1
            continue
        out.append(repl)
        if not every:
            out.append(value[match_end:])
            return "".join(out)
        if match_end == i:
            if i < n:
                out.append(value[i])
            i += 1
        else:
            i = match_end
    return "".join(out)


SAFE = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")


def _quote(text: str, always: bool = False) -> str:
    """How ``set -x``, ``export -p`` and ``set`` print a value: as it is when safe, in single quotes otherwise."""
    if SAFE.fullmatch(text) and not always:
        return text
    return "'" + text.replace("'", "'\"'\"'") + "'"
