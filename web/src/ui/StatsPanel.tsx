import { useEffect } from "preact/hooks";
import { fetchStats } from "../api/admin";
import type { Stats } from "../api/types";
import type { Dashboard } from "../app/dashboard";
import { count } from "./format";
import { useLoaded } from "./useLoaded";

const REFRESH_MS = 10_000;

/** The fleet's counters (`GET /api/v1/stats`), refreshed while shown, and the daemon's metrics. */
export function StatsPanel({ dashboard }: { dashboard: Dashboard }) {
  const { value: stats, problem, reload: load } = useLoaded(() => fetchStats(dashboard.session));
  useEffect(() => {
    const timer = setInterval(() => document.visibilityState === "visible" && void load(), REFRESH_MS);
    return () => clearInterval(timer);
  }, []);

  const figures: [string, keyof Stats][] = [
    ["Devices", "devices"],
    ["Running", "activeDevices"],
    ["Messages stored", "messages"],
    ["Socket.IO connections", "connections"],
  ];
  return (
    <section class="card admin-section" aria-labelledby="stats-title">
      <div class="section-head">
        <h2 id="stats-title">Stats</h2>
        <button type="button" data-testid="stats-refresh" onClick={() => void load()}>
          Refresh
        </button>
      </div>
      <dl class="stats" data-testid="stats">
        {figures.map(([label, field]) => (
          <div key={field}>
            <dt>{label}</dt>
            <dd data-stat={field}>{stats ? count(stats[field]) : "…"}</dd>
          </div>
        ))}
      </dl>
      {problem && <p class="error">{problem}</p>}
      <p class="hint">
        The daemon's metrics, in OpenMetrics text for Prometheus:{" "}
        <a href="/metrics" target="_blank" rel="noopener noreferrer">
          /metrics
        </a>
      </p>
    </section>
  );
}
