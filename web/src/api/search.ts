import type { AuthSession } from "../auth/session";
import type { Message, Page } from "./types";

// Message search (docs/rest.md, `GET /devices/{id}/messages?q=`): a device's messages by the
// words of their text, newest first.

/** The newest messages of the device whose text has every word of `words`. */
export function searchMessages(session: AuthSession, deviceId: string, words: string, limit = 20): Promise<Page<Message>> {
  const query = new URLSearchParams({ q: words, limit: String(limit) });
  return session.request<Page<Message>>(`/devices/${encodeURIComponent(deviceId)}/messages?${query}`);
}
