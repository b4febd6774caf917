import type { Media, MediaKind } from "../api/types";

/**
 * Files in messages. A file the daemon serves (an upload, or a received file
 * it streams from the upstream) has a URL of the daemon's,
 * `{public_url}/api/v1/devices/{id}/media/{mediaId}`. The dashboard loads it
 * from its own origin, whatever `public_url` says (the page may be reached
 * under another name, and its policy allows images from itself only), and
 * since an `<img src>` or a link sends no header, with the access token in
 * the query, `?access_token=` (never the API key).
 */

/** A message's file, or a contact's profile picture (`pictureUrl`), as the daemon serves them. */
const DAEMON_MEDIA = /^\/api\/v1\/devices\/[^/]+\/(?:media\/[^/]+|contacts\/[^/]+\/picture)$/;

/** The path of a file the daemon serves, or null for a link elsewhere. */
export function daemonMediaPath(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url, "http://relative.invalid");
  } catch {
    return null;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return null;
  return DAEMON_MEDIA.test(parsed.pathname) ? parsed.pathname : null;
}

/**
 * The URL to load a file with: a daemon's file, relative to the page and
 * signed with the token; null for a file elsewhere, which the page may not
 * load (a link to it can still be followed).
 */
export function signedMediaUrl(url: string, token: string): string | null {
  const path = daemonMediaPath(url);
  return path === null ? null : `${path}?access_token=${encodeURIComponent(token)}`;
}

/** Pictures are shown in the bubble; other files are links with their name and size. */
export function isImage(media: Pick<Media, "mime">): boolean {
  return media.mime.toLowerCase().startsWith("image/");
}

/** A file's size as people read it: 512 B, 14 KB, 3.2 MB. */
export function formatSize(bytes: number | null): string {
  if (bytes === null || !Number.isFinite(bytes) || bytes < 0) return "";
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1).replace(/\.0$/, "") : Math.round(value)} ${units[unit]}`;
}

/** The most a device forwards (docs/connectors.md, "Sending a file"); larger uploads get 413. */
export const MAX_UPLOAD_BYTES = 16 * 1024 * 1024;

/**
 * A file being uploaded to the device before it is sent, as the composer
 * shows it: its progress, or why it failed.
 */
export interface Upload {
  id: string;
  chatId: string;
  name: string;
  size: number;
  /** Bytes sent so far. */
  loaded: number;
  status: "uploading" | "failed";
  error?: string;
  /** The text sent with the file once it is uploaded (`""` for none). */
  caption: string;
  /** The message it answers, when it was attached while replying. */
  replyTo?: string;
  /** What to send it as, when not what its type says (a recording sent as a voice note). */
  kind?: MediaKind;
}

export type Uploads = readonly Upload[];

export function startUpload(uploads: Uploads, upload: Omit<Upload, "loaded" | "status">): Uploads {
  return [...uploads, { ...upload, loaded: 0, status: "uploading" }];
}

export function uploadProgress(uploads: Uploads, id: string, loaded: number): Uploads {
  return uploads.map((u) => (u.id === id && u.status === "uploading" ? { ...u, loaded: Math.min(loaded, u.size) } : u));
}

export function uploadFailed(uploads: Uploads, id: string, error: string): Uploads {
  return uploads.map((u) => (u.id === id ? { ...u, status: "failed", error } : u));
}

/** Uploaded (its message is on its way) or dismissed. */
export function uploadDone(uploads: Uploads, id: string): Uploads {
  return uploads.filter((u) => u.id !== id);
}

/** Whole percent, 0–100. */
export function uploadPercent(upload: Upload): number {
  if (upload.size <= 0) return upload.status === "uploading" ? 0 : 100;
  return Math.min(100, Math.floor((upload.loaded / upload.size) * 100));
}

export function uploadsInChat(uploads: Uploads, chatId: string): Upload[] {
  return uploads.filter((u) => u.chatId === chatId);
}

/** Why a file cannot be sent at all, before uploading anything. */
export function refusedFile(file: { size: number }): string | null {
  if (file.size === 0) return "The file is empty.";
  if (file.size > MAX_UPLOAD_BYTES) return `The file is larger than ${formatSize(MAX_UPLOAD_BYTES)}.`;
  return null;
}
