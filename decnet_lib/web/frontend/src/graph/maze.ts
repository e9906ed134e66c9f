/** What the maze is made of, read from a resolved topology: LANs, homes, bridges, depths. */
import type { Decky, Topology } from "../api/types";

export const lanNodeId = (lan: string): string => `lan:${lan}`;
export const deckyNodeId = (decky: string): string => `decky:${decky}`;

/** The LANs a decky sits on, home first. */
export function deckyLans(decky: Decky): string[] {
  return Object.keys(decky.lans);
}

/** A bridge sits on two or more LANs. */
export function isBridge(decky: Decky): boolean {
  return deckyLans(decky).length >= 2;
}

/** Hops from the DMZ to each LAN, through bridge deckies (unreachable LANs get -1). */
export function lanDepths(topology: Topology): Map<string, number> {
  const depths = new Map<string, number>(topology.lans.map((lan) => [lan.name, -1]));
  const bridgesOf = new Map<string, Decky[]>();
  for (const decky of topology.deckies) {
    if (!isBridge(decky)) continue;
    for (const lan of deckyLans(decky)) {
      bridgesOf.set(lan, [...(bridgesOf.get(lan) ?? []), decky]);
    }
  }
  const queue = topology.lans.filter((lan) => lan.dmz).map((lan) => lan.name);
  queue.forEach((name) => depths.set(name, 0));
  for (let head = 0; head < queue.length; head++) {
    const lan = queue[head];
    const depth = depths.get(lan) ?? 0;
    for (const bridge of bridgesOf.get(lan) ?? []) {
      for (const next of deckyLans(bridge)) {
        if (depths.get(next) === -1) {
          depths.set(next, depth + 1);
          queue.push(next);
        }
      }
    }
  }
  return depths;
}

/** Changes only when LANs or deckies (or their LANs) are added or removed: when to relayout. */
export function structureKey(topology: Topology): string {
  const lans = topology.lans.map((lan) => lan.name).join(",");
  const deckies = topology.deckies.map((d) => `${d.name}@${deckyLans(d).join("+")}`).join(",");
  return `${topology.id}|${lans}|${deckies}`;
}
