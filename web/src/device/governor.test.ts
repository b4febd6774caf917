import { describe, expect, it } from "vitest";
import type { GovernorView, HealthEvent } from "../api/types";
import { momentTime } from "../lib/clock";
import { changesGovernor, governorLines, healthNote, restrictionLines } from "./governor";

const now = new Date("2026-03-02T10:00:00");
const at = (time: string) => new Date(`2026-03-02T${time}`).toISOString();

const governor: GovernorView = {
  limits: {
    enabled: true, perMinute: 20, burst: 5, jitter: 0.3, newChatsPerDay: 50, warmupDays: 7,
    numberChecksPerMinute: 10, typing: false,
  },
  warmup: 1,
  sentLastMinute: 3,
  perMinuteNow: 20,
  newChatsToday: 4,
  newChatsLimitToday: 50,
  nextSendAt: null,
  throttledUntil: null,
};

const read = (lines: { label: string; value: string; warn: boolean }[]) => lines.map((l) => `${l.label}: ${l.value}${l.warn ? " !" : ""}`);

describe("the governor on a device's page", () => {
  it("reads messages this minute against the pace, and new chats today against the cap", () => {
    expect(read(governorLines(governor, now))).toEqual(["This minute: 3 of 20 messages", "New chats today: 4 of 50"]);
  });

  it("adds the warm-up's share while below all of the limits, and flags what is used up", () => {
    const warming = { ...governor, warmup: 0.25, perMinuteNow: 5, sentLastMinute: 5, newChatsToday: 12, newChatsLimitToday: 12 };
    expect(read(governorLines(warming, now))).toEqual([
      "This minute: 5 of 5 messages (20 once warmed up) !",
      "New chats today: 12 of 12 (50 once warmed up) !",
      "Warm-up: 25% of the limits (newly linked)",
    ]);
  });

  it("tells the next paced send and the upstream's hold while they are ahead", () => {
    const holding = { ...governor, nextSendAt: at("10:00:45"), throttledUntil: at("10:30:00") };
    expect(read(governorLines(holding, now)).slice(2)).toEqual([
      `Next paced send: ${momentTime(at("10:00:45"), now)} (in 45 s)`,
      `Upstream asked to wait: until ${momentTime(at("10:30:00"), now)} (in 30 min) !`,
    ]);
    const passed = { ...governor, nextSendAt: at("09:59:00"), throttledUntil: at("09:00:00") };
    expect(governorLines(passed, now)).toHaveLength(2);
  });

  it("says nothing of the pace when the governor is off, but still of the upstream's hold", () => {
    const off = { ...governor, limits: { ...governor.limits, enabled: false }, throttledUntil: at("12:00:00") };
    expect(governorLines(off, now).map((l) => l.id)).toEqual(["throttled"]);
    expect(governorLines({ ...off, throttledUntil: null }, now)).toEqual([]);
  });
});

describe("WhatsApp's restrictions on a device's page", () => {
  it("reads a timelock until it ends, or until lifted when WhatsApp did not say", () => {
    const lock = { isActive: true, enforcementType: "REACHOUT", timeEnforcementEnds: "2026-03-04T08:00:00Z" };
    expect(read(restrictionLines({ reachoutTimelock: lock, messageCapping: null }, now))).toEqual([
      `New contacts blocked: until ${momentTime("2026-03-04T08:00:00Z", now)} !`,
    ]);
    const open = { ...lock, timeEnforcementEnds: null };
    expect(read(restrictionLines({ reachoutTimelock: open, messageCapping: null }, now))).toEqual([
      "New contacts blocked: until WhatsApp lifts it !",
    ]);
    expect(restrictionLines({ reachoutTimelock: { ...lock, isActive: false }, messageCapping: null }, now)).toEqual([]);
    expect(restrictionLines(undefined, now)).toEqual([]);
  });

  it("reads the quota used against the total until the cycle ends, flagged once capped", () => {
    const capping = {
      cappingStatus: "CAPPED", totalQuota: 100, usedQuota: 100, cycleStart: null, cycleEnd: "2026-03-09T00:00:00Z",
    };
    expect(read(restrictionLines({ reachoutTimelock: null, messageCapping: capping }, now))).toEqual([
      `New-contact quota reached: 100 of 100 used, until ${momentTime("2026-03-09T00:00:00Z", now)} !`,
    ]);
    const counting = { ...capping, cappingStatus: "NOT_CAPPED", usedQuota: 40, cycleEnd: null };
    expect(read(restrictionLines({ reachoutTimelock: null, messageCapping: counting }, now))).toEqual([
      "New-contact quota: 40 of 100 used",
    ]);
  });
});

describe("a device's health", () => {
  const stalled: HealthEvent = {
    deviceId: "phone", seq: 7, at: at("09:58:00"), status: "stalled", reason: "silent_with_waiting_acks",
    lastUpstreamEventAt: at("09:55:00"), waitingAcks: 3,
  };

  it("says nothing of a healthy device", () => {
    expect(healthNote("healthy", stalled, now)).toBeNull();
  });

  it("says why a device stalled and since when, as its event told", () => {
    expect(healthNote("stalled", stalled, now)).toBe(
      `Stalled since ${momentTime(stalled.at, now)}: its upstream went silent with 3 messages waiting for the server, ` +
        `last heard from at ${momentTime(at("09:55:00"), now)}. The session is being restarted and what was not sent goes again.`,
    );
    expect(healthNote("stalled", { ...stalled, reason: "probe_failed" }, now)).toContain(
      "its upstream failed the health check twice",
    );
  });

  it("says less when only the device's status is known", () => {
    expect(healthNote("stalled", null, now)).toBe(
      "Stalled: its upstream says it works and does nothing. The session is being restarted and what was not sent goes again.",
    );
    expect(healthNote("flapping", stalled, now)).toBe("The connection keeps dropping: each reconnect waits longer.");
  });
});

describe("reading the device again", () => {
  it("follows warnings, health, holds, and our messages stored or taken by the server", () => {
    expect(changesGovernor("limit:warning", {})).toBe(true);
    expect(changesGovernor("device:health", {})).toBe(true);
    expect(changesGovernor("message:status", {})).toBe(true);
    expect(changesGovernor("message", { fromMe: true })).toBe(true);
    expect(changesGovernor("message", { fromMe: false })).toBe(false);
    expect(changesGovernor("message:ack", { ackName: "server" })).toBe(true);
    expect(changesGovernor("message:ack", { ackName: "read" })).toBe(false);
    expect(changesGovernor("typing:start", {})).toBe(false);
  });
});
