import type { Message } from "../api/types";
import type { PendingSend } from "./outbox";

/** What the conversation shows, top to bottom. */
export type TimelineItem =
  | { kind: "day"; key: string; label: string }
  | { kind: "message"; key: string; message: Message }
  | { kind: "pending"; key: string; send: PendingSend };

function localDay(date: Date): string {
  return `${date.getFullYear()}-${date.getMonth() + 1}-${date.getDate()}`;
}

/** "Today", "Yesterday", or the date, as the separators between days read. */
export function dayLabel(date: Date, now: Date, locale?: string): string {
  if (localDay(date) === localDay(now)) return "Today";
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (localDay(date) === localDay(yesterday)) return "Yesterday";
  const sameYear = date.getFullYear() === now.getFullYear();
  return date.toLocaleDateString(locale, {
    day: "numeric",
    month: "long",
    ...(sameYear ? {} : { year: "numeric" }),
  });
}

/**
 * The conversation's rows: its messages, then the sends still waiting for the
 * server (they are the newest), with a separator where the day changes.
 */
export function timeline(
  messages: readonly Message[],
  pending: readonly PendingSend[],
  now: Date,
  locale?: string,
): TimelineItem[] {
  const items: TimelineItem[] = [];
  let day = "";
  const separate = (at: string) => {
    const date = new Date(at);
    const key = localDay(date);
    if (key === day) return;
    day = key;
    items.push({ kind: "day", key: `day:${key}`, label: dayLabel(date, now, locale) });
  };
  for (const message of messages) {
    separate(message.timestamp);
    items.push({ kind: "message", key: message.id, message });
  }
  for (const send of pending) {
    separate(send.createdAt);
    items.push({ kind: "pending", key: send.tempId, send });
  }
  return items;
}
