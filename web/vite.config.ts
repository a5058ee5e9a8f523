/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The built app is served by the Sparring server itself (same origin, strict CSP: no inline
// scripts), so the dev server proxies the API and the voice socket to it.
export default defineConfig({
  plugins: [react()],
  build: {
    target: "es2022",
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    // dist/.vite/manifest.json: which chunks a lazy view pulls in (scripts/size.mjs budgets them).
    manifest: true,
    // livekit-client (LiveAvatar's video, a lazy chunk) is ~530 kB raw, ~135 kB gzipped; the
    // budgets that matter are gzipped, in scripts/size.mjs.
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: {
      "/api": { target: process.env.SPARRING_URL ?? "http://127.0.0.1:8000", ws: true },
    },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
