/** One maze's data: the topology, its layout, its attackers and events, live from the stream. */
import { useCallback, useEffect, useMemo, useState } from "react";
import type { ApiClient } from "../api/client";
import { RECONNECTED_TOPIC } from "../api/stream";
import type { Attacker, AttackEvent, Topology } from "../api/types";
import { type MazeLayout, layoutMaze, warmUpLayout } from "../graph/layout";
import { structureKey } from "../graph/maze";
import { useBusEvents } from "./bus";
import { useDebounced } from "./stream";

export const HOT_MS = 8000;
const EVENTS_KEPT = 200;

/** The newest mutation of this maze as the stream told it (enqueued, applying, applied...). */
export interface MutationNote {
  id: string;
  op: string;
  state: string;
  error: string | null;
}

/** Folds one `topology.<id>.mutation.<state>` event into the newest mutation note. */
export function noteMutation(
  known: MutationNote | null, state: string, payload: Record<string, unknown>,
): MutationNote {
  const id = String(payload.mutation_id ?? "");
  const op = typeof payload.op === "string" ? payload.op
    : known && known.id === id ? known.op : "mutation";
  const error = payload.error as { message?: string } | undefined;
  return { id, op, state, error: error?.message ?? null };
}

export interface MazeState {
  topology: Topology | null;
  layout: MazeLayout | null;
  attackers: Attacker[];
  events: AttackEvent[];
  hot: ReadonlySet<string>;
  mutation: MutationNote | null;
  error: string | null;
  reload: () => void;
}

/** Keeps the newest events first, without duplicates. */
export function mergeEvents(known: AttackEvent[], incoming: AttackEvent[]): AttackEvent[] {
  const seen = new Set(known.map((e) => String(e.id)));
  const fresh = incoming.filter((e) => !seen.has(String(e.id)));
  return [...fresh.reverse(), ...known].slice(0, EVENTS_KEPT);
}

export function useMaze(client: ApiClient, name: string): MazeState {
  const [topology, setTopology] = useState<Topology | null>(null);
  const [layout, setLayout] = useState<MazeLayout | null>(null);
  const [attackers, setAttackers] = useState<Attacker[]>([]);
  const [events, setEvents] = useState<AttackEvent[]>([]);
  const [hotUntil, setHotUntil] = useState<ReadonlyMap<string, number>>(new Map());
  const [error, setError] = useState<string | null>(null);
  const [mutation, setMutation] = useState<MutationNote | null>(null);

  const loadTopology = useCallback(() => {
    client.topology(name).then((t) => {
      setTopology(t);
      setError(null);
    })
      .catch((e: Error) => setError(e.message));
  }, [client, name]);
  const loadAttackers = useCallback(() => {
    client.attackers(name).then(setAttackers).catch(() => undefined);
  }, [client, name]);

  useEffect(() => {
    warmUpLayout();
    setTopology(null);
    setLayout(null);
    setAttackers([]);
    setEvents([]);
    // the topology first: the attack overlay can come a moment after the maze is drawn
    client.topology(name).then((t) => {
      performance.mark("maze-fetched");
      setTopology(t);
      loadAttackers();
      client.events(name).then((list) => setEvents(mergeEvents([], list))).catch(() => undefined);
    }).catch((e: Error) => setError(e.message));
  }, [client, name, loadAttackers]);

  const key = topology ? structureKey(topology) : "";
  useEffect(() => {
    if (!topology) return;
    let current = true;
    layoutMaze(topology).then((l) => {
      performance.mark("maze-laid-out");
      if (current) setLayout(l);
    });
    return () => { current = false; };
    // relayout only when the structure changes, never for a status or an attack
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);

  const refetchTopology = useDebounced(loadTopology, 150);
  const refetchAttackers = useDebounced(loadAttackers, 300);
  useBusEvents(({ topic, payload }) => {
    if (!topology) return;
    const [kind, id, sub, state] = topic.split(".");
    if (kind === "topology" && id === topology.id && sub === "mutation" && state) {
      setMutation((known) => noteMutation(known, state, payload));
    }
    if (topic === RECONNECTED_TOPIC) {
      refetchTopology();
      refetchAttackers();
    } else if (kind === "topology" && id === topology.id) refetchTopology();
    else if (kind === "decky") refetchTopology();
    else if (kind === "attack" && id === topology.id) {
      const event = payload as unknown as AttackEvent;
      setEvents((known) => mergeEvents(known, [event]));
      setHotUntil((old) => new Map(old).set(event.decky, Date.now() + HOT_MS));
      refetchAttackers();
    }
  });

  useEffect(() => {
    if (hotUntil.size === 0) return;
    const timer = setInterval(() => {
      const now = Date.now();
      setHotUntil((old) => {
        const kept = new Map([...old].filter(([, until]) => until > now));
        return kept.size === old.size ? old : kept;
      });
    }, 1000);
    return () => clearInterval(timer);
  }, [hotUntil.size]);

  const hot = useMemo(() => new Set(hotUntil.keys()), [hotUntil]);
  return { topology, layout, attackers, events, hot, mutation, error, reload: loadTopology };
}
