import type { JournalEnvelope } from "../api/types";
import { type EventEntry, entryOf } from "./entry";

/** A journaled event for tests: `seq` of `deviceId`, `seq` seconds after 10:00. */
export function envelope(seq: number, type = "message", deviceId = "demo", data: Record<string, unknown> = {}): JournalEnvelope {
  const at = new Date(Date.UTC(2026, 0, 1, 10, 0, seq)).toISOString();
  return { type, deviceId, seq, at, data: { ...data, deviceId, seq, at } };
}

export function event(seq: number, type = "message", deviceId = "demo", data: Record<string, unknown> = {}): EventEntry {
  return entryOf(envelope(seq, type, deviceId, data));
}
