"""One router per resource; `ROUTERS` is what the app mounts under /api/v1."""

from decnet_lib.api.routes import (
    attackers,
    catalog,
    edits,
    events,
    health,
    mutations,
    stream,
    topologies,
)

ROUTERS = (health.router, topologies.router, mutations.router, edits.router, events.router,
           attackers.router, catalog.router, stream.router)
