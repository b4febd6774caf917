import type { AckEvent, StatusEvent } from "../api/types";
import { momentTime } from "../lib/clock";

/**
 * Why a message of ours waits although the upstream is there, as `message:status` said: the
 * device's governor (or the upstream's own rate limit) paces it, or WhatsApp restricts
 * messages to new contacts. `sendAt` is when it is expected to go, when anybody can say.
 */
export interface Hold {
  reason: "paced" | "restricted";
  sendAt: string | null;
}

/** The messages held now, by id. */
export type Holds = Readonly<Record<string, Hold>>;

function without(holds: Holds, messageId: string): Holds {
  if (!holds[messageId]) return holds;
  const { [messageId]: _gone, ...rest } = holds;
  return rest;
}

/** `message:status`: a message queued for a reason is held; retried or failed, it is not. */
export function withStatus(holds: Holds, event: Pick<StatusEvent, "messageId" | "status" | "reason" | "sendAt">): Holds {
  if (event.status !== "queued" || !event.reason) return without(holds, event.messageId);
  return { ...holds, [event.messageId]: { reason: event.reason, sendAt: event.sendAt ?? null } };
}

/** `message:ack`: a message the server took, or that failed, waits no more. */
export function withAckSettled(holds: Holds, event: Pick<AckEvent, "messageId" | "ackName">): Holds {
  return event.ackName === "pending" ? holds : without(holds, event.messageId);
}

/** What a held message says beside its time, instead of the plain clock. */
export function holdNote(hold: Hold, now = new Date()): string {
  const until = hold.sendAt ? momentTime(hold.sendAt, now) : null;
  if (hold.reason === "restricted") {
    return until ? `Held: WhatsApp restricts new contacts until ${until}` : "Held: WhatsApp restricts new contacts";
  }
  return until ? `Scheduled for ${until}` : "Waiting for the send pace";
}
