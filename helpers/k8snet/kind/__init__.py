"""The kind backend: a real cluster in Docker, created, checked and deleted with one command each.

Only lifecycle lives here (``k8snet kind up|down|status``); traffic, apply and
waits use the same code as the sandbox. Pins are in :mod:`k8snet.kind.versions`.

Example:
    >>> from k8snet import kind
    >>> kind.up()                                  # idempotent
    >>> cluster = k8snet.connect("kind")
    >>> k8snet.policy.enforcement_check(cluster).enforced   # the canary `up` runs
    True
"""

from __future__ import annotations

from typing import Any

__all__ = ["down", "status", "up"]

_LAZY = {"up": "lifecycle", "down": "lifecycle", "status": "lifecycle"}


def __getattr__(name: str) -> Any:
    """Import lazily: ``k8snet doctor`` and the CLI start without the kubernetes client."""
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
