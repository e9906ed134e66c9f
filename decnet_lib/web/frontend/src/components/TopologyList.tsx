/** Every topology with its status; the open one is marked. */
import type { TopologySummary } from "../api/types";

interface Props {
  topologies: TopologySummary[];
  current: string | null;
  onOpen: (name: string) => void;
}

export function TopologyList({ topologies, current, onOpen }: Props) {
  if (topologies.length === 0) return <p className="muted">No topology yet.</p>;
  return (
    <ul className="topology-list" aria-label="topologies">
      {topologies.map((t) => (
        <li key={t.id}>
          <button
            type="button"
            className={t.name === current ? "current" : ""}
            onClick={() => onOpen(t.name)}
            data-testid={`topology-${t.name}`}
          >
            <span className="topology-name">{t.name}</span>
            <span className={`status status-${t.status}`} data-testid={`status-${t.name}`}>
              {t.status}
            </span>
            <span className="muted">{t.lans} LANs · {t.deckies} deckies</span>
          </button>
        </li>
      ))}
    </ul>
  );
}
