import type { DeviceStateName } from "../api/types";

export { activityTime, clockTime } from "../lib/clock";

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
