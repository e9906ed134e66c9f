import { describe, expect, it } from "vitest";
import { splitSse } from "../src/api/stream";
import { mergeEvents } from "../src/state/useMaze";
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
