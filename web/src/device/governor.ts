import type { GovernorView, HealthEvent, HealthStatus, Message, Restrictions } from "../api/types";
import { momentTime } from "../lib/clock";

/** One line of what holds a device's sends back; `warn` when it holds them now. */
export interface LimitLine {
  id: string;
  label: string;
  value: string;
  warn: boolean;
}

/** When a moment ahead comes: its time, and how long until it (none once it passed). */
function ahead(iso: string, now: Date): string | null {
  const ms = new Date(iso).getTime() - now.getTime();
  if (ms <= 0) return null;
  const secs = Math.ceil(ms / 1000);
  const wait = secs < 60 ? `${secs} s` : secs < 3600 ? `${Math.round(secs / 60)} min` : `${Math.round(secs / 3600)} h`;
  return `${momentTime(iso, now)} (in ${wait})`;
}

/**
 * The governor as the device's page reads it: messages this minute against the pace now, new
 * chats today against today's cap, the warm-up's share while below all of the limits, the next
 * paced send, and a hold the upstream asked for. A governor that is off paces nothing; the
 * upstream's hold still applies.
 */
export function governorLines(governor: GovernorView, now = new Date()): LimitLine[] {
  const lines: LimitLine[] = [];
  const { limits } = governor;
  if (limits.enabled) {
    const { sentLastMinute: sent, perMinuteNow: pace, newChatsToday: chats, newChatsLimitToday: cap } = governor;
    // What the warm-up keeps back, as the limits set say it.
    const warmed = (now: number, set: number) => (now < set ? ` (${set} once warmed up)` : "");
    lines.push({
      id: "minute",
      label: "This minute",
      value: `${sent} of ${pace} messages${warmed(pace, limits.perMinute)}`,
      warn: sent >= pace,
    });
    lines.push({
      id: "new-chats",
      label: "New chats today",
      value: `${chats} of ${cap}${warmed(cap, limits.newChatsPerDay)}`,
      warn: chats >= cap,
    });
    if (governor.warmup < 1) {
      const share = Math.round(governor.warmup * 100);
      lines.push({ id: "warmup", label: "Warm-up", value: `${share}% of the limits (newly linked)`, warn: false });
    }
    const next = governor.nextSendAt && ahead(governor.nextSendAt, now);
    if (next) lines.push({ id: "next-send", label: "Next paced send", value: next, warn: false });
  }
  const hold = governor.throttledUntil && ahead(governor.throttledUntil, now);
  if (hold) lines.push({ id: "throttled", label: "Upstream asked to wait", value: `until ${hold}`, warn: true });
  return lines;
}

/** WhatsApp's restrictions on the account, when it reported any. */
export function restrictionLines(restrictions: Restrictions | undefined, now = new Date()): LimitLine[] {
  const lines: LimitLine[] = [];
  const lock = restrictions?.reachoutTimelock;
  if (lock?.isActive) {
    const ends = lock.timeEnforcementEnds ? `until ${momentTime(lock.timeEnforcementEnds, now)}` : "until WhatsApp lifts it";
    lines.push({ id: "timelock", label: "New contacts blocked", value: ends, warn: true });
  }
  const capping = restrictions?.messageCapping;
  if (capping) {
    const used = capping.totalQuota === null ? `${capping.usedQuota ?? "?"} used` : `${capping.usedQuota ?? 0} of ${capping.totalQuota} used`;
    const until = capping.cycleEnd ? `, until ${momentTime(capping.cycleEnd, now)}` : "";
    const capped = capping.cappingStatus === "CAPPED";
    lines.push({
      id: "capping",
      label: capped ? "New-contact quota reached" : "New-contact quota",
      value: `${used}${until}`,
      warn: capped,
    });
  }
  return lines;
}

export const HEALTH_LABELS: Record<HealthStatus, string> = {
  healthy: "Healthy",
  stalled: "Stalled",
  flapping: "Flapping",
};

/**
 * What an unhealthy device's page says of it: why, and since when when the `device:health`
 * event that told it is at hand. `null` for a healthy device.
 */
export function healthNote(status: HealthStatus, event: HealthEvent | null, now = new Date()): string | null {
  if (status === "healthy") return null;
  const told = event?.status === status ? event : null;
  const since = told ? ` since ${momentTime(told.at, now)}` : "";
  if (status === "flapping") {
    return `The connection keeps dropping${since}: each reconnect waits longer.`;
  }
  let why = "its upstream says it works and does nothing";
  if (told?.reason === "probe_failed") why = "its upstream failed the health check twice";
  if (told?.reason === "silent_with_waiting_acks") {
    const heard = told.lastUpstreamEventAt ? `, last heard from at ${momentTime(told.lastUpstreamEventAt, now)}` : "";
    const waiting = told.waitingAcks === null ? "messages" : `${told.waitingAcks} message${told.waitingAcks === 1 ? "" : "s"}`;
    why = `its upstream went silent with ${waiting} waiting for the server${heard}`;
  }
  return `Stalled${since}: ${why}. The session is being restarted and what was not sent goes again.`;
}

/**
 * Whether an event of the device's namespace may change what its page shows of the governor
 * and health, so that the device is read again: a warning, a health change, a message held, or
 * one of ours stored or taken by the server.
 */
export function changesGovernor(event: string, payload: unknown): boolean {
  switch (event) {
    case "limit:warning":
    case "device:health":
    case "message:status":
      return true;
    case "message":
      return (payload as Message).fromMe;
    case "message:ack":
      return (payload as Pick<Message, "ackName">).ackName === "server";
    default:
      return false;
  }
}
