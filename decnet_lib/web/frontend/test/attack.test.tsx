import { act, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiClient } from "../src/api/client";
import { MazeView } from "../src/components/MazeView";
import { BusContext, BusHub } from "../src/state/bus";
import { fakeFetch } from "./fetch";
import { labTopology, walker } from "./fixtures";

afterEach(() => vi.unstubAllGlobals());

describe("attack highlighting in the maze view", () => {
  it("lights the attacked decky up from a stream event and draws the attacker's walk",
    async () => {
      const topology = labTopology("active");
      let attackers: unknown[] = [];
      const calls = fakeFetch({
        "GET /api/v1/topologies/lab": () => [200, topology],
        "GET /api/v1/attackers": () => [200, attackers],
        "GET /api/v1/events": () => [200, []],
      });
      const hub = new BusHub();
      render(
        <BusContext.Provider value={hub}>
          <MazeView client={new ApiClient("tok")} name="lab" services={[]} />
        </BusContext.Provider>,
      );
      const db01 = await screen.findByTestId("decky-db01");
      expect(db01.dataset.hot).toBe("false");
      expect(screen.queryByTestId("attacker-detail")).toBeNull();

      attackers = [walker];
      act(() => hub.emit({
        topic: "attack.t1.db01.mysql",
        payload: { id: 9, ts: "2026-12-04T08:01:00Z", topology: "lab", topology_id: "t1",
          decky: "db01", lan: "vault", service: "mysql", event: "login", src_ip: "172.17.0.1",
          fields: { username: "root" } },
      }));
      await waitFor(() => expect(screen.getByTestId("decky-db01").dataset.hot).toBe("true"));
      expect(screen.getByTestId("decky-web01").dataset.hot).toBe("false");
      expect(screen.getByTestId("event-list").textContent).toContain("mysql login root");
      // the attackers are read again: the walk and the side panel follow
      expect((await screen.findByTestId("attacker-detail")).textContent)
        .toContain("gw01 → gw02 → db01");
      expect(screen.getByTestId("attacker-detail").textContent).toContain("root / 123456 ✔");
      expect(screen.getByTestId("decky-gw02").className).toContain("decky-touched");
      // the walk decky to decky (gw01 -> gw02 -> db01) is drawn, each hop named by its LAN
      const hops = [...document.querySelectorAll(".react-flow__edge.attack-path")];
      expect(hops.map((edge) => edge.textContent)).toEqual(expect.arrayContaining(["office", "vault"]));
      expect(calls.filter((c) => c.url.startsWith("/api/v1/attackers")).length).toBe(2);

      act(() => hub.emit({ topic: "attack.other.db01.mysql", payload: { decky: "web01" } }));
      expect(screen.getByTestId("decky-web01").dataset.hot).toBe("false");
    });
});
