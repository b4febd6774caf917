import type { AuthSession } from "../auth/session";
import { DeviceSession } from "../device/deviceSession";
import { type FleetAlerts, withDeviceEvent } from "../fleet/alerts";
import { FleetFeed } from "../fleet/fleetFeed";
import { type Store, createStore } from "../lib/store";
import { Notifier } from "../notify/notifier";
import { SocketHub } from "../realtime/hub";
import { chatPath } from "../router";

export interface DashboardOptions {
  /** Shows a view of the app (a notification clicked opens its chat). */
  show?: (path: string) => void;
}

/**
 * A signed-in dashboard: the session, its sockets, the fleet, and a session
 * for each device opened (kept while signed in, so a conversation's pending
 * sends and scroll history survive moving between views).
 */
export class Dashboard {
  readonly hub: SocketHub;
  readonly fleet: FleetFeed;
  /** What the devices opened here said of their health and limits, for the fleet to show. */
  readonly alerts: Store<FleetAlerts> = createStore<FleetAlerts>({});
  /** Desktop notifications and their sound, in a browser; none elsewhere. */
  readonly notifier: Notifier | null;
  #devices = new Map<string, DeviceSession>();
  #closers: (() => void)[] = [];

  constructor(
    readonly session: AuthSession,
    { show = () => {} }: DashboardOptions = {},
  ) {
    this.hub = new SocketHub(session);
    this.notifier =
      typeof window === "undefined"
        ? null
        : new Notifier((deviceId, event) => {
            // Opening the chat reads it, which clears its notifications everywhere;
            // one without a chat (a call) is read as such.
            if (event.chatId) show(chatPath(deviceId, event.chatId));
            else this.device(deviceId).readNotifications([event.id]);
          });
    this.fleet = new FleetFeed(this.hub);
    // A device deleted elsewhere takes its namespace with it: close its session too.
    this.fleet.fleet.subscribe((fleet) => {
      for (const deviceId of this.#devices.keys()) if (!fleet[deviceId]) this.forget(deviceId);
    });
  }

  device(deviceId: string): DeviceSession {
    let device = this.#devices.get(deviceId);
    if (!device) {
      device = new DeviceSession(this.hub, deviceId, this.notifier);
      device.onEvent((event, payload) => this.alerts.update((a) => withDeviceEvent(a, deviceId, event, payload)));
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
    this.notifier?.close();
    this.hub.close();
  }
}
