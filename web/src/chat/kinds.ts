import type { Location, Message, Poll } from "../api/types";

/**
 * The kinds of message beside text and files (docs/protocol.md, "Every kind of message"):
 * voice notes and other recordings, places, contact cards and polls, and what can be done to
 * a message after it is sent (edited, forwarded, voted on).
 */

/** How long after sending our own text or caption may still be edited: WhatsApp's window. */
export const EDIT_WINDOW_MS = 15 * 60 * 1000;

/** A recording's length as a player shows it: 0:07, 3:25, 1:02:03; "" when unknown. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return "";
  const whole = Math.round(seconds);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = whole % 60;
  const pad = (n: number) => n.toString().padStart(2, "0");
  return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}

/** A place's coordinates as people read them: 52.37311, 4.89276. */
export function formatCoordinates(location: Pick<Location, "latitude" | "longitude">): string {
  const round = (n: number) => Number(n.toFixed(5)).toString();
  return `${round(location.latitude)}, ${round(location.longitude)}`;
}

/** The place on OpenStreetMap, opened in a new tab. */
export function mapUrl(location: Pick<Location, "latitude" | "longitude">): string {
  const { latitude, longitude } = location;
  return `https://www.openstreetmap.org/?mlat=${latitude}&mlon=${longitude}#map=16/${latitude}/${longitude}`;
}

/** One option of a poll as drawn: how many pick it and whether we do. */
export interface PollOptionTally {
  option: string;
  votes: number;
  mine: boolean;
}

/** The options of a poll in their order, with their counts and our own vote. */
export function pollTally(poll: Poll, me: string | null): PollOptionTally[] {
  return poll.options.map((option) => {
    const voters = poll.votes.find((v) => v.option === option)?.voters ?? [];
    return { option, votes: voters.length, mine: me !== null && voters.includes(me) };
  });
}

/** The options `voter` picks now. */
export function votesOf(poll: Poll, voter: string | null): string[] {
  if (voter === null) return [];
  return poll.options.filter((option) => poll.votes.find((v) => v.option === option)?.voters.includes(voter));
}

/**
 * `voter` now picks `options` (none: took their vote back): their earlier vote is replaced,
 * as the server's tally does.
 */
export function withVote(poll: Poll, voter: string, options: readonly string[]): Poll {
  const votes = poll.options.map((option) => {
    const voters = (poll.votes.find((v) => v.option === option)?.voters ?? []).filter((who) => who !== voter);
    return { option, voters: options.includes(option) ? [...voters, voter] : voters };
  });
  return { ...poll, votes };
}

/**
 * What to vote when `option` is clicked, given what we pick now: on a poll of several answers
 * it is added or taken away; on a poll of one answer it is picked, or taken back if it was ours.
 */
export function toggledVote(current: readonly string[], option: string, multiple: boolean): string[] {
  if (current.includes(option)) return current.filter((o) => o !== option);
  return multiple ? [...current, option] : [option];
}

/** Whether we may still edit a message: our own text or caption, not deleted, under 15 minutes old. */
export function canEdit(message: Message, now: number): boolean {
  if (!message.fromMe || message.revoked) return false;
  if (message.type !== "text" && !message.media) return false;
  const sent = Date.parse(message.timestamp);
  return Number.isFinite(sent) && now - sent < EDIT_WINDOW_MS;
}

/** Whether a message can be sent on to another chat: anything not deleted and not a system line. */
export function canForward(message: Message): boolean {
  return !message.revoked && message.type !== "system";
}

/** The one-line summary of a message with no text: its kind, with what names it. */
export function kindPreview(message: Pick<Message, "type" | "location" | "contacts" | "poll" | "durationSecs">): string | null {
  const length = formatDuration(message.durationSecs);
  switch (message.type) {
    case "voice":
      return `🎤 Voice message${length ? ` (${length})` : ""}`;
    case "audio":
      return `🎵 Audio${length ? ` (${length})` : ""}`;
    case "video":
      return `🎥 Video${length ? ` (${length})` : ""}`;
    case "sticker":
      return "Sticker";
    case "location":
      return `📍 ${message.location?.name || message.location?.address || "Location"}`;
    case "contact": {
      const names = (message.contacts ?? []).map((c) => c.name).filter(Boolean);
      return `👤 ${names.length > 0 ? names.join(", ") : "Contact"}`;
    }
    case "poll":
      return `📊 ${message.poll?.question || "Poll"}`;
    default:
      return null;
  }
}

/** The most options a poll has, and the fewest. */
export const POLL_MAX_OPTIONS = 12;
export const POLL_MIN_OPTIONS = 2;

/**
 * Why a poll as written cannot be sent, or null: a question, 2 to 12 options, none empty and
 * none twice (the server's own rules, checked before sending).
 */
export function pollProblem(question: string, options: readonly string[]): string | null {
  if (!question.trim()) return "Write a question.";
  const filled = options.map((o) => o.trim());
  if (filled.some((o) => !o)) return "Fill in every option, or remove it.";
  if (filled.length < POLL_MIN_OPTIONS) return `A poll needs at least ${POLL_MIN_OPTIONS} options.`;
  if (filled.length > POLL_MAX_OPTIONS) return `A poll has at most ${POLL_MAX_OPTIONS} options.`;
  if (new Set(filled).size !== filled.length) return "Each option must be different.";
  return null;
}

/**
 * A place as typed into the location form, or why it cannot be sent: numbers within
 * -90…90 and -180…180, the name optional.
 */
export function parseLocation(latitude: string, longitude: string, name: string): Location | string {
  const lat = Number(latitude.trim());
  const lon = Number(longitude.trim());
  if (!latitude.trim() || !Number.isFinite(lat) || lat < -90 || lat > 90) return "The latitude is a number from -90 to 90.";
  if (!longitude.trim() || !Number.isFinite(lon) || lon < -180 || lon > 180) {
    return "The longitude is a number from -180 to 180.";
  }
  return { latitude: lat, longitude: lon, ...(name.trim() ? { name: name.trim() } : {}) };
}
