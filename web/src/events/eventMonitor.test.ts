import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { JournalEnvelope, JournalPage } from "../api/types";
import { shownEvents } from "./buffer";
import { EventMonitor, type EventSources } from "./eventMonitor";
import { envelope } from "./testEvents";

/** Devices with journals, namespaces to push live events on, and a log of the journal reads. */
function fakeSources(journals: Record<string, JournalEnvelope[]>) {
  const listeners = new Map<string, (event: string, payload: unknown) => void>();
  const devicesChanged = new Set<() => void>();
  const reads: string[] = [];
  const sources: EventSources = {
    deviceIds: () => Object.keys(journals),
    onDevicesChanged: (listener) => {
      devicesChanged.add(listener);
      return () => devicesChanged.delete(listener);
    },
    listen: (deviceId, listener) => {
      listeners.set(deviceId, listener);
      return () => listeners.delete(deviceId);
    },
    readJournal: async (deviceId, after, limit): Promise<JournalPage> => {
      reads.push(`${deviceId} ${after}+${limit}`);
      const journal = journals[deviceId] ?? [];
      const items = journal.filter((e) => e.seq > after).slice(0, limit);
      return { items, head: journal.length, recovered: true, nextAfter: items[items.length - 1]?.seq ?? null };
    },
  };
  const live = (deviceId: string, item: JournalEnvelope) => {
    journals[deviceId]!.push(item);
    listeners.get(deviceId)?.(item.type, item.data);
  };
  const journalQuietly = (deviceId: string, item: JournalEnvelope) => journals[deviceId]!.push(item);
  const sync = (deviceId: string, toSeq: number) =>
    listeners.get(deviceId)?.("sync", { deviceId, at: "", fromSeq: toSeq + 1, toSeq, recovered: true });
  const changeDevices = () => devicesChanged.forEach((listener) => listener());
  return { sources, live, journalQuietly, sync, reads, listeners, changeDevices };
}

const journal = (deviceId: string, count: number) => Array.from({ length: count }, (_, i) => envelope(i + 1, "state", deviceId));
const shown = (monitor: EventMonitor) => shownEvents(monitor.buffer.get()).map((e) => `${e.deviceId}${e.seq}`);

async function settle(monitor: EventMonitor) {
  await vi.runAllTimersAsync();
  monitor.flush();
}

describe("the event monitor", () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it("reads each device's history, then adds its live events, each once", async () => {
    const fake = fakeSources({ a: journal("a", 2), b: journal("b", 1) });
    const monitor = new EventMonitor(fake.sources);
    await settle(monitor);
    expect(shown(monitor).sort()).toEqual(["a1", "a2", "b1"]);
    expect(monitor.history.get()).toEqual({ a: { phase: "live" }, b: { phase: "live" } });
    fake.live("a", envelope(3, "message", "a"));
    fake.live("a", envelope(3, "message", "a"));
    await settle(monitor);
    expect(shown(monitor).filter((k) => k.startsWith("a"))).toEqual(["a3", "a2", "a1"]);
    monitor.close();
  });

  it("reads only the latest events of a long journal", async () => {
    const fake = fakeSources({ a: journal("a", 1200) });
    const monitor = new EventMonitor(fake.sources);
    await settle(monitor);
    expect(fake.reads).toEqual(["a 0+1", "a 700+500"]);
    expect(shown(monitor)[0]).toBe("a1200");
    expect(shown(monitor)).toHaveLength(500);
    monitor.close();
  });

  it("reads what happened between its history and a namespace that went live later", async () => {
    const fake = fakeSources({ a: journal("a", 2) });
    const monitor = new EventMonitor(fake.sources);
    await settle(monitor);
    fake.live("a", envelope(3, "message", "a"));
    // Journaled while the namespace was still connecting: not sent live, but its sync says so.
    fake.journalQuietly("a", envelope(4, "message", "a"));
    fake.journalQuietly("a", envelope(5, "message:ack", "a"));
    fake.sync("a", 5);
    await settle(monitor);
    expect(shown(monitor)).toEqual(["a5", "a4", "a3", "a2", "a1"]);
    expect(fake.reads.at(-1)).toBe("a 2+3");
    monitor.close();
  });

  it("follows devices as they come and go, keeping a gone device's events", async () => {
    const journals: Record<string, JournalEnvelope[]> = { a: journal("a", 1) };
    const fake = fakeSources(journals);
    const monitor = new EventMonitor(fake.sources);
    await settle(monitor);
    journals.b = journal("b", 2);
    fake.changeDevices();
    await settle(monitor);
    expect(shown(monitor).sort()).toEqual(["a1", "b1", "b2"]);
    delete journals.a;
    fake.changeDevices();
    await settle(monitor);
    expect(fake.listeners.has("a")).toBe(false);
    expect(Object.keys(monitor.history.get())).toEqual(["b"]);
    expect(shown(monitor)).toContain("a1");
    monitor.close();
  });

  it("pauses the view and shows what came meanwhile on resume", async () => {
    const fake = fakeSources({ a: journal("a", 1) });
    const monitor = new EventMonitor(fake.sources);
    await settle(monitor);
    monitor.pause();
    fake.live("a", envelope(2, "message", "a"));
    await settle(monitor);
    expect(shown(monitor)).toEqual(["a1"]);
    monitor.resume();
    expect(shown(monitor)).toEqual(["a2", "a1"]);
    monitor.close();
  });

  it("says when a device's history cannot be read, and tries again", async () => {
    const fake = fakeSources({ a: journal("a", 1) });
    const read = fake.sources.readJournal;
    fake.sources.readJournal = () => Promise.reject(new Error("offline"));
    const monitor = new EventMonitor(fake.sources);
    await settle(monitor);
    expect(monitor.history.get().a).toEqual({ phase: "failed", problem: "offline" });
    fake.sources.readJournal = read;
    monitor.retry("a");
    await settle(monitor);
    expect(monitor.history.get().a).toEqual({ phase: "live" });
    expect(shown(monitor)).toEqual(["a1"]);
    monitor.close();
  });
});
