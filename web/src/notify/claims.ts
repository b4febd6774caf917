/**
 * Which tab tells the person about a notification. Every tab of the
 * dashboard receives the same `notification` event, and exactly one should
 * show it and chime. Tabs agree over a BroadcastChannel: a tab that would
 * notify posts a claim for the notification's id, listens a moment for
 * others, and the first claim wins (earliest `at`, then the lowest tab id,
 * so every tab picks the same winner). A tab that shows the chat on screen
 * claims it as `seen`, which beats every other claim: nobody notifies, the
 * person is already looking. Reading notifications in one tab is told to the
 * others so they close what they show.
 */

export interface Claim {
  type: "claim";
  id: string;
  tab: string;
  at: number;
  /** The chat is on screen in that tab: no tab notifies. */
  seen: boolean;
}

export interface ReadNotice {
  type: "read";
  ids: string[];
}

export type TabMessage = Claim | ReadNotice;

/** What the tabs talk over: a BroadcastChannel, or a fake one in tests. */
export interface TabChannel {
  post(message: TabMessage): void;
  /** Messages posted by the other tabs; returns how to stop listening. */
  listen(receive: (message: TabMessage) => void): () => void;
}

/** How long a tab waits for other tabs' claims before it decides. */
export const CLAIM_WINDOW_MS = 150;
/** How many notifications' claims are remembered (each is decided within the window). */
const REMEMBERED = 500;

/** Whether claim `a` beats claim `b`: seen first, then the earlier, then the lower tab id. */
export function beats(a: Claim, b: Claim): boolean {
  if (a.seen !== b.seen) return a.seen;
  if (a.at !== b.at) return a.at < b.at;
  return a.tab < b.tab;
}

/** A message from another tab, checked: another version of the dashboard may be open there. */
function isTabMessage(value: unknown): value is TabMessage {
  if (typeof value !== "object" || value === null) return false;
  const m = value as { type?: unknown; id?: unknown; tab?: unknown; at?: unknown; seen?: unknown; ids?: unknown };
  if (m.type === "claim") {
    return typeof m.id === "string" && typeof m.tab === "string" && typeof m.at === "number" && typeof m.seen === "boolean";
  }
  return m.type === "read" && Array.isArray(m.ids) && m.ids.every((id) => typeof id === "string");
}

export interface ClaimOptions {
  windowMs?: number;
  now?: () => number;
  wait?: (ms: number) => Promise<void>;
}

/** One tab's side of the agreement. */
export class TabClaims {
  /** The best claim heard so far for each notification id. */
  #best = new Map<string, Claim>();
  #readListeners = new Set<(ids: string[]) => void>();
  #stop: () => void;
  #windowMs: number;
  #now: () => number;
  #wait: (ms: number) => Promise<void>;

  constructor(
    private readonly channel: TabChannel,
    readonly tab: string,
    { windowMs = CLAIM_WINDOW_MS, now = Date.now, wait = (ms) => new Promise((r) => setTimeout(r, ms)) }: ClaimOptions = {},
  ) {
    this.#windowMs = windowMs;
    this.#now = now;
    this.#wait = wait;
    this.#stop = channel.listen((message) => this.#receive(message));
  }

  #receive(message: unknown): void {
    if (!isTabMessage(message)) return;
    if (message.type === "claim") this.#consider(message);
    else for (const listener of [...this.#readListeners]) listener(message.ids);
  }

  #consider(claim: Claim): void {
    const best = this.#best.get(claim.id);
    if (best && !beats(claim, best)) return;
    this.#best.delete(claim.id);
    this.#best.set(claim.id, claim);
    if (this.#best.size > REMEMBERED) {
      const oldest = this.#best.keys().next().value;
      if (oldest !== undefined) this.#best.delete(oldest);
    }
  }

  /**
   * Claims notification `id`; resolves whether this tab is the one to show
   * it. With `seen`, this tab shows the chat: it claims so that no tab
   * notifies, and resolves false.
   */
  async claim(id: string, seen = false): Promise<boolean> {
    const mine: Claim = { type: "claim", id, tab: this.tab, at: this.#now(), seen };
    const best = this.#best.get(id);
    // Claimed already by a tab that heard of it first: it is theirs.
    if (best && best.tab !== this.tab && beats(best, mine)) return false;
    this.#consider(mine);
    this.channel.post(mine);
    if (seen) return false;
    await this.#wait(this.#windowMs);
    const winner = this.#best.get(id);
    return winner !== undefined && winner.tab === this.tab && !winner.seen;
  }

  /** Tells the other tabs these notifications were read. */
  read(ids: string[]): void {
    if (ids.length > 0) this.channel.post({ type: "read", ids });
  }

  /** Notifications another tab read. */
  onRead(listener: (ids: string[]) => void): () => void {
    this.#readListeners.add(listener);
    return () => this.#readListeners.delete(listener);
  }

  close(): void {
    this.#stop();
    this.#readListeners.clear();
  }
}

/** The tabs' channel in a browser; none where BroadcastChannel is missing (one tab is all there is). */
export function broadcastChannel(name: string): (TabChannel & { close(): void }) | null {
  if (typeof BroadcastChannel === "undefined") return null;
  const channel = new BroadcastChannel(name);
  return {
    post: (message) => channel.postMessage(message),
    listen(receive) {
      const handler = (event: MessageEvent) => receive(event.data as TabMessage);
      channel.addEventListener("message", handler);
      return () => channel.removeEventListener("message", handler);
    },
    close: () => channel.close(),
  };
}

/** A channel that reaches no other tab. */
export const aloneChannel: TabChannel = { post: () => {}, listen: () => () => {} };
