"""The CNI plugin's own tools, on either backend: Cilium's Hubble (:mod:`.hubble`)."""
