/** Archetypes to drag onto a LAN of the open maze. */
import type { DragEvent } from "react";
import type { Archetype } from "../api/types";
import { ARCHETYPE_MIME } from "./MazeCanvas";

export function Palette({ archetypes }: { archetypes: Archetype[] }) {
  function onDragStart(event: DragEvent, name: string) {
    event.dataTransfer.setData(ARCHETYPE_MIME, name);
    event.dataTransfer.effectAllowed = "copy";
  }
  return (
    <ul className="palette" aria-label="archetypes">
      {archetypes.map((a) => (
        <li
          key={a.name}
          draggable
          onDragStart={(e) => onDragStart(e, a.name)}
          data-testid={`archetype-${a.name}`}
          title={a.description}
        >
          <strong>{a.name}</strong>
          <span className="muted">{a.services.join(", ") || "no services"}</span>
        </li>
      ))}
    </ul>
  );
}
