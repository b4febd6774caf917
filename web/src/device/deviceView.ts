import type {
  AckEvent,
  Chat,
  DeviceStateName,
  Message,
  QrCode,
  RevokedEvent,
  Scope,
  SessionEvent,
  StateEvent,
  TypingEvent,
} from "../api/types";
import { type ChatMap, upsertChat, withLastMessageAck } from "../chat/chatList";
import { type Conversation, emptyConversation, withAck, withMessage, withRevoked } from "../chat/conversation";
import { type Outbox, settle } from "../chat/outbox";
import { type TypingMap, startTyping, stopTyping } from "../chat/typing";

/** Everything a device's namespace has told the dashboard, as the views read it. */
export interface DeviceView {
  /** The scopes the credential has on this device (the `session` event). */
  scopes: readonly Scope[] | null;
  state: DeviceStateName | null;
  stateReason: string | null;
  /** The code on show while the device is in state `qr` (control scope only). */
  qr: QrCode | null;
  chats: ChatMap;
  /** Where the next page of chats starts, null when all are loaded. */
  chatsCursor: string | null;
  chatsLoaded: boolean;
  conversations: Readonly<Record<string, Conversation>>;
  typing: TypingMap;
  outbox: Outbox;
}

export const initialDeviceView: DeviceView = {
  scopes: null,
  state: null,
  stateReason: null,
  qr: null,
  chats: {},
  chatsCursor: null,
  chatsLoaded: false,
  conversations: {},
  typing: {},
  outbox: [],
};

export function conversationOf(view: DeviceView, chatId: string): Conversation {
  return view.conversations[chatId] ?? emptyConversation;
}

function withConversation(view: DeviceView, chatId: string, change: (c: Conversation) => Conversation): DeviceView {
  return { ...view, conversations: { ...view.conversations, [chatId]: change(conversationOf(view, chatId)) } };
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

/** Applies one event of the device's namespace. Events it does not show change nothing. */
export function applyDeviceEvent(view: DeviceView, event: string, payload: unknown): DeviceView {
  switch (event) {
    case "session":
      return { ...view, scopes: (payload as SessionEvent).scopes };
    case "state": {
      const { state, reason } = payload as StateEvent;
      return { ...view, state, stateReason: reason, qr: state === "qr" ? view.qr : null };
    }
    case "qr": {
      const { qr, image, expiresAt, attempt, maxAttempts } = payload as QrCode;
      return { ...view, qr: { qr, image, expiresAt, attempt, maxAttempts } };
    }
    case "message":
      return withStoredMessage(view, payload as Message);
    case "message:ack": {
      const ack = payload as AckEvent;
      const next = view.conversations[ack.chatId] ? withConversation(view, ack.chatId, (c) => withAck(c, ack)) : view;
      return { ...next, chats: withLastMessageAck(next.chats, ack) };
    }
    case "message:revoked": {
      const revoked = payload as RevokedEvent;
      return withConversation(view, revoked.chatId, (c) => withRevoked(c, revoked));
    }
    case "chat:update":
      return { ...view, chats: upsertChat(view.chats, payload as Chat) };
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
 */
export function forReload(view: DeviceView): DeviceView {
  return { ...initialDeviceView, scopes: view.scopes, state: view.state, stateReason: view.stateReason, qr: view.qr, outbox: view.outbox };
}
