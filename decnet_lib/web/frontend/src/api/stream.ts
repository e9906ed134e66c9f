/** Server-Sent Events over fetch, so the bearer token goes in a header (EventSource can't). */
import { API_PREFIX } from "./client";

export interface BusEvent {
  topic: string;
  payload: Record<string, unknown>;
}

/** Splits an SSE text buffer into complete messages; returns them and the unfinished rest. */
export function splitSse(buffer: string): { messages: BusEvent[]; rest: string } {
  const messages: BusEvent[] = [];
  const blocks = buffer.replace(/\r\n?/g, "\n").split("\n\n");
  const rest = blocks.pop() ?? "";
  for (const block of blocks) {
    let name = "";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue; // keep-alive comment
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") name = value;
      else if (field === "data") data.push(value);
    }
    const event = toBusEvent(name, data.join("\n"));
    if (event) messages.push(event);
  }
  return { messages, rest };
}

/** The bus envelope `{topic, payload}` or a bare payload named by the SSE `event:` field. */
function toBusEvent(name: string, data: string): BusEvent | null {
  if (!data) return null;
  let body: unknown;
  try {
    body = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof body !== "object" || body === null) return null;
  const record = body as Record<string, unknown>;
  const topic = typeof record.topic === "string" ? record.topic : name;
  if (!topic) return null;
  const payload = typeof record.payload === "object" && record.payload !== null
    ? record.payload as Record<string, unknown>
    : record;
  return { topic, payload };
}

/** Topic of the event the reader emits itself when a dropped stream is back: what happened
 * meanwhile was not sent (the bus is notification only), so listeners read the state again. */
export const RECONNECTED_TOPIC = "stream.reconnected";

/** Reads /api/v1/stream until `signal` aborts; reconnects a second after a drop. */
export async function followStream(
  token: string,
  onEvent: (event: BusEvent) => void,
  signal: AbortSignal,
  onState: (open: boolean) => void = () => undefined,
): Promise<void> {
  let opened = false;
  while (!signal.aborted) {
    try {
      const response = await fetch(`${API_PREFIX}/stream`, {
        headers: { Authorization: `Bearer ${token}`, Accept: "text/event-stream" },
        signal,
      });
      if (!response.ok || !response.body) throw new Error(`stream: HTTP ${response.status}`);
      onState(true);
      if (opened) onEvent({ topic: RECONNECTED_TOPIC, payload: {} });
      opened = true;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const { messages, rest } = splitSse(buffer + value);
        buffer = rest;
        messages.forEach(onEvent);
      }
    } catch {
      if (signal.aborted) return;
    }
    onState(false);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}
