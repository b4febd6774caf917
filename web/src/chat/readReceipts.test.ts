import { describe, expect, it } from "vitest";
import { emptyConversation, withMessage } from "./conversation";
import { markedBy, readReceiptDue } from "./readReceipts";
import { aMessage } from "./testMessages";

const conversation = withMessage(
  withMessage(emptyConversation, aMessage("msg_1", { timestamp: "T1" })),
  aMessage("msg_2", { timestamp: "T2", fromMe: true }),
);
const onScreen = { open: true, visible: true, unread: 1, lastMarked: undefined };

describe("read receipts", () => {
  it("mark up to the newest incoming message while the chat is open and the page visible", () => {
    expect(readReceiptDue(conversation, onScreen)).toEqual({ messageId: "msg_1" });
  });

  it("wait while the page is hidden or the chat is not open", () => {
    expect(readReceiptDue(conversation, { ...onScreen, visible: false })).toBeNull();
    expect(readReceiptDue(conversation, { ...onScreen, open: false })).toBeNull();
  });

  it("mark what arrived while hidden once the page is visible again", () => {
    const hidden = { ...onScreen, visible: false, lastMarked: "msg_1", unread: 1 };
    const later = withMessage(conversation, aMessage("msg_3", { timestamp: "T3" }));
    expect(readReceiptDue(later, hidden)).toBeNull();
    expect(readReceiptDue(later, { ...hidden, visible: true })).toEqual({ messageId: "msg_3" });
  });

  it("send nothing again for a message already marked, unless the chat still counts unread", () => {
    const marked = { ...onScreen, lastMarked: markedBy({ messageId: "msg_1" }), unread: 0 };
    expect(readReceiptDue(conversation, marked)).toBeNull();
    expect(readReceiptDue(conversation, { ...marked, unread: 2 })).toEqual({ messageId: "msg_1" });
  });

  it("mark a chat with nothing incoming loaded as a whole, once", () => {
    expect(readReceiptDue(emptyConversation, { ...onScreen, unread: null })).toEqual({});
    const marked = { ...onScreen, unread: 0, lastMarked: markedBy({}) };
    expect(readReceiptDue(emptyConversation, marked)).toBeNull();
  });
});
