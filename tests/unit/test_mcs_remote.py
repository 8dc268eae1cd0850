"""The peers' exports handed to a Cilium sandbox's operator (k8snet.sandbox.controllers.mcs.remote): what the cluster
mesh carries between sandboxes. A peer's export alone makes the ServiceImport and its derived Service; with a local
export of the same name both are merged (the older export wins, each side's ServiceExport says Conflict); a peer that
stops exporting leaves the local cluster alone in ``status.clusters``. In process: the mesh has no API of its own."""

from __future__ import annotations

import asyncio

import pytest

from k8snet.sandbox.apiserver import WriteOptions
from k8snet.sandbox.controllers.mcs import remote
from k8snet.sandbox.controllers.mcs.merge import Export, Port
from k8snet.sandbox.instance import Sandbox

IMPORTS, EXPORTS = "serviceimports.multicluster.x-k8s.io", "serviceexports.multicluster.x-k8s.io"


async def settle(predicate, what: str) -> None:
    for _ in range(200):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_peer_exports_make_and_merge_the_import(tmp_path):
    async def main() -> None:
        sb = Sandbox(tmp_path, cni="cilium")
        await sb.start()
        try:
            rt = sb.registry.lookup
            cm = sb.store.get("configmaps", "kube-system", "cilium-config")
            cm["data"].update({"clustermesh-enable-mcs-api": "true", "cluster-name": "east"})
            sb.api.update(rt("", "v1", "configmaps"), "kube-system", "cilium-config", cm, WriteOptions())
            west = Export("west", "default", "web", "2020-01-01T00:00:00Z", (Port(80, "TCP", "http"),))
            remote.publish(sb, "west", [west])
            await settle(lambda: ((sb.store.get(IMPORTS, "default", "web") or {}).get("spec") or {}).get("ips"),
                         "the import of west's export, with its clusterset IP")
            si = sb.store.get(IMPORTS, "default", "web")
            assert si["status"]["clusters"] == [{"cluster": "west"}]
            assert si["spec"]["ports"] == [{"port": 80, "name": "http", "protocol": "TCP"}]
            sb.api.create(rt("", "v1", "services"), "default", {"metadata": {"name": "web"}, "spec": {
                "selector": {"app": "web"}, "ports": [{"name": "http", "port": 81}]}}, WriteOptions())
            sb.api.create(rt("multicluster.x-k8s.io", "v1beta1", "serviceexports"), "default",
                          {"metadata": {"name": "web"}}, WriteOptions())

            def conflict():
                status = (sb.store.get(EXPORTS, "default", "web") or {}).get("status") or {}
                return next((c for c in status.get("conditions") or [] if c["type"] == "Conflict"), None)
            await settle(conflict, "the local export's Conflict condition")
            assert (conflict()["status"], conflict()["reason"]) == ("True", "PortConflict")
            assert conflict()["message"].startswith('Duplicated port name "http". Using port definition "{{http TCP '
                                                    '<nil> 80} west 2020-01-01 00:00:00 +0000 UTC}"')
            assert [e.cluster for e in remote.local_exports(sb)] == ["east"]
            await settle(lambda: sb.store.get(IMPORTS, "default", "web")["status"]["clusters"] ==
                         [{"cluster": "west"}, {"cluster": "east"}], "both clusters, the oldest first")
            remote.publish(sb, "west", [])
            await settle(lambda: sb.store.get(IMPORTS, "default", "web")["status"]["clusters"] ==
                         [{"cluster": "east"}], "east alone once west stops exporting")
            with pytest.raises(ValueError, match="this cluster's own name"):
                remote.publish(sb, "east", [])
        finally:
            await sb.stop()
            sb.close()

    asyncio.run(main())
