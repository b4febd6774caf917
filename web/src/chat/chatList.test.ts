import { describe, expect, it } from "vitest";
import type { Chat, Message } from "../api/types";
import { searchChats, sortedChats, upsertChat, withLastMessageAck } from "./chatList";

function chat(id: string, updatedAt: string, fields: Partial<Chat> = {}): Chat {
  return {
    id,
    deviceId: "demo",
    name: id,
    kind: "direct",
    unreadCount: 0,
    lastMessage: null,
    updatedAt,
    archived: false,
    muted: false,
    pinned: false,
    markedUnread: false,
    ...fields,
  };
}

const last = (ack: number): Message => ({
  id: "msg_1",
  upstreamId: null,
  deviceId: "demo",
  chatId: "a",
  from: "me",
  fromMe: true,
  type: "text",
  body: "see you at 5",
  media: null,
  replyTo: null,
  timestamp: "T5",
  ack,
  ackName: "pending",
  tempId: null,
  revoked: false, editedAt: null, forwarded: false, fromPhone: null,
});

describe("chat list", () => {
  it("does not let an older copy replace a newer one", () => {
    let chats = upsertChat({}, chat("a", "T2", { unreadCount: 0 }));
    chats = upsertChat(chats, chat("a", "T1", { unreadCount: 3 }));
    expect(chats.a?.unreadCount).toBe(0);
  });

  it("applies acks to the last message, keeping the furthest", () => {
    let chats = upsertChat({}, chat("a", "T1", { lastMessage: last(0) }));
    chats = withLastMessageAck(chats, {
      messageId: "msg_1", upstreamId: null, chatId: "a", ack: 3, ackName: "read", deviceId: "demo", seq: 2, at: "",
    });
    chats = upsertChat(chats, chat("a", "T2", { lastMessage: last(1) }));
    expect(chats.a?.lastMessage).toMatchObject({ ack: 3, ackName: "read" });
  });

  it("lists newest activity first and searches names and texts", () => {
    const chats = upsertChat(upsertChat({}, chat("a", "T1", { lastMessage: last(0) })), chat("b", "T2"));
    const list = sortedChats(chats);
    expect(list.map((c) => c.id)).toEqual(["a", "b"]);
    expect(searchChats(list, "AT 5").map((c) => c.id)).toEqual(["a"]);
    expect(searchChats(list, "  ")).toHaveLength(2);
  });

  it("lists pinned chats first, each group by newest activity", () => {
    let chats = upsertChat({}, chat("old-pinned", "T1", { pinned: true }));
    chats = upsertChat(chats, chat("new", "T3"));
    chats = upsertChat(chats, chat("new-pinned", "T2", { pinned: true }));
    expect(sortedChats(chats).map((c) => c.id)).toEqual(["new-pinned", "old-pinned", "new"]);
  });
});
