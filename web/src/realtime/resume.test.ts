import { describe, expect, it } from "vitest";
import { ResumePoint } from "./resume";

const sync = (toSeq: number, recovered = true) => ({ deviceId: "d", at: "", fromSeq: 0, toSeq, recovered });

describe("ResumePoint", () => {
  it("starts with no lastSeq, so a fresh socket gets the device's snapshot", () => {
    expect(new ResumePoint().lastSeq).toBeUndefined();
  });

  it("follows the highest seq processed", () => {
    const point = new ResumePoint();
    expect(point.admit(5)).toBe(true);
    expect(point.admit(6)).toBe(true);
    expect(point.lastSeq).toBe(6);
  });

  it("ignores a seq it has already processed", () => {
    const point = new ResumePoint();
    point.admit(7);
    expect(point.admit(7)).toBe(false);
    expect(point.admit(3)).toBe(false);
    expect(point.lastSeq).toBe(7);
  });

  it("admits seq 0, the state of a device that never started", () => {
    const point = new ResumePoint();
    expect(point.admit(0)).toBe(true);
    expect(point.lastSeq).toBe(0);
    expect(point.admit(0)).toBe(false);
  });

  it("resumes after a replay without repeating it", () => {
    const point = new ResumePoint();
    [1, 2, 3].forEach((s) => point.admit(s));
    // Reconnected with lastSeq 3: the replay overlaps nothing, live goes on.
    expect(point.lastSeq).toBe(3);
    expect([4, 5].map((s) => point.admit(s))).toEqual([true, true]);
    expect(point.sync(sync(5))).toBe(true);
    expect(point.admit(5)).toBe(false);
    expect(point.admit(6)).toBe(true);
  });

  it("moves to the sync's toSeq, the newest event of a fresh snapshot", () => {
    const point = new ResumePoint();
    point.admit(12);
    point.sync(sync(20));
    expect(point.lastSeq).toBe(20);
  });

  it("keeps its seq when a handover's second socket syncs behind the first", () => {
    const point = new ResumePoint();
    [10, 11, 12].forEach((s) => point.admit(s));
    expect(point.sync(sync(11))).toBe(true);
    expect(point.admit(12)).toBe(false);
    expect(point.lastSeq).toBe(12);
  });

  it("asks for a reload when the journal did not reach back far enough", () => {
    const point = new ResumePoint();
    point.admit(100);
    expect(point.sync(sync(150, false))).toBe(false);
    expect(point.lastSeq).toBe(150);
  });

  it("starts over with a journal that was reset below our seq", () => {
    const point = new ResumePoint();
    point.admit(900);
    expect(point.sync(sync(4, false))).toBe(false);
    expect(point.admit(5)).toBe(true);
  });
});
