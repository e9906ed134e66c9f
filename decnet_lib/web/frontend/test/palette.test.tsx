import { act, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiClient } from "../src/api/client";
import type { Topology } from "../src/api/types";
import { MazeView } from "../src/components/MazeView";
import { Palette } from "../src/components/Palette";
import { layoutMaze } from "../src/graph/layout";
import { fakeFetch } from "./fetch";
import { labTopology } from "./fixtures";

afterEach(() => vi.unstubAllGlobals());

/** A DataTransfer good enough for HTML5 drag and drop in jsdom. */
function dataTransfer() {
  const store = new Map<string, string>();
  return {
    setData: (type: string, value: string) => store.set(type, value),
    getData: (type: string) => store.get(type) ?? "",
    get types() { return [...store.keys()]; },
    dropEffect: "none", effectAllowed: "all",
  };
}

async function dropOn(topology: Topology, lan: string | null) {
  const calls = fakeFetch({
    [`GET /api/v1/topologies/${topology.name}`]: () => [200, topology],
    "GET /api/v1/attackers": () => [200, []],
    "GET /api/v1/events": () => [200, []],
    [`POST /api/v1/topologies/${topology.name}/deckies`]: () => [
      topology.status === "active" ? 202 : 200, { mode: "direct" }],
  });
  const client = new ApiClient("tok");
  render(
    <>
      <Palette archetypes={[{ name: "web-server", services: ["http"], description: "" }]} />
      <MazeView client={client} name={topology.name} services={[]} />
    </>,
  );
  const canvas = await screen.findByTestId("maze-canvas");
  const layout = await layoutMaze(topology);
  const box = lan ? layout.lans.get(lan)! : { x: -5000, y: -5000, width: 0, height: 0 };
  const transfer = dataTransfer();
  fireEvent.dragStart(screen.getByTestId("archetype-web-server"), { dataTransfer: transfer });
  // flow to screen coordinates through the viewport's transform (the canvas sits at 0,0)
  const transform = document.querySelector<HTMLElement>(".react-flow__viewport")!.style.transform;
  const [, tx, ty, zoom] = /translate\(([-\d.]+)px, ?([-\d.]+)px\) scale\(([\d.]+)\)/
    .exec(transform)!.map(Number);
  const point = { x: box.x + box.width / 2, y: box.y + box.height - 4 };
  await act(async () => {
    fireEvent.dragOver(canvas, { dataTransfer: transfer });
    // jsdom has no DragEvent: a MouseEvent named "drop" carries the coordinates
    const drop = new MouseEvent("drop", {
      bubbles: true, cancelable: true,
      clientX: point.x * zoom + tx, clientY: point.y * zoom + ty,
    });
    Object.defineProperty(drop, "dataTransfer", { value: transfer });
    canvas.dispatchEvent(drop);
  });
  return calls;
}

describe("palette drop", () => {
  it.each(["active", "pending"] as const)(
    "adds the archetype on the LAN it lands on with one POST (%s maze)", async (status) => {
      // the API makes it one add_decky mutation on a live maze, a direct edit on a pending one
      const calls = await dropOn(labTopology(status), "office");
      await waitFor(() => expect(calls.some((c) => c.method === "POST")).toBe(true));
      const posts = calls.filter((c) => c.method === "POST");
      expect(posts).toHaveLength(1);
      expect(posts[0].url).toBe("/api/v1/topologies/lab/deckies");
      expect(posts[0].body).toEqual({ name: "web-server-1", lan: "office", archetype: "web-server" });
      expect(posts[0].auth).toBe("Bearer tok");
    });

  it("sends nothing when dropped outside every LAN", async () => {
    const calls = await dropOn(labTopology("active"), null);
    expect(await screen.findByRole("status")).toHaveProperty("textContent",
      "Drop the archetype onto a LAN.");
    expect(calls.filter((c) => c.method === "POST")).toEqual([]);
  });
});
