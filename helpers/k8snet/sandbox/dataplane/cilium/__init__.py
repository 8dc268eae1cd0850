"""Cilium 1.20 in the sandbox's data plane: what its agents decide and show, for a cluster made with
``--cni cilium``.

- ``labels``: security labels, reserved identities, selectors and entities;
- ``rules``: CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy semantics (pure functions);
- ``l7``: the HTTP rules as the Envoy proxy enforces them, and its 403;
- ``fqdn``: ``toFQDNs`` and ``rules.dns`` names (matchName, matchPattern), and what the DNS proxies learned;
  ``dnsproxy``: the agent's DNS proxy for one endpoint's queries (REFUSED, learning, its Hubble flows);
- ``identity``: numeric identities and endpoint IDs, and the agents' in-memory state;
- ``hubble``: flows, their ring per node, and hubble's output formats;
- ``engine``: the policy engine registered for Cilium (:func:`..policy_engine`), wrapping the Kubernetes
  NetworkPolicy verdict;
- ``cli``: the agent image's ``hubble observe`` and ``cilium-dbg endpoint list``.

The CRDs are ``sandbox/crds/cilium.io.yaml``; the CiliumEndpoint and CiliumIdentity objects are written by
``sandbox/controllers/cilium.py``.
"""
