import type { Message } from "../api/types";
import { kindPreview } from "./kinds";
import { isImage } from "./media";

/**
 * Replies, as WhatsApp shows them: the message being answered is quoted
 * above the composer while the reply is written, and above the reply's text
 * once sent. A reply names its quoted message by id (`replyTo`), which must be
 * a message of the same chat.
 */

/** The one-line summary of a message that a quote and a chat preview show. */
export function messagePreview(message: Message): string {
  if (message.revoked) return "This message was deleted";
  if (message.body.trim()) return message.body;
  const kind = kindPreview(message);
  if (kind) return kind;
  if (message.media) return isImage(message.media) ? "📷 Photo" : `📄 ${message.media.name ?? "File"}`;
  return message.type;
}

/** A quoted message as drawn: who wrote it and what it said. */
export interface Quote {
  id: string;
  author: string;
  fromMe: boolean;
  preview: string;
  /** Not loaded (yet): only its id is known. */
  missing: boolean;
}

/**
 * The quote for message `id`, given the message if it is known. `authorOf`
 * names a contact's messages (the chat's name in a direct chat, the sender in
 * a group); ours read "You".
 */
export function quoteOf(id: string, message: Message | undefined, authorOf: (message: Message) => string): Quote {
  if (!message) return { id, author: "", fromMe: false, preview: "Quoted message", missing: true };
  return {
    id,
    author: message.fromMe ? "You" : authorOf(message),
    fromMe: message.fromMe,
    preview: messagePreview(message),
    missing: false,
  };
}

/** The reply being written in each chat: chat id → the id of the message it quotes. */
export type ReplyDrafts = Readonly<Record<string, string>>;

/** Reply to `messageId`: it replaces any other quote of that chat's composer. */
export function startReply(drafts: ReplyDrafts, chatId: string, messageId: string): ReplyDrafts {
  return drafts[chatId] === messageId ? drafts : { ...drafts, [chatId]: messageId };
}

/** The reply was sent or given up: the chat's composer quotes nothing. */
export function cancelReply(drafts: ReplyDrafts, chatId: string): ReplyDrafts {
  if (!(chatId in drafts)) return drafts;
  const { [chatId]: _dropped, ...rest } = drafts;
  return rest;
}

export function replyingTo(drafts: ReplyDrafts, chatId: string): string | null {
  return drafts[chatId] ?? null;
}

/** A message deleted for everyone cannot be answered: a draft quoting it is dropped. */
export function withoutRevokedQuote(drafts: ReplyDrafts, chatId: string, messageId: string): ReplyDrafts {
  return drafts[chatId] === messageId ? cancelReply(drafts, chatId) : drafts;
}

/**
 * The quoted messages not among the loaded ones, to fetch one by one
 * (`GET …/messages/{id}`); each id once, however many replies quote it.
 */
export function missingQuotes(
  messages: readonly Message[],
  known: (id: string) => boolean,
): string[] {
  const missing = new Set<string>();
  for (const message of messages) {
    if (message.replyTo && !message.revoked && !known(message.replyTo)) missing.add(message.replyTo);
  }
  return [...missing];
}
