import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { App } from "../src/App";
import { fakeFetch } from "./fetch";

afterEach(() => vi.unstubAllGlobals());

const summary = { id: "t1", name: "lab", status: "active", hash: "h", lans: 3, deckies: 5 };

describe("login", () => {
  it("refuses a bad token and says so, keeping nothing", async () => {
    const calls = fakeFetch({
      "GET /api/v1/topologies": () => [401, { error: { code: "UNAUTHORIZED", message: "no" } }],
    });
    render(<App />);
    fireEvent.change(screen.getByLabelText("API token"), { target: { value: "bad" } });
    fireEvent.click(screen.getByRole("button", { name: "Log in" }));
    expect(await screen.findByRole("alert")).toHaveProperty("textContent",
      "This token is not valid.");
    expect(calls[0].auth).toBe("Bearer bad");
    expect(sessionStorage.getItem("mazenet.token")).toBeNull();
  });

  it("keeps a good token in sessionStorage, sends it as Bearer, lists the topologies",
    async () => {
      const calls = fakeFetch({
        "GET /api/v1/topologies": () => [200, [summary]],
        "GET /api/v1/catalog/archetypes": () => [200, []],
        "GET /api/v1/catalog/services": () => [200, []],
      });
      render(<App />);
      fireEvent.change(screen.getByLabelText("API token"), { target: { value: " tok-1 " } });
      fireEvent.click(screen.getByRole("button", { name: "Log in" }));
      expect(await screen.findByTestId("status-lab")).toHaveProperty("textContent", "active");
      expect(sessionStorage.getItem("mazenet.token")).toBe("tok-1");
      await waitFor(() => expect(calls.some((c) => c.url === "/api/v1/stream")).toBe(true));
      expect(calls.every((c) => c.auth === "Bearer tok-1")).toBe(true);
    });
});
