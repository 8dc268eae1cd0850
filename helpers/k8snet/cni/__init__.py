"""The CNI plugin's own tools, on either backend: Cilium's Hubble (:mod:`.hubble`), and what any plugin wired
between two pods (:mod:`.wiring`)."""
