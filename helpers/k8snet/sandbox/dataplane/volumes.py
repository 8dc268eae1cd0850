"""The volumes the kubelet mounts into a container: emptyDir, configMap, secret, downwardAPI and projected.

ConfigMap, Secret, downwardAPI and projected volumes are written by the kubelet's atomic writer
(:mod:`.atomicwriter`: ``..data`` and a timestamped directory, one symlink per key), once per pod and shared by
its containers, and written again at each of the pod's periodic syncs (:mod:`.podsync`) when the objects
changed: what a container reads follows the API about a minute later, while a program that read a file at
start keeps what it read (nginx until ``nginx -s reload``). As on kind:

- a ``subPath`` mount is a copy made when the container starts and never updates (documented at
  kubernetes.io/docs/concepts/configuration/configmap/#mounted-configmaps-are-updated-automatically);
- an ``immutable`` object is read once: the kubelet's watch-based cache stops watching it
  (pkg/kubelet/util/manager/watch_based_manager.go ``objectCache.Get``), so even a deleted and recreated one
  keeps its first content in the pod;
- a deleted ``optional`` object empties the volume; a deleted required one (or a missing key) fails the
  remount with the kubelet's ``FailedMount`` event and leaves the files as they were;
- a projected serviceAccountToken is the kubelet's cached TokenRequest, asked again once it is older than 80%
  of its ``expirationSeconds`` or than 24 hours, less up to 10 s of jitter (pkg/kubelet/token/token_manager.go
  ``requiresRefresh``), on the sandbox clock.

Before a pod starts, a ConfigMap or Secret that is missing and not ``optional`` (or a key of its ``items`` that
is missing) keeps it from starting: :func:`setup_error` is the plugin's SetUp error that the kubelet's volume
manager (:mod:`..controllers.volumemanager`) retries with a back-off. A volume the sandbox cannot provide (a
hostPath) is mounted empty and named in a ``FailedMount`` Warning event with the kubelet's words; a
PersistentVolumeClaim is named the same way and stands in as an empty, writable directory of the pod's (an
emptyDir: its files go with the pod).
Sources: pkg/volume/configmap, secret, downwardapi, projected (their ``MakePayload``), emptydir.
"""

from __future__ import annotations

import base64
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .atomicwriter import AtomicDir
from .files import FS_BUDGET, FileSystem

if TYPE_CHECKING:
    from ..instance import Sandbox

Pod = dict[str, Any]
Problem = Callable[[str], None]

QUANTITY = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "K": 1000, "M": 1000 ** 2, "G": 1000 ** 3, "k": 1000}
TOKEN_MAX_TTL = 24 * 60 * 60
"""token_manager.go maxTTL: a cached token older than this is asked again whatever its expiry."""
TOKEN_MAX_JITTER = 10.0
"""token_manager.go maxJitter: the refresh comes up to this many seconds early."""
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
KUBE_API_ACCESS = "kube-api-access"
"""The volume the ServiceAccount admission adds (``kube-api-access-<5 random>`` on a real pod; the sandbox keeps it
out of the pod's spec) and its projection (plugin/pkg/admission/serviceaccount/admission.go TokenVolumeSource)."""
KUBE_API_ACCESS_SOURCE = {"projected": {"defaultMode": 420, "sources": [
    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
    {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                "path": "namespace"}]}}]}}


@dataclass
class CachedToken:
    """A TokenRequest the kubelet holds: the token, when it was issued, and the expiration it asked for."""

    token: str
    issued: float
    expiration: int


class KubeletVolume(AtomicDir):
    """One ConfigMap, Secret, downwardAPI or projected volume of a pod, with what the kubelet keeps between
    writes: its spec, the tokens it asked for, the immutable objects it stopped watching, the last failure."""

    def __init__(self, source: dict[str, Any]):
        super().__init__()
        self.source = source
        self.tokens: dict[str, CachedToken] = {}
        self.immutable: dict[tuple[str, str], dict[str, Any]] = {}
        self.failure = ""


def mount_all(sb: Sandbox, pod: Pod, container: dict[str, Any], fs: FileSystem,
              shared: dict[str, FileSystem], problem: Problem, host_paths_quiet: bool = False) -> None:
    """Mount the container's ``volumeMounts`` into ``fs``; ``shared`` holds the pod's volumes by name (emptyDirs
    and the kubelet's projected volumes, made at the first mount and shared by the pod's containers).
    ``host_paths_quiet``: a hostPath is mounted empty without a problem (a node agent whose host files the sandbox
    stands in for)."""
    volumes = {v.get("name"): v for v in pod["spec"].get("volumes") or []}
    for m in container.get("volumeMounts") or []:
        vol = volumes.get(m.get("name"))
        if vol is None:
            continue
        if "emptyDir" in vol or "persistentVolumeClaim" in vol:
            if "persistentVolumeClaim" in vol and vol["name"] not in shared:
                problem(f'MountVolume.SetUp failed for volume "{vol["name"]}" : k8snet sandbox: persistentVolumeClaim '
                        f'volumes are not emulated (claim "{vol["persistentVolumeClaim"].get("claimName", "")}"); an '
                        "empty directory that lives as long as the pod stands in")
            limit = _bytes((vol.get("emptyDir") or {}).get("sizeLimit")) or FS_BUDGET
            source = shared.setdefault(vol["name"], FileSystem({}, set(), budget=min(limit, FS_BUDGET)))
            read_only = bool(m.get("readOnly")) or bool(vol.get("persistentVolumeClaim", {}).get("readOnly"))
        elif any(kind in vol for kind in ("configMap", "secret", "downwardAPI", "projected")):
            source = shared.get(vol["name"]) or _first_write(sb, pod, vol, shared, problem)
            read_only = True
        elif "hostPath" in vol and host_paths_quiet:
            source = FileSystem({}, set())
            read_only = bool(m.get("readOnly"))
        else:
            source = FileSystem(_payload(sb, pod, vol, problem), set())
            read_only = True
        sub = m.get("subPath") or ""
        if not sub:
            fs.mount(m["mountPath"], source, read_only)
            continue
        inner = "/" + sub.strip("/")
        if "emptyDir" in vol or "persistentVolumeClaim" in vol:  # the kubelet creates the subPath directory
            source.mkdir(inner, parents=True)
        if source.is_dir(inner) and isinstance(source, KubeletVolume):  # the directory of that moment, as a copy
            fs.mount(m["mountPath"], _snapshot(source, inner), read_only)
        elif source.is_dir(inner):
            fs.mount(m["mountPath"], _Sub(source, inner), read_only)
        elif (data := source.read(inner)) is not None:  # one file, copied: subPath mounts never update
            fs.mkdir(posixpath.dirname(FileSystem.norm(m["mountPath"])), parents=True)
            fs.write(m["mountPath"], data)


def mount_service_account(sb: Sandbox, pod: Pod, container: dict[str, Any], fs: FileSystem,
                          shared: dict[str, FileSystem]) -> None:
    """The ServiceAccount admission's ``kube-api-access`` volume as a container sees it: ``token`` (what the kubelet
    asks the TokenRequest API for: bound to the pod, 3607 s, extended to a year, asked again after 80% of the
    3607 s), ``namespace`` and ``ca.crt`` (the namespace's kube-root-ca.crt), read-only, unless
    ``automountServiceAccountToken: false`` (on the pod, else on its ServiceAccount)."""
    ns = pod["metadata"].get("namespace", "default")
    automount = pod["spec"].get("automountServiceAccountToken")
    if automount is None:
        account = sb.store.get("serviceaccounts", ns, pod["spec"].get("serviceAccountName") or "default") or {}
        automount = account.get("automountServiceAccountToken")
    if automount is False or any(m.get("mountPath", "").rstrip("/") == SERVICE_ACCOUNT_DIR
                                 for m in container.get("volumeMounts") or []):
        return
    key = "/" + KUBE_API_ACCESS  # a key no volume name can take (names are DNS labels)
    volume = shared.get(key) or _first_write(sb, pod, {"name": key, **KUBE_API_ACCESS_SOURCE}, shared,
                                             lambda message: None)  # the sandbox leaves out what is missing
    fs.mount(SERVICE_ACCOUNT_DIR, volume, read_only=True)


def refresh(sb: Sandbox, pod: Pod, volume: KubeletVolume, problem: Problem) -> bool:
    """The remount of a pod sync (the volume plugin's SetUp again): the payload as the API has it now, written
    when it differs. A failure (a required object or key gone, no token) keeps the files and is reported once
    until it changes. True when the files changed."""
    payload, errors = _collect(sb, pod, volume.source, lambda note: None, volume)  # notes: said at the first write
    if errors:
        failure = _setup_failed(volume.source["name"], errors)
        if failure != volume.failure and not volume.source["name"].startswith("/"):
            problem(failure)
        volume.failure = failure
        return False
    volume.failure = ""
    return volume.project(payload, _stamp(sb), sb.clock.time())


def _snapshot(volume: FileSystem, inner: str) -> FileSystem:
    """A subPath directory of a kubelet-written volume: its files as they are now (the bind mount keeps the
    timestamped directory of the container's start; later writes make new ones)."""
    files: dict[str, bytes] = {}
    dirs: set[str] = set()
    todo = [inner]
    while todo:
        folder = todo.pop()
        dirs.add("/" + folder[len(inner):].lstrip("/"))
        for name in volume.listdir(folder):
            path = posixpath.join(folder, name)
            if volume.is_dir(path):
                todo.append(path)
            elif (data := volume.read(path)) is not None:
                files["/" + path[len(inner):].lstrip("/")] = data
    return FileSystem(files, dirs)


def _first_write(sb: Sandbox, pod: Pod, vol: dict[str, Any], shared: dict[str, FileSystem],
                 problem: Problem) -> KubeletVolume:
    volume = KubeletVolume(vol)
    volume.project(_payload(sb, pod, vol, problem, volume), _stamp(sb), sb.clock.time())
    shared[vol["name"]] = volume
    return volume


def _stamp(sb: Sandbox) -> str:
    """atomic_writer.go newTimestampDir: ``os.MkdirTemp`` with the UTC time as ``2006_01_02_15_04_05.`` and a
    random 32-bit number (from the sandbox's seeded generator)."""
    now = datetime.fromtimestamp(sb.clock.time(), UTC)
    return now.strftime("%Y_%m_%d_%H_%M_%S.") + str(sb.random.stream("kubelet-volumes").getrandbits(32))


OS_RELEASE = b"""PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"""
"""/etc/os-release of the kindest/node image (Debian 12)."""


def node_root(sb: Sandbox, node: str) -> dict[str, bytes]:
    """The few files of a kind node's root the sandbox knows (a hostPath of ``/``, as ``kubectl debug node``
    mounts it): its name, OS, resolver and hosts. Other host paths are not emulated."""
    addresses = ((sb.store.get("nodes", "", node) or {}).get("status") or {}).get("addresses") or []
    ip = next((a["address"] for a in addresses if a.get("type") == "InternalIP"), "")
    return {"/etc/hostname": f"{node}\n".encode(), "/etc/os-release": OS_RELEASE,
            "/etc/resolv.conf": b"nameserver 172.18.0.1\noptions ndots:0\n",
            "/etc/hosts": f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                          f"{ip}\t{node}\n".encode()}


def _bytes(quantity: Any) -> int:
    if not quantity:
        return 0
    text = str(quantity)
    for suffix, factor in QUANTITY.items():
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "", 1).isdigit():
            return int(float(text[: -len(suffix)]) * factor)
    return int(float(text)) if text.replace(".", "", 1).isdigit() else 0


def setup_error(sb: Sandbox, pod: Pod, vol: dict[str, Any]) -> str:
    """The volume plugin's SetUp error for one of the pod's volumes, as the kubelet's ``FailedMount`` event words
    it ('' when it mounts): a ConfigMap or Secret that is missing and not ``optional``, a key of ``items`` missing
    from it, a projected token for a missing ServiceAccount. What the sandbox does not emulate is no error here
    (it is reported when the volume is written). A Secret of any ``type`` mounts. Writes nothing, asks no token."""
    _, errors = _collect(sb, pod, vol, lambda message: None, check_only=True)
    return _setup_failed(vol.get("name", ""), errors) if errors else ""


def _setup_failed(volume: str, errors: list[str]) -> str:
    """operation_generator.go GenerateErrorDetailed for MountVolume.SetUp, around the plugin's error: one error
    as is, several as util/errors NewAggregate prints them (``[a, b]``, each message once)."""
    unique = list(dict.fromkeys(errors))
    detail = unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"
    return f'MountVolume.SetUp failed for volume "{volume}" : {detail}'


def _payload(sb: Sandbox, pod: Pod, vol: dict[str, Any], problem: Problem,
             cache: KubeletVolume | None = None) -> dict[str, bytes]:
    """The files a ConfigMap, Secret, downwardAPI or projected volume holds, by path from its root (``cache``:
    the volume's tokens and immutable objects, as the kubelet keeps them between writes); a SetUp error goes to
    ``problem`` with the kubelet's words."""
    files, errors = _collect(sb, pod, vol, problem, cache)
    if errors:
        problem(_setup_failed(vol.get("name", ""), errors))
    return files


def _collect(sb: Sandbox, pod: Pod, vol: dict[str, Any], note: Problem, cache: KubeletVolume | None = None,
             check_only: bool = False) -> tuple[dict[str, bytes], list[str]]:
    """The volume's files and its plugin's errors (pkg/volume/configmap, secret: ``SetUpAt``; pkg/volume/projected
    ``collectData``: each source's error, the sources after it still read); ``note`` gets what the sandbox does
    not emulate. ``check_only``: a projected token is only checked (its ServiceAccount exists), not asked for."""
    name = vol.get("name", "")
    if "configMap" in vol:
        files, error = _object_files(sb, pod, "configmaps", vol["configMap"], cache)
        return files, [error] if error else []
    if "secret" in vol:
        files, error = _object_files(sb, pod, "secrets", vol["secret"], cache)
        return files, [error] if error else []
    if "downwardAPI" in vol:
        return _downward(pod, vol["downwardAPI"].get("items") or []), []
    if "projected" in vol:
        files: dict[str, bytes] = {}
        errors: list[str] = []
        for source in vol["projected"].get("sources") or []:
            error = ""
            if "configMap" in source:
                found, error = _object_files(sb, pod, "configmaps", source["configMap"], cache)
                files.update(found)
            elif "secret" in source:
                found, error = _object_files(sb, pod, "secrets", source["secret"], cache)
                files.update(found)
            elif "downwardAPI" in source:
                files.update(_downward(pod, source["downwardAPI"].get("items") or []))
            elif "serviceAccountToken" in source:  # pkg/volume/projected collectServiceAccountTokenData
                projection = source["serviceAccountToken"] or {}
                path = "/" + str(projection.get("path", "")).lstrip("/")
                account = pod["spec"].get("serviceAccountName") or "default"
                if check_only:
                    ns = pod["metadata"].get("namespace", "default")
                    token = "" if sb.store.get("serviceaccounts", ns, account) is not None else None
                else:
                    token = _token(sb, pod, projection, cache, path)
                if token is None:
                    error = f'failed to fetch token: serviceaccounts "{account}" not found'
                elif not check_only:
                    files[path] = token.encode()
            else:
                kind = next(iter(source), "source")
                note(f'MountVolume.SetUp failed for volume "{name}" : k8snet sandbox: the {kind} projection '
                     "is not emulated yet; its files are missing")
            if error:
                errors.append(error)
        return files, errors
    if (vol.get("hostPath") or {}).get("path", "").rstrip("/") == "" and "hostPath" in vol:
        return node_root(sb, pod["spec"].get("nodeName", "")), []  # kubectl debug node/…: the node's / at /host
    kind = next((k for k in vol if k != "name"), "unknown")
    note(f'MountVolume.SetUp failed for volume "{name}" : k8snet sandbox: {kind} volumes are not emulated; '
         "the directory is mounted empty")
    return {}, []


def _token(sb: Sandbox, pod: Pod, projection: dict[str, Any], cache: KubeletVolume | None, path: str) -> str | None:
    """token_manager.go GetServiceAccountToken: the cached token while it needs no refresh, else a new one."""
    audience = projection.get("audience")
    expiration = int(projection.get("expirationSeconds") or 3600)
    now = sb.clock.time()
    held = cache.tokens.get(path) if cache is not None else None
    if held is not None and held.expiration == expiration:
        jitter = sb.random.stream("kubelet-tokens").random() * TOKEN_MAX_JITTER
        if now <= held.issued + TOKEN_MAX_TTL - jitter and now <= held.issued + expiration * 0.8 - jitter \
                and now >= held.issued:
            return held.token
    token = sb.tokens.pod_token(pod, [audience] if audience else None, expiration)
    if token is None:  # the refresh failed: the old token serves while it is valid (the sandbox: always)
        return held.token if held is not None else None
    if cache is not None:
        cache.tokens[path] = CachedToken(token, now, expiration)
    return token


def _object_files(sb: Sandbox, pod: Pod, resource: str, source: dict[str, Any],
                  cache: KubeletVolume | None = None) -> tuple[dict[str, bytes], str]:
    """A ConfigMap's or Secret's files and the plugin's error ('' none): ``SetUpAt`` (a missing object is an
    error unless ``optional``, which mounts it empty) and ``MakePayload`` (every key, or the ``items``; a key
    missing from ``items`` is an error unless ``optional``, which leaves it out). pkg/volume/secret/secret.go,
    pkg/volume/configmap/configmap.go: the watch-based manager's NotFound names the resource in the singular."""
    ns = pod["metadata"].get("namespace", "default")
    obj_name = source.get("name") or source.get("secretName") or ""
    obj = cache.immutable.get((resource, obj_name)) if cache is not None else None
    if obj is None:
        obj = sb.store.get(resource, ns, obj_name)
        if obj is not None and obj.get("immutable") and cache is not None:
            cache.immutable[(resource, obj_name)] = obj  # the cache stops watching it: this is what stays
    kind = "configmap" if resource == "configmaps" else "secret"
    if obj is None:
        return {}, "" if source.get("optional") else f'{kind} "{obj_name}" not found'
    data: dict[str, bytes] = {}
    for key, value in (obj.get("data") or {}).items():
        data[key] = base64.b64decode(value) if resource == "secrets" else str(value).encode()
    for key, value in (obj.get("binaryData") or {}).items():
        data[key] = base64.b64decode(value)
    items = source.get("items")
    if not items:
        return {"/" + key: value for key, value in data.items()}, ""
    files = {}
    for item in items:
        if item.get("key") in data:
            files["/" + item.get("path", item["key"]).lstrip("/")] = data[item["key"]]
        elif not source.get("optional"):
            return {}, (f'configmap references non-existent config key: {item.get("key")}' if kind == "configmap"
                        else f'references non-existent secret key: {item.get("key")}')
    return files, ""


def _downward(pod: Pod, items: list[dict[str, Any]]) -> dict[str, bytes]:
    """downwardAPI files: a field's value, or labels/annotations as ``key="value"`` lines, sorted
    (pkg/fieldpath FormatMap)."""
    meta = pod["metadata"]
    files = {}
    for item in items:
        path = item.get("fieldRef", {}).get("fieldPath", "")
        if path in ("metadata.labels", "metadata.annotations"):
            values = meta.get(path.split(".")[1]) or {}
            text = "\n".join(f'{k}="{v}"' for k, v in sorted(values.items()))
        else:
            text = {"metadata.name": meta.get("name", ""), "metadata.namespace": meta.get("namespace", ""),
                    "metadata.uid": meta.get("uid", ""), "spec.nodeName": pod["spec"].get("nodeName", ""),
                    "spec.serviceAccountName": pod["spec"].get("serviceAccountName", ""),
                    "status.podIP": (pod.get("status") or {}).get("podIP", "")}.get(path, "")
        files["/" + item.get("path", "").lstrip("/")] = text.encode()
    return files


class _Sub(FileSystem):
    """A directory inside a shared emptyDir, mounted on its own (``subPath``): writes land in the volume."""

    def __init__(self, volume: FileSystem, inner: str):
        super().__init__({}, set(), volume.budget)
        self.volume, self.inner = volume, inner.rstrip("/")

    def _at(self, path: str) -> str:
        return self.norm(self.inner + "/" + path.lstrip("/"))

    def exists(self, path: str) -> bool:
        return self.volume.exists(self._at(path))

    def is_dir(self, path: str) -> bool:
        return self.volume.is_dir(self._at(path))

    def read(self, path: str) -> bytes | None:
        return self.volume.read(self._at(path))

    def write(self, path: str, data: bytes, append: bool = False) -> str:
        return self.volume.write(self._at(path), data, append)

    def remove(self, path: str, recursive: bool = False) -> str:
        return self.volume.remove(self._at(path), recursive)

    def mkdir(self, path: str, parents: bool = False) -> str:
        return self.volume.mkdir(self._at(path), parents)

    def listdir(self, path: str) -> list[str]:
        return self.volume.listdir(self._at(path))

    def readlink(self, path: str) -> str | None:
        return self.volume.readlink(self._at(path))
