import type { AuthSession } from "../auth/session";
import type { Contact, NumberCheck } from "./types";

// A device's contacts and numbers (docs/rest.md, "Contacts and numbers"): a contact looked
// up, blocked or unblocked, and whether a number has WhatsApp.

function contactPath(deviceId: string, contactId: string): string {
  return `/devices/${encodeURIComponent(deviceId)}/contacts/${encodeURIComponent(contactId)}`;
}

/** The contact as the upstream describes them now: names, number, about, picture. */
export function lookUpContact(session: AuthSession, deviceId: string, contactId: string): Promise<Contact> {
  return session.request<Contact>(contactPath(deviceId, contactId));
}

/** Blocks the contact, or unblocks them; answers the contact as they now are. */
export function setBlocked(session: AuthSession, deviceId: string, contactId: string, blocked: boolean): Promise<Contact> {
  const action = blocked ? "block" : "unblock";
  return session.request<Contact>(`${contactPath(deviceId, contactId)}/${action}`, { method: "POST" });
}

/** Whether `phone` has a WhatsApp account, as the device's upstream finds it. */
export function checkNumber(session: AuthSession, deviceId: string, phone: string): Promise<NumberCheck> {
  return session.request<NumberCheck>(`/devices/${encodeURIComponent(deviceId)}/numbers/${encodeURIComponent(phone.trim())}`);
}
