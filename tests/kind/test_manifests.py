"""k8snet's own add-on manifests and pins: parse, pinned, known to Kubernetes 1.33, accepted by an API server."""

from __future__ import annotations

import re

import pytest
import yaml

from k8snet import traffic
from k8snet.kind import addons, commands, versions
from k8snet.sandbox import schema, validation
from k8snet.sandbox.dataplane import nginx, workloads

from .conftest import assert_strict

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")

# Kinds the Gateway API standard channel serves at gateway.networking.k8s.io/v1 in v1.5.1 (the release Traefik
# v3.7 implements): config/crd/standard/gateway.networking.k8s.io_{gatewayclasses,gateways,httproutes,grpcroutes}.
GATEWAY_API_V1_KINDS = {"GatewayClass", "Gateway", "HTTPRoute", "GRPCRoute"}


def objects() -> list[dict]:
    return addons.all_manifest_objects()


def builtin(obj: dict) -> bool:
    group = obj["apiVersion"].rpartition("/")[0]
    return group in validation.BUILTIN_GROUPS


def gvk(obj: dict) -> tuple[str, str, str]:
    group, _, version = obj["apiVersion"].rpartition("/")
    return group, version, obj["kind"]


def test_every_manifest_parses_into_named_objects():
    for name in addons.MANIFESTS:
        docs = list(yaml.safe_load_all(addons.manifest_text(name)))
        assert docs and all(isinstance(d, dict) for d in docs), name
    names = [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects()]
    assert len(names) == len(set(names))
    assert {k for k, _, _ in names} == {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
                                        "IngressClass", "Deployment", "Service", "GatewayClass"}


def test_every_builtin_kind_is_known_to_the_1_33_schemas():
    schemas = schema.upstream("1.33")
    for obj in filter(builtin, objects()):
        assert schemas.name_for(*gvk(obj)) is not None, f"{obj['apiVersion']} {obj['kind']} is not in Kubernetes 1.33"


def test_every_builtin_object_decodes_strictly_against_its_1_33_schema():
    """No unknown field and no wrong type: what `kubectl apply --validate=strict` would refuse."""
    for obj in filter(builtin, objects()):
        assert_strict(obj)


def test_custom_kinds_belong_to_the_pinned_gateway_api():
    custom = [o for o in objects() if not builtin(o)]
    assert custom, "the GatewayClass"
    for obj in custom:
        group, version, kind = gvk(obj)
        assert (group, version) == ("gateway.networking.k8s.io", "v1") and kind in GATEWAY_API_V1_KINDS
    gc = custom[0]
    assert gc["spec"]["controllerName"] == "traefik.io/gateway-controller"


def test_every_image_is_pinned_by_digest_and_traefik_is_the_one_release():
    images = [c["image"] for o in objects() if o["kind"] == "Deployment"
              for c in o["spec"]["template"]["spec"]["containers"]]
    assert images == [versions.TRAEFIK_IMAGE]
    for image in images + [versions.NODE_IMAGE, versions.CLOUD_PROVIDER_KIND_IMAGE]:
        assert DIGEST.search(image), f"{image} is not pinned by digest"
    assert versions.TRAEFIK_IMAGE.split("@")[0].endswith(":" + versions.TRAEFIK_VERSION)
    assert versions.CLOUD_PROVIDER_KIND_IMAGE.split("@")[0].endswith(":" + versions.CLOUD_PROVIDER_KIND_VERSION)
    labels = {o["metadata"]["labels"].get("app.kubernetes.io/version") for o in objects() if o["kind"] == "Deployment"}
    assert labels == {versions.TRAEFIK_VERSION}


def test_crd_urls_are_pinned_to_release_tags_not_branches():
    assert f"/traefik/traefik/{versions.TRAEFIK_VERSION}/" in versions.TRAEFIK_CRDS_URL
    assert f"/releases/download/{versions.GATEWAY_API_VERSION}/standard-install.yaml" in versions.GATEWAY_API_CRDS_URL
    for source in addons.CRD_SOURCES:
        assert source.url.startswith("https://") and source.version in source.url
        assert re.fullmatch(r"v\d+\.\d+\.\d+", source.version)


def test_traefik_deployment_wires_entrypoints_probes_and_service_together():
    by_kind = {o["kind"]: o for o in objects()}
    dep, svc = by_kind["Deployment"], by_kind["Service"]
    pod = dep["spec"]["template"]["spec"]
    container = pod["containers"][0]
    args = container["args"]
    assert "--entrypoints.web.address=:8000/tcp" in args and "--entrypoints.websecure.address=:8443/tcp" in args
    assert "--providers.kubernetesgateway=true" in args and "--providers.kubernetesingress=true" in args
    assert "--providers.kubernetescrd=true" in args and "--ping=true" in args
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"traefik": 8080, "web": 8000, "websecure": 8443}
    assert {p["targetPort"] for p in svc["spec"]["ports"]} <= set(ports)
    assert container["readinessProbe"]["httpGet"] == {"path": "/ping", "port": "traefik"}
    assert dep["spec"]["selector"]["matchLabels"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
    assert svc["spec"]["selector"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
    assert pod["serviceAccountName"] == by_kind["ServiceAccount"]["metadata"]["name"]
    binding = by_kind["ClusterRoleBinding"]
    assert binding["roleRef"]["name"] == by_kind["ClusterRole"]["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "traefik", "namespace": "traefik"}]
    published = next(a for a in args if "publishedservice" in a).split("=", 1)[1]
    assert published == f"{svc['metadata']['namespace']}/{svc['metadata']['name']}"


def test_traefik_is_the_default_ingress_class():
    ic = next(o for o in objects() if o["kind"] == "IngressClass")
    assert ic["metadata"]["name"] == "traefik"
    assert ic["metadata"]["annotations"]["ingressclass.kubernetes.io/is-default-class"] == "true"
    assert ic["spec"]["controller"] == "traefik.io/ingress-controller"


def test_lesson_images_are_the_ones_the_sandbox_emulates():
    assert versions.AGNHOST_IMAGE == traffic.AGNHOST
    assert versions.AGNHOST_IMAGE.endswith(":" + workloads.AGNHOST_VERSION)
    assert versions.HTTP_ECHO_IMAGE.endswith(":" + workloads.HTTP_ECHO_VERSION)
    assert versions.NGINX_IMAGE.endswith(":" + nginx.NGINX_LATEST)
    for image in versions.LESSON_IMAGES:
        assert workloads.image_family(image) is not None, image


def test_the_api_server_accepts_the_manifests_as_a_dry_run(sandbox):
    """Server-side dry run through kubectl: defaulting, validation and admission of the kinds the sandbox serves.

    The sandbox installs its own emulated Traefik in namespace traefik (the same objects, whose nodePorts are
    taken): the dry run goes over it with ``--force-conflicts`` and changes nothing. Where that namespace is
    missing it is created for the test and removed afterwards.
    """
    served = {"Namespace", "ServiceAccount", "IngressClass", "Deployment", "Service"}
    docs = [o for o in objects() if o["kind"] in served]
    created = sandbox.kubectl("get", "namespace", "traefik", check=False).returncode != 0
    if created:
        sandbox.kubectl("create", "namespace", "traefik")
    try:
        out = sandbox.kubectl("apply", "--server-side", "--force-conflicts", "--dry-run=server", "-f", "-",
                              input=yaml.safe_dump_all(docs)).stdout
    finally:
        if created:
            sandbox.kubectl("delete", "namespace", "traefik", "--wait=false")
    for obj in docs:
        line = rf"{obj['kind'].lower()}(\.[a-z0-9.]+)?/{obj['metadata']['name']} serverside-applied \(server dry run\)"
        assert re.search(line, out), (line, out)


def test_traefiks_static_configuration_is_the_one_the_sandbox_emulates():
    emulated = pytest.importorskip("k8snet.traefik_config")
    dep = next(o for o in objects() if o["kind"] == "Deployment")
    args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
    assert emulated.TRAEFIK_VERSION == versions.TRAEFIK_VERSION and emulated.TRAEFIK_IMAGE == versions.TRAEFIK_IMAGE
    assert sorted(args) == sorted(emulated.ARGS)  # one static configuration for both backends
    svc = next(o for o in objects() if o["kind"] == "Service")
    assert {p["name"]: p["nodePort"] for p in svc["spec"]["ports"]} == emulated.NODE_PORTS
    gateway_class = next(o for o in objects() if o["kind"] == "GatewayClass")
    assert gateway_class == emulated.gateway_class()  # the sandbox installs the same GatewayClass


def test_cached_crds_are_read_without_the_network(tmp_path):
    source = addons.CrdSource("example", "v1.2.3", "https://127.0.0.1:9/never-fetched.yaml")
    (tmp_path / source.cache_name).write_text(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\n"
        "---\napiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata: {name: p}\n")
    objs = addons.fetch_crds(source, tmp_path)
    assert addons.crd_names(objs) == ["widgets.example.com"] and len(objs) == 2
    assert addons.cached_crds(source, tmp_path) == objs


def test_a_failed_download_says_where_to_put_the_file(tmp_path):
    source = addons.CrdSource("example", "v1.2.3", "http://127.0.0.1:9/unreachable.yaml")
    with pytest.raises(RuntimeError, match=r"(?s)could not download example v1\.2\.3 .*save it as .*example-v1\.2\.3"):
        addons.fetch_crds(source, tmp_path, timeout=2)
    assert addons.cached_crds(source, tmp_path) is None


def test_a_file_without_crds_is_refused(tmp_path):
    source = addons.CrdSource("example", "v1", "https://example.invalid/x.yaml")
    (tmp_path / source.cache_name).write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    with pytest.raises(RuntimeError, match="holds no CustomResourceDefinition"):
        addons.fetch_crds(source, tmp_path)


def test_unknown_manifest_name_is_refused():
    with pytest.raises(ValueError, match="unknown manifest"):
        addons.manifest_text("nginx.yaml")


def test_cloud_provider_runs_as_its_readme_says_with_traefik_owning_ingress_and_gateway():
    argv = commands.cloud_provider_run_argv(host_os="Linux")
    assert argv == ["docker", "run", "--detach", "--name", "k8snet-cloud-provider-kind", "--network", "kind",
                    "--volume", "/var/run/docker.sock:/var/run/docker.sock", versions.CLOUD_PROVIDER_KIND_IMAGE,
                    "--gateway-channel=disabled", "--enable-default-ingress=false"]
    for host in ("Darwin", "Windows"):  # in a container it cannot see the host's OS itself
        assert commands.cloud_provider_run_argv(host_os=host) == [*argv, "--enable-lb-port-mapping"]
