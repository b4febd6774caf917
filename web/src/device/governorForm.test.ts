import { describe, expect, it } from "vitest";
import type { GovernorLimits } from "../api/types";
import { governorChanges, governorFormOf, governorFormProblems } from "./governorForm";

const limits: GovernorLimits = {
  enabled: false, perMinute: 20, burst: 5, jitter: 0.3, newChatsPerDay: 50, warmupDays: 7,
  numberChecksPerMinute: 10, typing: false,
};

describe("the governor form", () => {
  it("starts from the limits in force and sends only what changed, in the API's words", () => {
    const form = { ...governorFormOf(limits), enabled: true, perMinute: " 2 ", burst: "1" };
    expect(governorFormProblems(form, limits)).toEqual([]);
    expect(governorChanges(form, limits)).toEqual({ enabled: true, per_minute: 2, burst: 1 });
    expect(governorChanges({ ...governorFormOf(limits), typing: true, newChatsPerDay: "0" }, limits)).toEqual({
      typing: true,
      new_chats_per_day: 0,
    });
  });

  it("asks for whole numbers, and leaves their bounds to the daemon", () => {
    const form = { ...governorFormOf(limits), perMinute: "2.5", newChatsPerDay: "" };
    expect(governorFormProblems(form, limits)).toEqual([
      "Messages a minute is a whole number.",
      "New chats a day is a whole number.",
    ]);
    expect(governorFormProblems({ ...governorFormOf(limits), burst: "0" }, limits)).toEqual([]);
  });

  it("sends nothing when nothing changed", () => {
    expect(governorFormProblems(governorFormOf(limits), limits)).toEqual(["Nothing changed."]);
  });
});
