"""``python -m k8snet.sandbox.cachemaker STATE``: the warm-up child (:mod:`.warmup`), which makes a new state
directory's caches on another core while the sandbox process starts, printing a line as each is written: the JSON
copies of the CRD documents every sandbox installs, then, at the lowest CPU priority, the CEL grammar's parser
tables (``cel``) and the copies of the other documents (a CNI plugin's, Karmada's)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from . import crddocs, warmup


def main() -> None:
    state = Path(sys.argv[1])
    for name in crddocs.CRD_DOCUMENTS:
        crddocs.ensure_copy(name, state)
        print(name, flush=True)
    # the rest is wanted after the sandbox's first answers: it yields the CPU to anything else that wants it then
    # (kubectl, Traefik starting, the sandbox process), using only what is idle
    os.nice(19)
    os.environ.setdefault(warmup.GRAMMAR_ENV, str(warmup.grammar_path(state)))
    from . import celrules

    celrules.build_parser()
    print(warmup.CEL, flush=True)
    for name in crddocs.names():
        if name not in crddocs.CRD_DOCUMENTS:
            crddocs.ensure_copy(name, state)
            print(name, flush=True)


if __name__ == "__main__":
    main()
