import type { Message } from "../api/types";

/** A stored message for tests: text from a contact unless `fields` say otherwise. */
export function aMessage(id: string, fields: Partial<Message> = {}): Message {
  return {
    id,
    upstreamId: null,
    deviceId: "demo",
    chatId: "15550000002@c.us",
    from: "15550000002@c.us",
    fromMe: false,
    type: "text",
    body: id,
    media: null,
    replyTo: null,
    timestamp: "2026-01-01T10:00:00Z",
    ack: 0,
    ackName: "pending",
    tempId: null,
    revoked: false, editedAt: null, forwarded: false, fromPhone: null,
    ...fields,
  };
}
