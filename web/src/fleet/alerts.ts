import type { HealthEvent, HealthStatus, LimitWarningEvent } from "../api/types";

type LimitKind = LimitWarningEvent["kind"];

/** What the events of one device's namespace said of its health and limits. */
export interface DeviceAlerts {
  /** The last `device:health` heard. */
  health?: HealthEvent;
  /** The last `limit:warning` of each kind still in force. */
  limits: Readonly<Partial<Record<LimitKind, LimitWarningEvent>>>;
}

/**
 * What the devices' namespaces this dashboard opened told of their health and limits, by
 * device: the fleet shows it beside what device lists say (which carry no restrictions).
 */
export type FleetAlerts = Readonly<Record<string, DeviceAlerts>>;

/** `device:health` and `limit:warning` of a device; its other events change nothing. */
export function withDeviceEvent(alerts: FleetAlerts, deviceId: string, event: string, payload: unknown): FleetAlerts {
  const known = alerts[deviceId] ?? { limits: {} };
  if (event === "device:health") return { ...alerts, [deviceId]: { ...known, health: payload as HealthEvent } };
  if (event !== "limit:warning") return alerts;
  // A warning in force replaces the device's earlier one of its kind; one lifted clears it.
  const warning = payload as LimitWarningEvent;
  const { [warning.kind]: _earlier, ...others } = known.limits;
  return { ...alerts, [deviceId]: { ...known, limits: warning.active ? { ...others, [warning.kind]: warning } : others } };
}

/** The device's health: as its last `device:health` said, else as the daemon last said (`known`). */
export function healthOf(alerts: FleetAlerts, deviceId: string, known: HealthStatus): HealthStatus {
  return alerts[deviceId]?.health?.status ?? known;
}

const LIMIT_LABELS: Record<LimitKind, string> = {
  reachout_timelock: "WhatsApp blocks new contacts",
  message_capping: "WhatsApp's new-contact quota reached",
  new_chats_per_day: "Today's new chats used up",
};

/** What holds a device's messages to new contacts now, one phrase each; a daily cap ends with its day. */
export function limitsInForce(alerts: FleetAlerts, deviceId: string, now = new Date()): string[] {
  return Object.values(alerts[deviceId]?.limits ?? {})
    .filter((w) => w.resetsAt === null || new Date(w.resetsAt) > now)
    .map((w) => LIMIT_LABELS[w.kind]);
}
