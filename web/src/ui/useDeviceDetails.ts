import { useEffect, useState } from "preact/hooks";
import { getDevice } from "../api/devices";
import { describeError } from "../api/rest";
import type { Device } from "../api/types";
import type { Dashboard } from "../app/dashboard";
import { changesGovernor } from "../device/governor";
import { throttle } from "../lib/throttle";

/** However many events ask, the device is read at most this often. */
const READ_AT_MOST_EVERY_MS = 2_000;

/** The device as `GET /devices/{id}` shows it, and why it could not be read last. */
export interface DeviceDetails {
  device: Device | null;
  problem: string | null;
  /** A fresher copy (a PATCH's answer). */
  replace: (device: Device) => void;
}

/**
 * The device as `GET /devices/{id}` shows it (its health as the daemon knows it, its governor
 * and WhatsApp's restrictions, which lists and `device:update` leave out), read while `active`
 * (the view that shows them is open) and again, throttled, when an event of its namespace may
 * have changed them.
 */
export function useDeviceDetails(dashboard: Dashboard, deviceId: string, active: boolean): DeviceDetails {
  const [device, setDevice] = useState<Device | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    if (!active) return;
    let live = true;
    const read = throttle(() => {
      getDevice(dashboard.session, deviceId).then(
        (read) => {
          if (!live) return;
          setDevice(read);
          setProblem(null);
        },
        (error: unknown) => live && setProblem(describeError(error)),
      );
    }, READ_AT_MOST_EVERY_MS);
    read.call();
    const stop = dashboard.device(deviceId).onEvent((event, payload) => {
      if (changesGovernor(event, payload)) read.call();
    });
    return () => {
      live = false;
      stop();
      read.cancel();
    };
  }, [dashboard, deviceId, active]);
  return { device, problem, replace: setDevice };
}
