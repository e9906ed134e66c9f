/** jsdom lacks what React Flow measures with: give it the minimum (as React Flow's docs do). */
import { cleanup } from "@testing-library/react";
import { afterEach } from "vitest";

class ResizeObserverStub {
  constructor(private readonly callback: ResizeObserverCallback) {}
  observe(target: Element) {
    this.callback([{ target } as ResizeObserverEntry], this as unknown as ResizeObserver);
  }
  unobserve() {}
  disconnect() {}
}

class DOMMatrixStub {
  m22: number;
  constructor(transform: string) {
    const scale = transform?.match(/scale\(([1-9.])\)/)?.[1];
    this.m22 = scale !== undefined ? Number(scale) : 1;
  }
}

globalThis.ResizeObserver = ResizeObserverStub as unknown as typeof ResizeObserver;
(globalThis as unknown as { DOMMatrixReadOnly: unknown }).DOMMatrixReadOnly = DOMMatrixStub;
/** The flow and its pane are a 1000x700 screen; any other element is as big as its style says. */
const sized = (element: HTMLElement, axis: "width" | "height", screen: number) =>
  element.classList.contains("react-flow") || element.classList.contains("react-flow__renderer")
    ? screen : parseFloat(element.style[axis]) || 1;
Object.defineProperties(HTMLElement.prototype, {
  offsetHeight: { get() { return sized(this, "height", 700); } },
  offsetWidth: { get() { return sized(this, "width", 1000); } },
});
(SVGElement.prototype as unknown as { getBBox: () => DOMRect }).getBBox = () =>
  ({ x: 0, y: 0, width: 0, height: 0 }) as DOMRect;

afterEach(() => {
  cleanup();
  sessionStorage.clear();
});
