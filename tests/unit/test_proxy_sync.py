"""kube-proxy writes its rules at most once per minSyncPeriod: routing and iptables-save follow its last sync.

Sources: pkg/proxy/iptables/proxier.go (1.33: ``async.NewBoundedFrequencyRunner("sync-runner", …, minSyncPeriod,
time.Hour, burstSyncs)`` with ``burstSyncs := 2``), pkg/util/async/bounded_frequency_runner.go (tryRun: a token
or the timer at lastRun + minInterval), https://kubernetes.io/docs/reference/networking/virtual-ips/
("minSyncPeriod"), kind's KubeProxyConfiguration (``iptables.minSyncPeriod: 1s``). The sandbox's clock is held
still here, so every moment is the test's to choose.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from k8snet.sandbox.clock import Clock
from k8snet.sandbox.dataplane import iptables
from k8snet.sandbox.dataplane.model import Refused
from k8snet.sandbox.instance import Sandbox, install_kube_system

W1 = "k8snet-worker"
CLIENT = {"metadata": {"name": "client", "namespace": "default"}, "spec": {"nodeName": W1},
          "status": {"phase": "Running", "podIP": "10.244.1.9"}}


class HeldClock(Clock):
    """A sandbox clock that moves only when the test advances it."""

    def __init__(self) -> None:
        super().__init__()
        self.start = 1_750_000_000.0

    def time(self) -> float:
        return self.start + self.offset.total_seconds()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC).replace(microsecond=0)


@pytest.fixture
def sb() -> Sandbox:
    sandbox = Sandbox(None, seed=3, clock=HeldClock())
    sandbox.bootstrap()
    install_kube_system(sandbox)  # kube-system/kube-proxy's ConfigMap: minSyncPeriod 1s
    assert sandbox.dataplane.proxy.synced().number == 1  # kube-proxy has started (its first sync) ...
    sandbox.clock.advance(5)  # ... and has been idle long enough for a full burst
    yield sandbox
    sandbox.close()


def service(sb: Sandbox, name: str) -> str:
    svc = sb.api.create(sb.registry.lookup("", "v1", "services"), "default", {
        "metadata": {"name": name}, "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80}]}})
    return svc["spec"]["clusterIP"]


def endpoints(sb: Sandbox, name: str, *ips: str, **labels: str) -> None:
    sb.store.put("endpointslices.discovery.k8s.io", {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
        "metadata": {"name": f"{name}-abcde", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": name, **labels}},
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [{"addresses": [ip], "nodeName": W1, "conditions": {"ready": True}} for ip in ips]})


def answers(sb: Sandbox, ip: str) -> set[str] | str:
    """The endpoints 20 new connections reach, or why they fail."""
    try:
        return {sb.dataplane.proxy.route(CLIENT, W1, ip, 80).pod_ip for _ in range(20)}
    except Refused as exc:
        return exc.message


def rules(sb: Sandbox, name: str) -> list[str]:
    """The nat rules iptables-save shows for one Service's endpoints on the client's node."""
    _, nat, _, _ = iptables.nat_and_filter(sb, W1)
    return sorted(line.split("--to-destination ")[1] for line in nat
                  if f"default/{name}:http" in line and "DNAT" in line)


def test_an_idle_kube_proxy_writes_a_change_at_once(sb: Sandbox) -> None:
    ip = service(sb, "web")
    endpoints(sb, "web", "10.244.1.5")
    assert answers(sb, ip) == {"10.244.1.5"} and rules(sb, "web") == ["10.244.1.5:8080"]


def test_a_change_within_a_second_of_the_burst_waits_for_the_next_allowed_sync(sb: Sandbox) -> None:
    """Two syncs come at once (the burst); a third change waits until minSyncPeriod after the last sync, and
    until then connections and iptables-save follow the rules as written before it."""
    ip = service(sb, "web")  # sync 1 (burst)
    endpoints(sb, "web", "10.244.1.5")  # sync 2 (burst): the bucket is empty
    sb.clock.advance(0.4)
    endpoints(sb, "web", "10.244.1.5", "10.244.2.5")  # waits for last sync + 1 s
    assert answers(sb, ip) == {"10.244.1.5"} and rules(sb, "web") == ["10.244.1.5:8080"]
    sb.clock.advance(0.5)  # 0.9 s after the last sync
    assert answers(sb, ip) == {"10.244.1.5"}
    sb.clock.advance(0.1)  # 1 s: the timer fires
    assert answers(sb, ip) == {"10.244.1.5", "10.244.2.5"}
    assert rules(sb, "web") == ["10.244.1.5:8080", "10.244.2.5:8080"]


def test_a_sync_writes_the_world_as_it_was_when_it_fell_due(sb: Sandbox) -> None:
    """The delayed sync happens at its moment: a change that comes after it waits for the sync after that."""
    ip = service(sb, "web")
    endpoints(sb, "web", "10.244.1.5")
    endpoints(sb, "web", "10.244.1.5", "10.244.2.5")  # due at +1 s
    sb.clock.advance(1.2)
    endpoints(sb, "web")  # after the due sync (which wrote two endpoints), and a token has not come back yet
    assert rules(sb, "web") == ["10.244.1.5:8080", "10.244.2.5:8080"]
    sb.clock.advance(1.0)  # the sync after that: no endpoints, kube-proxy REJECTs
    assert "has no endpoints" in answers(sb, ip)


def test_tokens_come_back_one_per_min_sync_period(sb: Sandbox) -> None:
    ip = service(sb, "web")
    endpoints(sb, "web", "10.244.1.5")
    sb.clock.advance(1.0)  # one token back: one more change at once, the next waits again
    endpoints(sb, "web", "10.244.2.5")
    assert answers(sb, ip) == {"10.244.2.5"}
    endpoints(sb, "web", "10.244.3.5")
    assert answers(sb, ip) == {"10.244.2.5"}
    sb.clock.advance(1.0)
    assert answers(sb, ip) == {"10.244.3.5"}


def test_an_update_kube_proxy_does_not_read_asks_for_no_sync(sb: Sandbox) -> None:
    """The change trackers compare what kube-proxy uses: a new label on a slice queues nothing."""
    service(sb, "web")
    endpoints(sb, "web", "10.244.1.5")  # the burst is spent
    syncs = sb.dataplane.proxy.synced().number
    endpoints(sb, "web", "10.244.1.5", team="blue")
    sb.clock.advance(5)
    assert sb.dataplane.proxy.synced().number == syncs


def test_min_sync_period_comes_from_the_kube_proxy_config_map(sb: Sandbox) -> None:
    """kube-proxy reads --config (the kube-system/kube-proxy ConfigMap's config.conf) when it starts."""
    assert sb.dataplane.proxy.min_sync_period == 1.0
    cm: dict[str, Any] = sb.store.get("configmaps", "kube-system", "kube-proxy")
    cm = {**cm, "data": {**cm["data"], "config.conf": cm["data"]["config.conf"].replace("1s", "2500ms")}}
    sb.store.put("configmaps", cm)
    sb._dataplane = None  # a restarted kube-proxy
    assert sb.dataplane.proxy.min_sync_period == 2.5
