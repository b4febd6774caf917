import { describe, expect, it } from "vitest";
import type { Message } from "../api/types";
import { dayLabel, timeline } from "./timeline";

const now = new Date(2026, 10, 23, 12, 0);

function at(date: Date, id: string): Message {
  return {
    id, upstreamId: null, deviceId: "d", chatId: "c", from: "x", fromMe: false, type: "text", body: id,
    media: null, replyTo: null, timestamp: date.toISOString(), ack: 0, ackName: "pending", tempId: null, revoked: false, editedAt: null, forwarded: false, fromPhone: null,
  };
}

describe("timeline", () => {
  it("labels days as people read them", () => {
    expect(dayLabel(new Date(2026, 10, 23, 1), now)).toBe("Today");
    expect(dayLabel(new Date(2026, 10, 22, 23), now)).toBe("Yesterday");
    expect(dayLabel(new Date(2026, 10, 20), now, "en-US")).toBe("November 20");
    expect(dayLabel(new Date(2025, 0, 2), now, "en-US")).toBe("January 2, 2025");
  });

  it("puts a separator where the day changes, and pending sends last", () => {
    const items = timeline(
      [at(new Date(2026, 10, 22, 9), "msg_1"), at(new Date(2026, 10, 23, 9), "msg_2"), at(new Date(2026, 10, 23, 10), "msg_3")],
      [{ tempId: "t-1", chatId: "c", text: "hi", createdAt: now.toISOString(), status: "queued" }],
      now,
    );
    expect(items.map((i) => (i.kind === "day" ? i.label : i.key))).toEqual([
      "Yesterday", "msg_1", "Today", "msg_2", "msg_3", "t-1",
    ]);
  });
});
