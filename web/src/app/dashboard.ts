import type { AuthSession } from "../auth/session";
import { DeviceSession } from "../device/deviceSession";
import { FleetFeed } from "../fleet/fleetFeed";
import { SocketHub } from "../realtime/hub";

/**
 * A signed-in dashboard: the session, its sockets, the fleet, and a session
 * for each device opened (kept while signed in, so a conversation's pending
 * sends and scroll history survive moving between views).
 */
export class Dashboard {
  readonly hub: SocketHub;
  readonly fleet: FleetFeed;
  #devices = new Map<string, DeviceSession>();
  #closers: (() => void)[] = [];

  constructor(readonly session: AuthSession) {
    this.hub = new SocketHub(session);
    this.fleet = new FleetFeed(this.hub);
    // A device deleted elsewhere takes its namespace with it: close its session too.
    this.fleet.fleet.subscribe((fleet) => {
      for (const deviceId of this.#devices.keys()) if (!fleet[deviceId]) this.forget(deviceId);
    });
  }

  device(deviceId: string): DeviceSession {
    let device = this.#devices.get(deviceId);
    if (!device) {
      device = new DeviceSession(this.hub, deviceId);
      this.#devices.set(deviceId, device);
    }
    return device;
  }

  /** A device was deleted: its namespace is gone. */
  forget(deviceId: string): void {
    const device = this.#devices.get(deviceId);
    this.#devices.delete(deviceId);
    device?.close();
    this.fleet.removed(deviceId);
  }

  /** Work to end with the dashboard (a view's feed kept while signed in). */
  whenClosed(close: () => void): void {
    this.#closers.push(close);
  }

  close(): void {
    this.#closers.splice(0).forEach((close) => close());
    this.#devices.forEach((device) => device.close());
    this.#devices.clear();
    this.hub.close();
  }
}
