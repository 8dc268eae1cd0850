"""NetworkPolicy conformance cases on the upstream e2e model (a package, so its fixtures are torn down with it)."""
