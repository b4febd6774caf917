import { describe, expect, it } from "vitest";
import { momentTime } from "../lib/clock";
import { holdNote, withAckSettled, withStatus } from "./holds";

const now = new Date("2026-03-02T10:00:00");
const later = new Date("2026-03-02T10:05:00").toISOString();
const tomorrow = new Date("2026-03-03T09:00:00").toISOString();

describe("held messages", () => {
  it("holds a message queued for a reason until the server takes it", () => {
    let holds = withStatus({}, { messageId: "m1", status: "queued", reason: "paced", sendAt: later });
    expect(holds).toEqual({ m1: { reason: "paced", sendAt: later } });
    expect(withAckSettled(holds, { messageId: "m1", ackName: "pending" })).toBe(holds);
    holds = withAckSettled(holds, { messageId: "m1", ackName: "server" });
    expect(holds).toEqual({});
  });

  it("holds nothing for a queue without a reason, a retry or a failure", () => {
    const held = withStatus({}, { messageId: "m1", status: "queued", reason: "restricted" });
    expect(held).toEqual({ m1: { reason: "restricted", sendAt: null } });
    expect(withStatus(held, { messageId: "m1", status: "retrying" })).toEqual({});
    expect(withStatus({}, { messageId: "m2", status: "queued" })).toEqual({});
    expect(withAckSettled(held, { messageId: "m1", ackName: "error" })).toEqual({});
  });

  it("says when a paced message is scheduled", () => {
    expect(holdNote({ reason: "paced", sendAt: later }, now)).toBe(`Scheduled for ${momentTime(later, now)}`);
    expect(momentTime(later, now)).not.toContain(",");
    expect(holdNote({ reason: "paced", sendAt: null }, now)).toBe("Waiting for the send pace");
  });

  it("says until when WhatsApp's restriction holds a message, with the day when not today", () => {
    expect(holdNote({ reason: "restricted", sendAt: tomorrow }, now)).toBe(
      `Held: WhatsApp restricts new contacts until ${momentTime(tomorrow, now)}`,
    );
    expect(momentTime(tomorrow, now)).toContain(",");
    expect(holdNote({ reason: "restricted", sendAt: null }, now)).toBe("Held: WhatsApp restricts new contacts");
  });
});
