import { describe, expect, it } from "vitest";
import type { Message } from "../api/types";
import { enqueue, markSending } from "../chat/outbox";
import { startReply } from "../chat/quote";
import {
  type DeviceView,
  applyDeviceEvent,
  conversationOf,
  findMessage,
  forReload,
  initialDeviceView,
  withStoredMessage,
} from "./deviceView";

const chatId = "15550000002@c.us";

const sent: Message = {
  id: "msg_1", upstreamId: null, deviceId: "demo", chatId, from: "me", fromMe: true, type: "text", body: "hi",
  media: null, replyTo: null, timestamp: "2026-01-01T10:00:01Z", ack: 0, ackName: "pending", tempId: "t-1", revoked: false, editedAt: null, forwarded: false, fromPhone: null,
};

const written = () => ({
  ...initialDeviceView,
  outbox: markSending(enqueue([], { tempId: "t-1", chatId, text: "hi", createdAt: "2026-01-01T10:00:00Z" }), "t-1"),
});

describe("device view", () => {
  it("merges a linked id's chat into the number's: one row, both histories read again, the old id pointing on", () => {
    const lid = "207700000002@lid";
    const row = (id: string) => ({
      id, deviceId: "demo", name: "Alice", kind: "direct", unreadCount: 1, lastMessage: null,
      updatedAt: "2026-01-01T10:00:01Z", archived: false, muted: false, pinned: false, markedUnread: false,
    });
    let view = applyDeviceEvent(initialDeviceView, "chat:update", row(chatId));
    view = applyDeviceEvent(view, "chat:update", row(lid));
    view = withStoredMessage(view, sent);
    view = applyDeviceEvent(view, "chat:merged", { into: chatId, from: lid, seq: 9, at: "" });
    expect(Object.keys(view.chats)).toEqual([chatId]);
    expect(conversationOf(view, chatId).loaded).toBe(false);
    expect(view.mergedInto).toEqual({ [lid]: chatId });
  });

  it("shows a written message once, whichever of event and answer comes first", () => {
    let view = applyDeviceEvent(written(), "message", { ...sent, seq: 4, at: "" });
    view = withStoredMessage(view, sent);
    expect(view.outbox).toEqual([]);
    expect(conversationOf(view, chatId).messages).toHaveLength(1);
  });

  it("moves ticks on message:ack, in the conversation and the chat list", () => {
    let view = applyDeviceEvent(initialDeviceView, "chat:update", {
      id: chatId, deviceId: "demo", name: "Alice", kind: "direct", unreadCount: 0, lastMessage: sent,
      updatedAt: "2026-01-01T10:00:01Z", archived: false, muted: false, pinned: false, markedUnread: false,
    });
    view = withStoredMessage(view, sent);
    view = applyDeviceEvent(view, "message:ack", { messageId: "msg_1", upstreamId: "u", chatId, ack: 2, ackName: "device" });
    expect(conversationOf(view, chatId).messages[0]?.ackName).toBe("device");
    expect(view.chats[chatId]?.lastMessage?.ackName).toBe("device");
  });

  it("holds our message from message:status until the server takes it", () => {
    const sendAt = "2026-01-01T10:01:00Z";
    let view = withStoredMessage(initialDeviceView, sent);
    view = applyDeviceEvent(view, "message:status", {
      messageId: "msg_1", chatId, status: "queued", attempt: 0, error: null, reason: "paced", sendAt, seq: 5, at: "",
    });
    expect(view.holds).toEqual({ msg_1: { reason: "paced", sendAt } });
    view = applyDeviceEvent(view, "message:ack", { messageId: "msg_1", upstreamId: "u", chatId, ack: 1, ackName: "server" });
    expect(view.holds).toEqual({});
  });

  it("forgets the QR code once the device leaves state qr", () => {
    let view = applyDeviceEvent(initialDeviceView, "state", { state: "qr", previous: "starting", reason: null });
    view = applyDeviceEvent(view, "qr", { qr: "q", image: "data:", expiresAt: "", attempt: 1, maxAttempts: 6, seq: 3 });
    expect(view.qr?.attempt).toBe(1);
    view = applyDeviceEvent(view, "state", { state: "authenticated", previous: "qr", reason: null });
    expect(view.qr).toBeNull();
  });

  it("shows the code given for a phone number until the device leaves state qr", () => {
    let view = applyDeviceEvent(initialDeviceView, "state", { state: "qr", previous: "starting", reason: null });
    const code = { code: "K7QM-WX42", phone: "15550000009", expiresAt: "2026-01-01T10:01:00.000Z" };
    view = applyDeviceEvent(view, "pairing:code", { ...code, deviceId: "demo", seq: 4, at: "" });
    expect(view.pairingCode).toEqual(code);
    view = applyDeviceEvent(view, "qr", { qr: "q2", image: "data:", expiresAt: "", attempt: 2, maxAttempts: 6, seq: 5 });
    expect(forReload(view).pairingCode).toEqual(code);
    view = applyDeviceEvent(view, "state", { state: "authenticated", previous: "qr", reason: null });
    expect(view.pairingCode).toBeNull();
  });

  it("keeps pending sends through a reload", () => {
    const view = forReload(applyDeviceEvent(written(), "typing:start", { chatId, contactId: "x" }));
    expect(view.outbox).toHaveLength(1);
    expect(view.typing).toEqual({});
  });

  it("shows reactions live from message:reaction, and takes them back", () => {
    let view = withStoredMessage(initialDeviceView, sent);
    view = applyDeviceEvent(view, "message:reaction", { chatId, messageId: "msg_1", from: chatId, emoji: "👍", seq: 5 });
    expect(view.reactions).toEqual({ msg_1: { [chatId]: "👍" } });
    view = applyDeviceEvent(view, "message:reaction", { chatId, messageId: "msg_1", from: chatId, emoji: "", seq: 6 });
    expect(view.reactions).toEqual({});
  });

  it("deletes a message for everyone: its text, reactions, the reply being written to it and its chat preview", () => {
    let view = applyDeviceEvent(initialDeviceView, "chat:update", {
      id: chatId, deviceId: "demo", name: "Alice", kind: "direct", unreadCount: 0, lastMessage: sent,
      updatedAt: "2026-01-01T10:00:01Z", archived: false, muted: false, pinned: false, markedUnread: false,
    });
    view = withStoredMessage(view, sent);
    view = applyDeviceEvent(view, "message:reaction", { chatId, messageId: "msg_1", from: chatId, emoji: "👍", seq: 5 });
    view = { ...view, replies: startReply(view.replies, chatId, "msg_1") };
    view = applyDeviceEvent(view, "message:revoked", { chatId, messageId: "msg_1", seq: 6 });
    expect(conversationOf(view, chatId).messages[0]).toMatchObject({ body: "", revoked: true, media: null });
    expect(view.chats[chatId]?.lastMessage).toMatchObject({ revoked: true, body: "" });
    expect(view.reactions).toEqual({});
    expect(view.replies).toEqual({});
  });

  it("deletes a quoted message fetched on its own too", () => {
    let view: DeviceView = { ...initialDeviceView, quotes: { msg_1: sent } };
    expect(findMessage(view, chatId, "msg_1")).toBe(sent);
    view = applyDeviceEvent(view, "message:revoked", { chatId, messageId: "msg_1", seq: 6 });
    expect(findMessage(view, chatId, "msg_1")).toMatchObject({ revoked: true, body: "" });
  });

  it("keeps replies being written, uploads and reactions through a reload", () => {
    let view = withStoredMessage(initialDeviceView, sent);
    view = applyDeviceEvent(view, "message:reaction", { chatId, messageId: "msg_1", from: chatId, emoji: "👍", seq: 5 });
    view = { ...view, replies: startReply(view.replies, chatId, "msg_1") };
    view = { ...view, uploads: [{ id: "u1", chatId, name: "a.png", size: 3, loaded: 1, status: "uploading", caption: "" }] };
    const reloaded = forReload(view);
    expect(conversationOf(reloaded, chatId).messages).toEqual([]);
    expect(reloaded.replies).toEqual(view.replies);
    expect(reloaded.uploads).toEqual(view.uploads);
    expect(reloaded.reactions).toEqual(view.reactions);
  });
  it("applies edits and votes to the conversation and the chat list's preview", () => {
    const poll = {
      question: "Lunch?", options: ["Pizza", "Sushi"], multiple: false,
      votes: [{ option: "Pizza", voters: [] }, { option: "Sushi", voters: [] }],
    };
    const asked: Message = { ...sent, id: "msg_2", type: "poll", body: "", poll, tempId: null };
    let view = applyDeviceEvent(initialDeviceView, "chat:update", {
      id: chatId, deviceId: "demo", name: "Alice", kind: "direct", unreadCount: 0, lastMessage: asked,
      updatedAt: "2026-01-01T10:00:01Z", archived: false, muted: false,
    });
    view = withStoredMessage(withStoredMessage(view, sent), asked);
    view = applyDeviceEvent(view, "poll:vote", { chatId, messageId: "msg_2", voter: "alice", options: ["Sushi"], seq: 5, at: "" });
    expect(findMessage(view, chatId, "msg_2")?.poll?.votes[1]?.voters).toEqual(["alice"]);
    expect(view.chats[chatId]?.lastMessage?.poll?.votes[1]?.voters).toEqual(["alice"]);
    const editedAt = "2026-01-01T10:02:00Z";
    view = applyDeviceEvent(view, "message:edited", { chatId, messageId: "msg_1", body: "hello", editedAt, seq: 6, at: "" });
    expect(findMessage(view, chatId, "msg_1")).toMatchObject({ body: "hello", editedAt });
    const unknown = applyDeviceEvent(view, "message:edited", { chatId, messageId: "msg_9", body: "x", editedAt, seq: 7, at: "" });
    expect(unknown.conversations).toEqual(view.conversations);
  });
});
