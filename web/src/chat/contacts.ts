import type { Contact, NumberCheck } from "../api/types";

/** A contact's number as people read it, `+` and its digits; null when it is not known. */
export function shownPhone(phone: string | null): string | null {
  return phone ? `+${phone}` : null;
}

/** What a number check found, in a sentence for the person at the dashboard. */
export function numberVerdict(check: NumberCheck): string {
  const phone = shownPhone(check.phone);
  return check.exists ? `${phone} is on WhatsApp.` : `${phone} is not on WhatsApp.`;
}

/** The name to show for a contact: theirs, or their number, or their id. */
export function contactName(contact: Pick<Contact, "id" | "name" | "phone">): string {
  return contact.name || shownPhone(contact.phone) || contact.id;
}

/**
 * What is wrong with a number typed to start a chat, before asking the daemon: it takes the
 * country code first, 5 to 15 digits, with or without `+`, spaces, dashes, dots and
 * parentheses (as the daemon does).
 */
export function numberProblem(typed: string): string | null {
  const kept = typed.trim().replace(/[ .()-]/g, "");
  const digits = kept.startsWith("+") ? kept.slice(1) : kept;
  return /^[0-9]{5,15}$/.test(digits) ? null : "Type the number with its country code: 5 to 15 digits.";
}
