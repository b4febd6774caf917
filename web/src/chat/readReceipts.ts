import { type Conversation, newestIncoming } from "./conversation";

/**
 * Read receipts: a chat's messages are marked read (`message:read`) only
 * while someone can see them, that is while the chat is open and the page is
 * visible. A message that arrives in a hidden tab stays unread, with its
 * notification, until the tab is shown again with the chat open.
 */

export interface Reading {
  /** The chat is the one open in this tab. */
  open: boolean;
  /** The page is visible (`document.visibilityState`). */
  visible: boolean;
  /** The chat's unread count as last heard, null when the chat is not listed (yet). */
  unread: number | null;
  /**
   * What this tab last marked read in the chat: the id of its newest incoming
   * message then, `""` when it had none loaded, undefined before the first time.
   */
  lastMarked: string | undefined;
}

/** The `message:read` payload's part beyond `chatId`. */
export type ReadReceipt = { messageId: string } | Record<string, never>;

/**
 * The read receipt to send for a chat now, or null: up to its newest
 * incoming message (all, when none is loaded), unless it is not on screen or
 * that message was already marked and nothing is unread.
 */
export function readReceiptDue(conversation: Conversation, reading: Reading): ReadReceipt | null {
  if (!reading.open || !reading.visible) return null;
  const newest = newestIncoming(conversation);
  const alreadyMarked = newest !== undefined && newest.id === reading.lastMarked;
  if (alreadyMarked && (reading.unread ?? 0) === 0) return null;
  if (newest === undefined && (reading.unread ?? 0) === 0 && reading.lastMarked !== undefined) return null;
  return newest ? { messageId: newest.id } : {};
}

/** What to remember as marked once `receipt` is sent (see `Reading.lastMarked`). */
export function markedBy(receipt: ReadReceipt): string {
  return "messageId" in receipt ? receipt.messageId : "";
}
