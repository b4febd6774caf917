import { describe, expect, it } from "vitest";
import type { AckEvent, Message } from "../api/types";
import {
  emptyConversation,
  messageActions,
  newestIncoming,
  withAck,
  withMessage,
  withPage,
  withRevoked,
} from "./conversation";

function message(id: string, timestamp: string, fields: Partial<Message> = {}): Message {
  return {
    id,
    upstreamId: null,
    deviceId: "demo",
    chatId: "c",
    from: "them",
    fromMe: false,
    type: "text",
    body: id,
    media: null,
    replyTo: null,
    timestamp,
    ack: 0,
    ackName: "pending",
    revoked: false, editedAt: null, forwarded: false, fromPhone: null,
    tempId: null,
    ...fields,
  };
}

function ack(messageId: string, level: number): AckEvent {
  return { messageId, upstreamId: "up", chatId: "c", ack: level, ackName: "server", deviceId: "demo", seq: 1, at: "" };
}

describe("conversation", () => {
  it("orders pages (newest first on the wire) oldest first, and keeps the cursor", () => {
    const page = { items: [message("msg_3", "T3"), message("msg_2", "T2")], nextCursor: "msg_2" };
    const older = { items: [message("msg_1", "T1")], nextCursor: null };
    let conversation = withPage(emptyConversation, page, false);
    expect(conversation.olderCursor).toBe("msg_2");
    conversation = withPage(conversation, older, true);
    expect(conversation.messages.map((m) => m.id)).toEqual(["msg_1", "msg_2", "msg_3"]);
    expect(conversation.olderCursor).toBeNull();
  });

  it("holds one copy of a message seen live and in a page", () => {
    let conversation = withMessage(emptyConversation, message("msg_1", "T1"));
    conversation = withPage(conversation, { items: [message("msg_1", "T1")], nextCursor: null }, false);
    expect(conversation.messages).toHaveLength(1);
  });

  it("updates ticks from message:ack, forward only", () => {
    let conversation = withMessage(emptyConversation, message("msg_1", "T1", { fromMe: true }));
    conversation = withAck(conversation, ack("msg_1", 3));
    conversation = withAck(conversation, ack("msg_1", 2));
    expect(conversation.messages[0]).toMatchObject({ ack: 3, ackName: "read" });
  });

  it("keeps the further ack when an older copy of a message arrives", () => {
    let conversation = withMessage(emptyConversation, message("msg_1", "T1", { ack: 2, ackName: "device" }));
    conversation = withMessage(conversation, message("msg_1", "T1"));
    expect(conversation.messages[0]).toMatchObject({ ack: 2, ackName: "device" });
  });

  it("keeps a revoked message's place without its body", () => {
    let conversation = withMessage(emptyConversation, message("msg_1", "T1"));
    conversation = withRevoked(conversation, { chatId: "c", messageId: "msg_1", deviceId: "demo", seq: 2, at: "" });
    expect(conversation.messages[0]).toMatchObject({ body: "", revoked: true });
  });

  it("takes a repeated or unknown revocation as nothing new", () => {
    let conversation = withMessage(emptyConversation, message("msg_1", "T1", { fromMe: true }));
    conversation = withRevoked(conversation, { messageId: "msg_1" });
    expect(withRevoked(conversation, { messageId: "msg_1" })).toBe(conversation);
    expect(withRevoked(conversation, { messageId: "msg_9" })).toBe(conversation);
  });

  it("offers reply and react on any live message, deletion and edits on ours, nothing on a deleted one", () => {
    const at = Date.parse("2026-01-01T10:01:00Z");
    const none = { reply: false, react: false, revoke: false, edit: false, forward: false };
    expect(messageActions(message("m", "2026-01-01T10:00:00Z"), true, at)).toEqual({
      reply: true, react: true, revoke: false, edit: false, forward: true,
    });
    expect(messageActions(message("m", "2026-01-01T10:00:00Z", { fromMe: true }), true, at)).toEqual({
      reply: true, react: true, revoke: true, edit: true, forward: true,
    });
    expect(messageActions(message("m", "2026-01-01T09:00:00Z", { fromMe: true }), true, at).edit).toBe(false);
    expect(messageActions(message("m", "2026-01-01T10:00:00Z", { fromMe: true, revoked: true }), true, at)).toEqual(none);
    expect(messageActions(message("m", "2026-01-01T10:00:00Z", { fromMe: true }), false, at)).toEqual(none);
    expect(messageActions(message("m", "2026-01-01T10:00:00Z", { type: "system" }), true, at)).toEqual(none);
  });

  it("finds the newest incoming message for a read receipt", () => {
    let conversation = withMessage(emptyConversation, message("msg_1", "T1"));
    conversation = withMessage(conversation, message("msg_2", "T2", { fromMe: true }));
    expect(newestIncoming(conversation)?.id).toBe("msg_1");
  });
});
