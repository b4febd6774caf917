import type { AckEvent, Chat, Message, RevokedEvent } from "../api/types";
import { ackName, mergeAck } from "./acks";

/** A device's chats by id. */
export type ChatMap = Readonly<Record<string, Chat>>;

/**
 * A chat from `chats:list` or `chat:update`. A copy older than the one held
 * (a page answered while an update was on its way) does not replace it; the
 * last message keeps the further of the two acks, since acks reach the chat
 * list as `message:ack`, not as chat updates.
 */
export function upsertChat(chats: ChatMap, chat: Chat): ChatMap {
  const known = chats[chat.id];
  if (known && known.updatedAt > chat.updatedAt) return chats;
  let next = chat;
  const last = chat.lastMessage;
  if (known?.lastMessage && last && known.lastMessage.id === last.id) {
    const ack = mergeAck(known.lastMessage.ack, last.ack);
    next = { ...chat, lastMessage: { ...last, ack, ackName: ackName(ack) } };
  }
  return { ...chats, [chat.id]: next };
}

export function withLastMessageAck(chats: ChatMap, event: AckEvent): ChatMap {
  const chat = chats[event.chatId];
  const last = chat?.lastMessage;
  if (!chat || !last || last.id !== event.messageId) return chats;
  const ack = mergeAck(last.ack, event.ack);
  if (ack === last.ack) return chats;
  return { ...chats, [chat.id]: { ...chat, lastMessage: { ...last, ack, ackName: ackName(ack) } } };
}

/** The chat's last message was deleted for everyone: its preview says so. */
export function withLastMessageRevoked(chats: ChatMap, event: Pick<RevokedEvent, "chatId" | "messageId">): ChatMap {
  const chat = chats[event.chatId];
  const last = chat?.lastMessage;
  if (!chat || !last || last.id !== event.messageId || last.revoked) return chats;
  return { ...chats, [chat.id]: { ...chat, lastMessage: { ...last, body: "", media: null, revoked: true } } };
}

/** The chat's last message changed in place (an edit, a vote): its preview follows. */
export function withLastMessageChanged(
  chats: ChatMap,
  chatId: string,
  messageId: string,
  change: (message: Message) => Message,
): ChatMap {
  const chat = chats[chatId];
  const last = chat?.lastMessage;
  if (!chat || !last || last.id !== messageId) return chats;
  return { ...chats, [chat.id]: { ...chat, lastMessage: change(last) } };
}

function activity(chat: Chat): string {
  return chat.lastMessage?.timestamp ?? chat.updatedAt;
}

/** Pinned chats first, then newest activity first, as WhatsApp lists them. */
export function sortedChats(chats: ChatMap): Chat[] {
  return Object.values(chats).sort((a, b) => {
    if (a.pinned !== b.pinned) return a.pinned ? -1 : 1;
    return activity(a) < activity(b) ? 1 : activity(a) > activity(b) ? -1 : 0;
  });
}

/** The chats whose name, id or last message contains the search text. */
export function searchChats(chats: readonly Chat[], query: string): Chat[] {
  const needle = query.trim().toLowerCase();
  if (!needle) return [...chats];
  return chats.filter((c) =>
    [c.name, c.id, c.lastMessage?.body ?? ""].some((text) => text.toLowerCase().includes(needle)),
  );
}
