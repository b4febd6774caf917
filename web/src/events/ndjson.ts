import { type EventEntry, envelopeOf } from "./entry";

/**
 * Events as NDJSON: one envelope `{ type, deviceId, seq, at, data }` a line,
 * as `GET …/events` and webhooks carry them, oldest first as in a journal
 * (the view lists the newest first).
 */
export function toNdjson(newestFirst: readonly EventEntry[]): string {
  let text = "";
  for (let i = newestFirst.length - 1; i >= 0; i--) text += `${JSON.stringify(envelopeOf(newestFirst[i]!))}\n`;
  return text;
}

export const NDJSON_TYPE = "application/x-ndjson";

/** `devicebridge-events-20261123-115500.ndjson`, in UTC. */
export function exportFileName(now: Date): string {
  const stamp = now.toISOString().replace(/\.\d+Z$/, "").replace(/[-:]/g, "").replace("T", "-");
  return `devicebridge-events-${stamp}.ndjson`;
}
