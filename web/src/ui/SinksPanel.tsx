import { useEffect, useState } from "preact/hooks";
import { listSinks, setSinkEnabled } from "../api/admin";
import { describeError } from "../api/rest";
import { sinkStanding } from "../admin/sinkState";
import type { Sink } from "../api/types";
import type { Dashboard } from "../app/dashboard";
import { listLabel } from "./Choices";
import { count } from "./format";
import { useLoaded } from "./useLoaded";

/** How often the lags are read again while the page is shown. */
const REFRESH_MS = 5_000;

/** Event sinks (NATS, Redis, RabbitMQ): each one's server, what it publishes, its lag; pause or resume it. */
export function SinksPanel({ dashboard }: { dashboard: Dashboard }) {
  const session = dashboard.session;
  const { value: sinks, setValue: setSinks, problem, setProblem, reload } = useLoaded(() => listSinks(session));
  const [busy, setBusy] = useState<string | null>(null);
  useEffect(() => {
    const timer = setInterval(() => document.visibilityState === "visible" && void reload(), REFRESH_MS);
    return () => clearInterval(timer);
  }, []);

  const toggle = async (sink: Sink) => {
    setBusy(sink.id);
    try {
      const changed = await setSinkEnabled(session, sink.id, !sink.enabled);
      setSinks((all) => (all ?? []).map((s) => (s.id === changed.id ? changed : s)));
      setProblem(null);
    } catch (error) {
      setProblem(describeError(error));
    } finally {
      setBusy(null);
    }
  };

  return (
    <section class="card admin-section" aria-labelledby="sinks-title">
      <div class="section-head">
        <h2 id="sinks-title">Event sinks</h2>
        <button type="button" data-testid="sinks-refresh" onClick={() => void reload()}>
          Refresh
        </button>
      </div>
      <p class="hint">
        Each event a sink selects is published to NATS JetStream, a Redis Stream or RabbitMQ, in order per device. Its lag
        is what was journaled and its server has not confirmed yet. Sinks are declared in the configuration (
        <code>[[sinks]]</code>) or over <code>POST /api/v1/sinks</code>.
      </p>
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      {sinks !== null && sinks.length === 0 && <p class="empty">No event sinks.</p>}
      <ul class="admin-list">
        {(sinks ?? []).map((sink) => {
          const { label, badge } = sinkStanding(sink);
          return (
            <li
              key={sink.id}
              class={`admin-row${sink.enabled ? "" : " disabled"}`}
              data-testid="sink-row"
              data-sink-id={sink.id}
              data-enabled={sink.enabled ? "true" : "false"}
            >
              <div class="admin-main">
                <strong>
                  {sink.kind} · {sink.target}
                </strong>
                <span class="muted">
                  {sink.url} · {sink.id}
                  {sink.source === "config" && " · from the configuration"}
                </span>
              </div>
              <span class={`state-badge ${badge}`} title={sink.lastError ?? undefined}>
                {label}
              </span>
              <dl class="facts">
                <dt>Lag</dt>
                <dd data-testid="sink-lag">{count(sink.lag)} events</dd>
                <dt>Events</dt>
                <dd>{listLabel(sink.events, "all events")}</dd>
                <dt>Devices</dt>
                <dd>{listLabel(sink.devices, "all devices")}</dd>
                {sink.lastError && (
                  <>
                    <dt>Last error</dt>
                    <dd>{sink.lastError}</dd>
                  </>
                )}
              </dl>
              <div class="row-actions">
                <button type="button" data-testid="sink-toggle" disabled={busy === sink.id} onClick={() => void toggle(sink)}>
                  {sink.enabled ? "Pause" : "Resume"}
                </button>
              </div>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
