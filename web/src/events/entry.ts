import type { JournalEnvelope } from "../api/types";

/**
 * One journaled event as the monitor keeps it: the envelope's fields (as
 * `GET …/events` answers them), its time as a number for ordering, and the
 * lower-cased text of its payload, which the filter searches and the memory
 * bound counts.
 */
export interface EventEntry {
  /** Its identity: a device's event is its seq (the same again after a journal reset is another event, at another time). */
  key: string;
  type: string;
  deviceId: string;
  seq: number;
  at: string;
  atMs: number;
  data: unknown;
  text: string;
}

export function entryOf({ type, deviceId, seq, at, data }: JournalEnvelope): EventEntry {
  const atMs = Date.parse(at);
  return {
    key: `${deviceId}\n${seq}\n${at}`,
    type,
    deviceId,
    seq,
    at,
    atMs: Number.isNaN(atMs) ? 0 : atMs,
    data,
    text: (JSON.stringify(data) ?? "").toLowerCase(),
  };
}

/**
 * A live event from a device namespace, whose payload carries `deviceId`,
 * `seq` and `at`; null for what is not journaled (`session`, `sync`).
 */
export function liveEntry(type: string, payload: unknown): EventEntry | null {
  if (typeof payload !== "object" || payload === null) return null;
  const { deviceId, seq, at } = payload as Record<string, unknown>;
  if (typeof deviceId !== "string" || typeof seq !== "number" || typeof at !== "string") return null;
  return entryOf({ type, deviceId, seq, at, data: payload });
}

/** The envelope again, as exported. */
export function envelopeOf(entry: EventEntry): JournalEnvelope {
  return { type: entry.type, deviceId: entry.deviceId, seq: entry.seq, at: entry.at, data: entry.data };
}

/**
 * Newest first: by time, then device, then seq (a device's events in one
 * millisecond keep their journal order). Zero only for the same event.
 */
export function newestFirst(a: EventEntry, b: EventEntry): number {
  if (a.atMs !== b.atMs) return b.atMs - a.atMs;
  if (a.deviceId !== b.deviceId) return a.deviceId < b.deviceId ? 1 : -1;
  if (a.seq !== b.seq) return b.seq - a.seq;
  return a.at === b.at ? 0 : a.at < b.at ? 1 : -1;
}
