import { describe, expect, it } from "vitest";
import type { Message } from "../api/types";
import { withMessage, emptyConversation } from "./conversation";
import {
  type Outbox,
  canResend,
  dueForSending,
  enqueue,
  markFailed,
  markSending,
  pendingInChat,
  requeueInFlight,
  resend,
  resendOf,
  retry,
  sendRequest,
  settle,
} from "./outbox";

const chatId = "15550000002@c.us";

function written(tempId: string, text = "hi"): Outbox {
  return enqueue([], { tempId, chatId, text, createdAt: "2026-01-01T10:00:00Z" });
}

function stored(tempId: string | number | null, id = "msg_1"): Message {
  return {
    id,
    upstreamId: null,
    deviceId: "demo",
    chatId,
    from: "me",
    fromMe: true,
    type: "text",
    body: "hi",
    media: null,
    replyTo: null,
    timestamp: "2026-01-01T10:00:01Z",
    ack: 0,
    ackName: "pending",
    tempId,
    revoked: false, editedAt: null, forwarded: false, fromPhone: null,
  };
}

describe("optimistic sends", () => {
  it("queue a written message for sending", () => {
    const outbox = written("t-1");
    expect(dueForSending(outbox).map((p) => p.tempId)).toEqual(["t-1"]);
    expect(dueForSending(markSending(outbox, "t-1"))).toEqual([]);
  });

  it("replace the pending entry with the server's message exactly once", () => {
    let outbox = markSending(written("t-1"), "t-1");
    let conversation = emptyConversation;
    const settledEach: boolean[] = [];
    // The `message` event and then the send's answer both carry the message.
    for (const message of [stored("t-1"), stored("t-1")]) {
      const result = settle(outbox, message);
      settledEach.push(result.settled);
      outbox = result.outbox;
      conversation = withMessage(conversation, message);
    }
    expect(settledEach).toEqual([true, false]);
    expect(outbox).toEqual([]);
    expect(conversation.messages.map((m) => m.id)).toEqual(["msg_1"]);
  });

  it("match tempIds by value and type", () => {
    const outbox = written("5");
    expect(settle(outbox, stored(5)).settled).toBe(false);
    expect(settle(outbox, stored(null)).settled).toBe(false);
    expect(settle(outbox, stored("5")).settled).toBe(true);
  });

  it("survive a reconnect: in-flight sends are queued again with the same tempId", () => {
    let outbox = enqueue(markSending(written("t-1"), "t-1"), {
      tempId: "t-2",
      chatId,
      text: "second",
      createdAt: "2026-01-01T10:00:02Z",
    });
    outbox = markSending(outbox, "t-2");
    outbox = requeueInFlight(outbox);
    expect(dueForSending(outbox).map((p) => p.tempId)).toEqual(["t-1", "t-2"]);
    // The resume's replay shows t-1 was stored before the drop: only t-2 is sent again.
    outbox = settle(outbox, stored("t-1")).outbox;
    expect(dueForSending(outbox).map((p) => p.tempId)).toEqual(["t-2"]);
  });

  it("keep a refused send visible until it is retried", () => {
    let outbox = markFailed(markSending(written("t-1"), "t-1"), "t-1", "device_not_ready");
    expect(pendingInChat(outbox, chatId)[0]).toMatchObject({ status: "failed", error: "device_not_ready" });
    expect(dueForSending(outbox)).toEqual([]);
    outbox = retry(outbox, "t-1");
    expect(dueForSending(outbox)[0]).toMatchObject({ tempId: "t-1", status: "queued" });
    expect(dueForSending(outbox)[0]?.error).toBeUndefined();
  });
});

describe("sending again", () => {
  const photo = { url: "http://localhost:3000/api/v1/devices/demo/media/up_1", mime: "image/png", name: "a.png", size: 9 };

  it("sends a refused message again as a new send: same text, file and quote, a new tempId", () => {
    let outbox = enqueue([], { tempId: "t-1", chatId, text: "hi", media: photo, replyTo: "msg_0", createdAt: "T1" });
    outbox = enqueue(outbox, { tempId: "t-2", chatId, text: "next", createdAt: "T2" });
    outbox = markFailed(markSending(outbox, "t-1"), "t-1", "device_not_ready");
    outbox = resend(outbox, "t-1", "t-3", "T3");
    expect(outbox.map((p) => p.tempId)).toEqual(["t-2", "t-3"]);
    expect(outbox[1]).toEqual({ tempId: "t-3", chatId, text: "hi", media: photo, replyTo: "msg_0", createdAt: "T3", status: "queued" });
    expect(sendRequest(outbox[1]!)).toEqual({ chatId, text: "hi", tempId: "t-3", media: photo, replyTo: "msg_0" });
  });

  it("does not resend a send that has not failed", () => {
    const outbox = written("t-1");
    expect(resend(outbox, "t-1", "t-2", "T2")).toBe(outbox);
    expect(resend(outbox, "t-9", "t-2", "T2")).toBe(outbox);
  });

  it("offers to send again a message of ours whose ack is error, not one delivered or deleted", () => {
    const failed = { ...stored("t-1"), ack: -1, ackName: "error" as const };
    expect(canResend(failed)).toBe(true);
    expect(canResend({ ...failed, revoked: true })).toBe(false);
    expect(canResend({ ...failed, fromMe: false })).toBe(false);
    expect(canResend(stored("t-1"))).toBe(false);
  });

  it("makes a failed message a new send with a new tempId, remembering which it sends again", () => {
    const failed = { ...stored("t-1"), ack: -1, ackName: "error" as const, media: photo, replyTo: "msg_0" };
    const again = resendOf(failed, "t-2", "T2");
    expect(again).toEqual({ tempId: "t-2", chatId, text: "hi", media: photo, replyTo: "msg_0", resends: "msg_1", createdAt: "T2" });
    const outbox = enqueue([], again);
    expect(sendRequest(dueForSending(outbox)[0]!)).toEqual({ chatId, text: "hi", tempId: "t-2", media: photo, replyTo: "msg_0" });
    // The server's copy of the new send settles it like any other.
    expect(settle(outbox, stored("t-2", "msg_2")).settled).toBe(true);
  });

  it("sends a plain text without media or replyTo fields", () => {
    expect(sendRequest(written("t-1")[0]!)).toEqual({ chatId, text: "hi", tempId: "t-1" });
  });
  it("sends a place or a poll as the only content, with no text beside it", () => {
    const location = { latitude: 52.37, longitude: 4.89, name: "Dam" };
    const poll = { question: "Lunch?", options: ["Pizza", "Sushi"], multiple: true };
    const outbox = enqueue(enqueue([], { tempId: "t-1", chatId: "c", text: "", location, createdAt: "T" }), {
      tempId: "t-2", chatId: "c", text: "", poll, createdAt: "T",
    });
    expect(sendRequest(outbox[0]!)).toEqual({ chatId: "c", tempId: "t-1", location });
    expect(sendRequest(outbox[1]!)).toEqual({ chatId: "c", tempId: "t-2", poll });
  });
});
