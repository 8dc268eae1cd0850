"""A volume directory as the kubelet's atomic writer lays it out: visible names are symlinks into ``..data``.

pkg/volume/util/atomic_writer.go (``AtomicWriter.Write``) projects a ConfigMap, Secret, downwardAPI or projected
volume into its directory so that a reader never sees half an update:

- the files live in a hidden timestamped directory, ``..2026_01_02_15_04_05.2434149931`` (``os.MkdirTemp``
  with the UTC time as ``..2006_01_02_15_04_05.`` and a random 32-bit number);
- ``..data`` is a symlink to it, replaced in one rename when the payload changes;
- each top-level name of the payload is a symlink ``key -> ..data/key`` (a nested path ``dir/key`` is reached
  through ``dir -> ..data/dir``); names that left the payload lose their link, the old directory is removed.

A write with the same payload changes nothing (``shouldWritePayload``). The directory is read-only to the
containers that mount it; reads follow the links, :meth:`readlink` shows them (``ls -l``, ``readlink``).
"""

from __future__ import annotations

import posixpath

from .files import FileSystem

DATA_DIR = "..data"


class AtomicDir(FileSystem):
    """The kubelet's view of one volume directory, written whole by :meth:`project`."""

    def __init__(self) -> None:
        super().__init__({}, set())
        self.links: dict[str, str] = {}  # link path -> its target, relative to the link's directory
        self.payload: dict[str, bytes] | None = None  # what the last write projected (paths from the root)
        self.written_at = 0.0  # sandbox time of the last write (the files' and links' modification time)

    def project(self, payload: dict[str, bytes], stamp: str, when: float = 0.0) -> bool:
        """Write ``payload`` (``/key`` or ``/dir/key`` → bytes) into a new ``..<stamp>`` directory and switch
        ``..data`` to it; False, and nothing changes, when the payload is what the directory holds."""
        payload = {"/" + FileSystem.norm(path).lstrip("/"): data for path, data in payload.items()}
        if self.payload is not None and payload == self.payload:
            return False
        ts_dir = "/.." + stamp
        self.files = {ts_dir + path: data for path, data in payload.items()}
        self.size = sum(len(data) for data in payload.values())
        self.dirs = {"/", ts_dir}
        for path in self.files:
            while (path := posixpath.dirname(path)) != "/":
                self.dirs.add(path)
        self.links = {"/" + DATA_DIR: ts_dir[1:]}
        for path in payload:
            top = path.split("/")[1]
            self.links["/" + top] = f"{DATA_DIR}/{top}"
        self.payload = payload
        self.written_at = when
        return True

    @property
    def data_dir(self) -> str:
        """The timestamped directory ``..data`` points to ("" before the first write)."""
        return self.links.get("/" + DATA_DIR, "")

    def _resolve(self, path: str) -> str:
        """The path with every symlink followed (as the kernel's path walk does; at most 40 links)."""
        p = self.norm(path)
        for _ in range(40):
            parts = p.strip("/").split("/") if p != "/" else []
            for i in range(len(parts)):
                prefix = "/" + "/".join(parts[:i + 1])
                if prefix in self.links:
                    target = posixpath.join(posixpath.dirname(prefix), self.links[prefix])
                    p = self.norm("/".join([target, *parts[i + 1:]]))
                    break
            else:
                return p
        return p

    def exists(self, path: str) -> bool:
        p = self._resolve(path)
        return p in self.files or p in self.dirs

    def is_dir(self, path: str) -> bool:
        return self._resolve(path) in self.dirs

    def read(self, path: str) -> bytes | None:
        return self.files.get(self._resolve(path))

    def readlink(self, path: str) -> str | None:
        p = self.norm(path)
        parent = self._resolve(posixpath.dirname(p))
        return self.links.get(posixpath.join(parent, posixpath.basename(p)))

    def listdir(self, path: str) -> list[str]:
        p = self._resolve(path)
        names = set(super().listdir(p))
        prefix = p.rstrip("/") + "/"
        names |= {link[len(prefix):] for link in self.links if link.startswith(prefix) and "/" not in
                  link[len(prefix):]}
        return sorted(names)
