import type { Message } from "../api/types";
import type { PendingSend } from "../chat/outbox";
import { clockTime } from "./format";
import { Ticks } from "./Ticks";

/** One message of the open chat, as WhatsApp draws it. */
export function MessageBubble({ message, showSender }: { message: Message; showSender: boolean }) {
  const direction = message.fromMe ? "out" : "in";
  return (
    <div
      class={`message ${direction}`}
      data-testid="message"
      data-message-id={message.id}
      data-direction={direction}
      data-ack={message.ackName}
    >
      <div class="bubble">
        {showSender && !message.fromMe && <span class="sender">{message.from}</span>}
        {message.media && !message.revoked && (
          <a class="media" href={message.media.url} target="_blank" rel="noopener noreferrer">
            {message.media.name ?? message.media.mime}
          </a>
        )}
        <span class={`message-text${message.revoked ? " revoked" : ""}`} data-testid="message-text">
          {message.revoked ? "This message was deleted" : message.body}
        </span>
        <span class="meta">
          <time dateTime={message.timestamp}>{clockTime(message.timestamp)}</time>
          {message.fromMe && <Ticks ack={message.ackName} />}
        </span>
      </div>
    </div>
  );
}

/**
 * A message written here that the server has not confirmed yet. It carries
 * its tempId as its id until the server's copy, with the real id, replaces it.
 */
export function PendingBubble({ send, onRetry }: { send: PendingSend; onRetry: () => void }) {
  const failed = send.status === "failed";
  return (
    <div
      class="message out pending"
      data-testid="message"
      data-message-id={send.tempId}
      data-direction="out"
      data-ack={failed ? "error" : "pending"}
    >
      <div class="bubble">
        <span class="message-text" data-testid="message-text">
          {send.text}
        </span>
        <span class="meta">
          <time dateTime={send.createdAt}>{clockTime(send.createdAt)}</time>
          <Ticks ack={failed ? "error" : "pending"} />
        </span>
        {failed && (
          <span class="send-failed">
            Not sent: {send.error}{" "}
            <button type="button" class="link" onClick={onRetry}>
              Try again
            </button>
          </span>
        )}
      </div>
    </div>
  );
}
