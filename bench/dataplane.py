"""Benchmark 4: the sandbox's emulated data plane, driven as a lesson drives it (exec in an agnhost client pod).

1. Simulated requests per second: one exec of ``curl …/dial?…&tries=N`` in the client pod makes agnhost netexec
   (emulated) open N fresh HTTP connections to Service ``web`` (3 agnhost netexec pods). The clock covers the whole
   exec, the Python client's WebSocket included; the rate counts the responses in the returned JSON.
2. Exec round trip: ``hostname`` through ``traffic.exec_in``, p50 and p95.
3. ``traffic.send`` of 30 requests (one exec running a 30-curl shell loop), as in the lessons.
4. The same 30 requests over HTTPS to nginx with a mounted certificate, curl verifying it with ``--cacert``: every
   request is a real TLS handshake in memory; the ratio to 3. is what TLS costs a lesson.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

from .common import Result, log, private_env

NAMESPACE = "bench"
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
REPLICAS = 3
DIAL_TRIES = (1000, 5000)
TARGET_RPS = 5000.0
EXEC_RUNS = 50
SEND_N = 30
SEND_RUNS = 3


def manifests(namespace: str = NAMESPACE) -> list[dict[str, Any]]:
    """Namespace, a Deployment of REPLICAS agnhost netexec pods and Service ``web`` (port 80 → 8080)."""
    labels = {"app": "web"}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": namespace},
         "spec": {"replicas": REPLICAS, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels},
                               "spec": {"containers": [{"name": "agnhost", "image": AGNHOST,
                                                        "args": ["netexec", "--http-port=8080"],
                                                        "ports": [{"containerPort": 8080, "name": "http"}]}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": namespace},
         "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": "http", "protocol": "TCP"}]}},
    ]


NGINX_TLS_CONF = """server {
    listen 8443 ssl;
    server_name tls;
    ssl_certificate /etc/nginx/ssl/tls.crt;
    ssl_certificate_key /etc/nginx/ssl/tls.key;
    location / { return 200 "tls\\n"; }
}
"""


def tls_manifests() -> list[dict[str, Any]]:
    """nginx on 8443 with a self-signed certificate for the name ``tls`` (a Secret) and its config (a ConfigMap)."""
    import base64
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tls")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("tls")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    b64 = lambda data: base64.b64encode(data).decode()  # noqa: E731
    labels = {"app": "tls"}
    return [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tls", "namespace": NAMESPACE},
         "type": "kubernetes.io/tls", "data": {"tls.crt": b64(pem), "tls.key": b64(key_pem)}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tls-conf", "namespace": NAMESPACE},
         "data": {"default.conf": NGINX_TLS_CONF}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "tls", "namespace": NAMESPACE},
         "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels},
                               "spec": {"volumes": [{"name": "cert", "secret": {"secretName": "tls"}},
                                                    {"name": "conf", "configMap": {"name": "tls-conf"}}],
                                        "containers": [{"name": "nginx", "image": "nginx:1.29",
                                                        "volumeMounts": [
                                                            {"name": "cert", "mountPath": "/etc/nginx/ssl"},
                                                            {"name": "conf", "mountPath": "/etc/nginx/conf.d"}]}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "tls", "namespace": NAMESPACE},
         "spec": {"selector": labels, "ports": [{"port": 443, "targetPort": 8443, "protocol": "TCP"}]}},
    ]


def dial_command(tries: int) -> list[str]:
    url = f"http://localhost:8080/dial?request=hostname&protocol=http&host=web&port=80&tries={tries}"
    return ["sh", "-c", f"curl -s '{url}'"]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def run() -> list[Result]:
    from kubernetes.config import kube_config

    import k8snet
    from k8snet import kubeproxy, traffic

    results: list[Result] = []
    with private_env() as env:
        # the kubernetes client reads KUBECONFIG once, at import: point it at the private env's file
        kube_config.KUBE_CONFIG_DEFAULT_LOCATION = str(env.kubeconfig)
        t0 = time.perf_counter()
        cluster = k8snet.connect("sandbox")  # process.up in the private K8SNET_HOME; kubeconfig there too
        log(f"sandbox up and client connected in {time.perf_counter() - t0:.2f}s ({cluster.api.configuration.host})")
        t0 = time.perf_counter()
        cluster.apply(manifests())
        cluster.wait_ready("web", NAMESPACE, timeout=120)
        client = traffic.ensure_client(cluster, NAMESPACE)
        kubeproxy.wait_synced(cluster, client, NAMESPACE, "web")  # kube-proxy routes the Service
        log(f"deployment web ({REPLICAS} agnhost pods), service web and client pod ready in "
            f"{time.perf_counter() - t0:.2f}s")
        traffic.exec_in(cluster, client, ["hostname"])  # warm up: first exec, first dial
        traffic.exec_in(cluster, client, dial_command(10))

        # 1. /dial throughput
        for tries in DIAL_TRIES:
            t0 = time.perf_counter()
            out = traffic.exec_in(cluster, client, dial_command(tries), timeout=600)
            seconds = time.perf_counter() - t0
            try:
                body = json.loads(out.stdout)
            except ValueError:
                body = {}
            responses = body.get("responses") or []
            errors = body.get("errors") or []
            per_pod: dict[str, int] = {}
            for r in responses:
                per_pod[r] = per_pod.get(r, 0) + 1
            rate = len(responses) / seconds if responses else None
            log(f"/dial tries={tries}: {len(responses)} responses, {len(errors)} errors in {seconds:.3f}s "
                f"({len(out.stdout):,} bytes of JSON); per pod {sorted(per_pod.values())}")
            note = f"{len(responses)}/{tries} responses in {seconds:.2f}s, one exec"
            if errors:
                note += f"; {len(errors)} errors"
            if not responses:
                note += f"; exit {out.exit_code}, stdout {out.stdout[:60]!r}, stderr {out.stderr[:60]!r}"
            results.append(Result(f"/dial via Service web, tries={tries}", rate, "req/s", TARGET_RPS, note,
                                  at_least=True))

        # 2. exec round trip
        samples = []
        for _ in range(EXEC_RUNS):
            t0 = time.perf_counter()
            traffic.exec_in(cluster, client, ["hostname"])
            samples.append((time.perf_counter() - t0) * 1000)
        log(f"exec hostname ×{EXEC_RUNS}: p50 {statistics.median(samples):.1f} ms, "
            f"p95 {percentile(samples, 95):.1f} ms, min {min(samples):.1f}, max {max(samples):.1f}")
        results.append(Result("exec `hostname` round trip, p50", statistics.median(samples), "ms",
                              note=f"{EXEC_RUNS} execs via traffic.exec_in; informational"))
        results.append(Result("exec `hostname` round trip, p95", percentile(samples, 95), "ms",
                              note=f"{EXEC_RUNS} execs via traffic.exec_in; informational"))

        # 3. traffic.send
        send_times = []
        counts: dict[str, int] = {}
        for _ in range(SEND_RUNS):
            t0 = time.perf_counter()
            res = traffic.send(cluster, client, "http://web/hostname", n=SEND_N)
            send_times.append(time.perf_counter() - t0)
            counts = res.counts()
        log(f"traffic.send n={SEND_N}: {[f'{s:.3f}' for s in send_times]} s; last counts {counts}")
        results.append(Result(f"traffic.send, {SEND_N} requests", statistics.median(send_times) * 1000, "ms",
                              note=f"median of {SEND_RUNS}; {sum(counts.values())} answered; informational"))

        # 4. the same over HTTPS, the certificate verified: a TLS handshake per request
        cluster.apply(tls_manifests())
        cluster.wait_ready("tls", NAMESPACE, timeout=120)
        kubeproxy.wait_synced(cluster, client, NAMESPACE, "tls")
        import base64

        ca = base64.b64decode(cluster.core.read_namespaced_secret("tls", NAMESPACE).data["tls.crt"]).decode()
        traffic.exec_in(cluster, client, ["sh", "-c", f"printf '%s' '{ca}' > /tmp/ca.crt"])
        loop = (f"for i in $(seq {SEND_N}); do curl -s --cacert /tmp/ca.crt https://tls/ || echo FAIL; done")
        tls_times, answered = [], 0
        for _ in range(SEND_RUNS):
            t0 = time.perf_counter()
            out = traffic.exec_in(cluster, client, ["sh", "-c", loop], timeout=120)
            tls_times.append(time.perf_counter() - t0)
            answered = out.stdout.count("tls\n")
        plain = statistics.median(send_times)
        log(f"https loop n={SEND_N}: {[f'{s:.3f}' for s in tls_times]} s; {answered} answered")
        results.append(Result(f"{SEND_N} HTTPS requests with --cacert (TLS handshake each)",
                              statistics.median(tls_times) * 1000, "ms",
                              note=f"median of {SEND_RUNS}; {answered}/{SEND_N} verified answers; "
                                   f"{statistics.median(tls_times) / plain:.2f}× the plain HTTP send"))
    return results
