"""The step Traefik's child process runs between fork and exec."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_step_before_exec_imports_nothing_and_sets_the_death_signal():
    """The sandbox process has threads (the CEL tables are built in one while Traefik starts). A child forked from
    it must not import: another thread may hold an import lock at the fork, and the child then waits for it
    forever, with the parent blocked in Popen until the child execs (the API stopped answering: TLS handshake
    timeouts). Everything the step needs is looked up before the fork; in the child it only calls prctl."""
    code = (
        "import builtins, ctypes, signal\n"
        "from k8snet.sandbox.components.traefik import die_with_parent\n"
        "in_child = die_with_parent()\n"
        "real = builtins.__import__\n"
        "def no_import(name, *args, **kwargs):\n"
        "    raise AssertionError(f'the child imported {name}')\n"
        "builtins.__import__ = no_import\n"
        "in_child()\n"
        "builtins.__import__ = real\n"
        "sig = ctypes.c_int()\n"
        "ctypes.CDLL('libc.so.6').prctl(2, ctypes.byref(sig))  # PR_GET_PDEATHSIG\n"
        "print(sig.value == signal.SIGTERM)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"
