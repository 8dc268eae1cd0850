"""A container's file system, in memory, with its volumes mounted (what exec, probes and servers read).

Its own module so that the volume plugins (:mod:`.volumes`) and the program context (:mod:`.context`) build on
it without reaching back up into the workloads that use them.
"""

from __future__ import annotations

import posixpath

FS_BUDGET = 64 << 20
"""Bytes one container's files may hold. A real writable layer is bounded by the node's disk (and an
``ephemeral-storage`` limit); the sandbox keeps every container in memory, so a doubling ``cat a a > b``
must end with "No space left on device" long before it can take the cluster's memory."""
NO_SPACE = "No space left on device"


READ_ONLY = "Read-only file system"


class FileSystem:
    """A container's writable layer, in memory: what ``touch``, ``rm``, ``cat`` and exec probes see.

    Volumes are other file systems mounted at a directory (:meth:`mount`): an ``emptyDir`` is one object
    mounted in each container that names it, so they share its files; ConfigMap and Secret volumes are
    read-only, as the kubelet mounts them.
    """

    def __init__(self, files: dict[str, bytes], dirs: set[str], budget: int = FS_BUDGET):
        self.files = dict(files)
        self.size = sum(len(data) for data in self.files.values())
        self.budget = budget
        self.dirs = set(dirs) | {"/"}
        self.mounts: dict[str, tuple[FileSystem, bool]] = {}  # mount point -> (volume, read-only)
        for path in list(self.files) + list(self.dirs):
            while path != "/":
                path = posixpath.dirname(path)
                self.dirs.add(path)

    @staticmethod
    def norm(path: str, cwd: str = "/") -> str:
        return posixpath.normpath(posixpath.join(cwd, path)).replace("//", "/")

    def mount(self, point: str, volume: FileSystem, read_only: bool) -> None:
        point = self.norm(point)
        self.mkdir(point, parents=True)
        self.mounts[point] = (volume, read_only)

    def _route(self, p: str) -> tuple[FileSystem, str, bool] | None:
        """The mounted volume holding path ``p`` (longest mount point first), with the path inside it."""
        for point in sorted(self.mounts, key=len, reverse=True):
            if p == point or p.startswith(point + "/"):
                volume, read_only = self.mounts[point]
                return volume, "/" + p[len(point):].lstrip("/"), read_only
        return None

    def exists(self, path: str) -> bool:
        p = self.norm(path)
        if (routed := self._route(p)) is not None:
            return routed[0].exists(routed[1])
        return p in self.files or p in self.dirs or p == "/dev/null"

    def is_dir(self, path: str) -> bool:
        p = self.norm(path)
        if (routed := self._route(p)) is not None:
            return routed[0].is_dir(routed[1])
        return p in self.dirs

    def read(self, path: str) -> bytes | None:
        p = self.norm(path)
        if (routed := self._route(p)) is not None:
            return routed[0].read(routed[1])
        return b"" if p == "/dev/null" else self.files.get(p)

    def write(self, path: str, data: bytes, append: bool = False) -> str:
        """Write a file; returns '' or the errno text (``No such file or directory``, ``Is a directory``)."""
        p = self.norm(path)
        if (routed := self._route(p)) is not None:
            return READ_ONLY if routed[2] else routed[0].write(routed[1], data, append)
        if p == "/dev/null":
            return ""
        if p in self.dirs:
            return "Is a directory"
        if posixpath.dirname(p) not in self.dirs:
            return "No such file or directory"
        kept = self.files.get(p, b"") if append else b""
        room = self.budget - (self.size - len(self.files.get(p, b"")) + len(kept))
        problem = NO_SPACE if len(data) > room else ""
        if problem:
            data = data[:max(room, 0)]  # the kernel writes what fits, then ENOSPC
        self.size += len(kept) + len(data) - len(self.files.get(p, b""))
        self.files[p] = kept + data
        return problem

    def remove(self, path: str, recursive: bool = False) -> str:
        p = self.norm(path)
        if (routed := self._route(p)) is not None:
            if routed[1] == "/":
                return "Device or resource busy"
            return READ_ONLY if routed[2] else routed[0].remove(routed[1], recursive)
        if p in self.files:
            self.size -= len(self.files.pop(p))
            return ""
        if p in self.dirs:
            if not recursive:
                return "Is a directory"
            self.files = {f: d for f, d in self.files.items() if not f.startswith(p + "/")}
            self.size = sum(len(data) for data in self.files.values())
            self.dirs = {d for d in self.dirs if d != p and not d.startswith(p + "/")} | {"/"}
            return ""
        return "No such file or directory"

    def mkdir(self, path: str, parents: bool = False) -> str:
        p = self.norm(path)
        if (routed := self._route(p)) is not None:
            return READ_ONLY if routed[2] and routed[1] != "/" else routed[0].mkdir(routed[1], parents)
        if p in self.dirs or p in self.files:
            return "" if parents and p in self.dirs else "File exists"
        if posixpath.dirname(p) not in self.dirs and not parents:
            return "No such file or directory"
        while p not in self.dirs:
            self.dirs.add(p)
            p = posixpath.dirname(p)
        return ""

    def readlink(self, path: str) -> str | None:
        """A symbolic link's target (None: not a link). Only the kubelet's volumes hold links
        (:mod:`.atomicwriter`); a container's own layer has none."""
        p = self.norm(path)
        if (routed := self._route(p)) is not None and routed[1] != "/":
            return routed[0].readlink(routed[1])
        return None

    def listdir(self, path: str) -> list[str]:
        p = self.norm(path)
        if (routed := self._route(p)) is not None:
            return routed[0].listdir(routed[1])
        prefix = p.rstrip("/") + "/"
        names = {x[len(prefix):].split("/")[0] for x in list(self.files) + list(self.dirs)
                 if x.startswith(prefix) and x != p}
        return sorted(names)


