/** The maze graph: React Flow over precomputed positions; drops archetypes onto LANs. */
import {
  Background, Controls, MiniMap, ReactFlow, type ReactFlowInstance,
} from "@xyflow/react";
import { type DragEvent, useCallback, useMemo, useRef } from "react";
import type { Topology } from "../api/types";
import {
  type MazeNode, type Overlay, attackEdges, buildNodes, linkEdges, nodeKey, reuseUnchanged,
} from "../graph/flow";
import { type MazeLayout, lanAt } from "../graph/layout";
import { NODE_TYPES } from "./nodes";

export const ARCHETYPE_MIME = "application/x-mazenet-archetype";
const MINIMAP_LIMIT = 300;

interface Props {
  topology: Topology;
  layout: MazeLayout;
  overlay: Overlay;
  onSelectDecky: (name: string | null) => void;
  onDropArchetype: (lan: string, archetype: string) => void;
  onDropMiss: () => void;
}

/** Marks the page interactive once the first maze is on screen (the bench reads it). */
function markReady(): void {
  if (document.body.dataset.mazeReady) return;
  requestAnimationFrame(() => requestAnimationFrame(() => {
    performance.mark("maze-ready");
    document.body.dataset.mazeReady = String(Math.round(performance.now()));
  }));
}

export function MazeCanvas(props: Props) {
  const { topology, layout, overlay, onSelectDecky, onDropArchetype, onDropMiss } = props;
  const instance = useRef<ReactFlowInstance | null>(null);
  const cache = useRef(new Map<string, { key: string; item: MazeNode }>());

  const nodes = useMemo(() => {
    const built = reuseUnchanged(cache.current, buildNodes(topology, layout, overlay), nodeKey);
    cache.current = built.cache;
    return built.items;
  }, [topology, layout, overlay]);
  const links = useMemo(() => linkEdges(topology), [topology]);
  const edges = useMemo(
    () => [...links, ...attackEdges(topology, overlay.attacker)],
    [links, topology, overlay.attacker],
  );

  const onDragOver = useCallback((event: DragEvent) => {
    if (event.dataTransfer.types.includes(ARCHETYPE_MIME)) {
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
    }
  }, []);
  const onDrop = useCallback((event: DragEvent) => {
    const archetype = event.dataTransfer.getData(ARCHETYPE_MIME);
    if (!archetype) return;
    event.preventDefault();
    const point = instance.current
      ? instance.current.screenToFlowPosition({ x: event.clientX, y: event.clientY })
      : { x: event.clientX, y: event.clientY };
    const lan = lanAt(layout, point.x, point.y);
    if (lan) onDropArchetype(lan, archetype);
    else onDropMiss();
  }, [layout, onDropArchetype, onDropMiss]);

  return (
    <div className="maze-canvas" data-testid="maze-canvas" onDragOver={onDragOver} onDrop={onDrop}>
      <ReactFlow
        nodes={nodes}
        edges={edges}
        nodeTypes={NODE_TYPES}
        onInit={(flow) => {
          instance.current = flow as unknown as ReactFlowInstance;
          markReady();
        }}
        onNodeClick={(_, node) => onSelectDecky(node.type === "decky" ? node.id.slice(6) : null)}
        onPaneClick={() => onSelectDecky(null)}
        nodesDraggable={false}
        nodesConnectable={false}
        elementsSelectable
        onlyRenderVisibleElements
        fitView
        minZoom={0.05}
        proOptions={{ hideAttribution: true }}
      >
        <Background />
        <Controls showInteractive={false} />
        {nodes.length <= MINIMAP_LIMIT ? <MiniMap pannable zoomable /> : null}
      </ReactFlow>
    </div>
  );
}
