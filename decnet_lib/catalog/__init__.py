"""The catalog of emulated services and decky archetypes."""

from decnet_lib.catalog.archetypes import ARCHETYPES, Archetype
from decnet_lib.catalog.services import SERVICES, Port, Service

__all__ = ["ARCHETYPES", "SERVICES", "Archetype", "Port", "Service"]
