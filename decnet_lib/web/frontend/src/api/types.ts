/** Shapes of the master API (DESIGN.md "Master API and dashboard", `topology show --json`). */

export type TopologyStatus =
  | "pending" | "deploying" | "active" | "degraded" | "failed" | "tearing_down" | "torn_down";

export interface TopologySummary {
  id: string;
  name: string;
  status: TopologyStatus;
  hash: string;
  lans: number;
  deckies: number;
}

export interface Lan {
  id?: string;
  name: string;
  subnet: string;
  gateway?: string;
  dmz: boolean;
  parent?: string | null;
}

export interface Decky {
  id?: string;
  name: string;
  archetype?: string | null;
  services: string[];
  /** LAN name to IP, in order: the first is the decky's home. */
  lans: Record<string, string | null>;
  forwards_l3?: boolean;
  expose?: boolean;
  emulation?: string;
}

export interface Topology {
  id: string;
  name: string;
  status: TopologyStatus;
  hash: string;
  lans: Lan[];
  deckies: Decky[];
}

export interface Archetype {
  name: string;
  services: string[];
  description: string;
}

export interface ServiceInfo {
  name: string;
  ports: string[];
  description: string;
}

export interface AttackEvent {
  id: string | number;
  ts: string;
  topology: string;
  topology_id: string;
  decky: string;
  lan: string | null;
  service: string;
  event: string;
  src_ip: string;
  src_port?: number | null;
  dst_ip?: string | null;
  dst_port?: number | null;
  session?: string | null;
  fields: Record<string, unknown>;
}

export interface Credential {
  service: string;
  username: string | null;
  password: string | null;
  success: boolean;
}

export interface Attacker {
  src_ip: string;
  first_seen: string;
  last_seen: string;
  events: number;
  deckies: string[];
  lans: string[];
  depth: number;
  credentials: Credential[];
  commands: string[];
}

export const LIVE_STATUSES: ReadonlySet<TopologyStatus> = new Set(["active", "degraded"]);
