"""Sandbox benchmarks: ``python -m bench`` (``make bench``)."""
