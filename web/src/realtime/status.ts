/**
 * One socket's connection, as the dashboard tells it:
 * `connecting`/`reconnecting` while it tries, `connected`, `offline` when it
 * has given up; `refused` when the server turned it away for good (the device
 * is gone or not this credential's), which is the view's error, not the
 * connection's.
 */
export type LinkState = "connecting" | "connected" | "reconnecting" | "offline" | "refused";

export type ConnectionStatus = "connected" | "reconnecting" | "offline";

/** The status the header shows for all the dashboard's sockets together. */
export function connectionStatus(links: readonly LinkState[], browserOnline: boolean): ConnectionStatus {
  const live = links.filter((l) => l !== "refused");
  if (!browserOnline || live.length === 0) return "offline";
  if (live.every((l) => l === "connected")) return "connected";
  if (live.some((l) => l === "connecting" || l === "reconnecting")) return "reconnecting";
  return "offline";
}
