/** The selected decky: its addresses, its services (editable), remove. */
import { useEffect, useState } from "react";
import type { Decky, ServiceInfo } from "../api/types";

interface Props {
  decky: Decky;
  services: ServiceInfo[];
  canEdit: boolean;
  onSetServices: (services: string[]) => void;
  onRemove: () => void;
}

export function DeckyPanel({ decky, services, canEdit, onSetServices, onRemove }: Props) {
  const [chosen, setChosen] = useState<string[]>(decky.services);
  useEffect(() => setChosen(decky.services), [decky]);
  const names = [...new Set([...services.map((s) => s.name), ...decky.services])].sort();
  const changed = chosen.join(",") !== decky.services.join(",");

  function toggle(name: string) {
    setChosen((old) => old.includes(name) ? old.filter((s) => s !== name) : [...old, name]);
  }

  return (
    <section className="panel" aria-label={`decky ${decky.name}`} data-testid="decky-panel">
      <h2>{decky.name}</h2>
      <p className="muted">{decky.archetype ?? "no archetype"} · {decky.emulation ?? ""}</p>
      <ul className="addresses">
        {Object.entries(decky.lans).map(([lan, ip], index) => (
          <li key={lan}>{lan}: {ip ?? "?"}{index === 0 ? " (home)" : ""}</li>
        ))}
      </ul>
      <fieldset disabled={!canEdit}>
        <legend>Services</legend>
        <div className="service-choices">
          {names.map((name) => (
            <label key={name}>
              <input type="checkbox" checked={chosen.includes(name)} onChange={() => toggle(name)} />
              {name}
            </label>
          ))}
        </div>
        <button type="button" disabled={!changed} onClick={() => onSetServices(chosen)}>
          Save services
        </button>
        <button type="button" className="danger" onClick={onRemove}>Remove decky</button>
      </fieldset>
    </section>
  );
}
