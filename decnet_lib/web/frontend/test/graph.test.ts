import { describe, expect, it } from "vitest";
import { ATTACKER_NODE_ID, NO_OVERLAY, attackEdges, buildNodes, linkEdges, nodeKey,
  reuseUnchanged } from "../src/graph/flow";
import { lanAt, layoutMaze } from "../src/graph/layout";
import { deckyNodeId, lanDepths, lanNodeId, structureKey } from "../src/graph/maze";
import { bigTopology, labTopology, walker } from "./fixtures";

describe("graph building from a topology", () => {
  it("draws LANs as areas holding their home deckies, bridges outside, linked to each LAN",
    async () => {
      const topology = labTopology();
      const layout = await layoutMaze(topology);
      const nodes = buildNodes(topology, layout, NO_OVERLAY);
      const byId = new Map(nodes.map((n) => [n.id, n]));
      expect(nodes.filter((n) => n.type === "lan").map((n) => n.id))
        .toEqual(["lan:dmz", "lan:office", "lan:vault"]);
      expect(byId.get(deckyNodeId("web01"))?.parentId).toBe(lanNodeId("dmz"));
      expect(byId.get(deckyNodeId("db01"))?.parentId).toBe(lanNodeId("vault"));
      expect(byId.get(deckyNodeId("gw01"))?.parentId).toBeUndefined();
      expect(byId.get(deckyNodeId("gw01"))?.data).toMatchObject({ bridge: true });
      // parents come before their children (React Flow needs it)
      const index = (id: string) => nodes.findIndex((n) => n.id === id);
      expect(index("lan:office")).toBeLessThan(index("decky:ws01"));
      const links = linkEdges(topology).map((e) => `${e.source}>${e.target}`).sort();
      expect(links).toEqual(["decky:gw01>lan:office", "decky:gw02>lan:vault",
        "lan:dmz>decky:gw01", "lan:office>decky:gw02"]);
    });

  it("lays every decky inside its LAN box and the LANs down from the DMZ", async () => {
    const topology = labTopology();
    const layout = await layoutMaze(topology);
    const office = layout.lans.get("office")!;
    const ws01 = layout.deckies.get("ws01")!;
    expect(ws01.x + ws01.width).toBeLessThanOrEqual(office.width);
    expect(ws01.y + ws01.height).toBeLessThanOrEqual(office.height);
    expect(layout.lans.get("dmz")!.y).toBeLessThan(office.y);
    expect(office.y).toBeLessThan(layout.lans.get("vault")!.y);
    const gw01 = layout.deckies.get("gw01")!;
    expect(gw01.y).toBeGreaterThan(layout.lans.get("dmz")!.y);
    expect(gw01.y).toBeLessThan(office.y);
    expect(lanAt(layout, office.x + 5, office.y + 5)).toBe("office");
    expect(lanAt(layout, office.x - 1000, office.y)).toBeNull();
  });

  it("counts LAN depth through bridges and relayouts only on structure changes", () => {
    const topology = labTopology();
    expect([...lanDepths(topology)]).toEqual([["dmz", 0], ["office", 1], ["vault", 2]]);
    const moved = { ...topology, status: "degraded" as const,
      deckies: topology.deckies.map((d) => ({ ...d, services: ["ftp"] })) };
    expect(structureKey(moved)).toBe(structureKey(topology));
    const grown = { ...topology, deckies: [...topology.deckies,
      { name: "new", lans: { office: null }, services: [] }] };
    expect(structureKey(grown)).not.toBe(structureKey(topology));
  });

  it("lays out a 1,000-decky maze quickly and keeps unchanged nodes on an attack", async () => {
    const topology = bigTopology(40, 25);
    expect(topology.deckies.length).toBeGreaterThanOrEqual(1000);
    const started = performance.now();
    const layout = await layoutMaze(topology);
    expect(performance.now() - started).toBeLessThan(1500);
    const first = reuseUnchanged(new Map(), buildNodes(topology, layout, NO_OVERLAY), nodeKey);
    const hot = { ...NO_OVERLAY, hot: new Set(["d3-4"]) };
    const second = reuseUnchanged(first.cache, buildNodes(topology, layout, hot), nodeKey);
    const changed = second.items.filter((n, i) => n !== first.items[i]).map((n) => n.id);
    expect(changed).toEqual(["decky:d3-4"]);
  });
});

describe("attack highlighting", () => {
  it("draws the attacker's walk decky to decky, labelled with each LAN", async () => {
    const topology = labTopology();
    const layout = await layoutMaze(topology);
    const edges = attackEdges(topology, walker);
    expect(edges.map((e) => [e.source, e.target, e.label])).toEqual([
      [ATTACKER_NODE_ID, "decky:gw01", "dmz"],
      ["decky:gw01", "decky:gw02", "office"],
      ["decky:gw02", "decky:db01", "vault"],
    ]);
    const nodes = buildNodes(topology, layout,
      { hot: new Set(["db01"]), attacker: walker, selected: null });
    const data = (id: string) => nodes.find((n) => n.id === id)?.data as Record<string, unknown>;
    expect(data("decky:db01")).toMatchObject({ hot: true, touched: true });
    expect(data("decky:web01")).toMatchObject({ hot: false, touched: false });
    expect(data("lan:vault")).toMatchObject({ onPath: true });
    expect(nodes.some((n) => n.id === ATTACKER_NODE_ID)).toBe(true);
    expect(attackEdges(topology, null)).toEqual([]);
  });
});
