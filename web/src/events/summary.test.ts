import { describe, expect, it } from "vitest";
import { summarize } from "./summary";

describe("event summaries", () => {
  it("say what each event is about in a line", () => {
    expect(summarize("state", { state: "ready", previous: "authenticated", reason: null })).toBe("authenticated → ready");
    expect(summarize("message", { id: "msg_1", fromMe: true, chatId: "a@c.us", body: "hi", type: "text" })).toBe(
      "out to a@c.us: “hi” · msg_1",
    );
    expect(summarize("message:ack", { messageId: "msg_1", ackName: "read" })).toBe("msg_1 → read");
    expect(summarize("connection:status", { upstream: "connected", latencyMs: 12 })).toBe("connected, 12 ms");
  });

  it("cut long texts and leave unknown events blank", () => {
    const line = summarize("message", { id: "m", fromMe: false, chatId: "a", body: "x".repeat(200) });
    expect(line.length).toBeLessThan(120);
    expect(summarize("something:new", { a: 1 })).toBe("");
    expect(summarize("state", null)).toBe("— → ");
  });
});
