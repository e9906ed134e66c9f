"""A reconciler in its own OS process, for the concurrency tests.

usage: reconcile_worker.py DB_URL OUT_FILE [--die-after-claim]
Drains every live topology until nothing is left, writing one line per outcome
`<mutation_id> <state>` to OUT_FILE. With --die-after-claim it claims one mutation and
kills itself with SIGKILL before applying it.
"""

from __future__ import annotations

import os
import signal
import sys
import time

from decnet_lib.db import autocommit_connection, make_engine
from decnet_lib.mutations.queue import claim_next_mutation, topologies_with_work
from decnet_lib.mutations.reconciler import reconcile_topologies


def main() -> int:
    url, out_path = sys.argv[1], sys.argv[2]
    engine = make_engine(url, sqlite_immediate=True)
    if "--die-after-claim" in sys.argv:
        with autocommit_connection(engine) as claims:
            for topology_id in topologies_with_work(claims):
                if claim_next_mutation(claims, topology_id) is not None:
                    os.kill(os.getpid(), signal.SIGKILL)
        return 3
    with open(out_path, "w", buffering=1) as out:
        idle_rounds = 0
        while idle_rounds < 3:
            reports = reconcile_topologies(engine)
            outcomes = [o for r in reports for o in r.outcomes]
            for outcome in outcomes:
                out.write(f"{outcome.mutation_id} {outcome.state}\n")
            idle_rounds = 0 if outcomes else idle_rounds + 1
            if not outcomes:
                time.sleep(0.05)
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
