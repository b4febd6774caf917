import type { ConnectionStatus as Status } from "../realtime/status";

const LABELS: Record<Status, string> = {
  connected: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

/** The dashboard's sockets taken together, always in the header. */
export function ConnectionStatus({ status }: { status: Status }) {
  return (
    <span class={`connection-status ${status}`} data-testid="connection-status" data-status={status} role="status">
      <span class="dot" aria-hidden="true" />
      {LABELS[status]}
    </span>
  );
}
