import type { Sink } from "../api/types";

/** What an event sink is doing, as the admin page tells it. */
export interface SinkStanding {
  label: "Paused" | "Up to date" | "Catching up" | "Down";
  /** The state badge's class: green while it publishes, red while it does not. */
  badge: "ready" | "failed";
}

/**
 * A paused sink publishes nothing (and keeps its place); an enabled one is down until its
 * server takes a page, then catching up until its lag is 0.
 */
export function sinkStanding(sink: Pick<Sink, "enabled" | "connected" | "lag">): SinkStanding {
  if (!sink.enabled) return { label: "Paused", badge: "failed" };
  if (!sink.connected) return { label: "Down", badge: "failed" };
  return { label: sink.lag === 0 ? "Up to date" : "Catching up", badge: "ready" };
}
