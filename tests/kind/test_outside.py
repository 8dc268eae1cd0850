"""The outside world on kind (k8snet.kind.outside): the docker and kind commands ``up`` runs for it (through fake
programs on PATH that record their argv), the Corefile block and its idempotent patch (through the real client
against a sandbox holding kind's CoreDNS ConfigMap), and, on a real kind cluster (``make test-kind``), the same
answers the sandbox gives (tests/sandbox/test_outside_world.py)."""

from __future__ import annotations

import json

import pytest
from tests.kind.conftest import docker_json

import k8snet
from k8snet import outside as world
from k8snet.kind import lifecycle, outside, versions
from k8snet.sandbox.instance import COREFILE

KIND_COREFILE = COREFILE  # kubeadm's Corefile, as kind 1.33 writes it and the sandbox stores it
"""kubeadm's CoreDNS ConfigMap (cmd/kubeadm/app/phases/addons/dns/manifests.go) as a kind v1.33 node has it."""

NODES = ("k8snet-control-plane", "k8snet-worker", "k8snet-worker2")


# -- the Corefile ----------------------------------------------------------------------------------------------------

def test_the_block_serves_the_four_names_as_a_forwarding_resolver_would():
    block = outside.corefile_block()
    assert block.startswith(outside.BEGIN + "\n") and block.endswith(outside.END + "\n")
    assert ("api.payments.example:53 api.github.example:53 example.com:53 downloads.example:53 {\n"
            "    errors\n    hosts {\n        203.0.113.10 api.payments.example\n") in block
    assert "        198.51.100.20 downloads.example\n        ttl 60\n        fallthrough\n    }\n" in block
    # plugin/header (CoreDNS 1.12): hosts answers aa and no ra; a forwarded answer is ra and not aa
    assert "    header {\n        response set ra\n        response clear aa\n    }\n" in block
    assert block.count("{") == block.count("}") == 3
    assert "    forward . /etc/resolv.conf\n}\n" in block  # other names under them: as before the patch


def test_patching_appends_once_replaces_an_old_block_and_unpatching_restores_the_file():
    patched = outside.patch_corefile(KIND_COREFILE)
    assert patched == KIND_COREFILE + outside.corefile_block()
    assert outside.patch_corefile(patched) == patched  # idempotent
    old = KIND_COREFILE + outside.BEGIN + "\nexample.com:53 {\n    hosts {\n    }\n}\n" + outside.END + "\n"
    assert outside.patch_corefile(old) == patched  # an older k8snet block is replaced, not doubled
    assert outside.unpatch_corefile(patched) == KIND_COREFILE
    assert outside.unpatch_corefile(KIND_COREFILE) == KIND_COREFILE
    assert outside.unpatch_corefile(outside.corefile_block()) == ""
    edited = KIND_COREFILE + outside.corefile_block() + "stub.example:53 {\n    forward . 10.0.0.1\n}\n"
    assert outside.unpatch_corefile(edited) == KIND_COREFILE + "stub.example:53 {\n    forward . 10.0.0.1\n}\n"
    with pytest.raises(ValueError, match="remove k8snet's block by hand"):
        outside.patch_corefile(KIND_COREFILE + outside.BEGIN + "\n")


@pytest.fixture
def coredns(sandbox):
    """A Cluster on the sandbox, whose kube-system/coredns ConfigMap holds kind's Corefile (as the sandbox's own
    does), put back as it was afterwards."""
    cluster = k8snet.connect("sandbox", start=False)
    assert corefile(cluster) == KIND_COREFILE
    yield cluster
    cluster.core.patch_namespaced_config_map("coredns", "kube-system", {"data": {"Corefile": KIND_COREFILE}})


def corefile(cluster) -> str:
    return cluster.core.read_namespaced_config_map("coredns", "kube-system").data["Corefile"]


def restarted(cluster) -> str | None:
    d = cluster.apps.read_namespaced_deployment("coredns", "kube-system")
    return (d.spec.template.metadata.annotations or {}).get(outside.RESTARTED)


def test_configure_dns_patches_the_configmap_restarts_coredns_once_and_unpatches(coredns):
    assert outside.configure_dns(coredns, timeout=60) is True
    assert corefile(coredns) == KIND_COREFILE + outside.corefile_block() and outside.dns_configured(coredns)
    stamp = restarted(coredns)
    assert stamp is not None  # kubectl rollout restart's annotation: new CoreDNS pods read the new file
    assert outside.configure_dns(coredns, timeout=60) is False  # unchanged: no second restart
    assert restarted(coredns) == stamp
    assert outside.configure_dns(coredns, timeout=60, remove=True) is True
    assert corefile(coredns) == KIND_COREFILE and not outside.dns_configured(coredns)


# -- the container, its network namespace and the nodes' routes -----------------------------------------------------

def test_the_netns_script_holds_the_addresses_the_firewall_and_the_public_address_idempotently():
    script = outside.netns_script().splitlines()
    assert script[0] == "set -e"
    assert [line for line in script if line.startswith("ip addr")] == [
        f"ip addr replace {h.ip}/32 dev lo" for h in world.HOSTS]
    accepts = [line.split()[6:10] for line in script if line.endswith("-j ACCEPT")]
    assert accepts == [["-d", "203.0.113.10", "--dport", "80"], ["-d", "203.0.113.10", "--dport", "443"],
                       ["-d", "203.0.113.20", "--dport", "80"], ["-d", "203.0.113.20", "--dport", "443"],
                       ["-d", "198.51.100.10", "--dport", "80"], ["-d", "198.51.100.10", "--dport", "443"],
                       ["-d", "198.51.100.20", "--dport", "80"]]  # downloads.example: HTTP only
    assert [line for line in script if line.endswith("-j DROP")] == [
        "iptables -w -A K8SNET-OUTSIDE -d 203.0.113.0/24 -j DROP", "iptables -w -A K8SNET-OUTSIDE -d 198.51.100.0/24 -j DROP"]
    assert "iptables -w -t nat -A K8SNET-OUTSIDE -p tcp -d 203.0.113.0/24 -j SNAT --to-source 192.0.2.1" in script
    # a second run flushes its own chains and jumps to them once
    assert "iptables -w -N K8SNET-OUTSIDE 2>/dev/null || iptables -w -F K8SNET-OUTSIDE" in script
    assert "iptables -w -C INPUT -j K8SNET-OUTSIDE 2>/dev/null || iptables -w -A INPUT -j K8SNET-OUTSIDE" in script


def test_files_are_the_shared_nginx_conf_and_certificates_made_once(tmp_path):
    tree = outside.ensure_files(tmp_path)
    assert (tree / "nginx.conf").read_text() == world.nginx_conf()
    crt = tree / "outside" / "api.payments.example.crt"
    first = crt.read_bytes()
    assert (tree / "outside" / "api.payments.example.key").stat().st_mode & 0o777 == 0o600
    assert not (tree / "outside" / "downloads.example.crt").exists()  # HTTP only
    outside.ensure_files(tmp_path)
    assert crt.read_bytes() == first and (tmp_path / "ca.crt").exists()  # kept: a saved --cacert stays valid


def docker_rules(state: str | None) -> list[tuple[list[str], str, str, int]]:
    status = ["docker", "container", "inspect", "--format", "{{.State.Status}}"]
    return [(["docker", "version"], docker_json(), "", 0),
            (["docker", "image", "inspect"], "sha256:1\n", "", 0),
            (status, f"{state}\n", "", 0) if state else (status, "", "Error: No such container: k8snet-outside\n", 1),
            (["docker", "container", "inspect"], "172.18.0.9\n", "", 0),
            (["docker", "create"], "c0ffee\n", "", 0), (["docker", "cp"], "", "", 0),
            (["docker", "start"], "k8snet-outside\n", "", 0), (["docker", "run"], "", "", 0),
            (["docker", "exec"], "", "", 0)]


def test_install_runs_nginx_beside_the_nodes_and_routes_every_node_to_it(coredns, fake, tmp_path):
    fake.add("docker", docker_rules(None))
    fake.add("kind", [(["kind", "get", "nodes"], "\n".join(NODES) + "\n", "", 0)])
    said: list[str] = []
    assert outside.install(coredns, say=said.append, timeout=60) == "172.18.0.9"
    tree = tmp_path / "home" / "kind" / "outside" / "nginx"
    routes = [["docker", "exec", node, "ip", "route", "replace", cidr, "via", "172.18.0.9"]
              for node in NODES for cidr in ("203.0.113.0/24", "198.51.100.0/24")]
    assert fake.calls() == [
        ["docker", "image", "inspect", "--format", "{{.Id}}", "nginx:1.29.1"],
        ["docker", "image", "inspect", "--format", "{{.Id}}", versions.NETSHOOT_IMAGE],
        ["docker", "container", "inspect", "--format", "{{.State.Status}}", "k8snet-outside"],
        ["docker", "create", "--name", "k8snet-outside", "--network", "kind", "--hostname", "k8snet-outside",
         "--label", "io.k8snet.outside=true", "--sysctl", "net.ipv4.ip_nonlocal_bind=1", "nginx:1.29.1"],
        ["docker", "cp", f"{tree}/.", "k8snet-outside:/etc/nginx/"],
        ["docker", "start", "k8snet-outside"],
        ["docker", "run", "--rm", "--network", "container:k8snet-outside", "--cap-add", "NET_ADMIN",
         versions.NETSHOOT_IMAGE, "sh", "-c", outside.netns_script()],
        ["docker", "container", "inspect", "--format", '{{with index .NetworkSettings.Networks "kind"}}'
         "{{.IPAddress}}{{end}}", "k8snet-outside"],
        ["kind", "get", "nodes", "--name", "k8snet"],
        *routes,
    ]
    assert said == ["  k8snet-outside started at 172.18.0.9: api.payments.example, api.github.example, example.com, "
                    "downloads.example; 3 nodes route 203.0.113.0/24 and 198.51.100.0/24 to it; CoreDNS patched"]
    assert outside.dns_configured(coredns)

    fake.log.write_text("")  # again, with the container running: its files refreshed, nginx reloaded, no restart
    fake.add("docker", docker_rules("running"))
    said.clear()
    outside.install(coredns, say=said.append, timeout=60)
    calls = fake.calls()
    assert ["docker", "exec", "k8snet-outside", "nginx", "-s", "reload"] in calls
    assert not [c for c in calls if c[:2] in (["docker", "create"], ["docker", "start"])]
    assert calls[-6:] == routes  # `ip route replace`: the same routes, not doubled
    assert said[0].startswith("  k8snet-outside running at 172.18.0.9") and said[0].endswith(
        "CoreDNS already knows the names")


def test_a_missing_image_is_pulled_first(fake):
    fake.add("docker", [(["docker", "image", "inspect"], "", "Error: No such image: nginx:1.29.1\n", 1),
                        (["docker", "pull"], "", "", 0)])
    said: list[str] = []
    outside.ensure_images(said.append)
    assert ["docker", "pull", "nginx:1.29.1"] in fake.calls() and "  pulling nginx:1.29.1" in said


def test_up_installs_it_unless_told_not_to():
    from k8snet import cli

    assert lifecycle.Options().outside is True
    args = cli.parser().parse_args(["kind", "up", "--no-outside"])
    assert args.no_outside is True and cli.parser().parse_args(["kind", "up"]).no_outside is False


# -- a real kind cluster -------------------------------------------------------------------------------------------

NS = "k8snet-outside-test"


@pytest.mark.kind
def test_on_kind_the_hosts_answer_as_in_the_sandbox(kind_cluster):
    """The parity of tests/sandbox/test_outside_world.py, on the real nginx behind the real CoreDNS and routes."""
    from k8snet.traffic import PodRef, exec_in

    cluster = kind_cluster
    cluster.recreate_namespace(NS, timeout=180)
    cluster.apply([{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client", "namespace": NS,
                                                                    "labels": {"app": "client"}},
                    "spec": {"containers": [{"name": "c", "image": versions.AGNHOST_IMAGE, "args": ["pause"]}]}}])
    cluster.wait_pod_ready("client", NS, 120)
    pod = PodRef(NS, "client")

    def run(*argv: str):
        return exec_in(cluster, pod, list(argv), timeout=30)

    body = json.loads(run("curl", "-sS", "http://api.payments.example/v1/charges").stdout)
    assert body == {"host": "api.payments.example", "method": "GET", "path": "/v1/charges", "scheme": "http",
                    "client": body["client"]} and body["client"].startswith("192.0.2.1:")
    assert run("curl", "-sS", "https://api.payments.example/").exit_code == 60  # nothing in the image trusts it
    assert json.loads(run("curl", "-sSk", "https://api.payments.example/").stdout)["scheme"] == "https"
    assert run("wget", "-qO-", "http://example.com/").stdout.startswith("example.com: GET / over HTTP from 192.0.2.1:")
    looked = run("nslookup", "api.payments.example").stdout
    assert "Non-authoritative answer:" in looked and "Address: 203.0.113.10" in looked
    for target in ("203.0.113.99:80", "api.github.example:22", "downloads.example:443"):
        done = run("/agnhost", "connect", target, "--timeout=3s")
        assert done.exit_code != 0 and "TIMEOUT" in done.stderr, target
    cluster.delete("Namespace", NS)
