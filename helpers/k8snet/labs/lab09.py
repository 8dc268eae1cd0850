"""Lab 09 — CNI plugins and L7 policy: what Cilium and Calico can say that a Kubernetes NetworkPolicy cannot.

The lab runs on two clusters of the set, side by side: ``cilium`` (Cilium 1.20) and ``calico`` (Calico 3.32),
each started by :func:`k8snet.labs.load` if it is not running (:data:`MEMBERS`).

1. **refunds** (Cilium) — the payments API takes only ``GET /api/…`` from the frontend: a CiliumNetworkPolicy with
   an L7 HTTP rule, so that the node's Envoy answers ``POST /api/refund`` with ``403 Access denied`` and every
   other pod is dropped before it can send a request;
2. **egress** (Cilium) — checkout may reach one host outside the cluster, ``api.payments.example``, by name: the
   security team's ``toFQDNs`` policy has no DNS rule, so checkout can no longer resolve anything, and its default
   deny cuts it off from the orders service in its own namespace too;
3. **guardrail** (Calico) — a ``security`` tier ahead of the ``default`` tier keeps everything but the app tier
   away from the database, whatever the namespace's owner allows with Kubernetes NetworkPolicies (which sit in
   the ``default`` tier): ``Pass`` for the app tier, ``Deny`` for the rest.

Every check sends requests or connection probes from the exercise's pods (curl's status or exit code, agnhost
connect's TIMEOUT) and, on Cilium, reads what Hubble recorded (:mod:`k8snet.cni.hubble`): the proxy's L7 verdict,
the dropped SYN, the DNS proxy's lookups. The hints quote those flows, the CiliumEndpoint's enforcement, and for
Calico the tiers in the order felix walks them.

Semantics: docs.cilium.io security/policy/language ("Layer 7 Examples": ``path`` and ``method`` are extended
POSIX regexes matched against the whole value; "DNS based": ``toFQDNs`` needs a DNS rule so the DNS proxy sees
the lookups; default deny once a rule selects the endpoint for that direction), cilium/proxy's 403 ``Access
denied``; docs.tigera.io "Get started with policy tiers" and the Tier and GlobalNetworkPolicy references (tiers in
``order``, ``Pass`` hands the decision to the next tier, Kubernetes NetworkPolicies in the ``default`` tier at
order 1000, a tier whose policies select an endpoint but decide nothing drops at its end).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubernetes.client.exceptions import ApiException

from .. import kubeproxy
from ..cni import hubble, wiring
from ..sandbox.dataplane.calico import labels as calico_labels
from ..sandbox.dataplane.calico import rules as calico_rules
from ..sandbox.selectors import match_label_selector
from ..table import Table
from ..traffic import PodRef, connect
from . import Exercise, Hint, labs_folder
from .lab08 import Answer, ask

if TYPE_CHECKING:
    from ..cluster import Cluster

LAB = "lab-09-cni-policy"
MEMBERS = {"calico": "calico"}
"""The member of the cluster set the guardrail exercise runs on, and its CNI plugin; the lab itself is loaded with
the Cilium cluster (``k8snet.connect("cilium", cni="cilium")``)."""
CILIUM = "cilium.io/v2"
CALICO = "projectcalico.org/v3"
TIER = "security"
SETTLE = 10.0
"""Seconds a check gives the Cilium agents to enforce the namespace's policies (at once in the sandbox, a moment
on kind) before it grades what traffic does."""
PAYMENTS_HOST = "api.payments.example"
EXAMPLE_HOST, EXAMPLE_IP = "example.com", "198.51.100.10"
DB_PORT, API_PORT = 5432, 8080


def start_manifest(name: str) -> Path:
    """A starting-state manifest the learner can read: ``labs/lab-09-cni-policy/start/<name>.yaml``."""
    return labs_folder() / LAB / "start" / f"{name}.yaml"



def _need_plugin(cluster: Cluster, plugin: str, exercise: str) -> None:
    have = wiring.plugin(cluster)
    if have != plugin:
        raise RuntimeError(f"exercise {exercise} needs a cluster running {plugin}, and {cluster.context} runs "
                           f"{have}: load the lab with k8snet.connect('cilium', cni='cilium') and let it connect "
                           "the calico cluster itself")


def _start(cluster: Cluster, exercise_id: str, ns: str) -> None:
    """The exercise's starting manifest, its pods waited for."""
    for obj in cluster.apply(start_manifest(exercise_id), namespace=ns):
        if obj["kind"] == "Deployment":
            cluster.wait_ready(obj["metadata"]["name"], ns)
        elif obj["kind"] == "Pod":
            cluster.wait_pod_ready(obj["metadata"]["name"], ns)


def line(a: Answer) -> str:
    """One answer in a line: as :class:`~k8snet.labs.lab08.Answer` prints it, with a JSON body on one line."""
    if a.status is None:
        return str(a)
    body = " ".join(a.body.split())
    return f"{a.caller} → {a.method} {a.url}: {a.status} {body if len(body) <= 60 else body[:59] + '…'!r}"


def _need_pods(cluster: Cluster, ns: str, *names: str) -> None:
    """The exercise's client pods, which the check runs its requests in, must still be there."""
    for name in names:
        if cluster.find("Pod", name, ns) is None:
            raise Hint(f'pod "{name}" is gone from namespace {ns}: the check sends its requests from it. Run '
                       f"lab.setup('{ns.removeprefix('lab09-')}') to start over.")


# -- Cilium: waiting for the agents, reading their endpoints --------------------------------------------------------


def _cilium_labels(selector: dict[str, Any] | None) -> dict[str, Any] | None:
    """An endpointSelector with Cilium's ``k8s:``/``any:`` source prefixes taken off its keys, so that it reads as
    a LabelSelector over the pod's own labels (the namespace is the policy's: ``k8s:io.kubernetes.pod.namespace``
    is left to the caller)."""
    if selector is None:
        return None

    def bare(key: str) -> str:
        return key.split(":", 1)[1] if key.split(":", 1)[0] in ("k8s", "any") else key

    return {"matchLabels": {bare(k): v for k, v in (selector.get("matchLabels") or {}).items()},
            "matchExpressions": [{**e, "key": bare(e["key"])} for e in selector.get("matchExpressions") or []]}


def _cnp_specs(cnp: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in [cnp.get("spec"), *(cnp.get("specs") or [])] if s]


def _directions(spec: dict[str, Any]) -> set[str]:
    """The directions a CNP's rule enforces on the endpoints it selects (default deny unless switched off)."""
    off = spec.get("enableDefaultDeny") or {}
    return {d for d in ("ingress", "egress")
            if (spec.get(d) is not None or spec.get(f"{d}Deny") is not None) and off.get(d, True) is not False}


def cilium_policies(cluster: Cluster, ns: str) -> list[dict[str, Any]]:
    """The namespace's CiliumNetworkPolicies."""
    try:
        return cluster.get("CiliumNetworkPolicy", namespace=ns, api_version=CILIUM)
    except ApiException as exc:
        if exc.status == 404:
            return []
        raise


def selecting(cluster: Cluster, ns: str, pod: str) -> list[tuple[dict[str, Any], set[str]]]:
    """The namespace's CiliumNetworkPolicies that select ``pod``, each with the directions it enforces there."""
    found = cluster.find("Pod", pod, ns)
    labels = (found or {}).get("metadata", {}).get("labels") or {}
    out = []
    for cnp in cilium_policies(cluster, ns):
        dirs = set().union(*(_directions(s) for s in _cnp_specs(cnp)
                             if match_label_selector(_cilium_labels(s.get("endpointSelector")), labels)))
        if dirs:
            out.append((cnp, dirs))
    return out


def _enforcing(cep: dict[str, Any] | None) -> set[str]:
    policy = ((cep or {}).get("status") or {}).get("policy") or {}
    return {d for d in ("ingress", "egress") if (policy.get(d) or {}).get("enforcing")}


def _caught_up(cluster: Cluster, ns: str) -> bool:
    for pod in cluster.get("Pod", namespace=ns):
        if (pod.get("status") or {}).get("phase") != "Running":
            continue
        name = pod["metadata"]["name"]
        cep = cluster.find("CiliumEndpoint", name, ns, CILIUM)
        if cep is None or (cep.get("status") or {}).get("state") != "ready":
            return False
        wanted = set().union(*(dirs for _, dirs in selecting(cluster, ns, name)))
        if not wanted <= _enforcing(cep):
            return False
    return True


def settle(cluster: Cluster, ns: str, timeout: float = SETTLE) -> bool:
    """Wait until Cilium has caught up with the namespace as the API has it now: each running pod has its
    CiliumEndpoint, ready, enforcing each direction a CiliumNetworkPolicy selects it for. At most ``timeout``
    seconds; whether it caught up (the check grades either way)."""
    deadline = time.monotonic() + timeout
    while not _caught_up(cluster, ns):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def rules_words(cluster: Cluster, ns: str, pod: str, direction: str) -> str:
    """The CiliumNetworkPolicies that select the pod for a direction, in a few words each."""
    words = []
    for cnp, dirs in selecting(cluster, ns, pod):
        if direction not in dirs:
            continue
        parts = []
        for spec in _cnp_specs(cnp):
            for rule in spec.get(direction) or []:
                parts.append(_rule_words(rule, direction))
        words.append(f"CiliumNetworkPolicy {cnp['metadata']['name']}: {'; '.join(parts) or 'no rule (deny all)'}")
    return ". ".join(words) + "." if words else f"No CiliumNetworkPolicy selects {pod} for {direction}."


def _rule_words(rule: dict[str, Any], direction: str) -> str:
    peers = []
    for key in ("fromEndpoints", "toEndpoints"):
        for sel in rule.get(key) or []:
            labels = sel.get("matchLabels") or {}
            peers.append("pods " + (", ".join(f"{k}={v}" for k, v in labels.items()) or "{} (every pod here)"))
    for key in ("fromEntities", "toEntities"):
        peers += [f"entity {e}" for e in rule.get(key) or []]
    for key in ("toCIDR", "fromCIDR"):
        peers += list(rule.get(key) or [])
    for key in ("toCIDRSet", "fromCIDRSet"):
        peers += [c.get("cidr", "") for c in rule.get(key) or []]
    peers += [f"FQDN {f.get('matchName') or f.get('matchPattern')}" for f in rule.get("toFQDNs") or []]
    ports, l7 = [], []
    for tp in rule.get("toPorts") or []:
        ports += [f"{p.get('port')}/{p.get('protocol', 'ANY')}" for p in tp.get("ports") or []]
        r = tp.get("rules") or {}
        l7 += [f"HTTP {h.get('method', 'any method')} {h.get('path', 'any path')}" for h in r.get("http") or []]
        l7 += [f"DNS {d.get('matchName') or d.get('matchPattern')}" for d in r.get("dns") or []]
    said = f"{'from' if direction == 'ingress' else 'to'} {', '.join(peers) or 'anything'}"
    said += f" on {', '.join(ports)}" if ports else " on any port"
    return said + (f" ({', '.join(l7)})" if l7 else "")


def _hubble_line(f: hubble.Flow) -> str:
    dst = f"{f.destination}:{f.destination_port}" if f.destination_port else f.destination
    summary = f.summary
    if f.http:
        summary = f"{f.http.get('method', '')} {f.http.get('url', '')}"
    return f"{f.source} -> {dst} {f.type} {f.verdict} ({summary})"


def flows_table(cluster: Cluster, ns: str, pod: str | None = None, verdict: str | None = None,
                about: str | None = None, last: int = 12) -> Table:
    """Hubble's last flows for the namespace (or one pod), as the checks read them: who, to where, the
    observation point or drop reason, the verdict and the summary (times and source ports left out); ``about``
    keeps the flows whose destination or summary names it (a host)."""
    found = hubble.flows(cluster, pod=f"{ns}/{pod}" if pod else None, namespace=None if pod else ns,
                         verdict=verdict, last=None if about else last)
    if about:
        found = [f for f in found if about in f.destination or about in f.summary][-last:]
    rows = []
    for f in found:  # a reply goes to the client's source port, left out too
        dst = f"{f.destination}:{f.destination_port}" if f.destination_port and not f.raw.get("is_reply") \
            else f.destination
        rows.append([f.source, dst, f.type, f.verdict, f.summary])
    return Table(["SOURCE", "DESTINATION", "TYPE", "VERDICT", "SUMMARY"], rows,
                 caption=f"hubble observe, the last {len(rows)} flows")


def _settle_and_sync(cluster: Cluster, ns: str, client: str, service: str) -> None:
    settle(cluster, ns)
    kubeproxy.wait_synced(cluster, PodRef(ns, client), ns, service)


# -- 1: refunds ---------------------------------------------------------------------------------------------------

API = "http://payments"


def setup_refunds(cluster: Cluster, ns: str) -> None:
    _need_plugin(cluster, "cilium", "refunds")
    _start(cluster, "refunds", ns)
    _settle_and_sync(cluster, ns, "frontend", "payments")


def refunds_calls(cluster: Cluster, ns: str = "lab09-refunds") -> list[Answer]:
    """What the check sends: the frontend's read, its refund and a path outside ``/api/``, and batch's read."""
    return [ask(cluster, ns, "frontend", f"{API}/api/orders"),
            ask(cluster, ns, "frontend", f"{API}/api/refund", "POST"),
            ask(cluster, ns, "frontend", f"{API}/admin"),
            ask(cluster, ns, "batch", f"{API}/api/orders")]


def _denied(a: Answer) -> bool:
    """Envoy's refusal: 403, ``server: envoy``, body ``Access denied``."""
    return a.status == 403 and a.headers.get("server") == "envoy" and a.body.strip() == "Access denied"


def calls_table(answers: list[Answer]) -> Table:
    """Who sent what, and what came back."""
    return Table(["FROM", "REQUEST", "ANSWER"], [[a.caller, f"{a.method} {a.url.removeprefix(API)}", a.reason]
                                                 for a in answers])


def check_refunds(cluster: Cluster, ns: str) -> str:
    _need_pods(cluster, ns, "frontend", "batch")
    _settle_and_sync(cluster, ns, "frontend", "payments")
    get, refund, admin, batch = answers = refunds_calls(cluster, ns)
    said = ". ".join(map(line, answers)) + "."
    payments = [p["metadata"]["name"] for p in cluster.get("Pod", namespace=ns)
                if (p["metadata"].get("labels") or {}).get("app") == "payments"]
    ingress = rules_words(cluster, ns, payments[0], "ingress") if payments else "No payments pod runs."
    if not any(dirs for p in payments for _, dirs in selecting(cluster, ns, p) if "ingress" in dirs):
        raise Hint(f"{said} Every request got payments' own answer: no CiliumNetworkPolicy selects the payments "
                   "pods for ingress, so any pod may send them anything.")
    if get.status != 200:
        if _denied(get):
            raise Hint(f"{said} The node's Envoy refused the frontend's GET /api/orders: no HTTP rule matched it. "
                       f"{ingress} A rule's path is an extended POSIX regex matched against the whole path, so "
                       "\"/api\" matches /api alone.")
        raise Hint(f"{said} The frontend's connection is dropped before it can send a request (no L3/L4 rule "
                   f"lets it in). {ingress} Policies see the pod's port, after kube-proxy has translated the "
                   "Service's 80: payments listens on 8080.")
    if refund.status != 403 or admin.status != 403:
        through = [a for a in (refund, admin) if a.status != 403]
        raise Hint(f"{said} {' and '.join(f'{a.method} {a.url.removeprefix(API)}' for a in through)} reached "
                   f"payments: nothing looks at the frontend's requests, or the HTTP rules allow more than GET on "
                   f"/api/. {ingress}")
    if batch.status is not None:
        raise Hint(f"{said} batch's request reached {'payments' if batch.ok else 'the proxy'}: a rule lets its "
                   f"connection in. {ingress} Select the frontend alone in fromEndpoints, and every other pod is "
                   "dropped at its first packet.")
    if not (_denied(refund) and _denied(admin)):
        raise Hint(f"{said} The 403s did not come from Cilium's proxy (server: envoy, Access denied).")
    flows = hubble.flows(cluster, namespace=ns, verdict="DROPPED", last=200)
    l7 = [f for f in flows if f.source == f"{ns}/frontend" and f.http.get("method") == "POST"
          and str(f.http.get("url", "")).endswith("/api/refund")]
    syn = [f for f in flows if f.source == f"{ns}/batch" and not f.http]
    if not l7:
        raise Hint(f"{said} Hubble has no L7 flow for the refund (hubble observe --namespace {ns} --verdict "
                   "DROPPED -t l7): was the 403 Cilium's?")
    return (f"frontend reads /api/orders (200 'payments'); its POST /api/refund and GET /admin get Envoy's 403 "
            f"'Access denied'; batch times out (curl 28). Hubble recorded the proxy's verdict, http-request "
            f"DROPPED (HTTP/1.1 POST {API}/api/refund)"
            + (", and batch's SYN, Policy denied DROPPED." if syn else "."))


# -- 2: egress ----------------------------------------------------------------------------------------------------


def setup_egress(cluster: Cluster, ns: str) -> None:
    _need_plugin(cluster, "cilium", "egress")
    _start(cluster, "egress", ns)
    _settle_and_sync(cluster, ns, "checkout", "orders")


def _dns_drops(cluster: Cluster, ns: str, pod: str) -> list[hubble.Flow]:
    return [f for f in hubble.flows(cluster, pod=f"{ns}/{pod}", verdict="DROPPED", last=100)
            if f.destination_port == 53 or f.type.startswith("dns-")]


def check_egress(cluster: Cluster, ns: str) -> str:
    _need_pods(cluster, ns, "checkout", "web")
    _settle_and_sync(cluster, ns, "checkout", "orders")
    pay = ask(cluster, ns, "checkout", f"https://{PAYMENTS_HOST}/v1/charges")
    example = ask(cluster, ns, "checkout", f"https://{EXAMPLE_HOST}/")
    by_ip = connect(cluster, PodRef(ns, "checkout"), EXAMPLE_IP, 443)
    orders = ask(cluster, ns, "checkout", "http://orders/")
    web = ask(cluster, ns, "web", f"https://{EXAMPLE_HOST}/")
    ip_words = f"checkout → {EXAMPLE_IP}:443 ({EXAMPLE_HOST}'s address, by IP): {by_ip.reason}"
    said = ". ".join([line(pay), line(example), ip_words, line(orders), line(web)]) + "."
    egress = rules_words(cluster, ns, "checkout", "egress")
    if not pay.ok and pay.exit_code == 6:
        drops = _dns_drops(cluster, ns, "checkout")
        seen = "; ".join(dict.fromkeys(_hubble_line(f) for f in drops[-3:]))
        refused = [f for f in drops if f.type.startswith("dns-")]
        if refused:
            raise Hint(f"{said} The DNS proxy refused some of checkout's lookups; Hubble: {seen}. curl (musl) "
                       "stops at the first REFUSED, and the pod's search list sends the names under "
                       f"{ns}.svc.cluster.local first. {egress} Let the DNS rule allow every name (matchPattern "
                       "\"*\"); toFQDNs still decides where checkout may connect.")
        raise Hint(f"{said} checkout cannot resolve names at all{': Hubble shows ' + seen if seen else ''}. "
                   f"{egress} Once a policy with egress rules selects checkout, everything it does not allow is "
                   "dropped, the DNS queries to kube-dns included; and toFQDNs only knows the addresses checkout "
                   "looked up through Cilium's DNS proxy, which a rule to kube-dns with rules.dns turns on.")
    if not pay.ok:
        raise Hint(f"{said} checkout resolves {PAYMENTS_HOST} but its connection is dropped. {egress}")
    if example.status is not None or by_ip.connected:
        how = " and ".join(w for w, ok in (("by name", example.status is not None), ("by IP", by_ip.connected)) if ok)
        raise Hint(f"{said} checkout reaches {EXAMPLE_HOST} too, {how}: a rule lets more of the world in than the "
                   f"one name. {egress}")
    if not orders.ok:
        raise Hint(f"{said} checkout lost the orders service in its own namespace: egress default deny covers "
                   f"the cluster too, not only the world. {egress}")
    if not web.ok:
        raise Hint(f"{said} web is cut off as well: the policy should select checkout alone. {egress}")
    drops = [f for f in hubble.flows(cluster, pod=f"{ns}/checkout", verdict="DROPPED", last=100)
             if f.destination_port == 443 and not f.http]
    seen = f" Hubble: {_hubble_line(drops[-1])}." if drops else ""
    return (f"checkout reaches {PAYMENTS_HOST} (200 over HTTPS) and orders (200); {EXAMPLE_HOST} is dropped by "
            f"name and at its address ({by_ip.reason}); web, which the policy does not select, still reaches "
            f"{EXAMPLE_HOST}.{seen}")


# -- 3: guardrail (Calico) ----------------------------------------------------------------------------------------

CASES = (("api", "db", DB_PORT, True), ("web", "db", DB_PORT, False), ("web", "api", API_PORT, True))
"""(source, Service, port, allowed): the app tier reaches the database, web does not, web still reaches the app."""


def remove_tier(cluster: Cluster, tier: str = TIER) -> None:
    """Delete the tier and the GlobalNetworkPolicies in it (Calico refuses to delete a tier that holds policies)."""
    for gnp in _calico(cluster, "GlobalNetworkPolicy"):
        if (gnp.get("spec") or {}).get("tier") == tier:
            cluster.delete("GlobalNetworkPolicy", gnp["metadata"]["name"], api_version=CALICO, wait=True)
    for np in _calico(cluster, "NetworkPolicy"):
        if (np.get("spec") or {}).get("tier") == tier:
            cluster.delete("NetworkPolicy", np["metadata"]["name"], np["metadata"]["namespace"], CALICO, wait=True)
    cluster.delete("Tier", tier, api_version=CALICO, wait=True)


def _calico(cluster: Cluster, kind: str) -> list[dict[str, Any]]:
    """Every object of a projectcalico.org kind (in every namespace)."""
    try:
        return cluster.get(kind, api_version=CALICO)
    except ApiException as exc:
        if exc.status == 404:
            return []
        raise


def setup_guardrail(cluster: Cluster, ns: str) -> None:
    _need_plugin(cluster, "calico", "guardrail")
    remove_tier(cluster)
    _start(cluster, "guardrail", ns)
    for _, service, _, _ in CASES:
        kubeproxy.wait_synced(cluster, PodRef(ns, "web"), ns, service)


def guardrail_matrix(cluster: Cluster, ns: str = "lab09-guardrail") -> Table:
    """The three connections the check probes, with what agnhost connect said."""
    rows = []
    for src, svc, port, want in CASES:
        probe = connect(cluster, PodRef(ns, src), svc, port)
        rows.append([src, f"{svc}:{port}", "allowed" if want else "dropped", probe.reason])
    return Table(["FROM", "TO", "WANTED", "GOT"], rows)


def _endpoint(cluster: Cluster, ns: str, pod: str) -> calico_labels.Endpoint:
    found = cluster.get("Pod", pod, ns)
    ns_labels = cluster.get("Namespace", ns)["metadata"].get("labels") or {}
    return calico_labels.Endpoint(found.get("status", {}).get("podIP", ""),
                                  calico_labels.pod_labels(found, ns_labels, {}), ns, pod)


def tiers_for(cluster: Cluster, ns: str, pod: str) -> list[tuple[calico_rules.Tier, list[calico_rules.Policy]]]:
    """The tiers, in felix's order, with the Calico policies in each that select the pod for ingress (the
    namespace's Kubernetes NetworkPolicies are named in the ``default`` tier's words, not here)."""
    ep = _endpoint(cluster, ns, pod)
    tiers = sorted((calico_rules.tier_of(t) for t in _calico(cluster, "Tier")), key=lambda t: t.key())
    policies = [calico_rules.policy_of(p) for p in _calico(cluster, "GlobalNetworkPolicy")]
    policies += [calico_rules.policy_of(p) for p in _calico(cluster, "NetworkPolicy")]
    picked = [p for p in policies if p.selects(ep) and calico_rules.INGRESS in p.types]
    return [(t, sorted((p for p in picked if p.tier == t.name), key=lambda p: p.key())) for t in tiers]


def _tiers_words(found: list[tuple[calico_rules.Tier, list[calico_rules.Policy]]]) -> str:
    parts = []
    for tier, pols in found:
        order = "no order" if tier.order is None else f"order {tier.order:.10g}"
        names = ", ".join(f"{p} ({', '.join(r.get('action', '?') for r in p.rules(calico_rules.INGRESS))})"
                          for p in pols)
        if tier.name == calico_rules.DEFAULT_TIER:
            names = ", ".join(filter(None, [names, "the namespace's Kubernetes NetworkPolicies (order 1000)"]))
        parts.append(f"{tier.name} ({order}): {names or 'nothing selects db'}")
    return "Felix walks the tiers in order for db's ingress: " + "; ".join(parts) + "."


def check_guardrail(cluster: Cluster, ns: str) -> str:
    _need_pods(cluster, ns, "web", "api")
    probes = {(src, svc): connect(cluster, PodRef(ns, src), svc, port) for src, svc, port, _ in CASES}
    said = ". ".join(f"{src} → {svc}:{port}: {probes[(src, svc)].reason}" for src, svc, port, _ in CASES) + "."
    found = tiers_for(cluster, ns, "db")
    tiers = _tiers_words(found)
    default_order = next((t.order for t, _ in found if t.name == calico_rules.DEFAULT_TIER), None)
    early = [(t, pols) for t, pols in found if pols and t.name != calico_rules.DEFAULT_TIER
             and t.order is not None and default_order is not None and t.order < default_order]
    if probes[("web", "db")].connected:
        later = [t.name for t, pols in found if pols and t not in [e[0] for e in early]
                 and t.name != calico_rules.DEFAULT_TIER]
        why = (f" Tier {', '.join(later)} comes after the default tier, where the namespace's allow-all decides "
               "first." if later else " The namespace's allow-all NetworkPolicy (default tier) decides.")
        raise Hint(f"{said} web still reaches the database.{why} {tiers}")
    if not probes[("api", "db")].connected:
        raise Hint(f"{said} The app tier lost the database too: a rule that matches it should Pass (or the "
                   f"policy's selector is wider than the pods labelled tier=app). {tiers}")
    if not probes[("web", "api")].connected:
        raise Hint(f"{said} web lost the app tier: the guardrail should select the database alone "
                   f"(app == 'db'; all() selects every pod of the cluster, kube-dns too). {tiers}")
    if not early:
        raise Hint(f"{said} The traffic is right, but the rule that keeps web out sits in the default tier, with "
                   f"the app teams' own policies, where any of them can undo it. {tiers} Put it in a tier of "
                   "its own, ordered before default.")
    allows = [p for _, pols in early for p in pols
              if any(r.get("action") == "Allow" for r in p.rules(calico_rules.INGRESS))]
    if allows:
        raise Hint(f"{said} The traffic is right, but {', '.join(map(str, allows))} allows the app tier itself, so "
                   "the namespace's own policies never see those connections: the day its owner narrows them, "
                   f"the guardrail still lets everything from tier=app in. {tiers} Pass hands the decision on.")
    tier = early[0][0].name
    return (f"web → db:{DB_PORT} is dropped in tier {tier} ({', '.join(str(p) for p in early[0][1])}); "
            f"api → db:{DB_PORT} is passed on to the default tier, where the namespace's allow-all lets it in; "
            f"web → api:{API_PORT} is untouched.")


def cleanup(cluster: Cluster) -> None:
    """The lab's tier and its policies, on the Calico cluster (the others have no tiers)."""
    if wiring.plugin(cluster) == "calico":
        remove_tier(cluster)


def exercises() -> list[Exercise]:
    return [
        Exercise("refunds", "Only GET on /api/ from the frontend", "lab09-refunds", setup_refunds, check_refunds,
                 "refunds.yaml",
                 ["Symptom: the frontend's POST http://payments/api/refund gets 200 'payments', and so does "
                  "batch's GET: nothing stands in front of payments.",
                  "A Kubernetes NetworkPolicy stops at ports; Cilium's rules can look at each HTTP request. Watch "
                  "what the proxy decides: kubectl exec -n kube-system ds/cilium -- hubble observe --namespace "
                  "lab09-refunds --verdict DROPPED (-t l7 for the requests). Which port does a policy see: the "
                  "Service's 80 or the pod's?",
                  "A CiliumNetworkPolicy with endpointSelector app: payments and one ingress rule: fromEndpoints "
                  "[{matchLabels: {app: frontend}}], toPorts [{ports: [{port: \"8080\", protocol: TCP}], rules: "
                  "{http: [{method: GET, path: \"/api/.*\"}]}}]."]),
        Exercise("egress", "Checkout talks to its payment provider only", "lab09-egress", setup_egress,
                 check_egress, "egress.yaml",
                 [f"Symptom: checkout's curl https://{PAYMENTS_HOST}/ says 'Could not resolve host' (curl 6), and "
                  "http://orders/ the same: with the security team's policy, checkout resolves nothing.",
                  "kubectl exec -n kube-system ds/cilium -- hubble observe --pod lab09-egress/checkout --verdict "
                  "DROPPED (every agent pod, or k8snet.cni.hubble.observe): the DNS queries to kube-dns on port 53 "
                  "are dropped. Which rule would let them out, and teach Cilium's DNS proxy the addresses toFQDNs "
                  "needs?",
                  "Add two egress rules to checkout-egress: toEndpoints kube-system's k8s-app: kube-dns on port "
                  "53/ANY with rules.dns [{matchPattern: \"*\"}], and toEndpoints [{}] for the pods of the "
                  "namespace. Keep toFQDNs matchName api.payments.example on 443/TCP."]),
        Exercise("guardrail", "A security tier before the app teams'", "lab09-guardrail", setup_guardrail,
                 check_guardrail, "guardrail.yaml",
                 ["Symptom: web connects to db:5432 (agnhost connect answers nothing: connected); the namespace's "
                  "allow-all NetworkPolicy lets every pod in.",
                  "kubectl get tiers (with their order) and kubectl get globalnetworkpolicies: felix walks the "
                  "tiers in order, and Kubernetes NetworkPolicies live in the default tier (order 1000000). A "
                  "policy in an earlier tier decides first; Pass hands the decision to the next tier, Deny ends "
                  "it.",
                  "A Tier security with order 100, and a GlobalNetworkPolicy in it (tier: security) with selector "
                  "app == 'db', types [Ingress], and two rules: action Pass from source selector tier == 'app', "
                  "then action Deny."],
                 cluster="calico"),
    ]
