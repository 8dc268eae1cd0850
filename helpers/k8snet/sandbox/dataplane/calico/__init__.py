"""Calico 3.32 in the sandbox's data plane: its tiered policy model, for a cluster made with ``--cni calico``.

- ``selector``: Calico's selector language (libcalico-go lib/selector), parsed and evaluated;
- ``labels``: what selectors match: workload endpoint labels, profile labels (``pcns.``, ``pcsa.``), network sets;
- ``rules``: tiers, policies, rules and their evaluation as felix programs it (pure functions);
- ``validation``: what Calico's API server refuses and defaults for projectcalico.org/v3 policies and tiers;
- ``engine``: the policy engine registered for Calico (:func:`..policy_engine`), wrapping the Kubernetes
  NetworkPolicy verdict.

The CRDs are ``sandbox/crds/projectcalico.org.yaml``; the built-in tiers and the policies' Warning events are
``sandbox/controllers/calico.py``'s.
"""
