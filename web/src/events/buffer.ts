import { type EventEntry, newestFirst } from "./entry";

/** How much the monitor keeps: the latest events, at most this many and this much payload text. */
export interface Bounds {
  maxEvents: number;
  maxBytes: number;
}

export const DEFAULT_BOUNDS: Bounds = { maxEvents: 5_000, maxBytes: 16 * 1024 * 1024 };

/**
 * The events the monitor holds, newest first, each once. While paused the
 * view stays as it was: events that arrive meanwhile are kept (`held`) but
 * not shown until it resumes. Memory is bounded: past the bounds the oldest
 * events go, counted in `dropped`.
 */
export interface EventBuffer {
  events: readonly EventEntry[];
  paused: boolean;
  /** Keys of the events that arrived while paused. */
  held: ReadonlySet<string>;
  /** How many events were let go past the bounds. */
  dropped: number;
  /** The payload text the events take (what `maxBytes` bounds). */
  bytes: number;
}

export const emptyBuffer: EventBuffer = { events: [], paused: false, held: new Set(), dropped: 0, bytes: 0 };

/** Merges the held list with new events (both newest first): each event once, and which were new. */
function merge(held: readonly EventEntry[], incoming: readonly EventEntry[]): { merged: EventEntry[]; added: EventEntry[] } {
  const merged: EventEntry[] = [];
  const added: EventEntry[] = [];
  let i = 0;
  let j = 0;
  while (i < held.length || j < incoming.length) {
    const x = held[i];
    const y = incoming[j];
    const fromHeld = y === undefined || (x !== undefined && newestFirst(x, y) <= 0);
    const next = fromHeld ? x! : y!;
    if (fromHeld) i++;
    else j++;
    const last = merged[merged.length - 1];
    if (last !== undefined && newestFirst(last, next) === 0) continue;
    merged.push(next);
    if (!fromHeld) added.push(next);
  }
  return { merged, added };
}

/** Adds events (live or history, in any order, repeats ignored), then applies the bounds. */
export function admit(buffer: EventBuffer, incoming: readonly EventEntry[], bounds: Bounds = DEFAULT_BOUNDS): EventBuffer {
  if (incoming.length === 0) return buffer;
  const sorted = [...incoming].sort(newestFirst);
  const { merged, added } = merge(buffer.events, sorted);
  if (added.length === 0) return buffer;
  let held = buffer.held;
  if (buffer.paused) {
    const next = new Set(held);
    for (const entry of added) next.add(entry.key);
    held = next;
  }
  const bytes = buffer.bytes + added.reduce((sum, entry) => sum + entry.text.length, 0);
  return bounded({ ...buffer, events: merged, held, bytes }, bounds);
}

/** The latest events within the bounds (at least the newest one, however large). */
function bounded(buffer: EventBuffer, { maxEvents, maxBytes }: Bounds): EventBuffer {
  if (buffer.events.length <= maxEvents && buffer.bytes <= maxBytes) return buffer;
  let bytes = 0;
  let keep = 0;
  for (const entry of buffer.events) {
    if (keep >= maxEvents || (keep > 0 && bytes + entry.text.length > maxBytes)) break;
    bytes += entry.text.length;
    keep++;
  }
  const gone = buffer.events.slice(keep);
  let held = buffer.held;
  if (held.size > 0 && gone.some((entry) => held.has(entry.key))) {
    const next = new Set(held);
    for (const entry of gone) next.delete(entry.key);
    held = next;
  }
  return { ...buffer, events: buffer.events.slice(0, keep), held, bytes, dropped: buffer.dropped + gone.length };
}

export function pause(buffer: EventBuffer): EventBuffer {
  return buffer.paused ? buffer : { ...buffer, paused: true };
}

/** Shows what arrived while paused, each once, in its place. */
export function resume(buffer: EventBuffer): EventBuffer {
  return buffer.paused ? { ...buffer, paused: false, held: new Set() } : buffer;
}

/** What the view shows: everything, except while paused what arrived since. */
export function shownEvents(buffer: EventBuffer): readonly EventEntry[] {
  if (buffer.held.size === 0) return buffer.events;
  return buffer.events.filter((entry) => !buffer.held.has(entry.key));
}
