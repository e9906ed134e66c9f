"""Names front ends show before any use case runs (cheap to import: no database, no Docker).

`decnet_lib.mutations.payloads.PAYLOAD_MODELS` is keyed by exactly these op names (a test
holds them together).
"""

OPS = ("add_lan", "remove_lan", "add_decky", "attach_decky", "detach_decky",
       "update_decky", "remove_decky", "update_lan")
MUTATION_STATES = ("pending", "applying", "applied", "failed")
