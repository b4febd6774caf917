import { describe, expect, it } from "vitest";
import type { HealthEvent, LimitWarningEvent } from "../api/types";
import { type FleetAlerts, healthOf, limitsInForce, withDeviceEvent } from "./alerts";

const now = new Date("2026-03-02T10:00:00Z");

const warning = (fields: Partial<LimitWarningEvent>): LimitWarningEvent => ({
  deviceId: "phone", seq: 1, at: "2026-03-02T09:00:00Z", kind: "reachout_timelock", active: true,
  used: null, limit: null, resetsAt: null, ...fields,
});
const warned = (alerts: FleetAlerts, fields: Partial<LimitWarningEvent>) =>
  withDeviceEvent(alerts, "phone", "limit:warning", warning(fields));

describe("limits in force across the fleet", () => {
  it("shows a restriction until the warning that lifts it", () => {
    let alerts = warned({}, {});
    expect(limitsInForce(alerts, "phone", now)).toEqual(["WhatsApp blocks new contacts"]);
    expect(limitsInForce(alerts, "other", now)).toEqual([]);
    alerts = warned(alerts, { active: false });
    expect(limitsInForce(alerts, "phone", now)).toEqual([]);
  });

  it("shows a daily cap reached until it resets, and not a warning at 80 %", () => {
    const cap = { kind: "new_chats_per_day" as const, used: 50, limit: 50, resetsAt: "2026-03-03T00:00:00Z" };
    const alerts = warned(warned({}, { ...cap, active: false, used: 40 }), cap);
    expect(limitsInForce(alerts, "phone", now)).toEqual(["Today's new chats used up"]);
    expect(limitsInForce(alerts, "phone", new Date("2026-03-03T00:00:01Z"))).toEqual([]);
    expect(limitsInForce(warned({}, { ...cap, active: false }), "phone", now)).toEqual([]);
  });

  it("keeps each kind apart", () => {
    const alerts = warned(warned({}, {}), { kind: "message_capping", used: 100, limit: 100 });
    expect(limitsInForce(alerts, "phone", now)).toEqual(["WhatsApp blocks new contacts", "WhatsApp's new-contact quota reached"]);
  });
});

describe("health across the fleet", () => {
  const health = (status: HealthEvent["status"]): HealthEvent => ({
    deviceId: "phone", seq: 2, at: "2026-03-02T09:30:00Z", status, reason: null, lastUpstreamEventAt: null, waitingAcks: null,
  });

  it("follows the device's last device:health, else what the daemon said", () => {
    expect(healthOf({}, "phone", "flapping")).toBe("flapping");
    let alerts = withDeviceEvent({}, "phone", "device:health", health("stalled"));
    expect(healthOf(alerts, "phone", "healthy")).toBe("stalled");
    alerts = withDeviceEvent(alerts, "phone", "device:health", health("healthy"));
    expect(healthOf(alerts, "phone", "stalled")).toBe("healthy");
    expect(withDeviceEvent(alerts, "phone", "message", {})).toBe(alerts);
  });

  it("keeps the warnings when the health changes", () => {
    const alerts = withDeviceEvent(warned({}, {}), "phone", "device:health", health("stalled"));
    expect(limitsInForce(alerts, "phone", now)).toHaveLength(1);
  });
});
