"""kubernetes.io "Connecting Applications with Services" run as written: nginx Pods and their IPs, the Service
and its EndpointSlice, the environment variables a Pod gets only when the Service existed first, DNS from
busybox, then "Securing the Service": a self-signed certificate made with openssl, a kubernetes.io/tls Secret,
the example's default.conf as a ConfigMap, the bprashanth/nginxhttps Deployment that mounts both, and curl
from radial/busyboxplus:curl verifying the server with the mounted certificate (a real TLS handshake)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tests.conftest import wait_for

import k8snet
from k8snet import kubeproxy

RUN_MY_NGINX = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: my-nginx
spec:
  selector:
    matchLabels:
      run: my-nginx
  replicas: 2
  template:
    metadata:
      labels:
        run: my-nginx
    spec:
      containers:
      - name: my-nginx
        image: nginx
        ports:
        - containerPort: 80
"""

NGINX_SECURE_APP = """
apiVersion: v1
kind: Service
metadata:
  name: my-nginx
  labels:
    run: my-nginx
spec:
  type: NodePort
  ports:
  - port: 8080
    targetPort: 80
    protocol: TCP
    name: http
  - port: 443
    protocol: TCP
    name: https
  selector:
    run: my-nginx
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: my-nginx
spec:
  selector:
    matchLabels:
      run: my-nginx
  replicas: 1
  template:
    metadata:
      labels:
        run: my-nginx
    spec:
      volumes:
      - name: secret-volume
        secret:
          secretName: nginxsecret
      - name: configmap-volume
        configMap:
          name: nginxconfigmap
      containers:
      - name: nginxhttps
        image: bprashanth/nginxhttps:1.0
        ports:
        - containerPort: 443
        - containerPort: 80
        volumeMounts:
        - mountPath: /etc/nginx/ssl
          name: secret-volume
        - mountPath: /etc/nginx/conf.d
          name: configmap-volume
"""

CURLPOD = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: curl-deployment
spec:
  selector:
    matchLabels:
      app: curlpod
  replicas: 1
  template:
    metadata:
      labels:
        app: curlpod
    spec:
      volumes:
      - name: secret-volume
        secret:
          secretName: nginxsecret
      containers:
      - name: curlpod
        command:
        - sh
        - -c
        - while true; do sleep 1; done
        image: radial/busyboxplus:curl
        volumeMounts:
        - mountPath: /etc/nginx/ssl
          name: secret-volume
"""

DEFAULT_CONF = """server {
        listen 80 default_server;
        listen [::]:80 default_server ipv6only=on;

        listen 443 ssl;

        root /usr/share/nginx/html;
        index index.html;

        server_name localhost;
        ssl_certificate /etc/nginx/ssl/tls.crt;
        ssl_certificate_key /etc/nginx/ssl/tls.key;

        location / {
                try_files $uri $uri/ =404;
        }
}
"""


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    """The page's manual step: ``openssl req -x509 -nodes -days 365 -newkey rsa:2048 … -subj "/CN=my-nginx/O=my-nginx"``."""
    key, cert = tmp_path / "nginx.key", tmp_path / "nginx.crt"
    subprocess.run(["openssl", "req", "-x509", "-nodes", "-days", "365", "-newkey", "rsa:2048", "-keyout", str(key),
                    "-out", str(cert), "-subj", "/CN=my-nginx/O=my-nginx"], check=True, capture_output=True)
    return key, cert


def pods(sandbox, ns: str, selector: str) -> list[str]:
    return sandbox.kubectl("-n", ns, "get", "pods", "-l", selector, "-o", "name").stdout.split()


def test_exposing_pods_and_finding_the_service(sandbox, ns, tmp_path):
    (tmp_path / "run-my-nginx.yaml").write_text(RUN_MY_NGINX)
    sandbox.kubectl("-n", ns, "apply", "-f", str(tmp_path / "run-my-nginx.yaml"))
    sandbox.kubectl("-n", ns, "rollout", "status", "deployment/my-nginx", "--timeout=60s")
    wide = sandbox.kubectl("-n", ns, "get", "pods", "-l", "run=my-nginx", "-o", "wide").stdout
    assert wide.count("Running") == 2
    ips = sandbox.kubectl("-n", ns, "get", "pods", "-l", "run=my-nginx", "-o",
                          "custom-columns=POD_IP:.status.podIPs").stdout
    assert ips.splitlines()[0].strip() == "POD_IP" and ips.count("map[ip:") == 2

    assert sandbox.kubectl("-n", ns, "expose", "deployment/my-nginx").stdout.strip() == "service/my-nginx exposed"
    svc = sandbox.kubectl("-n", ns, "get", "svc", "my-nginx").stdout
    assert "ClusterIP" in svc and "80/TCP" in svc
    describe = sandbox.kubectl("-n", ns, "describe", "svc", "my-nginx").stdout
    pod_ips = sandbox.kubectl("-n", ns, "get", "pods", "-l", "run=my-nginx", "-o",
                              "jsonpath={.items[*].status.podIP}").stdout.split()
    endpoints = wait_for(lambda: next((line for line in sandbox.kubectl("-n", ns, "describe", "svc", "my-nginx")
                                       .stdout.splitlines() if line.startswith("Endpoints:") and ":80" in line), None),
                         what="the endpoints")
    assert any(line.split() == ["Selector:", "run=my-nginx"] for line in describe.splitlines())
    assert all(f"{ip}:80" in endpoints for ip in pod_ips)
    slices = sandbox.kubectl("-n", ns, "get", "endpointslices", "-l", "kubernetes.io/service-name=my-nginx").stdout
    assert "IPv4" in slices and all(ip in slices for ip in pod_ips)

    # the Pods were there before the Service: no MY_NGINX_ variables
    first = pods(sandbox, ns, "run=my-nginx")[0]
    env = sandbox.kubectl("-n", ns, "exec", first, "--", "printenv").stdout
    assert "KUBERNETES_SERVICE_HOST=10.96.0.1" in env and "MY_NGINX_SERVICE_HOST" not in env
    sandbox.kubectl("-n", ns, "scale", "deployment", "my-nginx", "--replicas=0")
    wait_for(lambda: not pods(sandbox, ns, "run=my-nginx"), what="the Pods to go")
    sandbox.kubectl("-n", ns, "scale", "deployment", "my-nginx", "--replicas=2")
    sandbox.kubectl("-n", ns, "rollout", "status", "deployment/my-nginx", "--timeout=60s")
    cluster_ip = sandbox.kubectl_json("-n", ns, "get", "svc", "my-nginx")["spec"]["clusterIP"]
    env = sandbox.kubectl("-n", ns, "exec", pods(sandbox, ns, "run=my-nginx")[0], "--", "printenv").stdout
    assert f"MY_NGINX_SERVICE_HOST={cluster_ip}" in env and "MY_NGINX_SERVICE_PORT=80" in env

    dns = sandbox.kubectl("get", "services", "kube-dns", "--namespace=kube-system").stdout
    assert "10.96.0.10" in dns and "53/UDP,53/TCP" in dns
    looked = sandbox.kubectl("-n", ns, "run", "dns-test", "-i", "--image", "busybox:1.37", "--restart=Never", "--rm",
                             "--", "nslookup", "my-nginx").stdout
    assert "Server:\t\t10.96.0.10" in looked and f"Address: {cluster_ip}" in looked


def test_securing_the_service_with_a_mounted_certificate(sandbox, ns, tmp_path, keys):
    key, cert = keys
    created = sandbox.kubectl("-n", ns, "create", "secret", "tls", "nginxsecret", "--key", str(key), "--cert",
                              str(cert)).stdout
    assert created.strip() == "secret/nginxsecret created"
    secrets = sandbox.kubectl("-n", ns, "get", "secrets").stdout
    assert any(line.split()[:3] == ["nginxsecret", "kubernetes.io/tls", "2"] for line in secrets.splitlines())
    (tmp_path / "default.conf").write_text(DEFAULT_CONF)
    sandbox.kubectl("-n", ns, "create", "configmap", "nginxconfigmap", f"--from-file={tmp_path / 'default.conf'}")
    described = sandbox.kubectl("-n", ns, "describe", "configmap", "nginxconfigmap").stdout
    assert "default.conf:\n----\nserver {\n        listen 80 default_server;" in described

    (tmp_path / "nginx-secure-app.yaml").write_text(NGINX_SECURE_APP)
    sandbox.kubectl("-n", ns, "create", "-f", str(tmp_path / "nginx-secure-app.yaml"))
    sandbox.kubectl("-n", ns, "rollout", "status", "deployment/my-nginx", "--timeout=60s")
    pod_ip = sandbox.kubectl("-n", ns, "get", "pods", "-l", "run=my-nginx", "-o",
                             "jsonpath={.items[0].status.podIP}").stdout.strip()

    (tmp_path / "curlpod.yaml").write_text(CURLPOD)
    sandbox.kubectl("-n", ns, "apply", "-f", str(tmp_path / "curlpod.yaml"))
    sandbox.kubectl("-n", ns, "rollout", "status", "deployment/curl-deployment", "--timeout=60s")
    curl_pod = pods(sandbox, ns, "app=curlpod")[0]
    kubeproxy.wait_synced(k8snet.connect(), "k8snet-worker", ns, "my-nginx")  # the Service is routed

    def curl(*args: str, check: bool = True):
        return sandbox.kubectl("-n", ns, "exec", curl_pod, "--", "curl", "-sS", *args, check=check)

    # "node $ curl -k https://10.244.3.5": -k because the certificate's name is my-nginx, not the Pod's IP
    assert "<h1>Welcome to nginx!</h1>" in wait_for(lambda: curl("-k", f"https://{pod_ip}", check=False).stdout,
                                                    what="nginx to serve HTTPS")
    mismatch = curl(f"https://{pod_ip}", "--cacert", "/etc/nginx/ssl/tls.crt", check=False)
    assert mismatch.returncode == 60
    assert f"SSL: certificate subject name 'my-nginx' does not match target host name '{pod_ip}'" in mismatch.stderr
    # the Service's DNS name is the certificate's CN: curl verifies the chain with the mounted certificate
    verified = curl("https://my-nginx", "--cacert", "/etc/nginx/ssl/tls.crt")
    assert "<title>Welcome to nginx!</title>" in verified.stdout
    unverified = curl("https://my-nginx", check=False)
    assert unverified.returncode == 60 and "SSL certificate problem: self-signed certificate" in unverified.stderr
    plain = curl("http://my-nginx:8080")
    assert "<title>Welcome to nginx!</title>" in plain.stdout
    https_port_plain = curl("http://my-nginx:443")
    assert "The plain HTTP request was sent to HTTPS port" in https_port_plain.stdout

    # "Exposing the Service": the NodePort answers HTTPS on every node's address
    svc = sandbox.kubectl_json("-n", ns, "get", "svc", "my-nginx")
    node_port = next(p["nodePort"] for p in svc["spec"]["ports"] if p["name"] == "https")
    node_ip = sandbox.kubectl("get", "nodes", "-o",
                              "jsonpath={.items[0].status.addresses[?(@.type=='InternalIP')].address}").stdout
    assert "<h1>Welcome to nginx!</h1>" in curl(f"https://{node_ip}:{node_port}", "-k").stdout

    # what nginx logged: the entrypoint-less image, then the access lines of each request
    nginx_pod = pods(sandbox, ns, "run=my-nginx")[0]
    log = sandbox.kubectl("-n", ns, "logs", nginx_pod).stdout
    assert "docker-entrypoint" not in log and '"GET / HTTP/1.1" 200 615' in log
