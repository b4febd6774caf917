// Generated from devicebridge's Rust types by `cargo test` (src/api/typescript.rs).
// Do not edit: change the types, then run `DEVICEBRIDGE_WRITE_TYPES=1 cargo test --lib typescript`.

/** A device's state. */
export type StateName = "stopped" | "starting" | "qr" | "authenticated" | "ready" | "disconnected" | "logged_out" | "failed";

/** How far a message got: `ack` -1 to 4, by name. */
export type AckName = "error" | "pending" | "server" | "device" | "read" | "played";

export type Me = { id: string, name: string, };

export type Capability = "send.text" | "send.image" | "send.document" | "send.voice" | "send.video" | "send.location" | "send.contact" | "send.poll" | "message.edit" | "message.forward" | "message.react" | "message.revoke" | "pairing.code" | "groups.manage" | "contacts.lookup" | "contacts.picture" | "contacts.block" | "numbers.check";

export type Media = { url: string, 
/**
 * When a send leaves it out, the type of `name` (or of the link's file name) is taken.
 */
mime: string, name: string | null, size: number | null, 
/**
 * On a send, what to send the file as; by default what its type says (an `audio/*`
 * file is a plain audio file: `voice` makes it a voice note). Not kept: the message's
 * `type` says it.
 */
type?: MediaKind, };

export type MediaKind = "image" | "document" | "voice" | "video" | "audio";

export type Location = { latitude: number, longitude: number, 
/**
 * What the place is called.
 */
name?: string, address?: string, };

export type ContactCard = { name: string, 
/**
 * Numbers with their country code, as people write them.
 */
phones: Array<string>, 
/**
 * The vCard itself; built from `name` and `phones` when a send leaves it out.
 */
vcard?: string, };

export type PollVotes = { option: string, voters: Array<string>, };

export type Poll = { question: string, options: Array<string>, multiple: boolean, 
/**
 * Who picks each option now, one entry per option in `options`' order.
 */
votes: Array<PollVotes>, };

export type Template = { name: string, language: string, 
/**
 * Header, body and button parameters, as Meta takes them.
 */
components?: Array<Record<string, unknown>>, };

export type TempId = string | number;

export type Message = { id: string, upstreamId: string | null, deviceId: string, chatId: string, from: string, 
/**
 * The sender's phone number (digits, country code first), when known: `from` may be a
 * linked id (`…@lid`) whose number WhatsApp has not told yet.
 */
fromPhone: string | null, fromMe: boolean, type: string, body: string, media: Media | null, replyTo: string | null, timestamp: string, ack: number, ackName: AckName, tempId: TempId | null, 
/**
 * Deleted for everyone: the body is gone, the message keeps its place in the chat.
 */
revoked: boolean, 
/**
 * The template it was sent as, if any (then `body` is what the sender gave to show).
 */
template?: Template, 
/**
 * When its text was last edited, by either side; `null` if never.
 */
editedAt: string | null, location?: Location, contacts?: Array<ContactCard>, poll?: Poll, 
/**
 * A voice note's, audio's or video's length.
 */
durationSecs?: number, 
/**
 * Sent on from another chat.
 */
forwarded: boolean, 
/**
 * On a message this account forwarded: the upstream id of the original, which a
 * connector that forwards natively (WAHA's `forwardMessage`) names instead of sending a
 * copy. Absent when the original was never known upstream.
 */
forwardOf?: string, };

export type Chat = { id: string, deviceId: string, name: string, kind: string, unreadCount: number, lastMessage: Message | null, updatedAt: string, archived: boolean, muted: boolean, 
/**
 * Kept at the top of the chat list.
 */
pinned: boolean, 
/**
 * Marked unread by hand ("mark as unread"), whatever `unreadCount` says, until read.
 */
markedUnread: boolean, };

export type Contact = { id: string, deviceId: string, name: string, pushName: string | null, presence: string, lastSeenAt: string | null, 
/**
 * Their phone number, as digits with the country code first (E.164 without the `+`),
 * when known: from a phone id, or from the number the upstream told behind a linked id.
 */
phone: string | null, 
/**
 * Their linked id (`…@lid`), when known: WhatsApp names some people by one instead of
 * their number.
 */
lid: string | null, 
/**
 * What their profile says about them, as last looked up; null until then, or when they
 * show it to nobody.
 */
about: string | null, 
/**
 * Blocked by this account: WhatsApp delivers nothing of theirs.
 */
blocked: boolean, 
/**
 * Where the daemon serves their profile picture (never the upstream's own address, which
 * expires and carries credentials); null when their connector has no pictures or the
 * upstream said they have none.
 */
pictureUrl: string | null, };

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

export type MessageStatus = { messageId: string, chatId: string, status: "queued" | "retrying" | "failed", attempt: number, error: string | null, 
/**
 * Why a `queued` message waits although the upstream is there: `paced` (the device's
 * governor, or the upstream's own rate limit) or `restricted` (WhatsApp restricts
 * messages to new contacts). Absent otherwise.
 */
reason?: "paced" | "restricted", 
/**
 * When a held message is expected to go (RFC 3339); absent when nobody can say (a
 * restriction without an end), or when it is not held.
 */
sendAt?: string, };

export type MessageRead = { chatId: string, messageIds: Array<string>, readBy: string, };

export type MessageRevoked = { chatId: string, messageId: string, };

export type MessageReaction = { chatId: string, messageId: string, from: string, 
/**
 * Their phone number (digits, country code first) when known (see `Message::from_phone`).
 */
fromPhone: string | null, emoji: string, };

export type Typing = { chatId: string, contactId: string, 
/**
 * Their phone number (digits, country code first) when known (see `Message::from_phone`).
 */
fromPhone: string | null, };

export type Notification = { id: string, kind: string, title: string, body: string, chatId: string | null, messageId: string | null, };

export type NotificationRead = { ids: Array<string>, all: boolean, };

export type StatusNew = { 
/**
 * Who posted it: the contact for a story, the channel for a channel's post.
 */
from: string, message: Message, };

export type PollVote = { chatId: string, messageId: string, voter: string, 
/**
 * Their phone number (digits, country code first) when known (see `Message::from_phone`).
 */
fromPhone: string | null, options: Array<string>, };

export type MessageEdited = { chatId: string, messageId: string, body: string, editedAt: string, };

export type ChatMerged = { into: string, from: string, };

export type PairingCode = { code: string, phone: string, expiresAt: string, };

export type IssuedCode = { 
/**
 * The code to type on the phone, as `ABCD-EFGH`.
 */
code: string, 
/**
 * When the code stops linking; the device leaving state `qr` ends it sooner.
 */
expiresAt: string, };

export type GroupRole = "member" | "admin" | "superadmin";

export type GroupParticipant = { id: string, role: GroupRole, };

export type Group = { id: string, name: string, description: string | null, 
/**
 * Who made it, when the upstream says.
 */
owner: string | null, createdAt: string | null, participants: Array<GroupParticipant>, };

export type ParticipantAction = "add" | "remove" | "promote" | "demote";

export type ParticipantsChange = { add: Array<string>, remove: Array<string>, promote: Array<string>, demote: Array<string>, };

export type ParticipantOutcome = { id: string, action: ParticipantAction, ok: boolean, 
/**
 * Why not, when not `ok`.
 */
error?: string, };

export type NewGroup = { name: string, participants: Array<string>, };

export type GroupPatch = { name?: string, 
/**
 * Empty takes the description away.
 */
description?: string, };

export type Invite = { code: string, url: string, };

export type GroupChange = "created" | "name" | "description" | "participants" | "left";

export type ParticipantChange = { id: string, action: ParticipantAction, };

export type GroupUpdate = { chatId: string, change: GroupChange, by: string | null, participants?: Array<ParticipantChange>, name?: string, description?: string, };

export type HealthStatus = "healthy" | "stalled" | "flapping";

export type DeviceHealth = { status: HealthStatus, reason: "silent_with_waiting_acks" | "probe_failed" | null, lastUpstreamEventAt: string | null, waitingAcks: number | null, };

export type LimitWarning = { kind: "new_chats_per_day" | "reachout_timelock" | "message_capping", active: boolean, used: number | null, limit: number | null, resetsAt: string | null, };

export type GovernorLimits = { 
/**
 * Whether the pace, the daily cap, the warm-up, the number checks' pace and typing
 * apply. WhatsApp's restrictions and an upstream's rate-limit answers are obeyed
 * either way.
 */
enabled: boolean, 
/**
 * Messages a minute to the upstream.
 */
perMinute: number, 
/**
 * Messages that may go at once, before the pace applies.
 */
burst: number, 
/**
 * How much each gap between paced messages varies, as a share of it (0.3: ±30 %).
 */
jitter: number, 
/**
 * Messages a day to chats that never wrote to this account.
 */
newChatsPerDay: number, 
/**
 * Days over which a newly linked account rises from a quarter of the limits to all of
 * them; 0 for none.
 */
warmupDays: number, 
/**
 * Checks a minute of whether a number is on WhatsApp.
 */
numberChecksPerMinute: number, 
/**
 * Whether a text is preceded by the typing indicator, for a time that grows with it.
 */
typing: boolean, };

export type GovernorChanges = { enabled?: boolean, per_minute?: number, burst?: number, jitter?: number, new_chats_per_day?: number, warmup_days?: number, number_checks_per_minute?: number, typing?: boolean, };

export type GovernorView = { 
/**
 * The limits in force, the warm-up not applied.
 */
limits: GovernorLimits, 
/**
 * The share of the limits a newly linked account has today (0.25 rising to 1).
 */
warmup: number, 
/**
 * Messages handed to the upstream in the last minute (counted while enabled).
 */
sentLastMinute: number, 
/**
 * The pace in force now, the warm-up applied.
 */
perMinuteNow: number, 
/**
 * Messages today to chats that never wrote to this account.
 */
newChatsToday: number, 
/**
 * Today's cap on them, the warm-up applied.
 */
newChatsLimitToday: number, 
/**
 * When the next paced message may go; `null` when one may go now.
 */
nextSendAt: string | null, 
/**
 * Until when the upstream asked for no more requests (HTTP 429, `Retry-After`).
 */
throttledUntil: string | null, };

export type Restrictions = { 
/**
 * No messages to new contacts until it ends (sends fail with WhatsApp's error 463).
 */
reachoutTimelock: ReachoutTimelock | null, 
/**
 * A quota of new contacts per cycle (sends fail with error 475 once `CAPPED`).
 */
messageCapping: MessageCapping | null, };

export type ReachoutTimelock = { isActive: boolean, enforcementType: string | null, 
/**
 * When it ends (RFC 3339); `null` when WhatsApp did not say.
 */
timeEnforcementEnds: string | null, };

export type MessageCapping = { 
/**
 * WhatsApp's word for where the account stands, `CAPPED` once the quota is used up.
 */
cappingStatus: string, totalQuota: number | null, usedQuota: number | null, cycleStart: string | null, 
/**
 * When the cycle ends and the quota starts over (RFC 3339).
 */
cycleEnd: string | null, };

export type JournalEnvelope = { type: string, deviceId: string, seq: number, at: string, data: unknown, };

export type Secret = string;

export type ConnectorKind = "simulator" | "waha" | "cloud_api";

export type Behaviour = "echo" | "silent" | "slow_reader";

export type SimulatedContact = { id: string, name: string, 
/**
 * The contact's linked id (`<digits>@lid`), by which WhatsApp may name them before it
 * tells their number (`simulator/act` with `asLid`, then `reveal_lid`).
 */
lid?: string | null, behaviour?: Behaviour, 
/**
 * What their profile says about them. Left out, WhatsApp's own default line; empty,
 * they show it to nobody.
 */
about?: string | null, 
/**
 * Whether they have a profile picture (a drawing of their own, the same every time).
 */
picture?: boolean, };

export type SimulatorSpec = { 
/**
 * The simulated phone's own number. Left out, the device is given one of its own when it
 * is created: the first from 15550000001 up that no other simulated phone holds or has as
 * a contact. It is kept in the device's definition from then on.
 */
phone?: string | null, server_ack_ms?: number, delivered_ms?: number, read_ms?: number, 
/**
 * How long an echoing contact types before its reply arrives.
 */
typing_ms?: number, contacts?: Array<SimulatedContact>, };

export type WahaSpec = { 
/**
 * Where WAHA's REST API is, e.g. `http://localhost:3001`.
 */
base_url?: string, 
/**
 * Sent as `X-Api-Key`; WAHA may run without one.
 */
api_key?: Secret, 
/**
 * The WAHA session this device is (WAHA Core has only `default`).
 */
session?: string, 
/**
 * The HMAC key WAHA signs its webhooks with; devicebridge sets it on the session.
 */
webhook_secret?: Secret, };

export type CloudApiSpec = { phone_number_id?: string, 
/**
 * The bearer token for the Graph API.
 */
access_token?: Secret, 
/**
 * Signs Meta's webhooks (`X-Hub-Signature-256`).
 */
app_secret?: Secret, 
/**
 * What Meta must echo when it verifies the callback URL.
 */
verify_token?: Secret, 
/**
 * The Graph API base, version included.
 */
graph_url?: string, };

export type DeviceHooks = { sound?: boolean, desktop?: boolean, };

export type DeviceQr = { 
/**
 * Keep offering new codes, a round of `qr.max_attempts` after another, until the device
 * is linked or stopped, instead of stopping with `qr_timeout` after one round: for a
 * device someone may get to link at any time, such as the shipped demo.
 */
keep_offering?: boolean, };

export type Filtered = "drop" | "event";

export type DeviceFilters = { 
/**
 * Contacts' stories.
 */
statuses?: Filtered, 
/**
 * Posts of the channels the account follows.
 */
channels?: Filtered, };

export type DeviceSpec = { name: string, connector?: ConnectorKind, autostart?: boolean, simulator?: SimulatorSpec, waha?: WahaSpec, cloud_api?: CloudApiSpec, hooks?: DeviceHooks, qr?: DeviceQr, filters?: DeviceFilters, 
/**
 * The send governor's limits for this device, over the daemon's `[governor]`.
 */
governor?: GovernorChanges, };

/** Every journaled event's name: what webhook subscriptions and hooks may name. */
export const EVENT_NAMES = ["state", "qr", "authenticated", "ready", "disconnected", "connection:status", "message", "message:ack", "message:status", "message:read", "message:revoked", "message:reaction", "typing:start", "typing:stop", "chat:update", "contact:update", "notification", "notification:read", "status:new", "poll:vote", "message:edited", "chat:merged", "pairing:code", "group:update", "device:health", "limit:warning"] as const;

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
  "status:new": StatusNew;
  "poll:vote": PollVote;
  "message:edited": MessageEdited;
  "chat:merged": ChatMerged;
  "pairing:code": PairingCode;
  "group:update": GroupUpdate;
  "device:health": DeviceHealth;
  "limit:warning": LimitWarning;
}

export type List<T> = { items: Array<T>, };

export type ErrorCode = "bad_request" | "invalid_device_id" | "unauthorized" | "forbidden" | "not_found" | "device_not_found" | "chat_not_found" | "contact_not_found" | "message_not_found" | "media_not_found" | "key_not_found" | "webhook_not_found" | "delivery_not_found" | "sink_not_found" | "invalid_state" | "device_exists" | "qr_expired" | "phone_mismatch" | "unsupported_by_connector" | "edit_window_closed" | "not_group_admin" | "method_not_allowed" | "payload_too_large" | "headers_too_large" | "rate_limited" | "upstream_error" | "device_not_ready" | "over_capacity" | "storage_unavailable" | "not_ready" | "internal";

export type ApiError = { code: ErrorCode, 
/**
 * A sentence for a person; it may change between versions, the code does not.
 */
message: string, };

export type ErrorEnvelope = { error: ApiError, };

export type Scope = "read" | "send" | "control" | "admin";

export type Device = { id: string, name: string, connector: ConnectorKind, state: StateName, stateReason: string | null, me: Me | null, autostart: boolean, 
/**
 * In a cluster, the node that runs the device; `null` while no node does (its owner
 * died and its lease has not run out yet). Absent on one node.
 */
owner?: string | null, 
/**
 * What its connector can do; anything else is refused with `unsupported_by_connector`.
 */
capabilities: Array<Capability>, 
/**
 * How its upstream session is doing: `stalled` while the watchdog restarts a session
 * that said it worked and did nothing, `flapping` while its reconnects are spaced out
 * (see `device:health`).
 */
health: HealthStatus, 
/**
 * Its send governor: the limits in force and where it stands against them (SPEC §12).
 * `GET /devices/{id}` shows it; lists leave it out.
 */
governor?: GovernorView, 
/**
 * WhatsApp's restrictions on the account, as its upstream last reported them: while one
 * is in force, messages to chats that never wrote wait (`reason: "restricted"`).
 * `GET /devices/{id}` shows them; lists leave them out.
 */
restrictions?: Restrictions, createdAt: string, updatedAt: string, };

export type DevicePatch = { name?: string, autostart?: boolean, simulator?: SimulatorSpec, waha?: WahaSpec, cloud_api?: CloudApiSpec, qr?: DeviceQr, filters?: DeviceFilters, 
/**
 * Changes to the send governor's limits, at once and kept over restarts, for a device
 * declared in a file too (its file's `[governor]` stays as written, under them). Needs
 * the `admin` scope.
 */
governor?: GovernorChanges, };

export type Qr = { 
/**
 * The text the code encodes.
 */
qr: string, 
/**
 * The code as a picture: a `data:image/png;base64,` URL.
 */
image: string, 
/**
 * When the code is replaced by the next one.
 */
expiresAt: string, 
/**
 * Which code this is since the device entered state `qr`, from 1.
 */
attempt: number, 
/**
 * How many codes are shown before the device gives up.
 */
maxAttempts: number, };

export type DropBody = { 
/**
 * How many of the reconnects that follow fail.
 */
failReconnects?: number, };

export type SimulatorAct = { "do": "message", from: string, chatId?: string | null, 
/**
 * Written from the contact's linked id (its `lid` in the device file), as WhatsApp
 * names people whose number it has not told yet.
 */
asLid?: boolean, text?: string, location?: Location | null, contacts?: Array<ContactCard> | null, poll?: NewPoll | null, 
/**
 * A file the simulated phone makes up: bytes of this size and type.
 */
media?: SimulatedFile | null, } | { "do": "reveal_lid", contact: string, } | { "do": "status", from: string, text: string, } | { "do": "channel_post", channel: string, text: string, } | { "do": "edit", from: string, messageId: string, text: string, } | { "do": "vote", from: string, messageId: string, options: Array<string>, } | { "do": "group_add" } & GroupMembers | { "do": "group_remove" } & GroupMembers | { "do": "group_promote" } & GroupMembers | { "do": "group_demote" } & GroupMembers | { "do": "group_leave" } & GroupMember | { "do": "group_rename" } & GroupMember;

export type SimulatorActed = { upstreamId: string, };

export type SimulatedFile = { type: SimulatedKind, mime: string, name?: string | null, size: number, };

export type SimulatedKind = "image" | "document" | "voice" | "video" | "audio" | "sticker";

export type ScannedQr = { 
/**
 * The QR code's text, or its bare code.
 */
qr: string, };

export type TypedCode = { 
/**
 * The code as `POST …/pairing-code` gave it; case, spaces and the dash do not matter.
 */
code: string, 
/**
 * The number the code was given for.
 */
phone: string, };

export type GroupMembers = { from: string, chatId: string, participants: Array<string>, };

export type GroupMember = { from: string, chatId: string, name?: string | null, };

export type Pairing = ScannedQr | TypedCode;

export type Paired = { deviceId: string, linked: boolean, };

export type OpenChat = { 
/**
 * Country code first, with or without `+`; spaces, dashes, dots and parentheses are
 * ignored.
 */
phone: string, };

export type ChatFlags = { archived?: boolean, muted?: boolean, pinned?: boolean, unread?: boolean, };

export type NewMessage = { 
/**
 * The text, or the caption of `media`.
 */
text?: string, 
/**
 * A file to send, by link: the `media` an upload answered, or any URL the upstream can
 * fetch.
 */
media?: Media, 
/**
 * A place.
 */
location?: Location, 
/**
 * Contact cards.
 */
contacts?: Array<ContactCard>, 
/**
 * A poll.
 */
poll?: NewPoll, 
/**
 * The id of the message this one answers, in the same chat.
 */
replyTo?: string, 
/**
 * A template approved by Meta (Cloud API devices only); it may open a chat with a new
 * number.
 */
template?: Template, };

export type NewPoll = { question: string, options: Array<string>, multiple?: boolean, };

export type ReadUpTo = { 
/**
 * Read up to and including this message; all if absent.
 */
messageId?: string, };

export type EditBody = { 
/**
 * As long as a send's: the body is held to `limits.max_message_bytes`.
 */
text: string, };

export type VoteBody = { options: Array<string>, };

export type ForwardBody = { chatId: string, };

export type ReadReceipt = { messageIds: Array<string>, };

export type NumberCheck = { 
/**
 * The number's digits, country code first, as it was asked for without `+`, spaces or
 * dashes.
 */
phone: string, 
/**
 * Whether it has a WhatsApp account.
 */
exists: boolean, 
/**
 * The chat to write to it in, as the upstream names it (for some countries it differs
 * from the number as dialled); null when it has no account.
 */
chatId: string | null, };

export type InboxEntry = { messageId: string, upstreamId: string, chatId: string, 
/**
 * The message's type: `text`, `voice`, `location`, `poll`, ….
 */
type: string, body: string, receivedAt: string, location?: Location, contacts?: Array<ContactCard>, poll?: Poll, 
/**
 * A voice note's, audio's or video's length.
 */
durationSecs?: number, 
/**
 * Sent on from another chat.
 */
forwarded: boolean, 
/**
 * On a message this account forwarded: the upstream id of the original, which a
 * connector that forwards natively (WAHA's `forwardMessage`) names instead of sending a
 * copy. Absent when the original was never known upstream.
 */
forwardOf?: string, };

export type ApiKey = { id: string, name: string, 
/**
 * Device ids, or `*` for all.
 */
devices: Array<string>, scopes: Array<Scope>, createdAt: string, };

export type CreatedApiKey = { 
/**
 * The key to present as `X-Api-Key`; shown only in this answer.
 */
key: string, id: string, name: string, 
/**
 * Device ids, or `*` for all.
 */
devices: Array<string>, scopes: Array<Scope>, createdAt: string, };

export type NewApiKey = { 
/**
 * Tells the keys apart.
 */
name: string, 
/**
 * Device ids, or `*` for all.
 */
devices?: Array<string>, 
/**
 * At least one.
 */
scopes: Array<Scope>, };

export type NewToken = { 
/**
 * Whom the token is for (its `sub` claim).
 */
sub: string, 
/**
 * Device ids, or `*` for all; left out, the asking credential's own.
 */
devices?: Array<string>, 
/**
 * Left out, the asking credential's own: a dashboard signed in with a key it knows
 * nothing of gets a token with all of that key's rights, and reads them in the answer.
 */
scopes?: Array<Scope>, 
/**
 * Seconds until it ends.
 */
ttlSecs?: number, 
/**
 * The protocol profile the token's connections speak (see `GET /api/v1/profiles`); its
 * REST requests and answers are translated by it too.
 */
profile?: string, };

export type IssuedToken = { 
/**
 * To present as `Authorization: Bearer <token>`.
 */
token: string, 
/**
 * Refused from this instant; no later than the end of a token that asked for it.
 */
expiresAt: string, 
/**
 * What it grants: device ids (or `*`)…
 */
devices: Array<string>, 
/**
 * …and scopes.
 */
scopes: Array<Scope>, };

export type WebhookSource = "config" | "api";

export type Webhook = { id: string, url: string, 
/**
 * Event names, as on Socket.IO, or `*` for all.
 */
events: Array<string>, 
/**
 * Device ids, or `*` for all.
 */
devices: Array<string>, enabled: boolean, 
/**
 * Where it was declared: over the API, or in the configuration, which owns it.
 */
source: WebhookSource, 
/**
 * Why the daemon disabled it (a `410 Gone`), if it did.
 */
disabledReason: string | null, createdAt: string, updatedAt: string, };

export type CreatedWebhook = { 
/**
 * The signing secret (`whsec_…`); shown only in this answer.
 */
secret: string, id: string, url: string, 
/**
 * Event names, as on Socket.IO, or `*` for all.
 */
events: Array<string>, 
/**
 * Device ids, or `*` for all.
 */
devices: Array<string>, enabled: boolean, 
/**
 * Where it was declared: over the API, or in the configuration, which owns it.
 */
source: WebhookSource, 
/**
 * Why the daemon disabled it (a `410 Gone`), if it did.
 */
disabledReason: string | null, createdAt: string, updatedAt: string, };

export type NewWebhook = { 
/**
 * http(s); private and loopback addresses are refused unless `webhooks.allow_private`.
 */
url: string, 
/**
 * Event names, as on Socket.IO, or `*` for all.
 */
events?: Array<string>, 
/**
 * Device ids, or `*` for all.
 */
devices?: Array<string>, 
/**
 * A `whsec_…` secret of the caller's choosing (base64 of 24 to 64 bytes); generated when
 * absent.
 */
secret?: string, enabled?: boolean, };

export type WebhookPatch = { url?: string, events?: Array<string>, devices?: Array<string>, 
/**
 * A new `whsec_…` secret (base64 of 24 to 64 bytes).
 */
secret?: string, enabled?: boolean, };

export type DeliveryStatus = "pending" | "retrying" | "delivered" | "failed";

export type Delivery = { 
/**
 * The `webhook-id` header of every attempt.
 */
id: string, webhookId: string, deviceId: string, seq: number, 
/**
 * The event's name.
 */
type: string, status: DeliveryStatus, attempts: number, lastStatusCode: number | null, lastError: string | null, nextAttemptAt: string, deliveredAt: string | null, createdAt: string, };

export type SinkKind = "nats" | "redis" | "amqp";

export type Sink = { id: string, kind: SinkKind, 
/**
 * The server, its password (if any) shown as `***`.
 */
url: string, 
/**
 * The JetStream stream, Redis key or RabbitMQ exchange it publishes to.
 */
target: string, 
/**
 * Event names, as on Socket.IO, or `*` for all.
 */
events: Array<string>, 
/**
 * Device ids, or `*` for all.
 */
devices: Array<string>, enabled: boolean, 
/**
 * Where it was declared: over the API, or in the configuration (`[[sinks]]`), which owns it.
 */
source: WebhookSource, 
/**
 * Events journaled on the devices it follows and not yet confirmed by its server.
 */
lag: number, 
/**
 * Whether it is connected and its last page was confirmed.
 */
connected: boolean, 
/**
 * Why it last failed to connect or publish, until it succeeds again.
 */
lastError: string | null, createdAt: string, updatedAt: string, };

export type NewSink = { kind: SinkKind, url: string, 
/**
 * Event names, as on Socket.IO, or `*` for all.
 */
events?: Array<string>, 
/**
 * Device ids, or `*` for all.
 */
devices?: Array<string>, 
/**
 * `nats` only: the JetStream stream (default `DEVICEBRIDGE`).
 */
stream?: string, 
/**
 * `redis` only: the stream's key (default `devicebridge:events`).
 */
key?: string, 
/**
 * `amqp` only: the topic exchange (default `devicebridge`).
 */
exchange?: string, enabled?: boolean, };

export type SinkPatch = { url?: string, events?: Array<string>, devices?: Array<string>, stream?: string, key?: string, exchange?: string, enabled?: boolean, };

export type JournalPage = { items: Array<JournalEnvelope>, 
/**
 * The device's last `seq`.
 */
head: number, 
/**
 * False when entries after `after` were already pruned.
 */
recovered: boolean, 
/**
 * The `after` of the next page: the page may end early to stay within
 * `limits.max_reply_bytes`, and `qr` entries are left out for credentials without the
 * `control` scope.
 */
nextAfter: number | null, };

export type Stats = { devices: number, 
/**
 * Devices that are running (not stopped, logged out or failed).
 */
activeDevices: number, 
/**
 * Messages stored for them.
 */
messages: number, 
/**
 * Socket.IO connections to their namespaces, and to the root namespace by credentials
 * that see none but them (a dashboard's own connection is counted).
 */
connections: number, };

export type ProfileSummary = { name: string, description: string, 
/**
 * `shipped` or `user`.
 */
source: "shipped" | "user", 
/**
 * Client event → the native event it becomes (`a|b` when a field's value chooses).
 */
events: { [key in string]: string }, 
/**
 * Native event → the client's name for it.
 */
emits: { [key in string]: string }, };

export type Health = { status: string, 
/**
 * The daemon's version.
 */
version: string, };

export type Cluster = { 
/**
 * The node that answered.
 */
nodeId: string, nodes: Array<ClusterNode>, devices: Array<DeviceOwner>, };

export type ClusterNode = { id: string, 
/**
 * Where the other nodes reach it.
 */
url: string, 
/**
 * It renewed its place within a lease's length, and is not shutting down.
 */
alive: boolean, lastSeen: string, 
/**
 * How many devices it runs.
 */
devices: number, };

export type DeviceOwner = { id: string, 
/**
 * None while no node runs it (its owner died, and its lease has not run out yet).
 */
owner: string | null, epoch: number, };

export type Readiness = { status: string, 
/**
 * Each check's verdict, `ok` or why not: `storage`, `devices`, `running`.
 */
checks: { [key in string]: string }, };

/** `POST /api/v1/devices`: a new device's id, and its definition as a device file gives it. */
export type NewDevice = { id: string } & DeviceSpec;

export type Greeting = { 
/**
 * Who the socket speaks for: the token's subject, or the API key's name.
 */
sub: string, deviceId: string, socketId: string, scopes: Array<Scope>, at: string, };

export type Synced = { 
/**
 * The replay covered the events after this seq…
 */
fromSeq: number, 
/**
 * …up to this one, the device's last when the socket attached.
 */
toSeq: number, 
/**
 * False when events after the client's `lastSeq` were pruned: reload from REST.
 */
recovered: boolean, deviceId: string, at: string, };

export type DeviceUpdate = { device: Device, deviceId: string, 
/**
 * Where the device's journal stood: of two updates of a device, keep the higher.
 */
seq: number, at: string, };

export type DeviceRemoved = { deviceId: string, at: string, };

export type NoFields = Record<symbol, never>;

export type SendRequest = { chatId: string, text?: string, media?: Media, location?: Location, contacts?: Array<ContactCard>, poll?: NewPoll, replyTo?: string, 
/**
 * A string or a number, given back as it came (see [`TempId`]).
 */
tempId?: TempId, 
/**
 * Sent as this template instead of as text (Cloud API devices only).
 */
template?: Template, };

export type ReadRequest = { chatId: string, messageId?: string, };

export type ReactRequest = { messageId: string, emoji: string, };

export type MessageRef = { messageId: string, };

export type EditRequest = { messageId: string, text: string, };

export type ForwardRequest = { messageId: string, chatId: string, tempId?: TempId, };

export type VoteRequest = { messageId: string, options: Array<string>, };

export type ChatRef = { chatId: string, };

export type ArchiveRequest = { chatId: string, archived: boolean, };

export type MuteRequest = { chatId: string, muted: boolean, };

export type ChatUpdateRequest = { chatId: string, archived?: boolean, muted?: boolean, pinned?: boolean, unread?: boolean, };

export type GroupUpdateRequest = { chatId: string, name?: string, description?: string, };

export type GroupParticipantsRequest = { chatId: string, add: Array<string>, remove: Array<string>, promote: Array<string>, demote: Array<string>, };

export type GroupInviteRequest = { chatId: string, revoke?: boolean, };

export type ChatsQuery = { 
/**
 * Page size (default 50).
 */
limit?: number, 
/**
 * The `nextCursor` of the previous page: its time (RFC 3339), `|`, a chat id.
 */
cursor?: string, };

export type MessagesRequest = { chatId: string, before?: string, limit?: number, };

export type PresenceQuery = { ids?: Array<string>, chatId?: string, };

export type NotificationsRequest = { ids?: Array<string>, id?: string, all?: boolean, };

export type PairingCodeRequest = { phone: string, };

export type Presence = { id: string, presence: string, lastSeenAt: string | null, };

export type Room = { chatId: string, room: string, };

/** What an event that only does something answers with. */
export type Done = Record<string, never>;

/** What a device namespace's socket is told of its own: not journaled, no `seq`. */
export interface SocketEvents {
  "session": Greeting;
  "sync": Synced;
}

/** The root namespace's announcements of the fleet. */
export interface FleetEvents {
  "device:update": DeviceUpdate;
  "device:removed": DeviceRemoved;
}

/** Each client event of a device namespace: what it takes, and the `data` of its answer. */
export interface DeviceRequests {
  "message:send": [SendRequest, Message];
  "message:read": [ReadRequest, ReadReceipt];
  "message:react": [ReactRequest, Done];
  "message:revoke": [MessageRef, Done];
  "message:edit": [EditRequest, Message];
  "message:forward": [ForwardRequest, Message];
  "poll:vote": [VoteRequest, Done];
  "typing:start": [ChatRef, Done];
  "typing:stop": [ChatRef, Done];
  "chat:open": [OpenChat, Chat];
  "chat:archive": [ArchiveRequest, Chat];
  "chat:update": [ChatUpdateRequest, Chat];
  "chat:mute": [MuteRequest, Chat];
  "group:create": [NewGroup, Chat];
  "group:get": [ChatRef, Group];
  "group:update": [GroupUpdateRequest, Chat];
  "group:participants": [GroupParticipantsRequest, Array<ParticipantOutcome>];
  "group:invite": [GroupInviteRequest, Invite];
  "group:leave": [ChatRef, Done];
  "chats:list": [ChatsQuery, Page<Chat>];
  "messages:list": [MessagesRequest, Page<Message>];
  "chat:join": [ChatRef, Room];
  "chat:leave": [ChatRef, Room];
  "presence:get": [PresenceQuery, Array<Presence>];
  "notification:read": [NotificationsRequest, Done];
  "pairing:code": [PairingCodeRequest, IssuedCode];
}

/** Each client event of the root namespace: what it takes, and the `data` of its answer. */
export interface FleetRequests {
  "devices:list": [NoFields, List<Device>];
  "stats": [NoFields, Stats];
}
