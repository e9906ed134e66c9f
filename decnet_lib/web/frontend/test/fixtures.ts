/** Topologies shaped like `decnet topology show --json`. */
import type { Attacker, Decky, Topology } from "../src/api/types";

const decky = (name: string, lans: Record<string, string>, services: string[]): Decky => ({
  name, lans, services, archetype: null, forwards_l3: Object.keys(lans).length > 1,
  expose: false, emulation: "light",
});

export function labTopology(status: Topology["status"] = "active"): Topology {
  return {
    id: "t1", name: "lab", status, hash: "h",
    lans: [
      { name: "dmz", subnet: "10.230.0.0/24", dmz: true },
      { name: "office", subnet: "10.230.1.0/24", dmz: false },
      { name: "vault", subnet: "10.230.2.0/24", dmz: false },
    ],
    deckies: [
      decky("web01", { dmz: "10.230.0.10" }, ["http"]),
      decky("gw01", { dmz: "10.230.0.11", office: "10.230.1.2" }, ["ssh"]),
      decky("ws01", { office: "10.230.1.3" }, ["smb", "rdp"]),
      decky("gw02", { office: "10.230.1.4", vault: "10.230.2.2" }, ["ssh"]),
      decky("db01", { vault: "10.230.2.3" }, ["mysql"]),
    ],
  };
}

export const walker: Attacker = {
  src_ip: "172.17.0.1", first_seen: "2026-12-04T08:00:00Z", last_seen: "2026-12-04T08:01:00Z",
  events: 7, deckies: ["gw01", "gw02", "db01"], lans: ["dmz", "office", "vault"], depth: 2,
  credentials: [{ service: "ssh", username: "root", password: "123456", success: true }],
  commands: ["id", "cat /etc/passwd"],
};

/** A maze of `lans` LANs chained by bridges, `perLan` deckies in each. */
export function bigTopology(lans: number, perLan: number): Topology {
  const topology: Topology = { id: "big", name: "big", status: "active", hash: "h", lans: [],
    deckies: [] };
  for (let l = 0; l < lans; l++) {
    topology.lans.push({ name: `lan${l}`, subnet: `10.${l}.0.0/16`, dmz: l === 0 });
    for (let d = 0; d < perLan; d++) {
      topology.deckies.push(decky(`d${l}-${d}`, { [`lan${l}`]: `10.${l}.0.${d + 2}` }, ["ssh"]));
    }
    if (l > 0) {
      topology.deckies.push(decky(`b${l}`, { [`lan${l - 1}`]: `10.${l - 1}.1.1`,
        [`lan${l}`]: `10.${l}.1.1` }, ["ssh"]));
    }
  }
  return topology;
}
