import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CLAIM_WINDOW_MS, type TabChannel, TabClaims, type TabMessage, beats } from "./claims";

/**
 * Tabs of one browser, as a BroadcastChannel joins them: a message reaches
 * every other tab (never its sender), after `latencyMs`.
 */
function fakeBrowser(latencyMs = 1) {
  const listeners = new Set<{ receive: (m: TabMessage) => void }>();
  const posted: TabMessage[] = [];
  const channel = (): TabChannel => {
    const me = { receive: (_: TabMessage) => {} };
    return {
      post(message) {
        posted.push(message);
        // Structured clone, as BroadcastChannel does: no shared objects between tabs.
        const copy = JSON.parse(JSON.stringify(message)) as TabMessage;
        for (const other of listeners) if (other !== me) setTimeout(() => other.receive(copy), latencyMs);
      },
      listen(receive) {
        me.receive = receive;
        listeners.add(me);
        return () => listeners.delete(me);
      },
    };
  };
  return { channel, posted };
}

/** A tab of the fake browser, reading the fake clock. */
function tab(browser: ReturnType<typeof fakeBrowser>, id: string) {
  return new TabClaims(browser.channel(), id, { now: () => Date.now() });
}

describe("notification claims across tabs", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("let exactly one of several tabs notify, whichever heard of it at the same moment", async () => {
    const browser = fakeBrowser();
    const tabs = ["tab-b", "tab-a", "tab-c"].map((id) => tab(browser, id));
    const outcomes = Promise.all(tabs.map((t) => t.claim("ntf_1")));
    await vi.advanceTimersByTimeAsync(CLAIM_WINDOW_MS + 10);
    // Same instant: the lowest tab id wins, as every tab agrees.
    expect(await outcomes).toEqual([false, true, false]);
  });

  it("let the first tab to claim win over a later one", async () => {
    const browser = fakeBrowser();
    const [first, second] = [tab(browser, "tab-z"), tab(browser, "tab-a")];
    const firstWins = first.claim("ntf_1");
    await vi.advanceTimersByTimeAsync(20);
    const secondWins = second.claim("ntf_1");
    await vi.advanceTimersByTimeAsync(CLAIM_WINDOW_MS + 10);
    expect([await firstWins, await secondWins]).toEqual([true, false]);
  });

  it("decide at once for a tab that hears of a notification after another claimed it", async () => {
    const browser = fakeBrowser();
    const [first, late] = [tab(browser, "tab-1"), tab(browser, "tab-2")];
    const firstWins = first.claim("ntf_1");
    await vi.advanceTimersByTimeAsync(CLAIM_WINDOW_MS + 10);
    expect(await firstWins).toBe(true);
    const posted = browser.posted.length;
    expect(await late.claim("ntf_1")).toBe(false);
    expect(browser.posted.length).toBe(posted);
  });

  it("let nobody notify while a tab shows the chat", async () => {
    const browser = fakeBrowser();
    const [hidden, showing] = [tab(browser, "tab-1"), tab(browser, "tab-2")];
    const hiddenWins = hidden.claim("ntf_1");
    await vi.advanceTimersByTimeAsync(5);
    const showingWins = showing.claim("ntf_1", true);
    await vi.advanceTimersByTimeAsync(CLAIM_WINDOW_MS + 10);
    expect([await hiddenWins, await showingWins]).toEqual([false, false]);
  });

  it("notify in a tab that is alone", async () => {
    const alone = tab(fakeBrowser(), "tab-1");
    const wins = alone.claim("ntf_1");
    await vi.advanceTimersByTimeAsync(CLAIM_WINDOW_MS + 10);
    expect(await wins).toBe(true);
  });

  it("decide each notification on its own", async () => {
    const browser = fakeBrowser();
    const [one, two] = [tab(browser, "tab-1"), tab(browser, "tab-2")];
    const first = one.claim("ntf_1");
    await vi.advanceTimersByTimeAsync(CLAIM_WINDOW_MS + 10);
    const second = two.claim("ntf_2");
    await vi.advanceTimersByTimeAsync(CLAIM_WINDOW_MS + 10);
    expect([await first, await second]).toEqual([true, true]);
  });

  it("tell the other tabs which notifications were read", async () => {
    const browser = fakeBrowser();
    const [reader, other, third] = [tab(browser, "tab-1"), tab(browser, "tab-2"), tab(browser, "tab-3")];
    const heard: string[][] = [];
    const ownEcho: string[][] = [];
    other.onRead((ids) => heard.push(ids));
    third.onRead((ids) => heard.push(ids));
    reader.onRead((ids) => ownEcho.push(ids));
    reader.read(["ntf_1", "ntf_2"]);
    reader.read([]);
    await vi.advanceTimersByTimeAsync(5);
    expect(heard).toEqual([["ntf_1", "ntf_2"], ["ntf_1", "ntf_2"]]);
    expect(ownEcho).toEqual([]);
  });

  it("ignore what another version of the dashboard posts in a shape it does not know", async () => {
    const browser = fakeBrowser();
    const listener = tab(browser, "tab-1");
    const stranger = browser.channel();
    stranger.listen(() => {});
    stranger.post({ type: "claim", id: "ntf_1" } as unknown as TabMessage);
    stranger.post({ type: "read", ids: [1] } as unknown as TabMessage);
    await vi.advanceTimersByTimeAsync(5);
    const wins = listener.claim("ntf_1");
    await vi.advanceTimersByTimeAsync(CLAIM_WINDOW_MS + 10);
    expect(await wins).toBe(true);
  });

  it("stop listening once closed", async () => {
    const browser = fakeBrowser();
    const [closed, other] = [tab(browser, "tab-1"), tab(browser, "tab-2")];
    const heard: string[][] = [];
    closed.onRead((ids) => heard.push(ids));
    closed.close();
    other.read(["ntf_1"]);
    await vi.advanceTimersByTimeAsync(5);
    expect(heard).toEqual([]);
  });

  it("order claims: seen first, then earliest, then lowest tab id", () => {
    const claim = (tab: string, at: number, seen = false) => ({ type: "claim" as const, id: "n", tab, at, seen });
    expect(beats(claim("b", 5, true), claim("a", 1))).toBe(true);
    expect(beats(claim("b", 1), claim("a", 2))).toBe(true);
    expect(beats(claim("a", 1), claim("b", 1))).toBe(true);
    expect(beats(claim("b", 1), claim("a", 1))).toBe(false);
  });
});
