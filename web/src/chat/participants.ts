/**
 * A group participant's id from what a person types: a person's chat id as it is, or a phone
 * number as people write it (country code first, with or without `+`, spaces, dashes, dots
 * and parentheses) as that number's `…@c.us`; `null` for anything else, which the daemon
 * would refuse.
 */
export function participantId(typed: string): string | null {
  const text = typed.trim();
  if (/^[0-9]{5,20}@(c\.us|s\.whatsapp\.net|lid)$/.test(text)) return text;
  const digits = text.replace(/[\s\-.()+]/g, "");
  return /^[0-9]{5,15}$/.test(digits) ? `${digits}@c.us` : null;
}

/** The people a group is made with, from what was typed: one per line or comma. */
export function typedParticipants(typed: string): { ids: string[]; unreadable: string[] } {
  const entries = typed
    .split(/[\n,;]/)
    .map((entry) => entry.trim())
    .filter(Boolean);
  const ids: string[] = [];
  const unreadable: string[] = [];
  for (const entry of entries) {
    const id = participantId(entry);
    if (id === null) unreadable.push(entry);
    else if (!ids.includes(id)) ids.push(id);
  }
  return { ids, unreadable };
}
