/** How many of each device's latest events the monitor reads before it goes live. */
export const HISTORY_PER_DEVICE = 500;

/** The `after` that reads a device's latest `count` events, its journal standing at `head`. */
export function historyStart(head: number, count = HISTORY_PER_DEVICE): number {
  return Math.max(0, head - count);
}

/**
 * Where the next page of a range starts, or null when the range `(…, upTo]`
 * has been read: the page's `nextAfter` (it may end early to fit the reply
 * budget), when it moved forward.
 */
export function nextPageAfter(after: number, upTo: number, nextAfter: number | null | undefined): number | null {
  if (nextAfter == null || nextAfter <= after || nextAfter >= upTo) return null;
  return nextAfter;
}
