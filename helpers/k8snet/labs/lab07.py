"""Lab 07 — Certificates and mutual TLS: an issuer that cannot find its CA, a certificate without the names its
clients use, and a client that has no certificate for a server that asks for one.

1. **issuer** — Certificate ``orders`` never becomes Ready: the namespaced Issuer it names reads its CA Secret from
   its own namespace, and the lab's CA lives in ``cert-manager``;
2. **names** — Certificate ``inventory`` lists only ``inventory.example.test``, while clients call ``inventory`` and
   ``inventory.<ns>.svc.cluster.local``;
3. **mtls** — ``ledger`` (nginx, ``ssl_verify_client on``) refuses ``billing``, which has no client certificate;
   ``intruder`` must stay refused.

Every check is graded on live TLS handshakes from client pods (:mod:`k8snet.certs.handshakes`: curl with the lab
CA as ``--cacert``, and a client certificate where the pod has one), never on the YAML; when one fails, the hint
reads what cert-manager wrote (the Certificate's and its CertificateRequest's Ready conditions, the certificate in
the Secret) and what the kubelet reported. Checks wait for cert-manager with :meth:`Cluster.wait_for` and short
timeouts, and for the kubelet's periodic pod sync (which puts a changed Secret into a running pod about a minute
later) with :meth:`Cluster.let_time_pass`, which moves the sandbox's clock and waits for real on kind.

Semantics: cert-manager.io/docs/concepts/issuer ("An Issuer is a namespaced resource, and it is not possible to
issue certificates from an Issuer in a different namespace") and /docs/configuration ("Cluster Resource
Namespace": a ClusterIssuer reads the Secrets it names from ``cert-manager``); a client checks the host it asked
for against the certificate's subjectAltNames only (RFC 6125 §6.4.4, curl's "no alternative certificate subject
name matches"); nginx's ``ssl_verify_client on`` answers a client without a certificate, or with one its
``ssl_client_certificate`` CA did not sign, with 400 after the handshake (nginx.org/en/docs/http/
ngx_http_ssl_module.html#ssl_verify_client, ``$ssl_client_s_dn``); nginx reads its certificate when it starts or
reloads; the kubelet retries a mount whose Secret is missing with a back-off of up to 2m2s
(pkg/util/goroutinemap/exponentialbackoff) and resyncs a running pod's Secret volumes every minute or so
(kubernetes.io/docs/concepts/configuration/secret/#using-secrets-as-files-from-a-pod).
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from cryptography import x509
from cryptography.exceptions import InvalidSignature

from .. import durations, kubeproxy
from ..certs import Cert, chain, handshakes, read, secret
from ..traffic import PodRef, exec_in
from . import Exercise, Hint, labs_folder

if TYPE_CHECKING:
    from ..cluster import Cluster

LAB = "lab-07-certificates"
CERT_MANAGER = "cert-manager.io/v1"
TRUST_MANAGER = "trust.cert-manager.io/v1alpha1"
CA = "lab07-ca"
"""The lab CA's name: its Certificate and Secret in cert-manager, the ClusterIssuer, the Bundle, its ConfigMaps."""
CA_NAMESPACE = "cert-manager"
SELF_SIGNED = "lab07-selfsigned"
CA_FILE = "/etc/lab-ca/ca.crt"
"""Where every client pod finds the lab CA (ConfigMap lab07-ca, which the Bundle writes)."""
IDENTITY = "/etc/identity"
ISSUING = 20.0
"""Seconds a check gives cert-manager to finish an issuance it has started (about a second on either backend)."""
KUBELET_SYNC = "2m"
"""How long a check lets pass for the kubelet: a pod's next sync (a minute and up to half of one more) or a mount's
retry (back-off up to 2m2s) — on the sandbox clock, or for real on kind."""
STEP = "15s"
ROLLOUT = 60.0
"""Seconds a check waits for a rollout already under way (a restart) before it grades."""
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
"""The pod-template annotation ``kubectl rollout restart`` sets (kubectl/pkg/polymorphichelpers/objectrestarter.go)."""


def start_manifest(name: str) -> Path:
    """A starting-state manifest the learner can read: ``labs/lab-07-certificates/start/<name>.yaml``."""
    return labs_folder() / LAB / "start" / f"{name}.yaml"


# -- the lab's CA ---------------------------------------------------------------------------------------------


def ensure_lab_ca(cluster: Cluster) -> None:
    """Apply the lab CA (``start/lab-ca.yaml``; unchanged if it is there) and wait until it can sign and its Bundle
    is synced. Applying it again issues nothing new: the root stays the one every exercise trusts."""
    cluster.apply(start_manifest("lab-ca"))
    cluster.wait_for("ClusterIssuer", CA, api_version=CERT_MANAGER, timeout=60)
    cluster.wait_for("Bundle", CA, api_version=TRUST_MANAGER, condition="Synced", timeout=60)


def lab_ca(cluster: Cluster) -> Cert:
    """The lab CA's certificate, as its Secret in cert-manager holds it."""
    return read(base64.b64decode(cluster.get("Secret", CA, CA_NAMESPACE)["data"]["tls.crt"]))


def cleanup(cluster: Cluster) -> None:
    """Delete the lab CA and what was made on it outside the lab's namespaces: the Bundle, the lab's ClusterIssuers
    and any other ClusterIssuer that signs with the lab CA's Secret (one a learner made), the CA's Certificate and
    Secret in cert-manager."""
    cluster.delete("Bundle", CA, api_version=TRUST_MANAGER)
    names = {CA, SELF_SIGNED} | {i["metadata"]["name"] for i in cluster.get("ClusterIssuer", api_version=CERT_MANAGER)
                                 if ((i.get("spec") or {}).get("ca") or {}).get("secretName") == CA}
    for name in sorted(names):
        cluster.delete("ClusterIssuer", name, api_version=CERT_MANAGER)
    cluster.delete("Certificate", CA, CA_NAMESPACE, api_version=CERT_MANAGER)
    cluster.delete("Secret", CA, CA_NAMESPACE)


def _chains_to(certs: list[Cert], root: Cert) -> bool:
    """Whether the first certificate reaches ``root`` through the others: each signed by the next (a leaf and the
    intermediates ``tls.crt`` carries after it) until one is signed by the root itself."""
    ca = x509.load_pem_x509_certificate(root.pem.encode())
    parsed = [x509.load_pem_x509_certificate(c.pem.encode()) for c in certs]
    for i, cert in enumerate(parsed):
        parent = ca if cert.issuer == ca.subject else parsed[i + 1] if i + 1 < len(parsed) else None
        if parent is None:
            return False
        try:
            cert.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature):
            return False
        if parent is ca:
            return True
    return False


# -- starting states --------------------------------------------------------------------------------------------


WORKLOADS = ("Deployment", "Pod")


def _start(cluster: Cluster, exercise_id: str, ns: str, unissued: tuple[str, ...] = ()) -> None:
    """Apply the exercise's starting manifest in two steps, so that every pod finds its Secrets when it starts:
    first the namespace (labelled for the Bundle), the Certificates and the configuration, then — once trust-manager
    has written the CA ConfigMap and cert-manager every Certificate but ``unissued`` — the workloads, waited for
    (except the Deployments named in ``unissued``, whose pods wait for a Secret that will not come)."""
    ensure_lab_ca(cluster)
    docs = [d for d in yaml.safe_load_all(start_manifest(exercise_id).read_text()) if d]
    cluster.apply([d for d in docs if d["kind"] not in WORKLOADS], namespace=ns)
    cluster.wait_for("ConfigMap", CA, ns, condition=lambda cm: (cm.get("data") or {}).get("ca.crt"), timeout=60)
    for d in docs:
        if d["kind"] == "Certificate" and d["metadata"]["name"] not in unissued:
            cluster.wait_for("Certificate", d["metadata"]["name"], ns, api_version=CERT_MANAGER, timeout=60)
    cluster.apply([d for d in docs if d["kind"] in WORKLOADS], namespace=ns)
    for d in docs:
        if d["kind"] == "Deployment" and d["metadata"]["name"] not in unissued:
            cluster.wait_ready(d["metadata"]["name"], ns)
        elif d["kind"] == "Pod":
            cluster.wait_pod_ready(d["metadata"]["name"], ns)


# -- what cert-manager says -----------------------------------------------------------------------------------------



def _condition(obj: dict[str, Any], kind: str = "Ready") -> dict[str, Any] | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == kind), None)


def _words(obj: dict[str, Any], kind: str = "Ready") -> str:
    """``Ready=False (DoesNotExist: Issuing certificate as Secret does not exist)``, or that there is none."""
    c = _condition(obj, kind)
    if c is None:
        return f"no {kind} condition yet"
    message = f": {c['message']}" if c.get("message") else ""
    return f"{kind}={c.get('status')} ({c.get('reason', '')}{message})"


def _issued(crt: dict[str, Any]) -> bool:
    """Ready True for the Certificate's current spec (the condition's observedGeneration is its generation)."""
    c = _condition(crt)
    return bool(c and c.get("status") == "True"
                and c.get("observedGeneration", 0) >= crt["metadata"].get("generation", 0))


def _issuer(cluster: Cluster, crt: dict[str, Any]) -> dict[str, Any] | None:
    ref = (crt.get("spec") or {}).get("issuerRef") or {}
    if (ref.get("group") or "cert-manager.io") != "cert-manager.io":
        return {}  # an external issuer: not ours to judge
    cluster_wide = ref.get("kind") == "ClusterIssuer"
    return cluster.find("ClusterIssuer" if cluster_wide else "Issuer", ref.get("name") or "",
                None if cluster_wide else crt["metadata"]["namespace"], CERT_MANAGER)


def _settled(cluster: Cluster, crt: dict[str, Any]) -> bool:
    """Issued, or stuck where waiting does not help: its issuer is missing or says it is not Ready, or the last
    issuance failed (cert-manager backs off an hour before it tries again)."""
    if _issued(crt):
        return True
    issuing = _condition(crt, "Issuing")
    if issuing is not None and issuing.get("status") == "False":
        return True
    issuer = _issuer(cluster, crt)
    if issuer is None:
        return True
    ready = _condition(issuer) if issuer else None
    return ready is not None and ready.get("status") == "False"


def _certificate(cluster: Cluster, ns: str, name: str) -> dict[str, Any]:
    """The Certificate once cert-manager is done with it for now (within :data:`ISSUING` seconds)."""
    crt = cluster.find("Certificate", name, ns, CERT_MANAGER)
    if crt is None:
        raise Hint(f'Certificate "{name}" is gone from namespace {ns}: write it again, or run lab.setup() to start '
                   "over.")
    if _settled(cluster, crt):
        return crt
    try:
        return cluster.wait_for("Certificate", name, ns, api_version=CERT_MANAGER,
                                condition=lambda c: _settled(cluster, c), timeout=ISSUING)
    except TimeoutError:
        return cluster.find("Certificate", name, ns, CERT_MANAGER) or crt


def _request_words(cluster: Cluster, crt: dict[str, Any]) -> str:
    """What the Certificate's latest CertificateRequest says: ``CertificateRequest orders-1: Ready=False (…)``."""
    name, ns = crt["metadata"]["name"], crt["metadata"]["namespace"]
    requests = [r for r in cluster.get("CertificateRequest", namespace=ns, api_version=CERT_MANAGER)
                if (r["metadata"].get("annotations") or {}).get("cert-manager.io/certificate-name") == name]
    if not requests:
        return "it has no CertificateRequest yet"
    latest = max(requests, key=lambda r: int((r["metadata"].get("annotations") or {})
                                             .get("cert-manager.io/certificate-revision") or 0))
    return f"CertificateRequest {latest['metadata']['name']}: {_words(latest)}"


def _not_issued(cluster: Cluster, crt: dict[str, Any]) -> str:
    return (f"Certificate {crt['metadata']['name']} is not Ready: {_words(crt)}; {_request_words(cluster, crt)}.")


# -- what the kubelet and the pods say --------------------------------------------------------------------------


def _rolled_out(cluster: Cluster, ns: str, name: str) -> bool:
    """The Deployment's pods are all of its current template, and all available (``kubectl rollout status``)."""
    d = cluster.apps.read_namespaced_deployment(name, ns)
    want, st = d.spec.replicas if d.spec.replicas is not None else 1, d.status
    return ((st.observed_generation or 0) >= (d.metadata.generation or 0) and (st.updated_replicas or 0) == want
            and (st.replicas or 0) == want and (st.available_replicas or 0) == want)


def _let_kubelet_catch_up(cluster: Cluster, done: Callable[[], bool], within: str = KUBELET_SYNC) -> bool:
    """Let time pass in steps of :data:`STEP` until ``done()``, at most ``within``: the kubelet syncs each pod
    about once a minute and retries a failed mount with a back-off. Moves the sandbox's clock; waits for real on
    kind (the lab's introduction says a check may take that long there). Whether ``done()`` came true."""
    left, step = durations.parse(within), durations.parse(STEP)
    while True:
        deadline = time.monotonic() + (0.3 if left > 0 else 2.0)  # the sandbox's kubelet acts on a step a moment later
        while not done():
            if time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        else:
            return True
        if left <= 0:
            return False
        cluster.let_time_pass(STEP)
        left -= step


def _mount_failures(cluster: Cluster, ns: str, app: str) -> list[str]:
    """The kubelet's latest FailedMount messages for the app's pods (its events), newest first, each once."""
    pods = {p.metadata.name for p in cluster.core.list_namespaced_pod(ns, label_selector=f"app={app}").items}
    events = [e for e in cluster.core.list_namespaced_event(ns).items
              if e.reason == "FailedMount" and e.involved_object.name in pods]
    events.sort(key=lambda e: e.last_timestamp or e.metadata.creation_timestamp, reverse=True)
    return list(dict.fromkeys(e.message for e in events))


def _waiting(cluster: Cluster, ns: str, app: str) -> str:
    """``: its container is waiting (ContainerCreating)`` or ``(CrashLoopBackOff, back-off 40s)``, as its pod's
    status says, or ""."""
    for pod in cluster.core.list_namespaced_pod(ns, label_selector=f"app={app}").items:
        for cs in pod.status.container_statuses or []:
            waiting = cs.state.waiting if cs.state else None
            if waiting is not None:
                detail = (waiting.message or "").split(" restarting")[0]
                return f": its container is waiting ({waiting.reason}{', ' + detail if detail else ''})"
    return ""


def _wait_rollout(cluster: Cluster, ns: str, name: str) -> None:
    """A rollout under way (a restart) gets :data:`ROLLOUT` seconds to finish before the check grades."""
    if cluster.find("Deployment", name, ns, "apps/v1") is None:
        raise Hint(f'Deployment "{name}" is gone from namespace {ns}: run lab.setup() to start over.')
    deadline = time.monotonic() + ROLLOUT
    while not _rolled_out(cluster, ns, name) and time.monotonic() < deadline:
        time.sleep(0.2)


def restart(cluster: Cluster, ns: str, deployment: str) -> None:
    """``kubectl rollout restart``: a new pod-template annotation, so the Deployment replaces every pod; waits for
    the new pods."""
    now = cluster.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
    cluster.apps.patch_namespaced_deployment(
        deployment, ns, {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}})
    cluster.wait_ready(deployment, ns)


def _restart_once_issued(certificate: str, deployment: str) -> Callable[[Cluster, str], None]:
    """The reference solution's second step: once cert-manager has issued the Certificate for its new spec (Ready
    for its generation, and the Secret's certificate carries every name asked for), restart the server that reads
    it only at start."""

    def step(cluster: Cluster, ns: str) -> None:
        def written(crt: dict[str, Any]) -> bool:
            obj = cluster.find("Secret", crt["spec"]["secretName"], ns)
            if not _issued(crt) or obj is None or "tls.crt" not in (obj.get("data") or {}):
                return False
            return set(crt["spec"].get("dnsNames") or []) <= set(secret(obj).leaf.names)

        cluster.wait_for("Certificate", certificate, ns, api_version=CERT_MANAGER, condition=written, timeout=60)
        restart(cluster, ns, deployment)

    return step


# -- handshakes ---------------------------------------------------------------------------------------------------


def _said(h: handshakes.Handshake) -> str:
    """The handshake's outcome in a few words, with curl's own message where it names the certificate problem."""
    if h.ok:
        return f"{h.status} {(h.body.strip().splitlines() or [''])[0]!r}"
    if h.exit_code == 60 and h.error:
        detail = re.sub(r"^curl: \(\d+\) ", "", h.error.splitlines()[0])
        return f"{h.reason} (curl: {detail})"
    return h.reason


def _issuer_words(cert: Cert) -> str:
    return f"{cert.issuer} (itself: self-signed)" if cert.self_signed else cert.issuer


def _server_words(cluster: Cluster, ns: str, secret_name: str, hosts: list[str], deployment: str) -> str:
    """Why a server that answers fails verification, from the certificate its Secret holds."""
    obj = cluster.find("Secret", secret_name, ns)
    if obj is None or "tls.crt" not in (obj.get("data") or {}):
        return f"Secret {secret_name} holds no certificate."
    held = secret(obj)
    ca = lab_ca(cluster)
    if not _chains_to(held.chain, ca):
        return (f"The certificate in Secret {secret_name} was issued by {_issuer_words(held.leaf)}, not by the lab "
                f"CA ({ca.subject}) that the clients trust.")
    missing = [h for h in hosts if not held.leaf.covers(h)]
    if missing:
        return (f"The certificate in Secret {secret_name} names {', '.join(held.leaf.names) or 'no DNS name'}, not "
                f"{' or '.join(missing)}: curl accepts a server certificate only for a name among its "
                "subjectAltNames.")
    return (f"Secret {secret_name} holds a certificate from the lab CA for {', '.join(held.leaf.names)}, but nginx "
            f"still serves the one it loaded when it started: it reads its certificate only at start (or on "
            f"nginx -s reload). Restart it: kubectl rollout restart deployment {deployment} -n {ns}.")


# -- 1: issuer --------------------------------------------------------------------------------------------------


def setup_issuer(cluster: Cluster, ns: str) -> None:
    """The starting state, reached once the kubelet has reported the Secret its orders pod cannot mount."""
    _start(cluster, "issuer", ns, unissued=("orders",))
    deadline = time.monotonic() + 60
    while not _mount_failures(cluster, ns, "orders"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the kubelet reported no FailedMount for the orders pod in {ns} within 60s")
        time.sleep(0.1)


def _need_pods(cluster: Cluster, ns: str, *names: str) -> None:
    """The exercise's client pods, which the check runs curl in, must still be there."""
    for name in names:
        if cluster.find("Pod", name, ns) is None:
            raise Hint(f'pod "{name}" is gone from namespace {ns}: the check runs curl in it. Run '
                       f"lab.setup('{ns.removeprefix('lab07-')}') to start over.")


def check_issuer(cluster: Cluster, ns: str) -> str:
    _need_pods(cluster, ns, "client")
    crt = _certificate(cluster, ns, "orders")
    if _issued(crt) and not _rolled_out(cluster, ns, "orders"):
        _let_kubelet_catch_up(cluster, lambda: _rolled_out(cluster, ns, "orders"))
    client = handshakes.Client(PodRef(ns, "client"), CA_FILE)
    url = "https://orders/"
    kubeproxy.wait_synced(cluster, client.pod, ns, "orders")  # the Service's endpoints as the API has them now
    h = handshakes.one(cluster, client, url)
    if h.ok:
        issuer = crt["spec"]["issuerRef"]
        return (f"{url} answered {_said(h)} over TLS the client verified with the lab CA: Certificate orders is "
                f"issued by {issuer.get('kind') or 'Issuer'} {issuer['name']}.")
    said = f"{url} from the client pod: {_said(h)}."
    if not _rolled_out(cluster, ns, "orders"):
        if not _issued(crt):
            failures = _mount_failures(cluster, ns, "orders")
            pod = (f" The kubelet says about its pod: {failures[0]}." if failures else "")
            raise Hint(f"{said} The Service orders has no ready pod.{pod} {_not_issued(cluster, crt)}")
        raise Hint(f"{said} Certificate orders is Ready, but no pod of orders is ready yet{_waiting(cluster, ns, 'orders')}"
                   ". Its pod starts once the kubelet mounts Secret orders-tls, at its next try of the mount (it "
                   "backs off between tries, up to 2 minutes); restart it to start it now: kubectl "
                   f"rollout restart deployment orders -n {ns}.")
    if not _issued(crt):
        raise Hint(f"{said} {_not_issued(cluster, crt)}")
    raise Hint(f"{said} {_server_words(cluster, ns, crt['spec']['secretName'], ['orders'], 'orders')}")


# -- 2: names ----------------------------------------------------------------------------------------------------


def setup_names(cluster: Cluster, ns: str) -> None:
    _start(cluster, "names", ns)


def check_names(cluster: Cluster, ns: str) -> str:
    _need_pods(cluster, ns, "client")
    crt = _certificate(cluster, ns, "inventory")
    _wait_rollout(cluster, ns, "inventory")
    hosts = ["inventory", f"inventory.{ns}.svc.cluster.local"]
    client = handshakes.Client(PodRef(ns, "client"), CA_FILE)
    kubeproxy.wait_synced(cluster, client.pod, ns, "inventory")
    result = handshakes.matrix(cluster, {"client": client}, {h: f"https://{h}/" for h in hosts})
    answers = [result.cells[("client", h)] for h in hosts]
    if all(a.ok for a in answers):
        return f"the client verified inventory under both names: {', '.join(f'https://{h}/' for h in hosts)}."
    said = " ".join(f"https://{h}/ from the client pod: {_said(a)}." for h, a in zip(hosts, answers, strict=True))
    if not _issued(crt):
        raise Hint(f"{said} {_not_issued(cluster, crt)}")
    failed = [h for h, a in zip(hosts, answers, strict=True) if not a.ok]
    raise Hint(f"{said} {_server_words(cluster, ns, crt['spec']['secretName'], failed, 'inventory')}")


# -- 3: mtls -----------------------------------------------------------------------------------------------------


IDENTITY_SECRET = "billing-identity"


def setup_mtls(cluster: Cluster, ns: str) -> None:
    _start(cluster, "mtls", ns)


def _mounted(cluster: Cluster, pod: PodRef, path: str) -> str | None:
    out = exec_in(cluster, pod, ["cat", path])
    return out.stdout if out.exit_code == 0 and out.stdout.strip() else None


def _verify_client_directive(cluster: Cluster, ns: str) -> str:
    site = ((cluster.find("ConfigMap", "ledger-site", ns) or {}).get("data") or {}).get("default.conf") or ""
    found = re.findall(r"^\s*ssl_verify_client\s+(\S+?);", site, re.M)
    return f"ssl_verify_client {found[-1]}" if found else "no ssl_verify_client"


def _client_cert_words(cluster: Cluster, mounted: str) -> str:
    """Why nginx refused billing's certificate, from the certificate itself."""
    try:
        certs = chain(mounted)
    except ValueError:
        return f"billing's {IDENTITY}/tls.crt holds no certificate."
    leaf, ca = certs[0], lab_ca(cluster)
    if not _chains_to(certs, ca):
        return (f"billing's certificate ({leaf.subject}) was issued by {_issuer_words(leaf)}, not by the lab CA "
                f"({ca.subject}), the one ledger trusts for clients (ssl_client_certificate).")
    if leaf.extended_usages and "client auth" not in leaf.extended_usages:
        return (f"billing's certificate allows only {', '.join(leaf.extended_usages)} (its extended key usage): "
                "nginx refuses it as a client certificate (unsupported certificate purpose); it needs client auth.")
    if not leaf.valid_at(cluster.clock()):
        return f"billing's certificate is valid from {leaf.not_before} to {leaf.not_after}: not now."
    return "nginx refused billing's certificate: kubectl logs deployment/ledger shows the requests."


def check_mtls(cluster: Cluster, ns: str) -> str:
    _need_pods(cluster, ns, "billing", "intruder")
    billing_pod, url = PodRef(ns, "billing"), "https://ledger/"
    pending = [c for c in (_certificate(cluster, ns, crt["metadata"]["name"])
                           for crt in cluster.get("Certificate", namespace=ns, api_version=CERT_MANAGER)
                           if (crt.get("spec") or {}).get("secretName") == IDENTITY_SECRET) if not _issued(c)]
    identity = cluster.find("Secret", IDENTITY_SECRET, ns)
    wanted = (identity.get("data") or {}).get("tls.crt") if identity else None
    if wanted:
        pem = base64.b64decode(wanted).decode()
        _let_kubelet_catch_up(cluster, lambda: _mounted(cluster, billing_pod, f"{IDENTITY}/tls.crt") == pem)
    mounted = _mounted(cluster, billing_pod, f"{IDENTITY}/tls.crt")
    files = (f"{IDENTITY}/tls.crt", f"{IDENTITY}/tls.key") if mounted else ()
    clients = {"billing": handshakes.Client(billing_pod, CA_FILE, *files),
               "intruder": handshakes.Client(PodRef(ns, "intruder"), CA_FILE)}
    _wait_rollout(cluster, ns, "ledger")
    for pod in (c.pod for c in clients.values()):
        kubeproxy.wait_synced(cluster, pod, ns, "ledger")
    result = handshakes.matrix(cluster, clients, {url: url})
    billing, intruder = result.cells[("billing", url)], result.cells[("intruder", url)]
    if intruder.ok:
        raise Hint(f"intruder, which presents no certificate, got {_said(intruder)} from {url}: ledger lets "
                   f"clients in without one (ConfigMap ledger-site says {_verify_client_directive(cluster, ns)}). "
                   "Refusing such clients is what mutual TLS is for: put ssl_verify_client on back (and restart "
                   "ledger so that nginx reads it), and give billing a certificate of its own instead.")
    if billing.ok and "CN=billing" in billing.body:
        return (f"billing got {_said(billing)} from {url}: nginx verified its certificate from the lab CA and named "
                f"it; intruder, without a certificate, is still refused ({intruder.reason}).")
    said = f"billing → {url}: {_said(billing)}."
    if billing.ok:
        named = billing.body.strip().removeprefix("ledger: hello").strip()
        raise Hint(f"{said} nginx let billing in but names it {named!r} ($ssl_client_s_dn, the certificate's "
                   "subject): give billing's certificate the commonName billing.")
    if not mounted:
        if identity is None:
            why = " ".join(_not_issued(cluster, c) for c in pending)
            raise Hint(f"{said} billing has no certificate to present: its pod mounts Secret {IDENTITY_SECRET} at "
                       f"{IDENTITY} (optional, so the pod runs without it), and that Secret does not exist in {ns}."
                       + (f" {why}" if why else ""))
        raise Hint(f"{said} Secret {IDENTITY_SECRET} exists, but the kubelet has not put a certificate into billing's "
                   f"{IDENTITY} yet (it syncs a running pod's Secrets about once a minute): check again in a minute.")
    if billing.status == 400:
        raise Hint(f"{said} {_client_cert_words(cluster, mounted)}")
    raise Hint(f"{said} ledger should answer billing once billing presents a certificate from the lab CA; "
               f"kubectl describe pod -l app=ledger -n {ns} and kubectl logs deployment/ledger -n {ns} show why it "
               "does not.")


def exercises() -> list[Exercise]:
    return [
        Exercise("issuer", "A Certificate that never becomes Ready", "lab07-issuer", setup_issuer, check_issuer,
                 "issuer.yaml",
                 ["Symptom: https://orders from the client pod cannot connect: the orders pod waits for Secret "
                  "orders-tls (the kubelet's FailedMount), which cert-manager never wrote, because Certificate "
                  "orders is not Ready.",
                  "Follow cert-manager's chain: kubectl describe certificate orders -n lab07-issuer, then its "
                  "request (kubectl describe certificaterequest -n lab07-issuer), then the issuer it names (kubectl "
                  "describe issuer ca-issuer -n lab07-issuer): its Ready condition and events say which Secret it "
                  "cannot find. Where does that Secret live, and where does an Issuer look for it? Compare with "
                  "kubectl get clusterissuers.",
                  "An Issuer reads its CA Secret from its own namespace; lab07-ca lives in cert-manager, where the "
                  "ClusterIssuer lab07-ca (same spec) reads it. Set Certificate orders' issuerRef to kind: "
                  "ClusterIssuer, name: lab07-ca; once it is Ready, kubectl rollout restart deployment orders -n "
                  "lab07-issuer starts nginx with it at once."],
                 after_solution=_restart_once_issued("orders", "orders")),
        Exercise("names", "A certificate without the names clients use", "lab07-names", setup_names, check_names,
                 "names.yaml",
                 ["Symptom: curl in the client pod refuses https://inventory and "
                  "https://inventory.lab07-names.svc.cluster.local: no alternative certificate subject name matches "
                  "the host it asked for.",
                  "curl checks the URL's host against the certificate's subjectAltNames (the commonName does not "
                  "count). See the names the certificate carries: kubectl get certificate inventory -n lab07-names "
                  "-o yaml (spec.dnsNames), or certs.secret(cluster.get('Secret', 'inventory-tls', 'lab07-names')); "
                  "kubectl describe certificate inventory shows each new issuance in its events.",
                  "List every name the clients use in Certificate inventory's dnsNames: inventory and "
                  "inventory.lab07-names.svc.cluster.local. Once it is Ready again, restart inventory (kubectl "
                  "rollout restart deployment inventory -n lab07-names): nginx keeps serving the certificate it "
                  "loaded at start."],
                 after_solution=_restart_once_issued("inventory", "inventory")),
        Exercise("mtls", "A client certificate for billing", "lab07-mtls", setup_mtls, check_mtls, "mtls.yaml",
                 ["Symptom: ledger answers billing with 400 'No required SSL certificate was sent': nginx asks "
                  "every client for a certificate (ssl_verify_client on), and billing has none to present.",
                  "See what billing's pod mounts (kubectl get pod billing -n lab07-mtls -o yaml: volume identity is "
                  "Secret billing-identity, optional, at /etc/identity) and which CA ledger trusts for clients "
                  "(ConfigMap ledger-site: ssl_client_certificate is the ca.crt next to ledger's own certificate, "
                  "the lab CA). Once you have asked cert-manager for a certificate, kubectl describe certificate "
                  "and kubectl describe certificaterequest -n lab07-mtls show how the issuance went. Turning "
                  "verification off is no fix: intruder must stay out.",
                  "Issue billing a certificate from the lab CA into that Secret: a Certificate with secretName "
                  "billing-identity, commonName billing, usages [client auth, digital signature] and issuerRef "
                  "kind: ClusterIssuer, name: lab07-ca. The kubelet puts it into the running pod at its next sync "
                  "(about a minute); curl reads it at each request, so nothing needs a restart."]),
    ]

