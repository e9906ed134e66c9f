/** Hands stream events to whoever listens (the list, the open maze). */
import { createContext, useContext, useEffect, useRef } from "react";
import type { BusEvent } from "../api/stream";

export type Listener = (event: BusEvent) => void;

export class BusHub {
  private readonly listeners = new Set<Listener>();

  emit(event: BusEvent): void {
    this.listeners.forEach((listener) => listener(event));
  }

  listen(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export const BusContext = createContext<BusHub>(new BusHub());

export function useBusEvents(listener: Listener): void {
  const hub = useContext(BusContext);
  const latest = useRef(listener);
  latest.current = listener;
  useEffect(() => hub.listen((event) => latest.current(event)), [hub]);
}
