"""Live mutations: typed op payloads, pure op application, invariants, queue, reconciler."""
