"""kubernetes.io "Debug Services" run as written: its serve_hostname Deployment, its busybox pod, and each
check from inside a pod (the Pods serve on 9376, the Service does not exist then does, DNS by short,
namespaced and full name, resolv.conf, the Service by IP, its endpoints)."""

from __future__ import annotations

from tests.conftest import wait_for


def test_the_debug_services_walk_through(sandbox, ns):
    sandbox.kubectl("-n", ns, "create", "deployment", "hostnames", "--image=registry.k8s.io/serve_hostname")
    sandbox.kubectl("-n", ns, "scale", "deployment", "hostnames", "--replicas=3")
    sandbox.kubectl("-n", ns, "rollout", "status", "deployment/hostnames", "--timeout=60s")
    ips = sandbox.kubectl("-n", ns, "get", "pods", "-l", "app=hostnames", "-o",
                          "go-template={{range .items}}{{.status.podIP}}{{\"\\n\"}}{{end}}").stdout.split()
    assert len(ips) == 3
    sandbox.kubectl("-n", ns, "run", "busybox", "--image=gcr.io/google-containers/busybox", "--restart=Never",
                    "--", "sleep", "3600")
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/busybox", "--timeout=30s")

    def inside(script: str, check: bool = True):
        return sandbox.kubectl("-n", ns, "exec", "busybox", "--", "sh", "-c", script, check=check)

    # "From within a pod": each Pod answers with its name on 9376
    loop = "for ep in " + " ".join(f"{ip}:9376" for ip in ips) + "; do\n    wget -qO- $ep\n    echo\ndone"
    names = inside(loop).stdout.split()
    pods = sandbox.kubectl("-n", ns, "get", "pods", "-l", "app=hostnames", "-o", "name").stdout.split()
    assert sorted(names) == sorted(p.split("/")[1] for p in pods)
    # Does the Service exist? Not yet: the name does not resolve
    missing = inside("wget -O- hostnames", check=False)
    assert missing.returncode == 1 and "wget: bad address 'hostnames'" in missing.stderr
    sandbox.kubectl("-n", ns, "expose", "deployment", "hostnames", "--port=80", "--target-port=9376")
    ip = sandbox.kubectl_json("-n", ns, "get", "svc", "hostnames")["spec"]["clusterIP"]
    for name in ("hostnames", f"hostnames.{ns}", f"hostnames.{ns}.svc.cluster.local"):
        assert ip in inside(f"nslookup {name}").stdout, name
    assert inside("cat /etc/resolv.conf").stdout == (
        f"search {ns}.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n")
    assert "10.96.0.1" in inside("nslookup kubernetes.default").stdout
    # Does the Service work by IP?
    answers = wait_for(lambda: inside(f"for i in $(seq 1 3); do \n    wget -qO- {ip}:80\n    echo\ndone",
                                      check=False).stdout.split(), what="the Service to answer")
    assert len(answers) == 3 and all(a in names for a in answers)
    endpoints = sandbox.kubectl("-n", ns, "get", "endpoints", "hostnames").stdout
    assert all(f"{pod_ip}:9376" in endpoints for pod_ip in ips)
