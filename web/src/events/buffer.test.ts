import { describe, expect, it } from "vitest";
import { type EventBuffer, admit, emptyBuffer, pause, resume, shownEvents } from "./buffer";
import { event } from "./testEvents";

const seqs = (buffer: EventBuffer) => shownEvents(buffer).map((e) => e.seq);
const bounds = { maxEvents: 3, maxBytes: 1_000_000 };

describe("the event buffer", () => {
  it("keeps events newest first, whatever order they come in, each once", () => {
    let buffer = admit(emptyBuffer, [event(2), event(1)], bounds);
    buffer = admit(buffer, [event(3), event(2), event(3)], bounds);
    expect(seqs(buffer)).toEqual([3, 2, 1]);
    expect(admit(buffer, [event(1)], bounds)).toBe(buffer);
  });

  it("orders devices' events by time", () => {
    const buffer = admit(emptyBuffer, [event(1, "state", "a"), event(3, "state", "b"), event(2, "state", "a")]);
    expect(shownEvents(buffer).map((e) => `${e.deviceId}${e.seq}`)).toEqual(["b3", "a2", "a1"]);
  });

  it("tells a journal started over from the one before (same seq, another time)", () => {
    const before = event(1);
    const after = { ...event(1), at: "2026-01-02T00:00:00.000Z", atMs: Date.parse("2026-01-02T00:00:00.000Z"), key: "demo\n1\nlater" };
    expect(shownEvents(admit(admit(emptyBuffer, [before]), [after]))).toHaveLength(2);
  });

  it("keeps only the latest events within the bounds, counting those let go", () => {
    const buffer = admit(emptyBuffer, [1, 2, 3, 4, 5].map((s) => event(s)), bounds);
    expect(seqs(buffer)).toEqual([5, 4, 3]);
    expect(buffer.dropped).toBe(2);
    // An old event arriving late goes at once.
    const late = admit(buffer, [event(0)], bounds);
    expect(seqs(late)).toEqual([5, 4, 3]);
    expect(late.dropped).toBe(3);
  });

  it("bounds the payload text too, keeping at least the newest event", () => {
    const size = event(1).text.length;
    const buffer = admit(emptyBuffer, [1, 2, 3].map((s) => event(s)), { maxEvents: 10, maxBytes: size * 2 });
    expect(seqs(buffer)).toEqual([3, 2]);
    expect(buffer.bytes).toBe(size * 2);
    expect(seqs(admit(emptyBuffer, [event(1)], { maxEvents: 10, maxBytes: 1 }))).toEqual([1]);
  });

  it("holds what arrives while paused and shows it on resume, none lost, none twice", () => {
    let buffer = admit(emptyBuffer, [event(1), event(2)]);
    buffer = pause(buffer);
    buffer = admit(buffer, [event(3), event(2)]);
    buffer = admit(buffer, [event(4)]);
    expect(seqs(buffer)).toEqual([2, 1]);
    expect(buffer.held.size).toBe(2);
    buffer = resume(buffer);
    expect(seqs(buffer)).toEqual([4, 3, 2, 1]);
    expect(buffer.held.size).toBe(0);
  });

  it("while paused, lets the oldest shown events go first when the bounds are reached", () => {
    let buffer = pause(admit(emptyBuffer, [event(1), event(2)], bounds));
    buffer = admit(buffer, [event(3), event(4)], bounds);
    expect(seqs(buffer)).toEqual([2]);
    expect(seqs(resume(buffer))).toEqual([4, 3, 2]);
  });
});
