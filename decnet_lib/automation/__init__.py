"""The library side of the Ansible collection `decnet.mazenet`.

The modules stay thin (parse arguments, call one function here, report); every decision
lives here and is unit-tested. Each function returns a plain dict
`{changed, diff: {before, after}, ...}` and raises AutomationError (one line, plus
structured details) when the module must fail.

    conn = Connection(db_url="sqlite:////var/lib/decnet/decnet.db")
    topology_present(conn, src="examples/acme.yml")
    topology_deployed(conn, name="acme")
    mutation(conn, "acme", "add_decky", {"name": "web02", "lan": "dmz"}, wait=True)
    topology_info(conn, "acme")["healthy"]
    events_info(conn, topology="acme", since="1h")["attackers"]
    topology_absent(conn, "acme")
"""

from decnet_lib.automation.connection import CONNECTION_OPTIONS, Connection
from decnet_lib.automation.errors import AutomationError
from decnet_lib.automation.events import events_info
from decnet_lib.automation.info import topology_info
from decnet_lib.automation.modules import (
    run_events_info,
    run_info,
    run_mutation,
    run_topology,
)
from decnet_lib.automation.mutation import mutation
from decnet_lib.automation.topology import (
    topology_absent,
    topology_deployed,
    topology_present,
    topology_torn_down,
)

__all__ = [
    "CONNECTION_OPTIONS",
    "AutomationError",
    "Connection",
    "events_info",
    "mutation",
    "run_events_info",
    "run_info",
    "run_mutation",
    "run_topology",
    "topology_absent",
    "topology_deployed",
    "topology_info",
    "topology_present",
    "topology_torn_down",
]
