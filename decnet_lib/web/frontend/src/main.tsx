import "@xyflow/react/dist/style.css";
import "./styles.css";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { warmUpLayout } from "./graph/layout";

performance.mark("app-start");
warmUpLayout(); // the layout engine loads while the page signs in and fetches

createRoot(document.getElementById("root") as HTMLElement).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
