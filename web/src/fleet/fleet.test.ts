import { describe, expect, it } from "vitest";
import type { Device, DeviceStateName } from "../api/types";
import { applyRestCopy, applyUpdate, removeDevice, retainListed, sortedDevices } from "./fleet";

function device(id: string, state: DeviceStateName = "stopped"): Device {
  return {
    id,
    name: id,
    connector: "simulator",
    state,
    stateReason: null,
    me: null,
    autostart: true,
    capabilities: ["send.text"],
    health: "healthy",
    createdAt: "",
    updatedAt: "",
  };
}

const update = (d: Device, seq: number) => ({ device: d, deviceId: d.id, seq, at: "" });

describe("fleet", () => {
  it("keeps the update with the highest seq, the later one on a tie", () => {
    let fleet = applyUpdate({}, update(device("a", "qr"), 5));
    fleet = applyUpdate(fleet, update(device("a", "starting"), 4));
    expect(fleet.a?.device.state).toBe("qr");
    fleet = applyUpdate(fleet, update({ ...device("a", "qr"), name: "renamed" }, 5));
    expect(fleet.a?.device.name).toBe("renamed");
  });

  it("lets any update replace a copy read over REST", () => {
    let fleet = applyRestCopy({}, device("a"));
    fleet = applyUpdate(fleet, update(device("a", "starting"), 0));
    expect(fleet.a?.device.state).toBe("starting");
  });

  it("drops removed devices, on the event and after a reconnect", () => {
    let fleet = applyUpdate(applyUpdate({}, update(device("a"), 1)), update(device("b"), 1));
    expect(Object.keys(removeDevice(fleet, "a"))).toEqual(["b"]);
    fleet = retainListed(fleet, [device("b"), device("c")]);
    expect(sortedDevices(fleet).map((d) => d.id)).toEqual(["b", "c"]);
  });
});
