import type { Message } from "../api/types";

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

/** To be sent again: the user asked to retry a failed send. */
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
