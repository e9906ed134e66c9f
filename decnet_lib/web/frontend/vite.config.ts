/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The bundle goes where the Python package carries it (decnet_lib/web/bundle/).
export default defineConfig({
  plugins: [react()],
  base: "./",
  build: { outDir: "../bundle", emptyOutDir: true, chunkSizeWarningLimit: 2000 },
  test: {
    environment: "jsdom",
    globals: true,
    include: ["test/**/*.test.ts?(x)"],
    setupFiles: ["test/setup.ts"],
  },
});
