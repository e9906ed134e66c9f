"""Apply one resolved topology with the Deployer in its own OS process (concurrency tests).

usage: apply_worker.py TOPOLOGY_JSON BASE_IMAGE
Prints the apply result's message; exit status 0 when it is ok, 1 otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path

from decnet_lib.deploy.deployer import Deployer
from decnet_lib.topology.resolved import ResolvedTopology


def main() -> int:
    topology = ResolvedTopology.model_validate_json(Path(sys.argv[1]).read_bytes())
    with Deployer(base_image=sys.argv[2], settle=0.5) as deployer:
        result = deployer.apply(topology)
    print(result.message())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
