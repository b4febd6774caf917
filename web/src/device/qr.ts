/** Whole seconds until a QR code expires, counted down to zero. */
export function secondsLeft(expiresAt: string, now: number): number {
  return Math.max(0, Math.ceil((Date.parse(expiresAt) - now) / 1000));
}

/**
 * Whether the device stopped because nobody scanned any of its codes, so a
 * new round of codes needs a restart.
 */
export function codesRanOut(state: string | null, reason: string | null): boolean {
  return state === "stopped" && reason === "qr_timeout";
}
