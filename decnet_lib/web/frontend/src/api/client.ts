/** The master API over fetch: every call carries the bearer token; errors become ApiError. */
import type {
  Archetype, Attacker, AttackEvent, ServiceInfo, Topology, TopologySummary,
} from "./types";

export const API_PREFIX = "/api/v1";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Reads `{"error": {"code", "message"}}` (DESIGN.md), else the status line. */
async function errorOf(response: Response): Promise<ApiError> {
  let code = `HTTP_${response.status}`;
  let message = response.statusText || code;
  try {
    const body = await response.json();
    const error = body?.error ?? (typeof body?.detail === "object" ? body.detail.error : null);
    if (error) {
      code = error.code ?? code;
      message = error.message ?? message;
    } else if (typeof body?.detail === "string") {
      message = body.detail;
    }
  } catch {
    /* not JSON: keep the status line */
  }
  return new ApiError(response.status, code, message);
}

export class ApiClient {
  constructor(
    readonly token: string,
    readonly base: string = "",
    private readonly fetcher: typeof fetch = (...args) => fetch(...args),
  ) {}

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { Authorization: `Bearer ${this.token}`, ...extra };
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const init: RequestInit = { method, headers: this.headers() };
    if (body !== undefined) {
      init.headers = this.headers({ "Content-Type": "application/json" });
      init.body = JSON.stringify(body);
    }
    const response = await this.fetcher(`${this.base}${API_PREFIX}${path}`, init);
    if (!response.ok) throw await errorOf(response);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  topologies(): Promise<TopologySummary[]> {
    return this.request("GET", "/topologies");
  }

  topology(name: string): Promise<Topology> {
    return this.request("GET", `/topologies/${encodeURIComponent(name)}`);
  }

  deploy(name: string): Promise<unknown> {
    return this.request("POST", `/topologies/${encodeURIComponent(name)}/deploy`);
  }

  teardown(name: string): Promise<unknown> {
    return this.request("POST", `/topologies/${encodeURIComponent(name)}/teardown`);
  }

  /** Direct while the maze is pending or torn down; one `add_decky` mutation while live. */
  addDecky(name: string, payload: Record<string, unknown>): Promise<unknown> {
    return this.request("POST", `/topologies/${encodeURIComponent(name)}/deckies`, payload);
  }

  /** Direct while the maze is pending or torn down; one `remove_decky` mutation while live. */
  removeDecky(name: string, decky: string): Promise<unknown> {
    const path = `/topologies/${encodeURIComponent(name)}/deckies/${encodeURIComponent(decky)}`;
    return this.request("DELETE", path);
  }

  patchDecky(name: string, decky: string, patch: Record<string, unknown>): Promise<unknown> {
    const path = `/topologies/${encodeURIComponent(name)}/deckies/${encodeURIComponent(decky)}`;
    return this.request("PATCH", path, patch);
  }

  archetypes(): Promise<Archetype[]> {
    return this.request("GET", "/catalog/archetypes");
  }

  services(): Promise<ServiceInfo[]> {
    return this.request("GET", "/catalog/services");
  }

  attackers(topology: string): Promise<Attacker[]> {
    return this.request("GET", `/attackers?topology=${encodeURIComponent(topology)}`);
  }

  events(topology: string, since = "1h"): Promise<AttackEvent[]> {
    const query = `topology=${encodeURIComponent(topology)}&since=${encodeURIComponent(since)}`;
    return this.request("GET", `/events?${query}`);
  }
}
