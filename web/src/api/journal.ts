import type { AuthSession } from "../auth/session";
import type { JournalPage } from "./types";

/** The most events `GET …/events` answers in one page. */
export const MAX_JOURNAL_PAGE = 1000;

/** A page of a device's journal: the events after seq `after`, oldest first. */
export function journalPage(session: AuthSession, deviceId: string, after: number, limit: number): Promise<JournalPage> {
  const query = new URLSearchParams({ after: String(after), limit: String(limit) });
  return session.request<JournalPage>(`/devices/${encodeURIComponent(deviceId)}/events?${query}`);
}
