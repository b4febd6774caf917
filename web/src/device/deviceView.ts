import type {
  AckEvent,
  Chat,
  DeviceStateName,
  EditedEvent,
  MergedEvent,
  Message,
  PairingCode,
  PairingCodeEvent,
  QrCode,
  ReactionEvent,
  RevokedEvent,
  Scope,
  SessionEvent,
  StateEvent,
  StatusEvent,
  TypingEvent,
  VoteEvent,
} from "../api/types";
import {
  type ChatMap,
  upsertChat,
  withLastMessageAck,
  withLastMessageChanged,
  withLastMessageRevoked,
} from "../chat/chatList";
import {
  type Conversation,
  emptyConversation,
  withAck,
  withChangedMessage,
  withMessage,
  withRevoked,
} from "../chat/conversation";
import { type Holds, withAckSettled, withStatus } from "../chat/holds";
import { withVote } from "../chat/kinds";
import type { Uploads } from "../chat/media";
import { type Outbox, settle } from "../chat/outbox";
import { type ReplyDrafts, withoutRevokedQuote } from "../chat/quote";
import { type ReactionMap, withReaction, withoutReactions } from "../chat/reactions";
import { type TypingMap, startTyping, stopTyping } from "../chat/typing";

/** Everything a device's namespace has told the dashboard, as the views read it. */
export interface DeviceView {
  /** The scopes the credential has on this device (the `session` event). */
  scopes: readonly Scope[] | null;
  state: DeviceStateName | null;
  stateReason: string | null;
  /** The code on show while the device is in state `qr` (control scope only). */
  qr: QrCode | null;
  /** The last code given for a phone number while in state `qr` (control scope only). */
  pairingCode: PairingCode | null;
  chats: ChatMap;
  /** Where the next page of chats starts, null when all are loaded. */
  chatsCursor: string | null;
  chatsLoaded: boolean;
  conversations: Readonly<Record<string, Conversation>>;
  typing: TypingMap;
  outbox: Outbox;
  /** The reply being written in each chat (the quoted message's id). */
  replies: ReplyDrafts;
  /** Reactions heard since connecting, by message. */
  reactions: ReactionMap;
  /** Quoted messages fetched one by one because they are older than what is loaded. */
  quotes: Readonly<Record<string, Message>>;
  /** Files being uploaded before they are sent. */
  uploads: Uploads;
  /** Failed messages (ack `error`) already sent again, so they offer no second retry. */
  resent: readonly string[];
  /** The last action the server refused (a reaction, a deletion), to show once. */
  problem: string | null;
  /** Chats merged into another (`chat:merged`): where each one's history now is. */
  mergedInto: Readonly<Record<string, string>>;
  /** Our messages held back (`message:status` queued with a reason), by id. */
  holds: Holds;
}

export const initialDeviceView: DeviceView = {
  scopes: null,
  state: null,
  stateReason: null,
  qr: null,
  pairingCode: null,
  chats: {},
  chatsCursor: null,
  chatsLoaded: false,
  conversations: {},
  typing: {},
  outbox: [],
  replies: {},
  reactions: {},
  quotes: {},
  uploads: [],
  resent: [],
  problem: null,
  mergedInto: {},
  holds: {},
};

export function conversationOf(view: DeviceView, chatId: string): Conversation {
  return view.conversations[chatId] ?? emptyConversation;
}

function withConversation(view: DeviceView, chatId: string, change: (c: Conversation) => Conversation): DeviceView {
  return { ...view, conversations: { ...view.conversations, [chatId]: change(conversationOf(view, chatId)) } };
}

/** A message of the chat, loaded or fetched as a quote. */
export function findMessage(view: DeviceView, chatId: string, messageId: string): Message | undefined {
  return conversationOf(view, chatId).messages.find((m) => m.id === messageId) ?? view.quotes[messageId];
}

/**
 * Deleted for everyone: it keeps its place in its conversation, without its
 * text, file or reactions, and a reply being written to it is dropped.
 */
export function withRevokedMessage(view: DeviceView, event: Pick<RevokedEvent, "chatId" | "messageId">): DeviceView {
  const { chatId, messageId } = event;
  const quoted = view.quotes[messageId];
  return {
    ...withConversation(view, chatId, (c) => withRevoked(c, event)),
    chats: withLastMessageRevoked(view.chats, event),
    reactions: withoutReactions(view.reactions, messageId),
    replies: withoutRevokedQuote(view.replies, chatId, messageId),
    quotes: quoted ? { ...view.quotes, [messageId]: { ...quoted, body: "", media: null, revoked: true } } : view.quotes,
  };
}

/**
 * A message the server stored, from the `message` event or the answer to a
 * send: it joins its conversation and, if it was written here, takes its
 * pending entry's place in the same step, so it never shows twice.
 */
export function withStoredMessage(view: DeviceView, message: Message): DeviceView {
  const { outbox } = settle(view.outbox, message);
  return { ...withConversation(view, message.chatId, (c) => withMessage(c, message)), outbox };
}

/**
 * A message changed in place, wherever it shows: its conversation, its chat's preview, a
 * quote fetched for a reply.
 */
function withChanged(view: DeviceView, chatId: string, messageId: string, change: (m: Message) => Message): DeviceView {
  const quoted = view.quotes[messageId];
  const next = view.conversations[chatId]
    ? withConversation(view, chatId, (c) => withChangedMessage(c, messageId, change))
    : view;
  return {
    ...next,
    chats: withLastMessageChanged(next.chats, chatId, messageId, change),
    quotes: quoted ? { ...next.quotes, [messageId]: change(quoted) } : next.quotes,
  };
}

/** `message:edited`: the new text and when it was edited. */
export function withEditedMessage(view: DeviceView, event: Pick<EditedEvent, "chatId" | "messageId" | "body" | "editedAt">): DeviceView {
  return withChanged(view, event.chatId, event.messageId, (m) => ({ ...m, body: event.body, editedAt: event.editedAt }));
}

/** `poll:vote`: the voter's new choice replaces their old one in the poll's tally. */
export function withPollVote(view: DeviceView, event: Pick<VoteEvent, "chatId" | "messageId" | "voter" | "options">): DeviceView {
  return withChanged(view, event.chatId, event.messageId, (m) =>
    m.poll ? { ...m, poll: withVote(m.poll, event.voter, event.options) } : m,
  );
}

/**
 * Two chats are one person's now: the merged-away chat leaves the list (a
 * screen showing it moves to the merged one), and both conversations are
 * dropped, to be read again whole (the history of both, in order) when
 * opened. The merged chat's `chat:update` follows.
 */
export function withMergedChats(view: DeviceView, event: Pick<MergedEvent, "into" | "from">): DeviceView {
  const { [event.from]: _gone, ...chats } = view.chats;
  const { [event.from]: _from, [event.into]: _into, ...conversations } = view.conversations;
  return { ...view, chats, conversations, mergedInto: { ...view.mergedInto, [event.from]: event.into } };
}

/** Applies one event of the device's namespace. Events it does not show change nothing. */
export function applyDeviceEvent(view: DeviceView, event: string, payload: unknown): DeviceView {
  switch (event) {
    case "session":
      return { ...view, scopes: (payload as SessionEvent).scopes };
    case "state": {
      const { state, reason } = payload as StateEvent;
      // Linking's codes end with linking.
      const linking = state === "qr";
      return { ...view, state, stateReason: reason, qr: linking ? view.qr : null, pairingCode: linking ? view.pairingCode : null };
    }
    case "qr": {
      const { qr, image, expiresAt, attempt, maxAttempts } = payload as QrCode;
      return { ...view, qr: { qr, image, expiresAt, attempt, maxAttempts } };
    }
    case "pairing:code": {
      const { code, phone, expiresAt } = payload as PairingCodeEvent;
      return { ...view, pairingCode: { code, phone, expiresAt } };
    }
    case "message":
      return withStoredMessage(view, payload as Message);
    case "message:ack": {
      const ack = payload as AckEvent;
      const next = view.conversations[ack.chatId] ? withConversation(view, ack.chatId, (c) => withAck(c, ack)) : view;
      return { ...next, chats: withLastMessageAck(next.chats, ack), holds: withAckSettled(next.holds, ack) };
    }
    case "message:status":
      return { ...view, holds: withStatus(view.holds, payload as StatusEvent) };
    case "message:revoked":
      return withRevokedMessage(view, payload as RevokedEvent);
    case "message:edited":
      return withEditedMessage(view, payload as EditedEvent);
    case "poll:vote":
      return withPollVote(view, payload as VoteEvent);
    case "message:reaction":
      return { ...view, reactions: withReaction(view.reactions, payload as ReactionEvent) };
    case "chat:update":
      return { ...view, chats: upsertChat(view.chats, payload as Chat) };
    case "chat:merged":
      return withMergedChats(view, payload as MergedEvent);
    case "typing:start": {
      const { chatId, contactId } = payload as TypingEvent;
      return { ...view, typing: startTyping(view.typing, chatId, contactId) };
    }
    case "typing:stop": {
      const { chatId, contactId } = payload as TypingEvent;
      return { ...view, typing: stopTyping(view.typing, chatId, contactId) };
    }
    default:
      return view;
  }
}

/**
 * The server could not resume (its journal was pruned or reset): what was
 * loaded may have missed events, so it is dropped and read again. Sends still
 * waiting for the server are kept; they are sent again with their tempIds.
 * So are what the user is doing (replies being written, uploads) and the
 * reactions, which no reload brings back.
 */
export function forReload(view: DeviceView): DeviceView {
  const { scopes, state, stateReason, qr, pairingCode, outbox, replies, uploads, reactions, resent } = view;
  return { ...initialDeviceView, scopes, state, stateReason, qr, pairingCode, outbox, replies, uploads, reactions, resent };
}
