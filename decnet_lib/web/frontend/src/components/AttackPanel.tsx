/** Who is in the maze: attackers (pick one to draw its path), its credentials and commands. */
import type { Attacker, AttackEvent } from "../api/types";

interface Props {
  attackers: Attacker[];
  shown: Attacker | null;
  events: AttackEvent[];
  onShow: (ip: string) => void;
}

/** The event's gist; field names as the emulators write them (ssh and the light emulators
 * say `cmd` and `user`, the others `command` and `username`). */
export function describe(event: AttackEvent): string {
  const f = event.fields ?? {};
  const detail = f.command ?? f.cmd ?? f.path ?? f.query ?? f.qname ?? f.username ?? f.user ?? "";
  return `${event.service} ${event.event}${detail ? ` ${String(detail)}` : ""}`;
}

export function AttackPanel({ attackers, shown, events, onShow }: Props) {
  return (
    <section className="panel" aria-label="attacks" data-testid="attack-panel">
      <h2>Attackers</h2>
      {attackers.length === 0 ? <p className="muted">No attack seen yet.</p> : null}
      <ul className="attackers">
        {attackers.map((a) => (
          <li key={a.src_ip}>
            <button
              type="button"
              className={shown?.src_ip === a.src_ip ? "current" : ""}
              onClick={() => onShow(a.src_ip)}
            >
              {a.src_ip} · {a.events} events · depth {a.depth}
            </button>
          </li>
        ))}
      </ul>
      {shown ? (
        <div data-testid="attacker-detail">
          <h3>Path</h3>
          <p>{shown.deckies.join(" → ") || "-"}</p>
          <p className="muted">LANs: {shown.lans.join(" → ") || "-"}</p>
          <h3>Credentials</h3>
          <ul className="credentials">
            {shown.credentials.map((c, i) => (
              <li key={i} className={c.success ? "ok" : ""}>
                {c.service}: {c.username ?? "?"} / {c.password ?? "?"} {c.success ? "✔" : "✘"}
              </li>
            ))}
          </ul>
          <h3>Commands</h3>
          <ul className="commands">
            {shown.commands.map((c, i) => <li key={i}><code>{c}</code></li>)}
          </ul>
        </div>
      ) : null}
      <h3>Latest events</h3>
      <ul className="events" data-testid="event-list">
        {events.slice(0, 40).map((e) => (
          <li key={String(e.id)} data-decky={e.decky}>
            <span className="muted">{e.ts.slice(11, 19)}</span> {e.src_ip} → {e.decky}{" "}
            {describe(e)}
          </li>
        ))}
      </ul>
    </section>
  );
}
