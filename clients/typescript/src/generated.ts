// Generated from devicebridge's Rust types by `cargo test` (src/model/typescript.rs).
// Do not edit: change the types, then run `DEVICEBRIDGE_WRITE_TYPES=1 cargo test --lib typescript`.

/** A device's state. */
export type StateName = "stopped" | "starting" | "qr" | "authenticated" | "ready" | "disconnected" | "logged_out" | "failed";

/** How far a message got: `ack` -1 to 4, by name. */
export type AckName = "error" | "pending" | "server" | "device" | "read" | "played";

export type Me = { id: string, name: string, };

export type Media = { url: string, 
/**
 * When a send leaves it out, the type of `name` (or of the link's file name) is taken.
 */
mime: string, name: string | null, size: number | null, };

export type Template = { name: string, language: string, components?: Array<Record<string, unknown>>, };

export type TempId = string | number;

export type Message = { id: string, upstreamId: string | null, deviceId: string, chatId: string, from: string, fromMe: boolean, type: string, body: string, media: Media | null, replyTo: string | null, timestamp: string, ack: number, ackName: AckName, tempId: TempId | null, 
/**
 * Deleted for everyone: the body is gone, the message keeps its place in the chat.
 */
revoked: boolean, 
/**
 * The template it was sent as, if any (then `body` is what the sender gave to show).
 */
template?: Template, };

export type Chat = { id: string, deviceId: string, name: string, kind: string, unreadCount: number, lastMessage: Message | null, updatedAt: string, archived: boolean, muted: boolean, };

export type Contact = { id: string, deviceId: string, name: string, pushName: string | null, presence: string, lastSeenAt: string | null, };

export type Page<T> = { items: Array<T>, 
/**
 * Where the next page starts (`cursor` or `before`), or null on the last page.
 */
nextCursor: string | null, };

export type StateChange = { state: StateName, previous: StateName, reason: string | null, };

export type QrCode = { qr: string, 
/**
 * A `data:image/png;base64,…` picture of the code.
 */
image: string, expiresAt: string, attempt: number, maxAttempts: number, };

export type Authenticated = Record<symbol, never>;

export type Ready = { me: Me, };

export type Disconnected = { reason: string, };

export type ConnectionStatus = { upstream: string, latencyMs: number | null, };

export type MessageAck = { messageId: string, upstreamId: string | null, chatId: string, ack: number, ackName: AckName, };

export type MessageStatus = { messageId: string, chatId: string, status: string, attempt: number, error: string | null, };

export type MessageRead = { chatId: string, messageIds: Array<string>, readBy: string, };

export type MessageRevoked = { chatId: string, messageId: string, };

export type MessageReaction = { chatId: string, messageId: string, from: string, emoji: string, };

export type Typing = { chatId: string, contactId: string, };

export type Notification = { id: string, kind: string, title: string, body: string, chatId: string | null, messageId: string | null, };

export type NotificationRead = { ids: Array<string>, };

/** Every journaled event's name: what webhook subscriptions and hooks may name. */
export const EVENT_NAMES = ["state", "qr", "authenticated", "ready", "disconnected", "connection:status", "message", "message:ack", "message:status", "message:read", "message:revoked", "message:reaction", "typing:start", "typing:stop", "chat:update", "contact:update", "notification", "notification:read"] as const;

/** Every journaled event of a device namespace, by name: its payload's own fields. */
export interface DeviceEvents {
  "state": StateChange;
  "qr": QrCode;
  "authenticated": Authenticated;
  "ready": Ready;
  "disconnected": Disconnected;
  "connection:status": ConnectionStatus;
  "message": Message;
  "message:ack": MessageAck;
  "message:status": MessageStatus;
  "message:read": MessageRead;
  "message:revoked": MessageRevoked;
  "message:reaction": MessageReaction;
  "typing:start": Typing;
  "typing:stop": Typing;
  "chat:update": Chat;
  "contact:update": Contact;
  "notification": Notification;
  "notification:read": NotificationRead;
}
