"""Caches a new state directory lacks, made by a child process on another core while the sandbox process starts.

A new state directory has neither the CRD documents' JSON copies (:mod:`.crddocs`: parsing the YAML takes a
sixth of a second) nor the CEL grammar's parser tables (:func:`.celrules.grammar_cache`: building them takes a
quarter); the sandbox needs the first to install its CRDs before it answers its first request, and the second for
the first CEL rule it checks (Traefik's status on its GatewayClass, a learner's Gateway). The child
(:mod:`.cachemaker`) makes them, printing a line as each is written (the document's name, ``cel``); each step of
the sandbox's preparation waits only for the lines of what it reads (:meth:`.instance.Sandbox.preparation`), and
where the child did not make a cache the sandbox makes it itself (a document's copy is written atomically and
checked before use, so either maker's serves; the grammar's cache, which lark writes in place, is read by the
sandbox process only once the child has said it is written). A state directory that has its caches starts no child.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

CEL = "cel"
"""The line the child prints once the CEL grammar's cache is written (after the documents every sandbox reads)."""
GRAMMAR_ENV = "K8SNET_CEL_GRAMMAR_CACHE"
"""Where :mod:`.celrules` keeps the CEL grammar's parser tables (:func:`.celrules.grammar_cache`): the sandbox
process sets it to its state directory's (and the child its own), so celrules need not be imported to say it."""


def grammar_path(state: Path) -> Path:
    """The state directory's CEL grammar cache (private, as the rest of the directory)."""
    return state / "cel-grammar.cache"


class Warmup:
    """The running warm-up child of one sandbox process, and what it has said so far."""

    def __init__(self, state: Path):
        self.done: set[str] = set()
        self._reading = threading.Lock()  # the sandbox process waits from its loop's thread and from worker threads
        self.proc = subprocess.Popen([sys.executable, "-m", "k8snet.sandbox.cachemaker", str(state)],
                                     stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)

    @classmethod
    def start(cls, state: Path) -> Warmup | None:
        """The child, when the state directory lacks a cache (None: it has them)."""
        from .crddocs import CACHE_DIR

        if (state / CACHE_DIR).is_dir() and grammar_path(state).exists():
            return None
        return cls(state)

    def wait(self, *steps: str) -> None:
        """Until the child has made each cache of ``steps``, or has ended (then the caller makes what is missing)."""
        with self._reading:
            while not self.done.issuperset(steps) and self.proc.stdout is not None:
                line = self.proc.stdout.readline()
                if not line:  # it ended (a failure's traceback is in the sandbox's log)
                    self._close()
                    return
                self.done.add(line.strip())

    async def ready(self, *steps: str) -> None:
        """:meth:`wait`, with the event loop turning meanwhile."""
        if not self.done.issuperset(steps) and self.proc.stdout is not None:
            import asyncio  # here: the warm-up child imports this module, and needs no event loop

            await asyncio.to_thread(self.wait, *steps)

    def close(self) -> None:
        """Wait for the child to end (it ends by itself within a second of its start) and reap it."""
        with self._reading:
            self._close()

    def _close(self) -> None:
        if self.proc.stdout is not None:
            self.done.update(line.strip() for line in self.proc.stdout)  # read to its end: it never writes into a
            self.proc.stdout.close()  # closed pipe
            self.proc.stdout = None
        self.proc.wait()
