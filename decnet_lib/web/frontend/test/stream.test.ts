import { describe, expect, it, vi } from "vitest";
import { splitSse } from "../src/api/stream";
import { mergeEvents, noteMutation } from "../src/state/useMaze";
import { describe as gist } from "../src/components/AttackPanel";
import type { AttackEvent } from "../src/api/types";

describe("the SSE reader", () => {
  it("reads bus envelopes, skips keep-alives, keeps an unfinished message", () => {
    const envelope = { v: 1, id: "a", topic: "attack.t1.web01.http", ts: 1,
      payload: { decky: "web01" } };
    const text = `: keep-alive\n\nid: a\nevent: attack\ndata: ${JSON.stringify(envelope)}\n\n`
      + "event: status\ndata: {\"topic\":";
    const { messages, rest } = splitSse(text);
    expect(messages).toEqual([{ topic: "attack.t1.web01.http", payload: { decky: "web01" } }]);
    expect(rest).toBe("event: status\ndata: {\"topic\":");
  });

  it("keeps the newest events first, once each", () => {
    const e = (id: number) => ({ id, decky: "d" }) as unknown as AttackEvent;
    expect(mergeEvents([e(2), e(1)], [e(2), e(3)]).map((x) => x.id)).toEqual([3, 2, 1]);
  });
});

describe("event lines", () => {
  it("name the command, path or user whichever way the emulator spelled it", () => {
    const e = (service: string, event: string, fields: Record<string, unknown>) =>
      ({ service, event, fields }) as unknown as AttackEvent;
    expect(gist(e("ssh", "command", { cmd: "ip addr" }))).toBe("ssh command ip addr");
    expect(gist(e("telnet", "command", { command: "id" }))).toBe("telnet command id");
    expect(gist(e("ssh", "login", { user: "svc", password: "x" }))).toBe("ssh login svc");
    expect(gist(e("http", "request", { path: "/admin" }))).toBe("http request /admin");
    expect(gist(e("redis", "connect", {}))).toBe("redis connect");
  });
});

describe("mutation notes", () => {
  it("keeps the op from the enqueued event and the error of a failed one", () => {
    const enqueued = noteMutation(null, "enqueued", { mutation_id: "m1", op: "add_decky" });
    const applying = noteMutation(enqueued, "applying", { mutation_id: "m1" });
    expect(applying).toEqual({ id: "m1", op: "add_decky", state: "applying", error: null });
    const failed = noteMutation(applying, "failed",
      { mutation_id: "m1", error: { code: "IP_COLLISION", message: "taken" } });
    expect(failed).toEqual({ id: "m1", op: "add_decky", state: "failed", error: "taken" });
    expect(noteMutation(failed, "applied", { mutation_id: "m2" }).op).toBe("mutation");
  });
});

describe("following the stream", () => {
  it("says when it is open, reconnects after a drop and announces it", async () => {
    const { followStream, RECONNECTED_TOPIC } = await import("../src/api/stream");
    const bodies = [
      'event: status\ndata: {"topic":"topology.t1.status","payload":{"to":"active"}}\n\n',
      'event: attack\ndata: {"topic":"attack.t1.gw.http","payload":{"decky":"gw"}}\n\n',
    ];
    const seen: string[] = [];
    const states: boolean[] = [];
    const abort = new AbortController();
    const fetcher = vi.fn(async (_url: string, init: RequestInit) => {
      expect(new Headers(init.headers).get("Authorization")).toBe("Bearer tok");
      const body = bodies.shift();
      if (body === undefined) {
        abort.abort();
        throw new DOMException("aborted", "AbortError");
      }
      return new Response(body, { status: 200 });
    });
    vi.stubGlobal("fetch", fetcher);
    vi.useFakeTimers({ toFake: ["setTimeout"] });
    try {
      const done = followStream("tok", (e) => seen.push(e.topic), abort.signal,
        (open) => states.push(open));
      await vi.runAllTimersAsync();
      await done;
    } finally {
      vi.useRealTimers();
      vi.unstubAllGlobals();
    }
    expect(seen).toEqual(["topology.t1.status", RECONNECTED_TOPIC, "attack.t1.gw.http"]);
    expect(states).toEqual([true, false, true, false]);
  });
});
