/**
 * The id of the API key an access token was issued with (its `key` claim), or
 * null when the token cannot be read. Only shown, never trusted: the daemon
 * checks the token itself.
 */
export function issuingKeyOf(token: string): string | null {
  const payload = token.split(".")[1];
  if (!payload) return null;
  try {
    const base64 = payload.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(payload.length / 4) * 4, "=");
    const claims: unknown = JSON.parse(atob(base64));
    const key = (claims as { key?: unknown } | null)?.key;
    return typeof key === "string" ? key : null;
  } catch {
    return null;
  }
}
