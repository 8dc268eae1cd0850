"""kubernetes.io "Declare Network Policy" run as written, with its interactive busybox pods fed on stdin
(``kubectl run … --rm -i``): nginx answers, then the access-nginx policy times out a pod without the label
and lets a pod with ``access=true`` through."""

from __future__ import annotations

from tests.conftest import wait_for

POLICY = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: access-nginx
spec:
  podSelector:
    matchLabels:
      app: nginx
  ingress:
  - from:
    - podSelector:
        matchLabels:
          access: "true"
"""


def spider(sandbox, ns: str, pod: str, *labels: str) -> str:
    """``kubectl run busybox --rm -ti --image=busybox:1.28 -- /bin/sh`` then ``wget --spider --timeout=1 nginx``."""
    proc = sandbox.kubectl("-n", ns, "run", pod, "--rm", "-i", "--restart=Never", *labels, "--image=busybox:1.28",
                           "--", "/bin/sh", input="wget --spider --timeout=1 nginx\nexit\n", check=False)
    return proc.stdout + proc.stderr


def test_the_declare_network_policy_walk_through(sandbox, ns):
    sandbox.kubectl("-n", ns, "create", "deployment", "nginx", "--image=nginx")
    sandbox.kubectl("-n", ns, "expose", "deployment", "nginx", "--port=80")
    sandbox.kubectl("-n", ns, "rollout", "status", "deployment/nginx", "--timeout=60s")
    ip = sandbox.kubectl_json("-n", ns, "get", "svc", "nginx")["spec"]["clusterIP"]
    out = wait_for(lambda: "remote file exists" in (text := spider(sandbox, ns, "before")) and text,
                   what="nginx to answer")
    assert f"Connecting to nginx ({ip}:80)" in out
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=POLICY)
    out = spider(sandbox, ns, "denied")
    assert "wget: download timed out" in out and "remote file exists" not in out
    out = spider(sandbox, ns, "allowed", "--labels=access=true")
    assert "remote file exists" in out
