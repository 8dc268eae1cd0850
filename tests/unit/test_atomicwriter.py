"""The kubelet's atomic writer layout (pkg/volume/util/atomic_writer.go) and the pod sync that rewrites volumes,
without a sandbox process: links for top-level names only, a write of the same payload changes nothing, a key
that left the payload loses its link, a ``subPath`` directory is the copy of the container's start."""

from __future__ import annotations

import asyncio

from tests.unit.test_commands import sb  # noqa: F401  (the in-process sandbox fixture)

from k8snet.sandbox.apiserver import WriteOptions
from k8snet.sandbox.controllers import pods as lifecycle
from k8snet.sandbox.dataplane.atomicwriter import AtomicDir
from k8snet.sandbox.dataplane.files import FileSystem

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"


def test_the_layout_links_and_a_write_that_changes_nothing():
    d = AtomicDir()
    assert d.project({"/a": b"1", "/conf/app.yaml": b"x: 1"}, "2026_01_02_15_04_05.42")
    assert d.listdir("/") == ["..2026_01_02_15_04_05.42", "..data", "a", "conf"]
    assert (d.readlink("/a"), d.readlink("/conf"), d.readlink("/..data")) == (
        "..data/a", "..data/conf", "..2026_01_02_15_04_05.42")
    assert d.readlink("/conf/app.yaml") is None and d.read("/conf/app.yaml") == b"x: 1" and d.is_dir("/conf")
    assert not d.project({"/a": b"1", "/conf/app.yaml": b"x: 1"}, "2026_01_02_15_05_05.7")  # shouldWritePayload
    assert d.project({"/conf/app.yaml": b"x: 2"}, "2026_01_02_15_05_05.7")
    assert d.listdir("/") == ["..2026_01_02_15_05_05.7", "..data", "conf"] and not d.exists("/a")
    fs = FileSystem({}, set())
    fs.mount("/etc/cfg", d, read_only=True)
    assert fs.readlink("/etc/cfg/conf") == "..data/conf" and fs.read("/etc/cfg/conf/app.yaml") == b"x: 2"
    assert fs.write("/etc/cfg/b", b"") == "Read-only file system"


def test_a_sync_rewrites_the_volume_and_a_subpath_directory_keeps_its_copy(sb):  # noqa: F811
    rt = sb.registry.lookup
    opts = WriteOptions(field_manager="test")
    sb.api.create(rt("", "v1", "configmaps"), "default", {"metadata": {"name": "cfg"}, "data": {"a": "1"}}, opts)
    volume = {"name": "c", "configMap": {"name": "cfg", "items": [{"key": "a", "path": "conf/app.yaml"}]}}
    sb.api.create(rt("", "v1", "pods"), "default", {"metadata": {"name": "p"}, "spec": {
        "containers": [{"name": "main", "image": AGNHOST, "args": ["pause"], "volumeMounts": [
            {"name": "c", "mountPath": "/etc/all"}, {"name": "c", "mountPath": "/etc/conf", "subPath": "conf"}]}],
        "volumes": [volume]}}, opts)
    lifecycle.schedule(sb, sb.store.get("pods", "default", "p"))
    lifecycle.start(sb, sb.store.get("pods", "default", "p"))
    pod = sb.store.get("pods", "default", "p")

    def cat(path: str) -> str:
        return asyncio.run(sb.dataplane.exec(pod, "main", ["cat", path])).stdout.decode()

    cm = sb.store.get("configmaps", "default", "cfg")
    cm["data"]["a"] = "2"
    sb.api.update(rt("", "v1", "configmaps"), "default", "cfg", cm, opts)
    assert cat("/etc/all/conf/app.yaml") == "1"  # until the pod's sync
    sb.dataplane.podsync.sync(pod["metadata"]["uid"])
    assert (cat("/etc/all/conf/app.yaml"), cat("/etc/conf/app.yaml")) == ("2", "1")
