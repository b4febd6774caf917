import { defineConfig } from "vitest/config";

// The daemon the dev server forwards the API and Socket.IO to. Its default
// `server.cors_origins` allows http://localhost:4000, hence the dev port below.
const daemon = "http://127.0.0.1:3000";

export default defineConfig({
  base: "/",
  // Preact's automatic JSX runtime, without a Babel-based plugin.
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  resolve: {
    // virtua's list is written against React's API; preact/compat provides it.
    alias: {
      "react/jsx-runtime": "preact/jsx-runtime",
      "react-dom": "preact/compat",
      react: "preact/compat",
    },
  },
  server: {
    port: 4000,
    strictPort: true,
    proxy: {
      "/api": daemon,
      "/docs-json": daemon,
      "/metrics": daemon,
      "/ws": { target: daemon, ws: true },
    },
  },
  build: {
    target: "es2022",
    // The daemon serves these files under a strict CSP: nothing may be inlined.
    assetsInlineLimit: 0,
    rolldownOptions: {
      onLog(level, log, handler) {
        // virtua marks itself "use client" for React Server Components, which a SPA has none of.
        if (log.code === "MODULE_LEVEL_DIRECTIVE") return;
        handler(level, log);
      },
    },
  },
  test: {
    // `npm test` runs the unit tests; `npm run test:daemon` the tests against a running
    // daemon (`*.daemon.test.*`), which the daemon's own test suite starts for them.
    include: process.env.DEVICEBRIDGE_URL
      ? ["src/**/*.daemon.test.ts", "src/**/*.daemon.test.tsx"]
      : ["src/**/*.test.ts", "src/**/*.test.tsx"],
    exclude: process.env.DEVICEBRIDGE_URL ? [] : ["src/**/*.daemon.test.*"],
    environment: "node",
    // Bundled through Vite so that the React aliases above apply to it too.
    server: { deps: { inline: ["virtua"] } },
  },
});
