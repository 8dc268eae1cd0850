"""Lab 10, exercise 1 (failover): cloud's requests stay in cloud while it has healthy checkout pods, and go to
onprem when it has none (affinity.rst); the check runs a failover drill of its own."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ... import traffic
from ...cni import clustermesh
from ...sandbox.dataplane import globalservices
from ...traffic import PodRef, TrafficResult
from .. import Hint
from .common import (
    CLOUD,
    DRILL_REQUESTS,
    ONPREM,
    REQUESTS,
    SETTLE,
    answered_by,
    ensure_mesh,
    median_ms,
    need_mesh,
    need_pair,
    need_pods,
    outcomes,
    ready_pods,
    settled_run,
    start,
)

if TYPE_CHECKING:
    from ...cluster import Cluster

CHECKOUT = "http://checkout/hostname"


def setup_failover(cloud: Cluster, ns: str, onprem: Cluster) -> None:
    need_pair(cloud, onprem, "failover")
    ensure_mesh(cloud, onprem)
    start(cloud, "failover", ns)
    start(onprem, "failover", ns)
    traffic.wait_answered(cloud, PodRef(ns, "client"), CHECKOUT, ready_pods(onprem, ns, "checkout"), n=1,
                          timeout=60)  # onprem's pods have joined cloud's global Service


def cilium_annotations(svc: dict[str, Any] | None, cluster: str, name: str = "checkout") -> str:
    """A Service's Cilium annotations in a few words: ``cloud's Service checkout: service.cilium.io/global: "true"``."""
    if svc is None:
        return f"{cluster} has no Service {name}"
    notes = {k: v for k, v in ((svc["metadata"].get("annotations") or {}).items())
             if k.startswith(globalservices.PREFIX)}
    said = ", ".join(f'{k}: "{v}"' for k, v in sorted(notes.items())) or "no service.cilium.io/ annotation"
    return f"{cluster}'s Service {name}: {said}"


def _home_run(cloud: Cluster, onprem: Cluster, ns: str, svc: dict[str, Any]) -> tuple[TrafficResult, dict[str, str]]:
    """REQUESTS from cloud's client; when cloud's Service asks for an affinity, given SETTLE seconds to go where it
    says (all to cloud for ``local``, all to onprem for ``remote``)."""
    owners = clustermesh.owners([cloud, onprem], ns)
    side = {"local": CLOUD, "remote": ONPREM}.get(globalservices.affinity(svc))
    run = settled_run(cloud, PodRef(ns, "client"), CHECKOUT, REQUESTS,
                      lambda r: set(answered_by(r, owners)) == {side}, SETTLE if side else 0)
    return run, owners


def _scale(cluster: Cluster, ns: str, replicas: int) -> None:
    cluster.apps.patch_namespaced_deployment_scale("checkout", ns, {"spec": {"replicas": replicas}})


def _wait_no_pods(cluster: Cluster, ns: str, app: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while any((p["metadata"].get("labels") or {}).get("app") == app for p in cluster.get("Pod", namespace=ns)):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{cluster.name}'s {app} pods still there after {timeout:g} s")
        time.sleep(0.2)


def _drill_words(svcs: dict[str, dict[str, Any] | None], failed: TrafficResult) -> str:
    cloud_svc, onprem_svc = svcs[CLOUD], svcs[ONPREM]
    why = "and there was no pod of onprem to fail over to."
    if cloud_svc is not None and not globalservices.is_global(cloud_svc):
        why = ("cloud's Service checkout is not global (no service.cilium.io/global: \"true\"), so cloud's load "
               "balancer knows cloud's own pods only.")
    elif onprem_svc is None:
        why = "onprem has no Service checkout: a global Service joins the Services of one name and namespace."
    elif not globalservices.is_global(onprem_svc):
        why = "onprem's Service checkout is not global: its pods are not offered to the other clusters."
    elif not globalservices.is_shared(onprem_svc):
        why = "onprem's Service says service.cilium.io/shared: \"false\": onprem keeps its pods to itself."
    return f"cloud's client's requests got {outcomes(failed.requests)}: {why}"


def _drill(cloud: Cluster, onprem: Cluster, ns: str, svcs: dict[str, dict[str, Any] | None]) -> tuple[int, TrafficResult]:
    """Scale cloud's checkout to 0, grade where cloud's requests go, scale it back (whatever happened) and wait for
    its pods; the replicas it had and the requests that failed over."""
    replicas = cloud.apps.read_namespaced_deployment("checkout", ns).spec.replicas or 0
    client = PodRef(ns, "client")
    try:
        _scale(cloud, ns, 0)
        _wait_no_pods(cloud, ns, "checkout")
        cloud_svc, onprem_svc = svcs[CLOUD], svcs[ONPREM]
        # only a state that can fail over is given time to: otherwise one batch of requests says it all
        possible = cloud_svc is not None and onprem_svc is not None and globalservices.is_global(cloud_svc) and \
            globalservices.is_shared(onprem_svc)
        try:
            run = traffic.wait_answered(cloud, client, CHECKOUT, ready_pods(onprem, ns, "checkout"),
                                        n=DRILL_REQUESTS, timeout=SETTLE if possible else 0)
        except TimeoutError:
            failed = traffic.send(cloud, client, CHECKOUT, n=DRILL_REQUESTS)
            raise Hint(f"Failover drill: the check scaled cloud's checkout to 0, then {_drill_words(svcs, failed)} "
                       f"It scaled checkout back to {replicas}.") from None
    finally:
        _scale(cloud, ns, replicas)
        cloud.wait_ready("checkout", ns)
    return replicas, run


def check_failover(cloud: Cluster, ns: str, onprem: Cluster) -> str:
    need_pods(cloud, ns, "client")
    need_mesh(cloud, onprem, ns)
    svcs = {c.name: c.find("Service", "checkout", ns) for c in (cloud, onprem)}
    said = "; ".join(cilium_annotations(svcs[c], c) for c in (CLOUD, ONPREM)) + "."
    if svcs[CLOUD] is None:
        raise Hint(f"cloud has no Service checkout in {ns}: cloud's client asks for http://checkout/. Run "
                   "lab.setup('failover') to start over.")
    if not ready_pods(cloud, ns, "checkout"):
        raise Hint(f"cloud has no ready checkout pod: scale cloud's Deployment checkout back to 2 (the check's "
                   f"drill takes them away itself, and gives them back). {said}")
    if not ready_pods(onprem, ns, "checkout"):
        raise Hint(f"onprem has no ready checkout pod: a failover would have nowhere to go. Scale onprem's "
                   f"Deployment checkout back to 2. {said}")
    run, owners = _home_run(cloud, onprem, ns, svcs[CLOUD])
    where = answered_by(run, owners)
    home, away, failed = where.get(CLOUD, []), where.get(ONPREM, []), where.get("failed", [])
    if failed:
        raise Hint(f"{len(failed)} of {len(run)} requests from cloud's client to {CHECKOUT} got no answer "
                   f"({outcomes(failed)}). {said}")
    if away:
        if not home:
            why = ("service.cilium.io/affinity: remote prefers the other clusters' pods while they are healthy."
                   if globalservices.affinity(svcs[CLOUD]) == "remote" else "")
            raise Hint(f"Every request from cloud's client went to onprem's pods (median {median_ms(away)}). {said} "
                       f"{why}".rstrip())
        onprem_only = globalservices.affinity(svcs[ONPREM] or {}) != "none" and \
            globalservices.affinity(svcs[CLOUD]) == "none"
        why = (" Each cluster's load balancer reads its own Service's annotations: an affinity on onprem's Service "
               "steers onprem's clients, not cloud's." if onprem_only else
               " Both Services are global, so cloud's load balancer spreads cloud's requests over the pods of both "
               "clusters, near and far alike.")
        raise Hint(f"cloud's client's requests were answered by both clusters: by cloud's pods in {median_ms(home)} "
                   f"and by onprem's in {median_ms(away)}, the 30 ms round trip twice. {said}{why}")
    replicas, drill = _drill(cloud, onprem, ns, svcs)
    traffic.wait_answered(cloud, PodRef(ns, "client"), CHECKOUT, ready_pods(cloud, ns, "checkout"), timeout=SETTLE)
    return (f"cloud's client: {len(home)} of {len(run)} requests answered by cloud's pods (median "
            f"{median_ms(home)}). Failover drill: the check scaled cloud's checkout to 0, and the next "
            f"{len(drill)} requests were answered by onprem's pods (median {median_ms(drill.requests)}); scaled back "
            f"to {replicas}, cloud's pods answer again.")


def failover_timeline(cloud: Cluster, onprem: Cluster, ns: str = "lab10-failover", n: int = 40,
                      at: int = 10) -> tuple[TrafficResult, dict[str, str]]:
    """The drill as a timeline for :func:`k8snet.plots.cluster_latency`: ``n`` requests from cloud's client, one
    every 50 ms, cloud's checkout scaled to 0 after ``at`` of them; then scaled back. The run and who owns which
    pod (cloud's old pods included)."""
    owners = clustermesh.owners([cloud, onprem], ns)
    replicas = cloud.apps.read_namespaced_deployment("checkout", ns).spec.replicas or 0
    try:
        run = traffic.send_during(cloud, PodRef(ns, "client"), CHECKOUT, lambda: _scale(cloud, ns, 0), n=n, at=at,
                                  label="cloud's checkout scaled to 0")
    finally:
        _scale(cloud, ns, replicas)
        cloud.wait_ready("checkout", ns)
    return run, owners
