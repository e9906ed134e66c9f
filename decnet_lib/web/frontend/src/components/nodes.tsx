/** The maze's node kinds: a LAN area, a decky card, the attacker. Memoized: 1,000 of them. */
import {
  Handle, type Node, type NodeProps, Position, type ReactFlowState, useStore,
} from "@xyflow/react";
import { memo } from "react";
import type { AttackerData, DeckyData, LanData } from "../graph/flow";

function Handles() {
  return (
    <>
      <Handle type="target" position={Position.Top} isConnectable={false} />
      <Handle type="source" position={Position.Bottom} isConnectable={false} />
    </>
  );
}

/** Below this zoom a decky is drawn as a bare card: its text could not be read anyway. */
const COMPACT_ZOOM = 0.35;
const zoomedOut = (state: ReactFlowState) => state.transform[2] < COMPACT_ZOOM;

export const LanNode = memo(function LanNode({ data }: NodeProps<Node<LanData, "lan">>) {
  const { lan } = data;
  const classes = ["lan", lan.dmz ? "lan-dmz" : "", data.onPath ? "lan-on-path" : ""];
  return (
    <div className={classes.join(" ")} data-testid={`lan-${lan.name}`} data-lan={lan.name}>
      <Handles />
      <div className="lan-title">
        <strong>{lan.name}</strong>
        {lan.dmz ? <span className="tag tag-dmz">DMZ</span> : null}
        <span className="lan-subnet">{lan.subnet}</span>
        <span className="lan-count">{data.deckies} {data.deckies === 1 ? "decky" : "deckies"}</span>
      </div>
    </div>
  );
});

export const DeckyNode = memo(function DeckyNode({ data }: NodeProps<Node<DeckyData, "decky">>) {
  const { decky } = data;
  const classes = ["decky", data.bridge ? "decky-bridge" : "", data.hot ? "decky-hot" : "",
    data.touched ? "decky-touched" : "", data.selected ? "decky-selected" : ""];
  const compact = useStore(zoomedOut);
  const ips = Object.entries(decky.lans).map(([lan, ip]) => `${lan} ${ip ?? "?"}`);
  // only bridges and deckies on an attack path have edges: the others need no handles
  const linked = data.bridge || data.touched;
  return (
    <div
      className={classes.join(" ")}
      data-testid={`decky-${decky.name}`}
      data-decky={decky.name}
      data-hot={data.hot ? "true" : "false"}
      title={ips.join("\n")}
    >
      {linked ? <Handles /> : null}
      <div className="decky-name">
        {data.bridge ? <span className="tag tag-bridge">bridge</span> : null}
        {decky.name}
      </div>
      {compact ? null : (
        <>
          <div className="decky-ip">{data.bridge ? ips.join(" · ") : ips[0]}</div>
          <div className="decky-services">
            {decky.services.map((s) => <span key={s} className="svc">{s}</span>)}
          </div>
        </>
      )}
    </div>
  );
});

export const AttackerNode = memo(function AttackerNode(
  { data }: NodeProps<Node<AttackerData, "attacker">>,
) {
  return (
    <div className="attacker-node" data-testid="attacker-node">
      <Handle type="source" position={Position.Bottom} isConnectable={false} />
      <div>attacker</div>
      <strong>{data.attacker.src_ip}</strong>
    </div>
  );
});

export const NODE_TYPES = { lan: LanNode, decky: DeckyNode, attacker: AttackerNode };
