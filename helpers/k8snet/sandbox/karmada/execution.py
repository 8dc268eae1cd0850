"""karmada-controller-manager's controllers that talk to member clusters (Push mode).

Each member is reached through its own Kubernetes API: ``spec.apiEndpoint`` of its Cluster, with the token and
CA bundle of the secret ``spec.secretRef`` names (``karmadactl join`` wrote them), as
pkg/util/membercluster_client.go builds its clients. The calls run off the API's critical path (aiohttp on the
sandbox's loop); what they learn is written back through the Karmada API.

- execution (pkg/controllers/execution/execution_controller.go, pkg/util/objectwatcher): each manifest of a Work
  is created on the member when missing, else updated, keeping what the member owns (retainClusterFields: its
  resourceVersion, finalizers, owner references, and labels and annotations Karmada did not manage; a Service's
  clusterIP(s) and node ports: lifted.RetainServiceFields). A member object Karmada does not manage (no
  ``karmada.io/managed`` label) is left alone unless the binding's conflictResolution is Overwrite. The Work's
  condition ``Applied`` says how it went (AppliedSuccessful / AppliedFailed). A Work being deleted has its
  manifests deleted on the member (unless preserveResourcesOnDeletion), then loses its finalizer.
- work status (pkg/controllers/status/work_status_controller.go): each applied manifest's status on the member
  is reflected into ``status.manifestStatuses`` (a Deployment's counts with its generation and the template
  generation it was made from, reflectstatus.go; other kinds their whole status) with its health (healthy.go);
  a manifest deleted on the member is created again. Members are polled (every :data:`POLL` seconds) where
  Karmada keeps informers on them.
- cluster status (pkg/controllers/status/cluster_status_controller.go, every 10 s as
  ``--cluster-status-update-frequency``): ``/readyz`` decides the condition ``Ready``, ``/version`` the
  kubernetesVersion, the Nodes the nodeSummary; the cluster controller taints a not-ready cluster
  ``cluster.karmada.io/not-ready:NoSchedule`` and removes the taint once it is ready again
  (cluster_controller.go taintClusterByCondition).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import logging
import ssl
from typing import TYPE_CHECKING, Any

import aiohttp

from ..apiserver import WriteOptions
from ..errors import ApiError
from ..store import Event
from . import division, works

if TYPE_CHECKING:
    from ..instance import Sandbox

log = logging.getLogger("k8snet.sandbox.karmada")
Obj = dict[str, Any]
CLUSTERS = "clusters.cluster.karmada.io"
POLL = 1.0
"""Seconds between two looks at the members' copies (the work status controller's informers, polled)."""
CLUSTER_STATUS_PERIOD = 10.0
MANAGER = "karmada-controller-manager"
NOT_READY_TAINT = "cluster.karmada.io/not-ready"
TIMEOUT = aiohttp.ClientTimeout(total=15)


class MemberError(Exception):
    """A member cluster's API refused a call, or could not be reached (the message says which)."""


class Member:
    """One member cluster's API, with the credentials of its Cluster's secret."""

    def __init__(self, name: str, endpoint: str, token: str, ca_pem: str | None, insecure: bool):
        self.name, self.endpoint, self.token = name, endpoint.rstrip("/"), token
        if insecure:
            self.ssl: ssl.SSLContext | bool = False
        else:
            self.ssl = ssl.create_default_context(cadata=ca_pem) if ca_pem else ssl.create_default_context()
        self.session = aiohttp.ClientSession(timeout=TIMEOUT)
        self.key = (endpoint, token, ca_pem, insecure)

    async def call(self, method: str, path: str, body: Obj | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        try:
            async with self.session.request(method, self.endpoint + path, json=body, headers=headers,
                                            ssl=self.ssl) as resp:
                text = await resp.text()
                try:
                    return resp.status, json.loads(text) if text else None
                except ValueError:
                    return resp.status, text
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise MemberError(f"cluster({self.name}) is not reachable: {exc or type(exc).__name__}") from None

    async def close(self) -> None:
        await self.session.close()


def _message(body: Any) -> str:
    return body.get("message", "") if isinstance(body, dict) else str(body)


def path_of(sb: Sandbox, manifest: Obj) -> str:
    """The REST path of a manifest (the RESTMapper's GVK → GVR, from the Karmada API's own registry).

    Raises:
        MemberError: a kind the mapper does not know.
    """
    group, _, version = manifest.get("apiVersion", "").rpartition("/")
    rt = sb.registry.by_kind(group, manifest.get("kind", ""))
    if rt is None:
        raise MemberError(f"no matches for kind \"{manifest.get('kind')}\" in version \"{manifest.get('apiVersion')}\"")
    base = f"/api/{version}" if not group else f"/apis/{group}/{version}"
    meta = manifest["metadata"]
    ns = f"/namespaces/{meta['namespace']}" if rt.namespaced and meta.get("namespace") else ""
    return f"{base}{ns}/{rt.plural}"


def _retain_keys(desired: dict[str, str], observed: dict[str, str], managed_record: str) -> dict[str, str]:
    """util.RetainLabels/RetainAnnotations: the member's own keys stay; keys Karmada set before and the template
    dropped go."""
    dropped = {k for k in managed_record.split(",") if k} - set(desired)
    out = dict(desired)
    for k, v in observed.items():
        if k not in dropped and k not in out:
            out[k] = v
    return out


def retain(desired: Obj, observed: Obj) -> Obj:
    """objectWatcher.retainClusterFields and the default interpreter's Retain for Services."""
    out = copy.deepcopy(desired)
    meta, ometa = out["metadata"], observed.get("metadata") or {}
    meta["resourceVersion"] = ometa.get("resourceVersion")
    for field in ("finalizers", "ownerReferences"):
        if ometa.get(field):
            meta[field] = ometa[field]
        else:
            meta.pop(field, None)
    oannotations = ometa.get("annotations") or {}
    meta["annotations"] = _retain_keys(meta.get("annotations") or {}, oannotations,
                                       oannotations.get(works.MANAGED_ANNOTATIONS, ""))
    meta["labels"] = _retain_keys(meta.get("labels") or {}, ometa.get("labels") or {},
                                  oannotations.get(works.MANAGED_LABELS, ""))
    if out.get("kind") == "Service":
        spec, ospec = out.setdefault("spec", {}), observed.get("spec") or {}
        for field in ("clusterIP", "clusterIPs", "healthCheckNodePort"):
            if not spec.get(field) and ospec.get(field):
                spec[field] = ospec[field]
        oports = {(p.get("name"), p.get("port")): p for p in ospec.get("ports") or []}
        for port in spec.get("ports") or []:
            old = oports.get((port.get("name"), port.get("port")))
            if old and old.get("nodePort") and not port.get("nodePort"):
                port["nodePort"] = old["nodePort"]
    if out.get("kind") == "Namespace" and observed.get("spec"):
        out["spec"] = {**observed["spec"], **(out.get("spec") or {})}
    return out


def reflect_status(observed: Obj) -> Obj | None:
    """The default interpreter's ReflectStatus (reflectstatus.go)."""
    status = observed.get("status")
    if observed.get("kind") == "Deployment":
        status = status or {}
        meta = observed["metadata"]
        out = {"generation": meta.get("generation"),
               "resourceTemplateGeneration": int((meta.get("annotations") or {}).get(
                   "resourcetemplate.karmada.io/generation") or 0)}
        out.update({f: status.get(f) for f in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas",
                                               "unavailableReplicas", "observedGeneration")})
        return {k: v for k, v in out.items() if v}
    return status


def health(observed: Obj) -> str:
    """The default interpreter's InterpretHealth (healthy.go); Unknown for kinds it has no rule for."""
    kind, status, spec = observed.get("kind"), observed.get("status") or {}, observed.get("spec") or {}
    if kind == "Deployment":
        if status.get("observedGeneration") != observed["metadata"].get("generation"):
            return "Unhealthy"
        if spec.get("replicas") is not None and int(status.get("updatedReplicas") or 0) < int(spec["replicas"]):
            return "Unhealthy"
        if int(status.get("availableReplicas") or 0) < int(status.get("updatedReplicas") or 0):
            return "Unhealthy"
        return "Healthy"
    if kind == "Service":
        if spec.get("type") == "LoadBalancer":
            return "Healthy" if (status.get("loadBalancer") or {}).get("ingress") else "Unhealthy"
        return "Healthy"
    return "Unknown"


class Syncer:
    """The execution, work-status and cluster-status controllers: one work queue of Works and Clusters."""

    def __init__(self, sb: Sandbox):
        self.sb = sb
        self.queue: asyncio.Queue[tuple[str, str, str]] = asyncio.Queue()
        self.queued: set[tuple[str, str, str]] = set()
        self.members: dict[str, Member] = {}
        self.applied: dict[tuple[str, str], int] = {}
        """Work → the generation whose manifests were last applied (objectWatcher's version record)."""
        self.cluster_checked: dict[str, float] = {}
        sb.store.subscribe(self.on_event)

    def enqueue(self, item: tuple[str, str, str]) -> None:
        if item not in self.queued:
            self.queued.add(item)
            self.queue.put_nowait(item)

    def on_event(self, event: Event) -> None:
        meta = event.obj["metadata"]
        if event.resource == works.RESOURCE:
            self.enqueue(("work", meta["namespace"], meta["name"]))
        elif event.resource == CLUSTERS and event.type == "ADDED":
            self.enqueue(("cluster", "", meta["name"]))

    async def run(self) -> None:
        poller = asyncio.get_running_loop().create_task(self._poll())
        try:
            while True:
                item = await self.queue.get()
                self.queued.discard(item)
                try:
                    if item[0] == "work":
                        await self.sync_work(item[1], item[2])
                    else:
                        await self.sync_cluster(item[2])
                except ApiError as exc:
                    if exc.code == 409:
                        asyncio.get_running_loop().call_later(0.05, self.enqueue, item)
                    elif exc.code != 404:
                        log.warning("karmada %s: %s", item, exc)
                except Exception:  # a controller bug must not stop the sandbox
                    log.exception("karmada %s failed", item)
        finally:
            poller.cancel()
            for member in self.members.values():
                await member.close()

    async def _poll(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            for work in self.sb.store.list(works.RESOURCE):
                self.enqueue(("work", work["metadata"]["namespace"], work["metadata"]["name"]))
            now = loop.time()
            for cluster in self.sb.store.list(CLUSTERS):
                name = cluster["metadata"]["name"]
                if now - self.cluster_checked.get(name, -CLUSTER_STATUS_PERIOD) >= CLUSTER_STATUS_PERIOD:
                    self.enqueue(("cluster", "", name))
            await asyncio.sleep(POLL)

    # -- members ---------------------------------------------------------------------------------------------

    async def member(self, cluster: Obj) -> Member:
        """The member's client from the Cluster and its secret (membercluster_client.go).

        Raises:
            MemberError: no endpoint, or the secret or its token is missing.
        """
        name, spec = cluster["metadata"]["name"], cluster.get("spec") or {}
        ref = spec.get("secretRef") or {}
        secret = self.sb.store.get("secrets", ref.get("namespace", ""), ref.get("name", "")) if ref else None
        data = (secret or {}).get("data") or {}
        if not spec.get("apiEndpoint"):
            raise MemberError(f"the api endpoint of cluster {name} is empty")
        if secret is None:
            raise MemberError(f"can not find secret of cluster {name}: {ref.get('namespace', '')}/{ref.get('name', '')}")
        if not data.get("token"):
            raise MemberError(f"the secret for cluster {name} is missing a non-empty value for \"token\"")
        token = base64.b64decode(data["token"]).decode()
        ca = base64.b64decode(data["caBundle"]).decode() if data.get("caBundle") else None
        key = (spec["apiEndpoint"], token, ca, bool(spec.get("insecureSkipTLSVerification")))
        have = self.members.get(name)
        if have is None or have.key != key:
            if have is not None:
                await have.close()
            have = self.members[name] = Member(name, *key)
        return have

    async def sync_cluster(self, name: str) -> None:
        cluster = self.sb.store.get(CLUSTERS, "", name)
        self.cluster_checked[name] = asyncio.get_running_loop().time()
        if cluster is None or cluster["metadata"].get("deletionTimestamp"):
            member = self.members.pop(name, None)
            if member is not None:
                await member.close()
            return
        status = copy.deepcopy(cluster.get("status") or {})
        try:
            member = await self.member(cluster)
            code, _ = await member.call("GET", "/readyz")
            if code == 200:
                ready = ("True", "ClusterReady", "cluster is healthy and ready to accept workloads")
                _, version = await member.call("GET", "/version")
                if isinstance(version, dict) and version.get("gitVersion"):
                    status["kubernetesVersion"] = version["gitVersion"]
                ncode, nodes = await member.call("GET", "/api/v1/nodes")
                if ncode == 200 and isinstance(nodes, dict):
                    items = nodes.get("items") or []
                    ready_num = sum(1 for n in items if any(c.get("type") == "Ready" and c.get("status") == "True"
                                                            for c in (n.get("status") or {}).get("conditions") or []))
                    status["nodeSummary"] = {k: v for k, v in (("totalNum", len(items)), ("readyNum", ready_num))
                                             if v}
            else:
                ready = ("False", "ClusterNotReady", "cluster is reachable but health endpoint responded without ok")
        except MemberError as exc:
            ready = ("False", "ClusterNotReachable", "cluster is not reachable")
            log.info("%s", exc)
        cluster = self.sb.store.get(CLUSTERS, "", name)
        if cluster is None:
            return
        rt = self.sb.registry.lookup("cluster.karmada.io", "v1alpha1", "clusters")
        assert rt is not None
        conditions = status.get("conditions") or []
        old = next((c for c in conditions if c.get("type") == "Ready"), None)
        new = {"type": "Ready", "status": ready[0], "reason": ready[1], "message": ready[2],
               "lastTransitionTime": old["lastTransitionTime"] if old and old.get("status") == ready[0]
               else self.sb.api.now()}
        status["conditions"] = [c for c in conditions if c.get("type") != "Ready"] + [new]
        opts = WriteOptions(field_manager=MANAGER)
        if status != (cluster.get("status") or {}):
            cluster = self.sb.api.update(rt, "", name, {**cluster, "status": status}, opts, "status")
        taints = [t for t in (cluster.get("spec") or {}).get("taints") or [] if t.get("key") != NOT_READY_TAINT]
        if ready[0] != "True":
            taints.append({"key": NOT_READY_TAINT, "effect": "NoSchedule", "timeAdded": self.sb.api.now()})
            keep = next((t for t in (cluster.get("spec") or {}).get("taints") or []
                         if t.get("key") == NOT_READY_TAINT and t.get("effect") == "NoSchedule"), None)
            if keep is not None:
                taints[-1] = keep
        if taints != ((cluster.get("spec") or {}).get("taints") or []):
            updated = copy.deepcopy(cluster)
            if taints:
                updated["spec"]["taints"] = taints
            else:
                updated["spec"].pop("taints", None)
            self.sb.api.update(rt, "", name, updated, opts)

    # -- works -----------------------------------------------------------------------------------------------

    async def sync_work(self, ns: str, name: str) -> None:
        work = self.sb.store.get(works.RESOURCE, ns, name)
        cluster_name = division.cluster_of(ns)
        if work is None or cluster_name is None:
            self.applied.pop((ns, name), None)
            return
        cluster = self.sb.store.get(CLUSTERS, "", cluster_name)
        manifests = ((work.get("spec") or {}).get("workload") or {}).get("manifests") or []
        if work["metadata"].get("deletionTimestamp"):
            if cluster is not None and not cluster["metadata"].get("deletionTimestamp") and \
                    not (work.get("spec") or {}).get("preserveResourcesOnDeletion"):  # an unjoined cluster keeps them
                member = await self.member(cluster)
                for manifest in manifests:
                    await self._delete(member, manifest)
            self._drop_finalizer(ns, name)
            self.applied.pop((ns, name), None)
            return
        if cluster is None or cluster["metadata"].get("deletionTimestamp"):
            return
        if (work.get("spec") or {}).get("suspendDispatching"):
            return
        try:
            member = await self.member(cluster)
            observed: list[Obj | None] = []
            for manifest in manifests:
                observed.append(await self._apply(member, manifest, work))
        except MemberError as exc:
            self.applied.pop((ns, name), None)
            self._set_status(ns, name, ("False", "AppliedFailed", f"Failed to apply all manifests ({len(manifests)}): "
                                        f"{exc}"), None)
            return
        self.applied[(ns, name)] = int(work["metadata"].get("generation") or 0)
        statuses = []
        for i, (manifest, obj) in enumerate(zip(manifests, observed, strict=True)):
            if obj is None:
                continue
            group, _, version = manifest.get("apiVersion", "").rpartition("/")
            ident = {"ordinal": i, "group": group, "version": version, "kind": manifest.get("kind"),
                     "resource": path_of(self.sb, manifest).rsplit("/", 1)[1],
                     "namespace": manifest["metadata"].get("namespace", ""), "name": manifest["metadata"]["name"]}
            item: Obj = {"identifier": {k: v for k, v in ident.items() if v != "" or k in ("version",)},
                         "health": health(obj)}
            reflected = reflect_status(obj)
            if reflected:
                item["status"] = reflected
            statuses.append(item)
        self._set_status(ns, name, ("True", "AppliedSuccessful", "Manifest has been successfully applied"), statuses)

    async def _apply(self, member: Member, manifest: Obj, work: Obj) -> Obj | None:
        """objectWatcher.Create or Update, then the member's copy as it stands.

        Raises:
            MemberError: the member refused, or Karmada does not manage the object there.
        """
        path = path_of(self.sb, manifest)
        name = manifest["metadata"]["name"]
        code, observed = await member.call("GET", f"{path}/{name}")
        key = (work["metadata"]["namespace"], work["metadata"]["name"])
        if code == 404:
            code, observed = await member.call("POST", path, manifest)
            if code >= 400:
                raise MemberError(_message(observed))
            return observed
        if code >= 400:
            raise MemberError(_message(observed))
        if self.applied.get(key) == int(work["metadata"].get("generation") or 0):
            return observed  # nothing new to apply: only the status is looked at
        labels = observed["metadata"].get("labels") or {}
        resolution = (manifest["metadata"].get("annotations") or {}).get(works.CONFLICT_RESOLUTION)
        if labels.get(works.MANAGED_LABEL) != "true" and resolution != "overwrite":
            raise MemberError(f"resource(kind={manifest.get('kind')}, {manifest['metadata'].get('namespace', '')}/"
                              f"{name}) already exists in the cluster {member.name} and the "
                              f"{works.CONFLICT_RESOLUTION} strategy value is empty, Karmada will not manage this "
                              "resource")
        desired = retain(manifest, observed)
        code, result = await member.call("PUT", f"{path}/{name}", desired)
        if code >= 400:
            raise MemberError(_message(result))
        return result

    async def _delete(self, member: Member, manifest: Obj) -> None:
        path = path_of(self.sb, manifest)
        code, body = await member.call("DELETE", f"{path}/{manifest['metadata']['name']}",
                                       {"kind": "DeleteOptions", "apiVersion": "v1",
                                        "propagationPolicy": "Background"})
        if code >= 400 and code != 404:
            raise MemberError(_message(body))

    def _drop_finalizer(self, ns: str, name: str) -> None:
        work = self.sb.store.get(works.RESOURCE, ns, name)
        if work is None or works.EXECUTION_FINALIZER not in (work["metadata"].get("finalizers") or []):
            return
        rt = self.sb.registry.lookup(works.GROUP, works.VERSION, works.PLURAL)
        assert rt is not None
        updated = copy.deepcopy(work)
        updated["metadata"]["finalizers"] = [f for f in work["metadata"]["finalizers"]
                                             if f != works.EXECUTION_FINALIZER]
        self.sb.api.update(rt, ns, name, updated, WriteOptions(field_manager=MANAGER))

    def _set_status(self, ns: str, name: str, applied: tuple[str, str, str], statuses: list[Obj] | None) -> None:
        work = self.sb.store.get(works.RESOURCE, ns, name)
        if work is None or work["metadata"].get("deletionTimestamp"):
            return
        status = copy.deepcopy(work.get("status") or {})
        conditions = status.get("conditions") or []
        old = next((c for c in conditions if c.get("type") == "Applied"), None)
        new = {"type": "Applied", "status": applied[0], "reason": applied[1], "message": applied[2],
               "lastTransitionTime": old["lastTransitionTime"] if old and old.get("status") == applied[0]
               else self.sb.api.now()}
        status["conditions"] = [c for c in conditions if c.get("type") != "Applied"] + [new]
        if statuses is not None:
            status["manifestStatuses"] = statuses
        if status == (work.get("status") or {}):
            return
        rt = self.sb.registry.lookup(works.GROUP, works.VERSION, works.PLURAL)
        assert rt is not None
        self.sb.api.update(rt, ns, name, {**work, "status": status}, WriteOptions(field_manager=MANAGER), "status")
