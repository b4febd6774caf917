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

/**
 * What is wrong with a phone number a pairing code is asked for, as the daemon
 * would say it, or null: digits only, country code first, with or without a
 * leading `+`, 7 to 15 of them. Spaces and dashes people type are taken out
 * first, so a number pasted as written still works.
 */
export function phoneProblem(phone: string): string | null {
  return /^\+?[0-9]{7,15}$/.test(typedPhone(phone))
    ? null
    : "Type the phone's number with its country code: 7 to 15 digits, with or without a leading +.";
}

/** The number as the daemon takes it: without the spaces, dashes, dots and brackets people write. */
export function typedPhone(phone: string): string {
  return phone.replace(/[\s().-]/g, "");
}

/** Whether a device of these capabilities links from a code typed on a phone. */
export function pairsByPhone(capabilities: readonly string[]): boolean {
  return capabilities.includes("pairing.code");
}
