import type { ConnectorKind } from "../api/types";

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

/**
 * The link a simulator device's QR code carries (`{public_url}/pair/{code}`),
 * which a phone opens to confirm the link; null for other connectors, whose
 * codes are meant for WhatsApp's scanner and are no address.
 */
export function pairingLink(connector: ConnectorKind, qr: string): string | null {
  if (connector !== "simulator") return null;
  try {
    const url = new URL(qr);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

/**
 * Whether a device links by showing a QR code, so that after a logout it is
 * started again to show a new one. A Cloud API device has no link to make: its
 * token is its credential, and after a logout it stays logged out until started.
 */
export function linksWithQr(connector: ConnectorKind): boolean {
  return connector !== "cloud_api";
}
