// The shapes devicebridge sends and takes, as docs/protocol.md and docs/rest.md describe
// them. The models and the events' payloads come from clients/typescript, generated from the
// daemon's Rust types; the REST bodies below are written by hand, only what the dashboard reads.

import type {
  Journaled,
  Me,
  Media,
  MessageAck,
  MessageReaction,
  MessageRevoked,
  Notification,
  NotificationRead,
  StateChange,
  StateName,
  TempId,
  Typing,
} from "../../../clients/typescript/src";

export type {
  AckName,
  Chat,
  Contact,
  Journaled,
  Media,
  Message,
  Page,
  QrCode,
  TempId,
} from "../../../clients/typescript/src";

export type Scope = "read" | "send" | "control" | "admin";

export type ConnectorKind = "simulator" | "waha" | "cloud_api";

/** A device's state. */
export type DeviceStateName = StateName;

/** The account a linked device speaks as. */
export type Account = Me;

export interface Device {
  id: string;
  name: string;
  connector: ConnectorKind;
  state: DeviceStateName;
  stateReason: string | null;
  me: Account | null;
  autostart: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface ApiError {
  code: string;
  message: string;
}

/** Every answer to a client event: `{ ok: true, data }` or `{ ok: false, error }`. */
export type Reply<T> = { ok: true; data: T } | { ok: false; error: ApiError };

// The journaled events the dashboard reads, as the daemon sends them: the payload types are
// generated from the daemon's Rust types (clients/typescript), with the fields every journaled
// event carries.
export type StateEvent = Journaled<StateChange>;
export type AckEvent = Journaled<MessageAck>;
export type TypingEvent = Journaled<Typing>;
export type RevokedEvent = Journaled<MessageRevoked>;
/** A reaction to a message; `emoji` is `""` when `from` took theirs back. */
export type ReactionEvent = Journaled<MessageReaction>;
/** Something to tell the person at the dashboard: a message (`kind` `message`) or a call. */
export type NotificationEvent = Journaled<Notification>;
/** Notifications read on some client (reading their chat clears them too). */
export type NotificationReadEvent = Journaled<NotificationRead>;

/** `message:send`: a text, a file (uploaded first) or both, perhaps quoting a message of the chat. */
export interface SendRequest {
  chatId: string;
  text: string;
  tempId: TempId;
  media?: Media;
  replyTo?: string;
}

/** Sent after a resume's replay (or a fresh socket's snapshot); not journaled, no seq. */
export interface SyncEvent {
  deviceId: string;
  at: string;
  fromSeq: number;
  toSeq: number;
  recovered: boolean;
}

/** The first event on a device namespace: who is signed in and what they may do there. */
export interface SessionEvent {
  sub: string;
  deviceId: string;
  socketId: string;
  scopes: Scope[];
}

export interface DeviceUpdate {
  device: Device;
  deviceId: string;
  seq: number;
  at: string;
}

export interface DeviceRemoved {
  deviceId: string;
  at: string;
}

export interface IssuedToken {
  token: string;
  expiresAt: string;
  /** What it grants: device ids (or `*`) and scopes. */
  devices: string[];
  scopes: Scope[];
}

/**
 * Every journaled event's name, as on Socket.IO: what the event monitor shows and webhook
 * subscriptions may name (besides `*`, all of them).
 */
export { EVENT_NAMES } from "../../../clients/typescript/src";

/** One event of a device's journal, as `GET …/events` and webhooks carry it: `data` is its payload. */
export interface JournalEnvelope {
  type: string;
  deviceId: string;
  seq: number;
  at: string;
  data: unknown;
}

/** A page of a device's journal, oldest first. */
export interface JournalPage {
  items: JournalEnvelope[];
  /** The device's last seq. */
  head: number;
  /** False when events after `after` were pruned, or `after` is beyond `head`. */
  recovered: boolean;
  /** The `after` of the next page (a page ends early to stay within the reply budget). */
  nextAfter?: number | null;
}

/** An API key as the API lists it: never its secret. */
export interface ApiKey {
  id: string;
  name: string;
  /** Device ids, or `*` for all. */
  devices: string[];
  scopes: Scope[];
  createdAt: string;
}

/** A key just made: the only answer that carries its secret (`key`). */
export interface CreatedApiKey extends ApiKey {
  key: string;
}

export interface Webhook {
  id: string;
  url: string;
  /** Event names, or `*` for all. */
  events: string[];
  /** Device ids, or `*` for all. */
  devices: string[];
  enabled: boolean;
  /** Made over the API, or declared in the configuration (which owns it). */
  source: "api" | "config";
  /** Why the daemon disabled it (its URL answered `410 Gone`). */
  disabledReason: string | null;
  createdAt: string;
  updatedAt: string;
}

/** A subscription just made: the only answer that carries its signing secret. */
export interface CreatedWebhook extends Webhook {
  secret: string;
}

export type DeliveryStatus = "pending" | "retrying" | "delivered" | "failed";

/** One event for one subscription, as the delivery log shows it. */
export interface Delivery {
  /** Also the `webhook-id` header of every attempt. */
  id: string;
  webhookId: string;
  deviceId: string;
  seq: number;
  /** The event's name. */
  type: string;
  status: DeliveryStatus;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  nextAttemptAt: string;
  deliveredAt: string | null;
  createdAt: string;
}

/** `GET /api/v1/stats`, over the devices the credential sees. */
export interface Stats {
  devices: number;
  activeDevices: number;
  messages: number;
  connections: number;
}

/** A Socket.IO protocol profile, as `GET /api/v1/profiles` lists it. */
export interface ProfileSummary {
  name: string;
  description: string;
  source: "shipped" | "user";
  events: Record<string, string>;
  emits: Record<string, string>;
}
