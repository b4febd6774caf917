import type { DeviceStateName } from "../api/types";

const time = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const day = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });

/** A message's time of day, as bubbles show it. */
export function clockTime(iso: string): string {
  return time.format(new Date(iso));
}

/** When something last happened: the time if today, else the day. */
export function activityTime(iso: string, now = new Date()): string {
  const date = new Date(iso);
  return date.toDateString() === now.toDateString() ? time.format(date) : day.format(date);
}

export const STATE_LABELS: Record<DeviceStateName, string> = {
  stopped: "Stopped",
  starting: "Starting…",
  qr: "Waiting for a scan",
  authenticated: "Linked, syncing…",
  ready: "Ready",
  disconnected: "Connection lost, reconnecting…",
  logged_out: "Logged out",
  failed: "Failed",
};

export const CONNECTOR_LABELS = { simulator: "Simulator", waha: "WAHA", cloud_api: "Cloud API" } as const;

/** The states a device can be started from, and the ones it can be stopped or logged out in. */
export const STARTABLE: readonly DeviceStateName[] = ["stopped", "logged_out", "failed"];
export const RUNNING: readonly DeviceStateName[] = ["starting", "qr", "authenticated", "ready", "disconnected"];

const precise = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  fractionalSecondDigits: 3,
  hour12: false,
});

/** An event's time to the millisecond, as a monitor shows it. */
export function preciseTime(iso: string): string {
  return precise.format(new Date(iso));
}

/** A count as people read it: 5,000. */
export function count(n: number): string {
  return n.toLocaleString();
}
