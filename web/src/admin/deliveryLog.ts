import type { Delivery, Page } from "../api/types";

/** A subscription's deliveries as loaded so far, newest first, and where the next older page starts. */
export interface DeliveryLog {
  items: readonly Delivery[];
  nextCursor: string | null;
  /** Whether older pages were loaded beyond the first. */
  older: boolean;
}

export const emptyDeliveryLog: DeliveryLog = { items: [], nextCursor: null, older: false };

function newestFirst(a: Delivery, b: Delivery): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/**
 * The newest page read again (the log is polled): its entries replace the
 * ones loaded, new ones go on top, and older pages loaded stay.
 */
export function withNewestPage(log: DeliveryLog, page: Page<Delivery>): DeliveryLog {
  if (!log.older) return { items: page.items, nextCursor: page.nextCursor ?? null, older: false };
  const fresh = new Set(page.items.map((d) => d.id));
  const items = [...page.items, ...log.items.filter((d) => !fresh.has(d.id))].sort(newestFirst);
  return { ...log, items };
}

/** The page before the oldest loaded. */
export function withOlderPage(log: DeliveryLog, page: Page<Delivery>): DeliveryLog {
  const known = new Set(log.items.map((d) => d.id));
  return {
    items: [...log.items, ...page.items.filter((d) => !known.has(d.id))],
    nextCursor: page.nextCursor ?? null,
    older: true,
  };
}

/** One delivery as the API answered it again (a replay). */
export function withDelivery(log: DeliveryLog, delivery: Delivery): DeliveryLog {
  return { ...log, items: log.items.map((d) => (d.id === delivery.id ? delivery : d)) };
}

/**
 * How long the event took to be delivered, from its delivery's creation to
 * the success, in ms; null while it is not delivered. The API gives no time
 * per attempt, so retries (and a replay) count in it.
 */
export function deliveryLatencyMs(delivery: Delivery): number | null {
  if (delivery.status !== "delivered" || !delivery.deliveredAt) return null;
  const ms = Date.parse(delivery.deliveredAt) - Date.parse(delivery.createdAt);
  return Number.isFinite(ms) ? Math.max(0, ms) : null;
}

/** `850 ms`, `2.4 s`, `3 min`, `2 h`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 3_600_000)} h`;
}

/** What the last attempt got: its HTTP status, or why there was none. */
export function lastOutcome(delivery: Delivery): string {
  if (delivery.lastStatusCode !== null && delivery.lastError) return `${delivery.lastStatusCode}: ${delivery.lastError}`;
  if (delivery.lastStatusCode !== null) return `HTTP ${delivery.lastStatusCode}`;
  return delivery.lastError ?? "";
}
