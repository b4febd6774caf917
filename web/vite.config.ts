import type { Plugin } from "vite";
import { defineConfig } from "vitest/config";

// The daemon the dev server forwards the API and Socket.IO to. Its default
// `server.cors_origins` allows http://localhost:4000, hence the dev port below.
const daemon = "http://127.0.0.1:3000";

// virtua's list is written against React's API; preact/compat provides it. Only virtua is
// given Preact for React: the API reference (swagger-ui, loaded on /docs only) runs on the
// real React 18 it is made for.
const PREACT_FOR_REACT: Record<string, string> = {
  react: "preact/compat",
  "react-dom": "preact/compat",
  "react/jsx-runtime": "preact/jsx-runtime",
};

function preactForVirtua(): Plugin {
  return {
    name: "preact-for-virtua",
    enforce: "pre",
    resolveId(source, importer, options) {
      const preact = PREACT_FOR_REACT[source];
      if (preact === undefined || importer === undefined || !/[\\/]node_modules[\\/]virtua[\\/]/.test(importer)) return null;
      return this.resolve(preact, importer, { ...options, skipSelf: true });
    },
  };
}

export default defineConfig({
  base: "/",
  // Preact's automatic JSX runtime, without a Babel-based plugin.
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  plugins: [preactForVirtua()],
  // The dev server serves virtua as it is, so that the plugin above resolves its imports.
  optimizeDeps: { exclude: ["virtua"] },
  server: {
    port: 4000,
    strictPort: true,
    proxy: {
      "/api": daemon,
      "/docs-json": daemon,
      "/metrics": daemon,
      "/favicon.svg": daemon,
      "/ws": { target: daemon, ws: true },
    },
  },
  build: {
    target: "es2022",
    // The daemon serves these files under a strict CSP: nothing may be inlined.
    assetsInlineLimit: 0,
    // The one chunk past Vite's default 500 kB is the API reference (swagger-ui and React,
    // 1.5 MB, 0.4 MB gzipped), loaded on /docs only.
    chunkSizeWarningLimit: 1600,
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
    // Bundled through Vite so that the plugin above gives it Preact for React.
    server: { deps: { inline: ["virtua"] } },
  },
});
