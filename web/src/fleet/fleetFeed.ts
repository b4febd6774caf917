import type { Device, DeviceRemoved, DeviceUpdate, FleetRequests } from "../api/types";
import { type Store, createStore } from "../lib/store";
import type { Link, SocketHub } from "../realtime/hub";
import { type Fleet, applyRestCopy, applyUpdate, removeDevice, retainListed } from "./fleet";

/**
 * The fleet, live from the root namespace `/`: on connecting it sends every
 * device the credential sees, then `device:update` and `device:removed`.
 */
export class FleetFeed {
  readonly fleet: Store<Fleet> = createStore<Fleet>({});
  /** Whether the device list has been read at least once. */
  readonly loaded: Store<boolean> = createStore(false);
  #link: Link<FleetRequests>;

  constructor(hub: SocketHub) {
    this.#link = hub.open<FleetRequests>("/", {
      onEvent: (event, payload) => this.#apply(event, payload),
      onConnect: () => void this.#reconcile(),
    });
  }

  #apply(event: string, payload: unknown): void {
    if (event === "device:update") this.fleet.update((f) => applyUpdate(f, payload as DeviceUpdate));
    if (event === "device:removed") this.fleet.update((f) => removeDevice(f, (payload as DeviceRemoved).deviceId));
  }

  /** Devices removed while the socket was away are not announced again. */
  async #reconcile(): Promise<void> {
    try {
      const { items } = await this.#link.request("devices:list");
      this.fleet.update((f) => retainListed(f, items));
      this.loaded.set(true);
    } catch {
      // Dropped before the answer: the next connect asks again.
    }
  }

  /** A device this dashboard just created, shown before its first update arrives. */
  added(device: Device): void {
    this.fleet.update((f) => applyRestCopy(f, device));
  }

  removed(deviceId: string): void {
    this.fleet.update((f) => removeDevice(f, deviceId));
  }
}
