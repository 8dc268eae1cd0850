"""The embedded sandbox: a Kubernetes-API-compatible cluster in one Python process."""
