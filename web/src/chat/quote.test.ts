import { describe, expect, it } from "vitest";
import {
  cancelReply,
  messagePreview,
  missingQuotes,
  quoteOf,
  replyingTo,
  startReply,
  withoutRevokedQuote,
} from "./quote";
import { aMessage } from "./testMessages";

const chat = "15550000002@c.us";
const alice = () => "Alice";
const photo = { url: "http://localhost:3000/api/v1/devices/demo/media/up_1", mime: "image/png", name: "a.png", size: 10 };
const pdf = { ...photo, mime: "application/pdf", name: "minutes.pdf" };

describe("replies", () => {
  it("keep one reply per chat: a new one replaces it, sending or cancelling drops it", () => {
    let drafts = startReply({}, chat, "msg_1");
    drafts = startReply(drafts, "other@c.us", "msg_9");
    expect(replyingTo(drafts, chat)).toBe("msg_1");
    drafts = startReply(drafts, chat, "msg_2");
    expect(replyingTo(drafts, chat)).toBe("msg_2");
    drafts = cancelReply(drafts, chat);
    expect(replyingTo(drafts, chat)).toBeNull();
    expect(replyingTo(drafts, "other@c.us")).toBe("msg_9");
    expect(cancelReply(drafts, chat)).toBe(drafts);
  });

  it("drop a reply whose quoted message is deleted for everyone, and only that one", () => {
    const drafts = startReply({}, chat, "msg_1");
    expect(withoutRevokedQuote(drafts, chat, "msg_2")).toBe(drafts);
    expect(replyingTo(withoutRevokedQuote(drafts, chat, "msg_1"), chat)).toBeNull();
  });

  it("quote who wrote the message and what it said", () => {
    expect(quoteOf("msg_1", aMessage("msg_1", { body: "see you" }), alice)).toEqual({
      id: "msg_1", author: "Alice", fromMe: false, preview: "see you", missing: false,
    });
    expect(quoteOf("msg_2", aMessage("msg_2", { fromMe: true }), alice)).toMatchObject({ author: "You", fromMe: true });
    expect(quoteOf("msg_3", undefined, alice)).toMatchObject({ missing: true, preview: "Quoted message" });
  });

  it("summarise files and deleted messages in a quote", () => {
    expect(messagePreview(aMessage("m", { body: "", media: photo, type: "image" }))).toBe("📷 Photo");
    expect(messagePreview(aMessage("m", { body: "the minutes", media: pdf }))).toBe("the minutes");
    expect(messagePreview(aMessage("m", { body: "", media: pdf, type: "document" }))).toBe("📄 minutes.pdf");
    expect(messagePreview(aMessage("m", { body: "", revoked: true }))).toBe("This message was deleted");
  });

  it("fetch each quoted message that is not loaded once", () => {
    const messages = [
      aMessage("msg_5", { replyTo: "msg_1" }),
      aMessage("msg_6", { replyTo: "msg_1" }),
      aMessage("msg_7", { replyTo: "msg_5" }),
      aMessage("msg_8", { replyTo: "msg_2", revoked: true }),
    ];
    const loaded = new Set(messages.map((m) => m.id));
    expect(missingQuotes(messages, (id) => loaded.has(id))).toEqual(["msg_1"]);
  });
});
