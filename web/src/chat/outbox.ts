import type { ContactCard, Location, Media, Message, NewPoll, SendRequest } from "../api/types";

/**
 * Messages written here that the server has not confirmed yet (optimistic
 * sends). Each carries a `tempId`; the server answers a send, and tags the
 * `message` event every client receives, with the same `tempId`, and storing a
 * send twice under one `tempId` returns the first message. So an entry can be
 * sent again after a reconnect without risk, and leaves the outbox the first
 * time its message is seen, by whichever of the two ways comes first.
 */
export interface PendingSend {
  tempId: string;
  chatId: string;
  text: string;
  /** A file uploaded to the device, sent with the text (which may then be empty). */
  media?: Media;
  /** A place, sent instead of a text. */
  location?: Location;
  /** Contact cards, sent instead of a text. */
  contacts?: ContactCard[];
  /** A poll, sent instead of a text. */
  poll?: NewPoll;
  /** The message of the chat it answers. */
  replyTo?: string;
  /** The id of the failed message (ack `error`) this sends again. */
  resends?: string;
  /** When it was written, to order it in the conversation. */
  createdAt: string;
  /**
   * `queued`: to be sent when the socket is connected; `sending`: emitted,
   * waiting for the answer; `failed`: the server refused it (`error` says why).
   */
  status: "queued" | "sending" | "failed";
  error?: string;
}

export type Outbox = readonly PendingSend[];

export function enqueue(outbox: Outbox, send: Omit<PendingSend, "status">): Outbox {
  return [...outbox, { ...send, status: "queued" }];
}

function update(outbox: Outbox, tempId: string, change: Partial<PendingSend>): Outbox {
  return outbox.map((p) => (p.tempId === tempId ? { ...p, ...change } : p));
}

export function markSending(outbox: Outbox, tempId: string): Outbox {
  return update(outbox, tempId, { status: "sending" });
}

export function markFailed(outbox: Outbox, tempId: string, error: string): Outbox {
  return update(outbox, tempId, { status: "failed", error });
}

/** To be sent again with the same tempId: its answer never came, so it may have been stored. */
export function retry(outbox: Outbox, tempId: string): Outbox {
  return outbox.map((p) => {
    if (p.tempId !== tempId) return p;
    const { error: _dropped, ...rest } = p;
    return { ...rest, status: "queued" };
  });
}

/**
 * The socket dropped: sends in flight may or may not have been stored, and
 * their answers will never come. They go back in the queue; the resume's
 * replay settles those that were stored before they are sent again.
 */
export function requeueInFlight(outbox: Outbox): Outbox {
  return outbox.map((p) => (p.status === "sending" ? { ...p, status: "queued" } : p));
}

/**
 * A message from the server. If it is one of ours, its entry leaves the
 * outbox (`settled` is true) so the message takes its place; a message seen a
 * second time (the answer after the event, or the reverse) settles nothing.
 */
export function settle(outbox: Outbox, message: Message): { outbox: Outbox; settled: boolean } {
  if (message.tempId === undefined || message.tempId === null) return { outbox, settled: false };
  const rest = outbox.filter((p) => p.tempId !== message.tempId);
  return rest.length === outbox.length ? { outbox, settled: false } : { outbox: rest, settled: true };
}

/** The sends to emit now, oldest first, so a chat's messages keep their order. */
export function dueForSending(outbox: Outbox): PendingSend[] {
  return outbox.filter((p) => p.status === "queued");
}

export function pendingInChat(outbox: Outbox, chatId: string): PendingSend[] {
  return outbox.filter((p) => p.chatId === chatId);
}

/**
 * The `message:send` payload for a pending send: one content, a text (with a file, its caption),
 * a place, cards or a poll, which take no text beside them.
 */
export function sendRequest(send: PendingSend): SendRequest {
  const { location, contacts, poll } = send;
  return {
    chatId: send.chatId,
    ...(location || contacts || poll ? {} : { text: send.text }),
    tempId: send.tempId,
    ...(send.media ? { media: send.media } : {}),
    ...(location ? { location } : {}),
    ...(contacts ? { contacts } : {}),
    ...(poll ? { poll } : {}),
    ...(send.replyTo ? { replyTo: send.replyTo } : {}),
  };
}

/**
 * The user asked to send a refused message again: it goes to the end of the
 * queue as a new send, with a new tempId (the server refused the old one, so
 * nothing was stored under it) and the same text, file and quote.
 */
export function resend(outbox: Outbox, tempId: string, newTempId: string, createdAt: string): Outbox {
  const failed = outbox.find((p) => p.tempId === tempId && p.status === "failed");
  if (!failed) return outbox;
  const { error: _error, status: _status, ...send } = failed;
  return enqueue(
    outbox.filter((p) => p !== failed),
    { ...send, tempId: newTempId, createdAt },
  );
}

/** Whether a stored message failed for good (ack `error`), so it may be sent again. */
export function canResend(message: Message): boolean {
  return message.fromMe && message.ackName === "error" && !message.revoked;
}

/** A stored message's file, sent again as what it was (a voice note stays one). */
function resentMedia(message: Message): Media {
  const media = message.media as Media;
  const kind = message.type;
  return kind === "voice" || kind === "video" || kind === "audio" || kind === "image" || kind === "document"
    ? { ...media, type: kind }
    : media;
}

/**
 * A new send with the content of a stored message that failed (ack `error`):
 * same text, file and quote, a new tempId (the old one names the failed message,
 * which sending it again would only return).
 */
export function resendOf(message: Message, tempId: string, createdAt: string): Omit<PendingSend, "status"> {
  return {
    tempId,
    chatId: message.chatId,
    text: message.body,
    ...(message.media ? { media: resentMedia(message) } : {}),
    ...(message.location ? { location: message.location } : {}),
    ...(message.contacts ? { contacts: message.contacts } : {}),
    ...(message.poll
      ? { poll: { question: message.poll.question, options: message.poll.options, multiple: message.poll.multiple } }
      : {}),
    ...(message.replyTo ? { replyTo: message.replyTo } : {}),
    resends: message.id,
    createdAt,
  };
}
