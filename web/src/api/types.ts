// The shapes devicebridge sends and takes. Every one is generated from the daemon's Rust types
// (clients/typescript, which the daemon's `cargo test` keeps current); the names below are the
// dashboard's words for some of them.

import type {
  DeviceHealth,
  Greeting,
  Journaled,
  LimitWarning,
  Me,
  MessageAck,
  MessageStatus,
  MessageEdited,
  ChatMerged,
  MessageReaction,
  MessageRevoked,
  Notification,
  NotificationRead,
  PairingCode,
  PollVote,
  StateChange,
  StateName,
  Synced,
  Typing,
} from "../../../clients/typescript/src";

export type {
  AckName,
  ApiError,
  ApiKey,
  Capability,
  Chat,
  ConnectorKind,
  Contact,
  ContactCard,
  CreatedApiKey,
  CreatedWebhook,
  Delivery,
  DeliveryStatus,
  Device,
  DeviceRemoved,
  DeviceRequests,
  DeviceSocket,
  DeviceUpdate,
  FleetRequests,
  FleetSocket,
  IssuedCode,
  GovernorChanges,
  GovernorLimits,
  GovernorView,
  Group,
  GroupParticipant,
  HealthStatus,
  Invite,
  IssuedToken,
  Journaled,
  JournalEnvelope,
  JournalPage,
  Location,
  Media,
  MediaKind,
  Message,
  NewPoll,
  NumberCheck,
  Page,
  PairingCode,
  ParticipantAction,
  ParticipantOutcome,
  Poll,
  ProfileSummary,
  QrCode,
  Reply,
  Restrictions,
  Scope,
  SendRequest,
  Sink,
  Stats,
  TempId,
  Webhook,
} from "../../../clients/typescript/src";

/**
 * Every journaled event's name, as on Socket.IO: what the event monitor shows and webhook
 * subscriptions may name (besides `*`, all of them).
 */
export { EVENT_NAMES } from "../../../clients/typescript/src";

/** A device's state. */
export type DeviceStateName = StateName;

/** The account a linked device speaks as. */
export type Account = Me;

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

/** A message's text (or caption) edited, by us or by the other side. */
export type EditedEvent = Journaled<MessageEdited>;
/** Two chats found to be one person's: `from` (a linked id's) is now part of `into`. */
export type MergedEvent = Journaled<ChatMerged>;
/** Someone's vote on a poll, replacing their earlier one (none: taken back). */
export type VoteEvent = Journaled<PollVote>;
/** How the device's upstream session is doing, told when it changes (SPEC §12's watchdog). */
export type HealthEvent = Journaled<DeviceHealth>;
/** A daily cap reached (or 80 % of it), or one of WhatsApp's restrictions put on or lifted. */
export type LimitWarningEvent = Journaled<LimitWarning>;
/** What the relay says of a message beyond its acks: waiting (held, and why), retried, failed. */
export type StatusEvent = Journaled<MessageStatus>;
/** A code to type on a phone, given for its number while the device shows QR codes. */
export type PairingCodeEvent = Journaled<PairingCode>;

/** Sent after a resume's replay (or a fresh socket's snapshot); not journaled, no seq. */
export type SyncEvent = Synced;

/** The first event on a device namespace: who is signed in and what they may do there. */
export type SessionEvent = Greeting;
