import type { Device, DeviceUpdate } from "../api/types";

/**
 * Every device the credential sees, with the journal position its copy was
 * read at. `device:update` carries that `seq`; a change made over REST
 * journals nothing, so two updates can share one seq and the later one wins.
 */
export interface FleetEntry {
  device: Device;
  seq: number;
}

export type Fleet = Readonly<Record<string, FleetEntry>>;

/** A copy with no journal position (a REST answer): any update replaces it. */
const UNKNOWN_SEQ = -1;

export function applyUpdate(fleet: Fleet, update: DeviceUpdate): Fleet {
  const known = fleet[update.deviceId];
  if (known && update.seq < known.seq) return fleet;
  return { ...fleet, [update.deviceId]: { device: update.device, seq: update.seq } };
}

/** A device as a REST call answered it (just created, say). */
export function applyRestCopy(fleet: Fleet, device: Device): Fleet {
  if (fleet[device.id]) return fleet;
  return { ...fleet, [device.id]: { device, seq: UNKNOWN_SEQ } };
}

export function removeDevice(fleet: Fleet, deviceId: string): Fleet {
  if (!fleet[deviceId]) return fleet;
  const { [deviceId]: _removed, ...rest } = fleet;
  return rest;
}

/**
 * After a reconnect the root namespace sends every device again, but not the
 * removals that happened meanwhile: the list it answers says which remain.
 */
export function retainListed(fleet: Fleet, listed: readonly Device[]): Fleet {
  const ids = new Set(listed.map((d) => d.id));
  let next = fleet;
  for (const id of Object.keys(fleet)) if (!ids.has(id)) next = removeDevice(next, id);
  for (const device of listed) next = applyRestCopy(next, device);
  return next;
}

export function sortedDevices(fleet: Fleet): Device[] {
  return Object.values(fleet)
    .map((e) => e.device)
    .sort((a, b) => a.id.localeCompare(b.id));
}
