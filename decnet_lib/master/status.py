"""The topology statuses front ends reason about (defined in `decnet_lib.db.status`)."""

from decnet_lib.db.status import (
    BUSY_STATUSES,
    DEPLOYED_STATUSES,
    OCCUPYING_STATUSES,
    SERVING_STATUSES,
    STATUSES,
    UNDEPLOYED_STATUSES,
)

__all__ = ["BUSY_STATUSES", "DEPLOYED_STATUSES", "OCCUPYING_STATUSES", "SERVING_STATUSES",
           "STATUSES", "UNDEPLOYED_STATUSES"]
