import type { ReactionEvent } from "../api/types";

/**
 * Reactions, as `message:reaction` events tell them: each person has at most
 * one reaction per message, a new one replaces theirs, and `""` takes it
 * back. Messages carry no reaction list, so this is what the events since
 * the dashboard connected have said.
 */

/** message id → who reacted → their emoji. */
export type ReactionMap = Readonly<Record<string, Readonly<Record<string, string>>>>;

/** What the reaction picker offers, as WhatsApp's quick reactions. */
export const REACTION_CHOICES = ["👍", "❤️", "😂", "😮", "😢", "🙏"] as const;

export function withReaction(reactions: ReactionMap, event: Pick<ReactionEvent, "messageId" | "from" | "emoji">): ReactionMap {
  const { messageId, from, emoji } = event;
  const now = reactions[messageId] ?? {};
  if ((now[from] ?? "") === emoji) return reactions;
  // Removed, then added again when there is one: a changed reaction counts as the newest.
  const { [from]: _old, ...others } = now;
  const next = emoji ? { ...others, [from]: emoji } : others;
  if (Object.keys(next).length === 0) {
    const { [messageId]: _gone, ...rest } = reactions;
    return rest;
  }
  return { ...reactions, [messageId]: next };
}

/** A message deleted for everyone loses its reactions with its content. */
export function withoutReactions(reactions: ReactionMap, messageId: string): ReactionMap {
  if (!(messageId in reactions)) return reactions;
  const { [messageId]: _gone, ...rest } = reactions;
  return rest;
}

/** One emoji under a message: how many chose it, who, and whether we are among them. */
export interface ReactionCount {
  emoji: string;
  count: number;
  from: string[];
  mine: boolean;
}

/** The reactions under a message: most chosen first, then in the order they came. */
export function reactionSummary(reactions: ReactionMap, messageId: string, meId: string | null): ReactionCount[] {
  const counts = new Map<string, ReactionCount>();
  for (const [from, emoji] of Object.entries(reactions[messageId] ?? {})) {
    const entry = counts.get(emoji) ?? { emoji, count: 0, from: [], mine: false };
    entry.count++;
    entry.from.push(from);
    entry.mine ||= from === meId;
    counts.set(emoji, entry);
  }
  // Array.prototype.sort is stable: equal counts keep their first appearance's order.
  return [...counts.values()].sort((a, b) => b.count - a.count);
}

export function ownReaction(reactions: ReactionMap, messageId: string, meId: string | null): string | null {
  if (meId === null) return null;
  return reactions[messageId]?.[meId] ?? null;
}

/** Choosing the emoji we already put takes it back (`""`), as in WhatsApp; any other replaces it. */
export function reactionToSend(current: string | null, chosen: string): string {
  return current === chosen ? "" : chosen;
}
