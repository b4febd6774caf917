import type { EventEntry } from "./entry";

/** The filter's words, lower-cased; none matches everything. */
export function filterTerms(query: string): string[] {
  return query.toLowerCase().split(/\s+/).filter(Boolean);
}

/**
 * Whether an event matches the filter: every word is found in its name
 * (`message` matches `message` and `message:ack`) or in its payload's text
 * (a message id, a chat id, a word of a message).
 */
export function eventMatches(entry: EventEntry, terms: readonly string[]): boolean {
  return terms.every((term) => entry.type.includes(term) || entry.text.includes(term));
}

export function filterEvents(entries: readonly EventEntry[], query: string): readonly EventEntry[] {
  const terms = filterTerms(query);
  return terms.length === 0 ? entries : entries.filter((entry) => eventMatches(entry, terms));
}
