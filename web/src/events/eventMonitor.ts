import { MAX_JOURNAL_PAGE, journalPage } from "../api/journal";
import { describeError } from "../api/rest";
import type { JournalPage, SyncEvent } from "../api/types";
import type { Dashboard } from "../app/dashboard";
import { type Store, createStore } from "../lib/store";
import { type Bounds, DEFAULT_BOUNDS, type EventBuffer, admit, emptyBuffer, pause, resume } from "./buffer";
import { type EventEntry, entryOf, liveEntry } from "./entry";
import { historyStart, nextPageAfter } from "./history";

/** Events received within this long are put on screen together. */
const FLUSH_MS = 100;

/** Where the monitor gets events from; a signed-in dashboard in the app, fakes in tests. */
export interface EventSources {
  /** The devices the credential sees now. */
  deviceIds(): readonly string[];
  onDevicesChanged(listener: () => void): () => void;
  /** A device namespace's events, repeats already dropped by seq (`sync` included). */
  listen(deviceId: string, listener: (event: string, payload: unknown) => void): () => void;
  readJournal(deviceId: string, after: number, limit: number): Promise<JournalPage>;
}

export function dashboardSources(dashboard: Dashboard): EventSources {
  return {
    deviceIds: () => Object.keys(dashboard.fleet.fleet.get()),
    onDevicesChanged: (listener) => dashboard.fleet.fleet.subscribe(() => listener()),
    listen: (deviceId, listener) => dashboard.device(deviceId).onEvent(listener),
    readJournal: (deviceId, after, limit) => journalPage(dashboard.session, deviceId, after, limit),
  };
}

export type HistoryState = { phase: "loading" } | { phase: "live" } | { phase: "failed"; problem: string };

interface Watched {
  stop: () => void;
  /** The seq up to which the journal has been read over REST, once the history is in. */
  through: number | null;
  /** The highest `toSeq` the namespace's `sync` reported. */
  syncedTo: number;
  /** Journal reads, one after another. */
  reads: Promise<void>;
}

/**
 * The journal of every device the credential sees: each device's latest
 * events read over REST, then its namespace's live events, merged newest
 * first, each once. The live feed starts before the history is read, so
 * nothing falls between; when a namespace connects later than the read (its
 * `sync` says the journal stands further), the events in between are read
 * too. Devices that come later are followed as they appear.
 */
export class EventMonitor {
  readonly buffer: Store<EventBuffer> = createStore(emptyBuffer);
  readonly history: Store<Readonly<Record<string, HistoryState>>> = createStore({});
  #watched = new Map<string, Watched>();
  #pending: EventEntry[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopFollowing: () => void;
  #closed = false;

  constructor(
    private readonly sources: EventSources,
    readonly bounds: Bounds = DEFAULT_BOUNDS,
  ) {
    this.#stopFollowing = sources.onDevicesChanged(() => this.#follow());
    this.#follow();
  }

  #follow(): void {
    if (this.#closed) return;
    const ids = new Set(this.sources.deviceIds());
    for (const id of ids) if (!this.#watched.has(id)) this.#watch(id);
    // A deleted device's events stay: they happened.
    for (const [id, watched] of this.#watched) {
      if (ids.has(id)) continue;
      watched.stop();
      this.#watched.delete(id);
      this.history.update(({ [id]: _gone, ...rest }) => rest);
    }
  }

  #watch(deviceId: string): void {
    const watched: Watched = { stop: () => {}, through: null, syncedTo: 0, reads: Promise.resolve() };
    this.#watched.set(deviceId, watched);
    watched.stop = this.sources.listen(deviceId, (event, payload) => this.#live(deviceId, event, payload));
    this.#readHistory(deviceId);
  }

  /** Reads the device's latest events (again, after a failure: repeats are dropped). */
  #readHistory(deviceId: string): void {
    this.#read(deviceId, async (watched) => {
      const { head } = await this.sources.readJournal(deviceId, 0, 1);
      await this.#readRange(deviceId, historyStart(head), head);
      watched.through = Math.max(watched.through ?? 0, head);
      if (watched.syncedTo > head) await this.#catchUp(deviceId, watched);
    });
  }

  /** Tries a device's history again after it failed. */
  retry(deviceId: string): void {
    if (this.#watched.has(deviceId)) this.#readHistory(deviceId);
  }

  #live(deviceId: string, event: string, payload: unknown): void {
    const watched = this.#watched.get(deviceId);
    if (!watched || this.#closed) return;
    if (event === "sync") {
      const { toSeq, recovered } = payload as SyncEvent;
      // Unrecovered, the namespace saw another journal (a reset): its numbers start over.
      if (!recovered || typeof toSeq !== "number" || toSeq <= watched.syncedTo) return;
      watched.syncedTo = toSeq;
      if (watched.through !== null && toSeq > watched.through) this.#read(deviceId, (w) => this.#catchUp(deviceId, w));
      return;
    }
    const entry = liveEntry(event, payload);
    if (entry) this.#add([entry]);
  }

  /** The journal between what was read and where the namespace went live. */
  async #catchUp(deviceId: string, watched: Watched): Promise<void> {
    const from = watched.through ?? 0;
    const to = watched.syncedTo;
    if (to <= from) return;
    await this.#readRange(deviceId, from, to);
    watched.through = to;
  }

  async #readRange(deviceId: string, after: number, upTo: number): Promise<void> {
    let from: number | null = after;
    while (from !== null && from < upTo && this.#watched.has(deviceId) && !this.#closed) {
      const page = await this.sources.readJournal(deviceId, from, Math.min(MAX_JOURNAL_PAGE, upTo - from));
      this.#add(page.items.map(entryOf));
      from = nextPageAfter(from, upTo, page.nextAfter);
    }
  }

  #read(deviceId: string, work: (watched: Watched) => Promise<void>): void {
    const watched = this.#watched.get(deviceId);
    if (!watched) return;
    this.#setHistory(deviceId, { phase: "loading" });
    watched.reads = watched.reads
      .then(() => work(watched))
      .then(
        () => this.#setHistory(deviceId, { phase: "live" }),
        (error: unknown) => this.#setHistory(deviceId, { phase: "failed", problem: describeError(error) }),
      );
  }

  #setHistory(deviceId: string, state: HistoryState): void {
    if (this.#closed || !this.#watched.has(deviceId)) return;
    this.history.update((all) => ({ ...all, [deviceId]: state }));
  }

  #add(entries: readonly EventEntry[]): void {
    if (entries.length === 0 || this.#closed) return;
    this.#pending.push(...entries);
    if (this.#pending.length >= this.bounds.maxEvents) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  /** Puts what was received on screen now (it happens by itself within a tenth of a second). */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    this.buffer.update((buffer) => admit(buffer, batch, this.bounds));
  }

  /** Freezes the view; what arrives meanwhile is kept for `resume`. */
  pause(): void {
    this.flush();
    this.buffer.update(pause);
  }

  resume(): void {
    this.flush();
    this.buffer.update(resume);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#stopFollowing();
    this.#watched.forEach((watched) => watched.stop());
    this.#watched.clear();
    this.#pending = [];
  }
}

const monitors = new WeakMap<Dashboard, EventMonitor>();

/** The dashboard's monitor: started when first shown, kept (and collecting) until signing out. */
export function eventMonitorOf(dashboard: Dashboard): EventMonitor {
  let monitor = monitors.get(dashboard);
  if (!monitor) {
    const created = new EventMonitor(dashboardSources(dashboard));
    monitors.set(dashboard, created);
    dashboard.whenClosed(() => created.close());
    monitor = created;
  }
  return monitor;
}
