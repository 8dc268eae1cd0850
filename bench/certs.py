"""Benchmark 9: cert-manager in the sandbox — issuance throughput by key type, and renewal to the edge.

On a private sandbox with the real Traefik:

1. renewal to the edge: an annotated Ingress (ingress-shim) and a Gateway HTTPS listener (gateway-shim) whose
   certificates the edge serves; the clock moved past their renewal time (``cluster.advance_clock("1441h")``:
   90-day certificates renew 60 days in), then ``ingress.certificate`` polled until it shows a new serial —
   cert-manager re-issuing, the Secret written, Traefik loading it (no restart), as a notebook sees it. The time
   until the Certificate's revision moved (the API side alone) is printed beside it. This runs first, while the
   edge's are the only certificates a clock move renews;
2. issuance: ``N`` Certificates created back to back through the API against a CA ClusterIssuer, the clock stopped
   when the last is Ready, with RSA 2048 keys (cert-manager's default) and with ECDSA P-256 keys, each run in a
   namespace of its own. Every Certificate goes through the whole controller chain (trigger, key manager, request
   manager, the approver and CA signer, issuing, readiness); RSA keys are made off the API's loop, one at a time
   (controllers/certmanager/certificates.py KeyJobs), ECDSA keys in place.

Each figure is the median of its runs, with the spread; informational (no target).
"""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

from .common import Result, log, private_env
from .edge import traefik_pid

N = 40
ISSUE_RUNS = 3
RENEW_RUNS = 5
POLL = 0.02
GROUP = "cert-manager.io"
CA = [
    {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": "bench-selfsigned"},
     "spec": {"selfSigned": {}}},
    {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
     "metadata": {"name": "bench-ca", "namespace": "cert-manager"},
     "spec": {"isCA": True, "commonName": "bench CA", "secretName": "bench-ca", "duration": "87600h",
              "privateKey": {"algorithm": "ECDSA", "size": 256},
              "issuerRef": {"name": "bench-selfsigned", "kind": "ClusterIssuer"}}},
    {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": "bench-ca"},
     "spec": {"ca": {"secretName": "bench-ca"}}},
]
"""A CA whose ten years outlive the clock moves of the renewal runs."""
KEYS = {"RSA 2048": {"algorithm": "RSA", "size": 2048}, "ECDSA P-256": {"algorithm": "ECDSA", "size": 256}}
SHIM = {"cert-manager.io/cluster-issuer": "bench-ca", "cert-manager.io/private-key-algorithm": "ECDSA"}
EDGE_NS = "bench-renew"
INGRESS_HOST, GATEWAY_HOST = "shop.bench.test", "gw.bench.test"


def _ready(obj: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or [])


def _until(check, what: str, timeout: float = 120) -> Any:
    t0 = time.perf_counter()
    while True:
        value = check()
        if value:
            return value
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(f"{what} did not happen within {timeout:.0f}s")
        time.sleep(POLL)


def issue(cluster, namespace: str, key: dict[str, Any]) -> float:
    """Seconds from the first create of ``N`` Certificates until every one is Ready."""
    from kubernetes import client

    custom = client.CustomObjectsApi(cluster.api)
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    t0 = time.perf_counter()
    for i in range(N):
        custom.create_namespaced_custom_object(GROUP, "v1", namespace, "certificates", {
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": f"c{i}"},
            "spec": {"secretName": f"c{i}-tls", "dnsNames": [f"c{i}.bench.test"], "privateKey": key,
                     "issuerRef": {"name": "bench-ca", "kind": "ClusterIssuer"}}})

    def all_ready() -> bool:
        items = custom.list_namespaced_custom_object(GROUP, "v1", namespace, "certificates")["items"]
        return len(items) == N and all(_ready(c) for c in items)
    _until(all_ready, f"{N} Certificates Ready", timeout=600)
    return time.perf_counter() - t0


def edge_objects() -> list[dict[str, Any]]:
    """An annotated Ingress and Gateway, each with one certificate for the edge to serve."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": EDGE_NS}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
         "metadata": {"name": "shop", "namespace": EDGE_NS, "annotations": SHIM},
         "spec": {"tls": [{"hosts": [INGRESS_HOST], "secretName": "shop-tls"}],
                  "rules": [{"host": INGRESS_HOST, "http": {"paths": [{
                      "path": "/", "pathType": "Prefix",
                      "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
         "metadata": {"name": "edge", "namespace": EDGE_NS, "annotations": SHIM},
         "spec": {"gatewayClassName": "traefik", "listeners": [{
             "name": "https", "port": 8443, "protocol": "HTTPS", "hostname": GATEWAY_HOST,
             "tls": {"certificateRefs": [{"name": "gw-tls"}]}}]}},
    ]


def renewals(cluster, ca_file) -> dict[str, list[tuple[float, float]]]:
    """Per host, RENEW_RUNS of (seconds until the revision moved, seconds until the edge served the new serial)."""
    from kubernetes import client

    from k8snet import ingress

    custom = client.CustomObjectsApi(cluster.api)
    cluster.apply(edge_objects())
    hosts = {INGRESS_HOST: "shop-tls", GATEWAY_HOST: "gw-tls"}
    for secret in hosts.values():
        _until(lambda s=secret: _ready(custom.get_namespaced_custom_object(GROUP, "v1", EDGE_NS, "certificates", s)),
               f"Certificate {secret} Ready")
    serial = {h: _until(lambda h=h: (s := ingress.certificate(cluster, h, cacert=ca_file)).verified and s.leaf.serial,
                        f"the edge to serve {h}") for h in hosts}
    out: dict[str, list[tuple[float, float]]] = {h: [] for h in hosts}
    for run in range(RENEW_RUNS):
        revision = {h: _revision(custom, s) for h, s in hosts.items()}
        moved: dict[str, float] = {}
        served: dict[str, float] = {}
        t0 = time.perf_counter()
        # the revisions are watched beside the edge's polling, which waits for Traefik each time
        watcher = threading.Thread(target=_watch_revisions, args=(custom, hosts, revision, moved, t0), daemon=True)
        cluster.advance_clock("1441h")
        watcher.start()
        while len(served) < len(hosts):  # both renew at once: each is timed from the same advance
            for h in hosts:
                if h in served:
                    continue
                summary = ingress.certificate(cluster, h, cacert=ca_file)
                if summary.leaf.serial != serial[h]:
                    served[h] = time.perf_counter() - t0
                    if not summary.verified:
                        raise RuntimeError(f"the renewed certificate for {h} does not verify: {summary.verify_error}")
                    serial[h] = summary.leaf.serial
            if time.perf_counter() - t0 > 120:
                raise TimeoutError(f"the edge did not serve renewed certificates within 120s (served: {served})")
            time.sleep(POLL)
        watcher.join(timeout=130)
        for h in hosts:
            out[h].append((moved.get(h, served[h]), served[h]))
        log(f"renewal {run + 1}: " + ", ".join(f"{h} revision moved {out[h][-1][0] * 1000:.0f} ms, served "
                                              f"{out[h][-1][1] * 1000:.0f} ms" for h in hosts))
    return out


def _watch_revisions(custom, hosts: dict[str, str], revision: dict[str, int], moved: dict[str, float],
                     t0: float) -> None:
    """Record in ``moved`` when each host's Certificate passes its ``revision`` (seconds since ``t0``)."""
    while len(moved) < len(hosts) and time.perf_counter() - t0 < 120:
        for h, secret in hosts.items():
            if h not in moved and _revision(custom, secret) > revision[h]:
                moved[h] = time.perf_counter() - t0
        time.sleep(POLL)


def _revision(custom, name: str) -> int:
    crt = custom.get_namespaced_custom_object(GROUP, "v1", EDGE_NS, "certificates", name)
    return int((crt.get("status") or {}).get("revision") or 0)


def measure() -> dict[str, Any]:
    import base64
    import tempfile
    from pathlib import Path

    from kubernetes import client
    from kubernetes.config import kube_config

    import k8snet
    from k8snet.sandbox import process

    with private_env() as env:  # the edge on free ports, never a developer's 8080/8443
        kube_config.KUBE_CONFIG_DEFAULT_LOCATION = str(env.kubeconfig)
        cluster = k8snet.connect("sandbox")
        cluster.apply(CA)
        cluster.wait_for("ClusterIssuer", "bench-ca", api_version="cert-manager.io/v1", timeout=60)
        pem = client.CoreV1Api(cluster.api).read_namespaced_secret("bench-ca", "cert-manager").data["tls.crt"]
        pid = traefik_pid(process.status().pid)
        with tempfile.TemporaryDirectory() as tmp:
            ca_file = Path(tmp) / "ca.crt"
            ca_file.write_bytes(base64.b64decode(pem))
            renewed = renewals(cluster, ca_file)
        same = pid is not None and traefik_pid(process.status().pid) == pid
        issued: dict[str, list[float]] = {label: [] for label in KEYS}
        for run in range(ISSUE_RUNS):
            for label, key in KEYS.items():
                seconds = issue(cluster, f"bench-{label.split()[0].lower()}-{run}", key)
                issued[label].append(seconds)
                log(f"{label} run {run + 1}: {N} Certificates Ready in {seconds:.2f} s ({N / seconds:.1f}/s)")
        return {"issued": issued, "renewed": renewed, "same_traefik": same}


def run() -> list[Result]:
    m = measure()
    results = []
    for label, runs in m["issued"].items():
        rates = sorted(N / s for s in runs)
        results.append(Result(f"cert-manager: Certificates issued per second, {label} keys",
                              statistics.median(rates), "cert/s",
                              note=f"{N} at once to a CA issuer, created until all Ready; {rates[0]:.1f}–"
                                   f"{rates[-1]:.1f}/s over {len(rates)} runs; informational", at_least=True))
    restart = "the same Traefik process throughout" if m["same_traefik"] else "Traefik's process changed"
    for host, label in ((INGRESS_HOST, "Ingress (ingress-shim)"), (GATEWAY_HOST, "Gateway listener (gateway-shim)")):
        runs = m["renewed"][host]
        served = sorted(s for _, s in runs)
        moved = statistics.median(r for r, _ in runs)
        results.append(Result(f"renewal → the edge serves it: {label}", statistics.median(served) * 1000, "ms",
                              note=f"clock advanced past renewalTime until ingress.certificate shows the new serial; "
                                   f"{served[0] * 1000:.0f}–{served[-1] * 1000:.0f} ms over {len(served)} runs; "
                                   f"the revision moved after {moved * 1000:.0f} ms; "
                                   f"{restart}; informational"))
    return results
