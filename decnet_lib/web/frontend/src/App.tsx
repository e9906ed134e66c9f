/** The dashboard: sign in, the topologies, the open maze, the archetype palette. */
import { useCallback, useEffect, useMemo, useState } from "react";
import { ApiClient, ApiError } from "./api/client";
import { RECONNECTED_TOPIC } from "./api/stream";
import { clearToken, loadToken, saveToken } from "./api/token";
import type { Archetype, ServiceInfo, TopologySummary } from "./api/types";
import { Login } from "./components/Login";
import { MazeView } from "./components/MazeView";
import { Palette } from "./components/Palette";
import { TopologyList } from "./components/TopologyList";
import { BusContext, BusHub, useBusEvents } from "./state/bus";
import { useBusStream, useDebounced } from "./state/stream";

const LIST_POLL_MS = 15000;

/** `#/maze/NAME` opens a maze directly. */
function mazeFromHash(): string | null {
  const match = /^#\/maze\/([^/]+)$/.exec(window.location.hash);
  return match ? decodeURIComponent(match[1]) : null;
}

function Dashboard({ token, onLogout }: { token: string; onLogout: () => void }) {
  const client = useMemo(() => new ApiClient(token), [token]);
  const [topologies, setTopologies] = useState<TopologySummary[]>([]);
  const [archetypes, setArchetypes] = useState<Archetype[]>([]);
  const [services, setServices] = useState<ServiceInfo[]>([]);
  const [current, setCurrent] = useState<string | null>(mazeFromHash());

  const loadList = useCallback(() => {
    client.topologies().then(setTopologies).catch((e) => {
      if (e instanceof ApiError && e.status === 401) onLogout();
    });
  }, [client, onLogout]);
  useEffect(() => {
    loadList();
    client.archetypes().then(setArchetypes).catch(() => undefined);
    client.services().then(setServices).catch(() => undefined);
    const timer = setInterval(loadList, LIST_POLL_MS);
    return () => clearInterval(timer);
  }, [client, loadList]);
  useEffect(() => {
    const onHash = () => setCurrent(mazeFromHash());
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  const refreshList = useDebounced(loadList, 300);
  useBusEvents(({ topic }) => {
    if (topic.startsWith("topology.") || topic === RECONNECTED_TOPIC) refreshList();
  });

  return (
    <div className="dashboard">
      <nav className="sidebar">
        <header className="brand">
          <strong>MazeNET</strong>
          <button type="button" onClick={onLogout}>Log out</button>
        </header>
        <h2>Topologies</h2>
        <TopologyList
          topologies={topologies}
          current={current}
          onOpen={(name) => { window.location.hash = `#/maze/${encodeURIComponent(name)}`; }}
        />
        {current ? (
          <>
            <h2>Archetypes</h2>
            <p className="muted">Drag one onto a LAN to add a decky.</p>
            <Palette archetypes={archetypes} />
          </>
        ) : null}
      </nav>
      <main>
        {current
          ? <MazeView key={current} client={client} name={current} services={services} />
          : <p className="muted">Pick a topology.</p>}
      </main>
    </div>
  );
}

function StreamedDashboard({ token, onLogout }: { token: string; onLogout: () => void }) {
  const hub = useMemo(() => new BusHub(), []);
  const connected = useBusStream(token, (event) => hub.emit(event));
  return (
    <BusContext.Provider value={hub}>
      <div className={`stream-state ${connected ? "on" : "off"}`} data-testid="stream-state">
        {connected ? "live" : "connecting…"}
      </div>
      <Dashboard token={token} onLogout={onLogout} />
    </BusContext.Provider>
  );
}

export function App() {
  const [token, setToken] = useState<string | null>(loadToken());
  const logout = useCallback(() => { clearToken(); setToken(null); }, []);
  if (!token) {
    return <Login onLogin={(value) => { saveToken(value); setToken(value); }} />;
  }
  return <StreamedDashboard token={token} onLogout={logout} />;
}
