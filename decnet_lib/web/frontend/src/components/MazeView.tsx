/** One maze: its graph, deploy/teardown, the decky panel and the attack panel. */
import { useCallback, useMemo, useState } from "react";
import type { ApiClient } from "../api/client";
import type { ServiceInfo } from "../api/types";
import type { Overlay } from "../graph/flow";
import { addDecky, isLive, removeDecky, setServices } from "../state/editing";
import { useMaze } from "../state/useMaze";
import { AttackPanel } from "./AttackPanel";
import { DeckyPanel } from "./DeckyPanel";
import { MazeCanvas } from "./MazeCanvas";

interface Props {
  client: ApiClient;
  name: string;
  services: ServiceInfo[];
}

export function MazeView({ client, name, services }: Props) {
  const maze = useMaze(client, name);
  const { topology, layout } = maze;
  const [selected, setSelected] = useState<string | null>(null);
  const [chosenIp, setChosenIp] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);

  const shown = useMemo(() => {
    const chosen = maze.attackers.find((a) => a.src_ip === chosenIp);
    if (chosen) return chosen;
    return [...maze.attackers].sort((a, b) => b.last_seen.localeCompare(a.last_seen))[0] ?? null;
  }, [maze.attackers, chosenIp]);
  const overlay: Overlay = useMemo(
    () => ({ hot: maze.hot, attacker: shown, selected }), [maze.hot, shown, selected],
  );

  const run = useCallback((what: string, call: () => Promise<unknown>) => {
    setMessage(`${what}…`);
    call().then(() => { setMessage(`${what}: done`); maze.reload(); })
      .catch((e: Error) => setMessage(`${what} failed: ${e.message}`));
  }, [maze]);

  const onDropArchetype = useCallback((lan: string, archetype: string) => {
    if (!topology) return;
    run(`adding a ${archetype} on ${lan}`, () => addDecky(client, topology, lan, archetype));
  }, [client, topology, run]);
  const onDropMiss = useCallback(() => setMessage("Drop the archetype onto a LAN."), []);

  if (maze.error && !topology) return <p role="alert" className="error">{maze.error}</p>;
  if (!topology || !layout) return <p className="muted">Loading {name}…</p>;
  const decky = topology.deckies.find((d) => d.name === selected) ?? null;
  const live = isLive(topology);
  const tornDown = topology.status === "torn_down" || topology.status === "pending"
    || topology.status === "failed";

  return (
    <div className="maze-view">
      <header className="maze-header">
        <h2>{topology.name}</h2>
        <span className={`status status-${topology.status}`} data-testid="maze-status">
          {topology.status}
        </span>
        <span className="muted">
          {topology.lans.length} LANs · {topology.deckies.length} deckies
          {live ? " · edits go through the mutation queue" : " · edits apply at once"}
        </span>
        <button type="button" disabled={!tornDown}
          onClick={() => run("deploy", () => client.deploy(topology.name))}>Deploy</button>
        <button type="button" disabled={!live}
          onClick={() => run("teardown", () => client.teardown(topology.name))}>Teardown</button>
        {maze.mutation ? (
          <span className={`mutation mutation-${maze.mutation.state}`} data-testid="mutation-state">
            {maze.mutation.op} {maze.mutation.state}
            {maze.mutation.error ? `: ${maze.mutation.error}` : ""}
          </span>
        ) : null}
        {message ? <span className="message" role="status">{message}</span> : null}
      </header>
      <div className="maze-body">
        <MazeCanvas
          topology={topology}
          layout={layout}
          overlay={overlay}
          onSelectDecky={setSelected}
          onDropArchetype={onDropArchetype}
          onDropMiss={onDropMiss}
        />
        <aside className="side">
          {decky ? (
            <DeckyPanel
              decky={decky}
              services={services}
              canEdit={topology.status !== "deploying" && topology.status !== "tearing_down"}
              onSetServices={(list) => run(`services of ${decky.name}`,
                () => setServices(client, topology, decky.name, list))}
              onRemove={() => {
                setSelected(null);
                run(`removing ${decky.name}`, () => removeDecky(client, topology, decky.name));
              }}
            />
          ) : null}
          <AttackPanel
            attackers={maze.attackers}
            shown={shown}
            events={maze.events}
            onShow={setChosenIp}
          />
        </aside>
      </div>
    </div>
  );
}
