/** How long tokens are asked for. Short, since the API key can mint another. */
export const TOKEN_TTL_SECS = 15 * 60;

/**
 * When to renew a token, in ms from `now`: a quarter of its lifetime before it
 * ends, at most a minute before, so sockets reconnect with the new token while
 * the old one still holds (the server cuts a token's connections when it ends).
 */
export function renewalDelay(issuedAt: number, expiresAt: number, now: number): number {
  const lifetime = expiresAt - issuedAt;
  const margin = Math.min(60_000, lifetime / 4);
  return Math.max(0, expiresAt - margin - now);
}
