import type { GovernorChanges, GovernorLimits } from "../api/types";

/** The governor's limits an admin changes from the device's page, the numbers as typed. */
export interface GovernorForm {
  enabled: boolean;
  perMinute: string;
  burst: string;
  newChatsPerDay: string;
  typing: boolean;
}

/** The form as the limits in force fill it. */
export function governorFormOf(limits: GovernorLimits): GovernorForm {
  return {
    enabled: limits.enabled,
    perMinute: String(limits.perMinute),
    burst: String(limits.burst),
    newChatsPerDay: String(limits.newChatsPerDay),
    typing: limits.typing,
  };
}

const COUNTS = [
  ["perMinute", "per_minute", "Messages a minute"],
  ["burst", "burst", "Burst"],
  ["newChatsPerDay", "new_chats_per_day", "New chats a day"],
] as const;

/** A count as typed: a whole number, or `null`. The daemon says which it takes. */
function countOf(typed: string): number | null {
  const trimmed = typed.trim();
  return /^\d+$/.test(trimmed) ? Number(trimmed) : null;
}

/** What keeps the form from being sent: a count that is not a whole number, or no change at all. */
export function governorFormProblems(form: GovernorForm, limits: GovernorLimits): string[] {
  const problems = COUNTS.filter(([field]) => countOf(form[field]) === null).map(
    ([, , label]) => `${label} is a whole number.`,
  );
  if (problems.length === 0 && Object.keys(governorChanges(form, limits)).length === 0) {
    problems.push("Nothing changed.");
  }
  return problems;
}

/** The `governor` of `PATCH /api/v1/devices/{id}`: what the form changes, nothing else. */
export function governorChanges(form: GovernorForm, limits: GovernorLimits): GovernorChanges {
  const changes: GovernorChanges = {};
  if (form.enabled !== limits.enabled) changes.enabled = form.enabled;
  if (form.typing !== limits.typing) changes.typing = form.typing;
  for (const [field, key] of COUNTS) {
    const count = countOf(form[field]);
    if (count !== null && count !== limits[field]) changes[key] = count;
  }
  return changes;
}
