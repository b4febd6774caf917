import type { AckEvent, Message, Page, RevokedEvent } from "../api/types";
import { ackName, mergeAck } from "./acks";
import { canEdit, canForward } from "./kinds";

/** One chat's messages as far as they are loaded, oldest first. */
export interface Conversation {
  messages: readonly Message[];
  /** Where the next older page starts; null once the chat's start is loaded. */
  olderCursor: string | null;
  /** Whether the newest page has been loaded (until then live messages are all we have). */
  loaded: boolean;
}

export const emptyConversation: Conversation = { messages: [], olderCursor: null, loaded: false };

function byTime(a: Message, b: Message): number {
  if (a.timestamp !== b.timestamp) return a.timestamp < b.timestamp ? -1 : 1;
  // Ids are `msg_` + ULID, which sort by creation time.
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Two copies of one message: the newer fields, with the further ack. */
function mergeMessage(known: Message, incoming: Message): Message {
  const ack = mergeAck(known.ack, incoming.ack);
  return { ...known, ...incoming, ack, ackName: ackName(ack) };
}

function withMessages(conversation: Conversation, incoming: readonly Message[]): Conversation {
  const byId = new Map(conversation.messages.map((m) => [m.id, m]));
  for (const message of incoming) {
    const known = byId.get(message.id);
    byId.set(message.id, known ? mergeMessage(known, message) : message);
  }
  return { ...conversation, messages: [...byId.values()].sort(byTime) };
}

/**
 * A page from `messages:list` (newest first). The newest page sets the cursor
 * when nothing older was loaded yet; an older page moves it further back.
 */
export function withPage(conversation: Conversation, page: Page<Message>, older: boolean): Conversation {
  const merged = withMessages(conversation, page.items);
  const cursor = page.nextCursor ?? null;
  if (older || !conversation.loaded) return { ...merged, olderCursor: cursor, loaded: true };
  return merged;
}

/** A new or changed message (the `message` event, or the answer to a send). */
export function withMessage(conversation: Conversation, message: Message): Conversation {
  return withMessages(conversation, [message]);
}

export function withAck(conversation: Conversation, event: AckEvent): Conversation {
  let changed = false;
  const messages = conversation.messages.map((m) => {
    if (m.id !== event.messageId) return m;
    const ack = mergeAck(m.ack, event.ack);
    if (ack === m.ack) return m;
    changed = true;
    return { ...m, ack, ackName: ackName(ack), upstreamId: event.upstreamId ?? m.upstreamId };
  });
  return changed ? { ...conversation, messages } : conversation;
}

/** Deleted for everyone: the message keeps its place, without its body. */
export function withRevoked(conversation: Conversation, event: Pick<RevokedEvent, "messageId"> & Partial<RevokedEvent>): Conversation {
  if (!conversation.messages.some((m) => m.id === event.messageId && !m.revoked)) return conversation;
  const messages = conversation.messages.map((m) =>
    m.id === event.messageId ? { ...m, body: "", media: null, revoked: true } : m,
  );
  return { ...conversation, messages };
}

/** One message changed in place (an edit, a vote); the same conversation if it is not loaded. */
export function withChangedMessage(
  conversation: Conversation,
  messageId: string,
  change: (message: Message) => Message,
): Conversation {
  if (!conversation.messages.some((m) => m.id === messageId)) return conversation;
  return { ...conversation, messages: conversation.messages.map((m) => (m.id === messageId ? change(m) : m)) };
}

/** What the user may do with a message from its menu. */
export interface MessageActions {
  reply: boolean;
  react: boolean;
  /** Delete for everyone: our own messages only. */
  revoke: boolean;
  /** Our own text or caption, within 15 minutes of sending. */
  edit: boolean;
  /** Send a copy to another chat. */
  forward: boolean;
}

/** A deleted message offers nothing; without the `send` scope nothing is offered either. */
export function messageActions(message: Message, canSend: boolean, now = Date.now()): MessageActions {
  const live = canSend && !message.revoked;
  const system = message.type === "system";
  return {
    reply: live && !system,
    react: live && !system,
    revoke: live && message.fromMe,
    edit: live && canEdit(message, now),
    forward: live && canForward(message),
  };
}

/** The newest incoming message, which a read receipt names. */
export function newestIncoming(conversation: Conversation): Message | undefined {
  for (let i = conversation.messages.length - 1; i >= 0; i--) {
    const message = conversation.messages[i];
    if (message && !message.fromMe) return message;
  }
  return undefined;
}
