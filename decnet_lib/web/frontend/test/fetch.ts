/** A recording stand-in for the network in component tests (the e2e tests use the real API). */
import { vi } from "vitest";

export interface Call {
  method: string;
  url: string;
  auth: string | null;
  body: unknown;
}

export function fakeFetch(routes: Record<string, (call: Call) => [number, unknown]>) {
  const calls: Call[] = [];
  const fn = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    const call: Call = {
      method: init.method ?? "GET",
      url: String(input),
      auth: headers.get("Authorization"),
      body: init.body ? JSON.parse(String(init.body)) : undefined,
    };
    calls.push(call);
    const path = call.url.replace(/\?.*$/, "");
    const route = routes[`${call.method} ${path}`];
    if (!route) return new Response("never", { status: 200, headers: {} }) as Response;
    const [status, body] = route(call);
    return new Response(JSON.stringify(body), {
      status, headers: { "Content-Type": "application/json" },
    });
  });
  vi.stubGlobal("fetch", fn);
  return calls;
}
