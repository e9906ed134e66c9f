/** Positions from ELK: each LAN packs its own deckies; LANs (ELK box packing) and bridges layer down from the DMZ. */
import type { ELK as ElkApi, ElkExtendedEdge, ElkNode } from "elkjs/lib/elk-api";
import type { Topology } from "../api/types";
import { deckyLans, deckyNodeId, isBridge, lanDepths, lanNodeId } from "./maze";

export const DECKY_WIDTH = 168;
export const DECKY_HEIGHT = 64;
const LAN_PADDING = "[top=44,left=16,bottom=16,right=16]";
const EMPTY_LAN = { width: 220, height: 110 };

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** LAN boxes are absolute; decky boxes are relative to their LAN, bridges absolute. */
export interface MazeLayout {
  lans: Map<string, Box>;
  deckies: Map<string, Box>;
}

/** A bridge links down from its shallowest LAN(s) to the deeper ones. */
export function bridgeLinks(topology: Topology): { bridge: string; lan: string; down: boolean }[] {
  const depths = lanDepths(topology);
  const links: { bridge: string; lan: string; down: boolean }[] = [];
  for (const decky of topology.deckies.filter(isBridge)) {
    const lans = deckyLans(decky);
    const depthOf = (lan: string) => {
      const depth = depths.get(lan) ?? -1;
      return depth < 0 ? Number.MAX_SAFE_INTEGER : depth;
    };
    const top = Math.min(...lans.map(depthOf));
    lans.forEach((lan) => links.push({ bridge: decky.name, lan, down: depthOf(lan) === top }));
  }
  return links;
}

export function elkGraph(topology: Topology): ElkNode {
  const homes = new Map<string, ElkNode[]>(topology.lans.map((lan) => [lan.name, []]));
  const bridges: ElkNode[] = [];
  for (const decky of topology.deckies) {
    const node = { id: deckyNodeId(decky.name), width: DECKY_WIDTH, height: DECKY_HEIGHT };
    if (isBridge(decky)) bridges.push(node);
    else homes.get(deckyLans(decky)[0])?.push(node);
  }
  const lanNodes: ElkNode[] = topology.lans.map((lan) => {
    const children = homes.get(lan.name) ?? [];
    return {
      id: lanNodeId(lan.name),
      ...(children.length === 0 ? EMPTY_LAN : {}),
      layoutOptions: {
        "elk.algorithm": "box",
        "elk.padding": LAN_PADDING,
        "elk.spacing.nodeNode": "12",
        "elk.aspectRatio": "1.3",
        // room for the LAN's title line
        "elk.nodeSize.constraints": "MINIMUM_SIZE",
        "elk.nodeSize.minimum": `(${EMPTY_LAN.width + 80}, ${EMPTY_LAN.height})`,
      },
      children,
    };
  });
  const edges: ElkExtendedEdge[] = bridgeLinks(topology).map(({ bridge, lan, down }) => {
    const [source, target] = down
      ? [lanNodeId(lan), deckyNodeId(bridge)]
      : [deckyNodeId(bridge), lanNodeId(lan)];
    return { id: `link:${bridge}:${lan}`, sources: [source], targets: [target] };
  });
  return {
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "DOWN",
      "elk.spacing.nodeNode": "40",
      "elk.layered.spacing.nodeNodeBetweenLayers": "56",
      "elk.separateConnectedComponents": "false",
    },
    children: [...lanNodes, ...bridges],
    edges,
  };
}

let engine: Promise<ElkApi> | null = null;

/** ELK, loaded once in its own chunk (it loads while the topology is being fetched). In the
 * page's thread: measured faster than its Web Worker for these graphs (no script reload, no
 * copying of the graph). */
export function elkEngine(): Promise<ElkApi> {
  engine ??= import("elkjs/lib/elk.bundled.js").then(({ default: ELK }) => new ELK());
  return engine;
}

/** A two-LAN maze shaped like the real ones, to run every algorithm once. */
const WARM_UP: Topology = {
  id: "warm-up", name: "warm-up", status: "pending", hash: "",
  lans: [{ name: "a", subnet: "", dmz: true }, { name: "b", subnet: "", dmz: false }],
  deckies: [
    { name: "x", services: [], lans: { a: null } },
    { name: "y", services: [], lans: { a: null, b: null } },
    { name: "z", services: [], lans: { b: null } },
  ],
};

/** Starts ELK and runs it once on a small maze while the topology is still on its way (the
 * first run of its compiled code is the slow one). */
export function warmUpLayout(): void {
  elkEngine().then((elk) => elk.layout(elkGraph(WARM_UP))).catch(() => undefined);
}

export async function layoutMaze(topology: Topology): Promise<MazeLayout> {
  const elk = await elkEngine();
  const result = await elk.layout(elkGraph(topology));
  const lans = new Map<string, Box>();
  const deckies = new Map<string, Box>();
  const boxOf = (node: ElkNode): Box => ({
    x: node.x ?? 0, y: node.y ?? 0, width: node.width ?? 0, height: node.height ?? 0,
  });
  for (const node of result.children ?? []) {
    if (node.id.startsWith("lan:")) {
      lans.set(node.id.slice(4), boxOf(node));
      for (const child of node.children ?? []) deckies.set(child.id.slice(6), boxOf(child));
    } else {
      deckies.set(node.id.slice(6), boxOf(node));
    }
  }
  return { lans, deckies };
}

/** The box around the given LANs and deckies (all of them when `only` is undefined). */
export function boundsOf(layout: MazeLayout, only?: { lans: string[]; deckies: string[] }): Box {
  const boxes = only
    ? [...only.lans.map((n) => layout.lans.get(n)), ...only.deckies.map((n) => layout.deckies.get(n))]
    : [...layout.lans.values()];
  const found = boxes.filter((box): box is Box => box !== undefined);
  if (found.length === 0) return { x: 0, y: 0, width: 1, height: 1 };
  const x = Math.min(...found.map((b) => b.x));
  const y = Math.min(...found.map((b) => b.y));
  const right = Math.max(...found.map((b) => b.x + b.width));
  const bottom = Math.max(...found.map((b) => b.y + b.height));
  return { x, y, width: right - x, height: bottom - y };
}

/** The LAN whose box holds the point (flow coordinates), innermost-last wins. */
export function lanAt(layout: MazeLayout, x: number, y: number): string | null {
  let found: string | null = null;
  for (const [name, box] of layout.lans) {
    if (x >= box.x && x <= box.x + box.width && y >= box.y && y <= box.y + box.height) {
      found = name;
    }
  }
  return found;
}
