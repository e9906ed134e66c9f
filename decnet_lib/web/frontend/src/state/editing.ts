/** Maze edits as API calls. The API decides how: a direct change while the maze is pending or
 * torn down, one mutation (`add_decky`, `update_decky`, `remove_decky`) while it is live. */
import type { ApiClient } from "../api/client";
import { LIVE_STATUSES, type Topology } from "../api/types";

const NAME_MAX = 32;

/** A free decky name from the archetype: `web-server-3` (names: [a-z][a-z0-9-]{0,31}). */
export function freeDeckyName(topology: Topology, archetype: string): string {
  const taken = new Set(topology.deckies.map((d) => d.name));
  const stem = (archetype.toLowerCase().replace(/[^a-z0-9-]/g, "-").replace(/^[^a-z]+/, "")
    || "decky").slice(0, NAME_MAX - 4).replace(/-+$/, "");
  for (let n = 1; ; n++) {
    const name = `${stem}-${n}`;
    if (!taken.has(name)) return name;
  }
}

export function isLive(topology: Topology): boolean {
  return LIVE_STATUSES.has(topology.status);
}

/** Adds a decky of `archetype` homed on `lan`; returns its name. */
export async function addDecky(
  client: ApiClient, topology: Topology, lan: string, archetype: string,
): Promise<string> {
  const name = freeDeckyName(topology, archetype);
  await client.addDecky(topology.name, { name, lan, archetype });
  return name;
}

/** Replaces a decky's services (PATCH: a direct edit while pending, `update_decky` when live). */
export function setServices(
  client: ApiClient, topology: Topology, decky: string, services: string[],
): Promise<unknown> {
  return client.patchDecky(topology.name, decky, { services });
}

export function removeDecky(client: ApiClient, topology: Topology, decky: string): Promise<unknown> {
  return client.removeDecky(topology.name, decky);
}
