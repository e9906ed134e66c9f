/** One stream per signed-in tab; components subscribe to its events. */
import { useEffect, useRef, useState } from "react";
import { type BusEvent, followStream } from "../api/stream";

export function useBusStream(token: string, onEvent: (event: BusEvent) => void): boolean {
  const handler = useRef(onEvent);
  handler.current = onEvent;
  const [connected, setConnected] = useState(false);
  useEffect(() => {
    const abort = new AbortController();
    followStream(token, (event) => handler.current(event), abort.signal, setConnected)
      .finally(() => setConnected(false));
    return () => abort.abort();
  }, [token]);
  return connected;
}

/** Calls `fn` once, `ms` after the last request. */
export function useDebounced(fn: () => void, ms: number): () => void {
  const latest = useRef(fn);
  latest.current = fn;
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => {
    if (timer.current) clearTimeout(timer.current);
  }, []);
  const ref = useRef(() => {
    if (timer.current) clearTimeout(timer.current);
    timer.current = setTimeout(() => latest.current(), ms);
  });
  return ref.current;
}
