import type { AckName } from "../api/types";

// Ack levels are whatsapp-web.js / WAHA compatible: -1 error, 0 pending,
// 1 server, 2 device, 3 read, 4 played.
const NAMES: readonly AckName[] = ["error", "pending", "server", "device", "read", "played"];

export const ACK = { error: -1, pending: 0, server: 1, device: 2, read: 3, played: 4 } as const;

export function ackName(level: number): AckName {
  return NAMES[level + 1] ?? "pending";
}

/**
 * The ack a message has once `incoming` arrives on top of `current`.
 *
 * Ticks only move forward, so a late or repeated ack changes nothing. `error`
 * is reachable only from `pending` or `server`: a message the recipient's phone
 * already has did not fail. Once failed, a late `pending` or `server` does not
 * clear the failure, but a delivery or read receipt proves it arrived after all.
 */
export function mergeAck(current: number, incoming: number): number {
  if (incoming === ACK.error) {
    return current <= ACK.server ? ACK.error : current;
  }
  if (current === ACK.error) {
    return incoming >= ACK.device ? incoming : ACK.error;
  }
  return Math.max(current, incoming);
}
