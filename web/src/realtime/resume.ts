import type { SyncEvent } from "../api/types";

/**
 * Where a device namespace's socket stands in the device's journal.
 *
 * Every journaled event has a per-device, gap-free `seq`. The socket hands the
 * last one it processed back as `auth.lastSeq` when it reconnects, and the
 * server replays what came after, so a drop loses nothing. An event whose seq
 * was already processed (a replay overlapping what arrived live) is skipped,
 * so nothing is applied twice.
 */
export class ResumePoint {
  #lastSeq: number | undefined;

  /** The seq to resume after, or undefined for a fresh socket. */
  get lastSeq(): number | undefined {
    return this.#lastSeq;
  }

  /** Whether an event with this seq is new; if so it becomes the resume point. */
  admit(seq: number): boolean {
    if (this.#lastSeq !== undefined && seq <= this.#lastSeq) return false;
    this.#lastSeq = seq;
    return true;
  }

  /**
   * The server's `sync`: it has sent everything up to `toSeq`. Returns whether
   * the client's view is whole (`true`) or must be reloaded over the API,
   * because the journal no longer reached back to our `lastSeq` or belongs to
   * another journal (the daemon's data was reset).
   */
  sync(event: SyncEvent): boolean {
    if (!event.recovered) {
      // Taken as given even when lower than ours: after a reset the server's
      // journal starts over, and keeping our higher seq would drop its events.
      this.#lastSeq = event.toSeq;
    } else if (this.#lastSeq === undefined || event.toSeq > this.#lastSeq) {
      // Lower only when another socket of ours (a token handover) has already
      // delivered live events past it; those must not be taken again.
      this.#lastSeq = event.toSeq;
    }
    return event.recovered;
  }
}
