/** React Flow nodes and edges for a maze: LAN areas, deckies inside, bridges between. */
import { type Edge, type Node, type NodeHandle, Position } from "@xyflow/react";
import type { Attacker, Decky, Lan, Topology } from "../api/types";
import { type MazeLayout, bridgeLinks } from "./layout";
import { deckyLans, deckyNodeId, isBridge, lanDepths, lanNodeId } from "./maze";

export const ATTACKER_NODE_ID = "attacker";

/** Where a node's handles sit (top: in, bottom: out), declared up front with the node's size
 * (`measured`), as for server-side rendering: React Flow then needs not render every node once
 * to measure it, a big maze draws only what is on screen from the first frame, and fit-view
 * knows every node. */
export function handlesOf(width: number, height: number, linked = true): NodeHandle[] {
  if (!linked) return [];
  return [
    { type: "target", position: Position.Top, x: width / 2, y: 0, width: 1, height: 1 },
    { type: "source", position: Position.Bottom, x: width / 2, y: height, width: 1, height: 1 },
  ];
}

export interface DeckyData extends Record<string, unknown> {
  decky: Decky;
  bridge: boolean;
  /** Under attack right now. */
  hot: boolean;
  /** Touched by the shown attacker. */
  touched: boolean;
  selected: boolean;
}

export interface LanData extends Record<string, unknown> {
  lan: Lan;
  depth: number;
  deckies: number;
  onPath: boolean;
}

export interface AttackerData extends Record<string, unknown> {
  attacker: Attacker;
}

/** What is lit on top of the maze; changing it never moves anything. */
export interface Overlay {
  hot: ReadonlySet<string>;
  attacker: Attacker | null;
  selected: string | null;
}

export const NO_OVERLAY: Overlay = { hot: new Set(), attacker: null, selected: null };

export type MazeNode = Node<DeckyData, "decky"> | Node<LanData, "lan"> | Node<AttackerData, "attacker">;

export function buildNodes(topology: Topology, layout: MazeLayout, overlay: Overlay): MazeNode[] {
  const depths = lanDepths(topology);
  const touched = new Set(overlay.attacker?.deckies ?? []);
  const pathLans = new Set(overlay.attacker?.lans ?? []);
  const counts = new Map<string, number>();
  topology.deckies.forEach((d) => {
    for (const lan of deckyLans(d)) counts.set(lan, (counts.get(lan) ?? 0) + 1);
  });
  const nodes: MazeNode[] = topology.lans.map((lan) => {
    const box = layout.lans.get(lan.name) ?? { x: 0, y: 0, width: 220, height: 110 };
    return {
      id: lanNodeId(lan.name),
      type: "lan",
      position: { x: box.x, y: box.y },
      width: box.width,
      height: box.height,
      handles: handlesOf(box.width, box.height),
      measured: { width: box.width, height: box.height },
      style: { width: box.width, height: box.height },
      draggable: false,
      selectable: false,
      zIndex: 0,
      data: {
        lan, depth: depths.get(lan.name) ?? -1, deckies: counts.get(lan.name) ?? 0,
        onPath: pathLans.has(lan.name),
      },
    };
  });
  for (const decky of topology.deckies) {
    const box = layout.deckies.get(decky.name);
    if (!box) continue; // added since the last layout: drawn once the new layout is ready
    const bridge = isBridge(decky);
    nodes.push({
      id: deckyNodeId(decky.name),
      type: "decky",
      position: { x: box.x, y: box.y },
      ...(bridge ? {} : { parentId: lanNodeId(deckyLans(decky)[0]) }),
      // known sizes: React Flow can skip off-screen nodes before it has measured them
      width: box.width,
      height: box.height,
      handles: handlesOf(box.width, box.height, bridge || touched.has(decky.name)),
      measured: { width: box.width, height: box.height },
      draggable: false,
      zIndex: 1,
      data: {
        decky, bridge, hot: overlay.hot.has(decky.name), touched: touched.has(decky.name),
        selected: overlay.selected === decky.name,
      },
    });
  }
  const first = overlay.attacker?.deckies[0];
  if (overlay.attacker && first && layout.deckies.has(first)) {
    // above the DMZ, where the attacker comes in from
    const dmz = topology.lans.find((lan) => lan.dmz);
    const entry = (dmz && layout.lans.get(dmz.name)) ?? { x: 0, y: 0, width: 0, height: 0 };
    nodes.push({
      id: ATTACKER_NODE_ID,
      type: "attacker",
      position: { x: entry.x + entry.width / 2 - 70, y: entry.y - 110 },
      width: 140,
      height: 48,
      handles: handlesOf(140, 48),
      measured: { width: 140, height: 48 },
      draggable: false,
      zIndex: 2,
      data: { attacker: overlay.attacker },
    });
  }
  return nodes;
}

/** Bridges joined to every LAN they sit on. */
export function linkEdges(topology: Topology): Edge[] {
  return bridgeLinks(topology).map(({ bridge, lan, down }) => ({
    id: `link:${bridge}:${lan}`,
    source: down ? lanNodeId(lan) : deckyNodeId(bridge),
    target: down ? deckyNodeId(bridge) : lanNodeId(lan),
    className: "maze-link",
    selectable: false,
  }));
}

/** The LAN a hop went through: one the two deckies share, else the target's home. */
function hopLan(from: Decky | undefined, to: Decky, lans: string[]): string {
  const target = deckyLans(to);
  const shared = from ? target.filter((lan) => lan in from.lans) : target;
  return shared.find((lan) => lans.includes(lan)) ?? shared[0] ?? target[0];
}

/** The attacker's walk: from outside to the first decky, then decky to decky, LAN by LAN. */
export function attackEdges(topology: Topology, attacker: Attacker | null): Edge[] {
  if (!attacker) return [];
  const byName = new Map(topology.deckies.map((d) => [d.name, d]));
  const walk = attacker.deckies.filter((name) => byName.has(name));
  return walk.map((name, index) => {
    const from = index === 0 ? undefined : byName.get(walk[index - 1]);
    const to = byName.get(name) as Decky;
    return {
      id: `attack:${index}`,
      source: index === 0 ? ATTACKER_NODE_ID : deckyNodeId(walk[index - 1]),
      target: deckyNodeId(name),
      label: hopLan(from, to, attacker.lans),
      animated: true,
      className: "attack-path",
      zIndex: 3,
      selectable: false,
      data: { hop: index },
    };
  });
}

/** Keeps the previous object of every node whose content is unchanged, so React skips it. */
export function reuseUnchanged<T extends { id: string }>(
  previous: ReadonlyMap<string, { key: string; item: T }>,
  next: T[],
  keyOf: (item: T) => string,
): { items: T[]; cache: Map<string, { key: string; item: T }> } {
  const cache = new Map<string, { key: string; item: T }>();
  const items = next.map((item) => {
    const key = keyOf(item);
    const old = previous.get(item.id);
    const kept = old && old.key === key ? old.item : item;
    cache.set(item.id, { key, item: kept });
    return kept;
  });
  return { items, cache };
}

/** What makes a node look different. */
export function nodeKey(node: MazeNode): string {
  const { data } = node;
  if (node.type === "decky") {
    const d = data as DeckyData;
    return [node.position.x, node.position.y, node.parentId, d.hot, d.touched, d.selected,
      d.decky.services.join(","), JSON.stringify(d.decky.lans)].join("|");
  }
  if (node.type === "lan") {
    const l = data as LanData;
    return [node.position.x, node.position.y, node.width, node.height, l.onPath, l.deckies,
      l.depth].join("|");
  }
  return JSON.stringify((data as AttackerData).attacker);
}
