import { useEffect, useRef, useState } from "preact/hooks";
import type { ComponentChildren } from "preact";
import type { Media, Message } from "../api/types";
import type { MessageActions } from "../chat/conversation";
import { type Hold, holdNote } from "../chat/holds";
import { splitLinks } from "../chat/links";
import type { PendingSend } from "../chat/outbox";
import type { Quote } from "../chat/quote";
import { REACTION_CHOICES, type ReactionCount, reactionToSend } from "../chat/reactions";
import { clockTime } from "./format";
import { MessageMedia } from "./MessageMedia";
import { ContactCards, LocationCard, PollCard, VideoPlayer, VoicePlayer } from "./MessageKinds";
import { Ticks } from "./Ticks";

/** What a message's menu and retry button do. */
export interface MessageHandlers {
  reply(messageId: string): void;
  react(messageId: string, emoji: string): void;
  revoke(messageId: string): void;
  /** A stored message that failed (ack `error`): send it again. */
  resend(messageId: string): void;
  /** A send the server refused: send it again. */
  retry(tempId: string): void;
  /** New text for one of our messages. */
  edit(messageId: string, text: string): void;
  /** Asks which chat to send a copy of the message to. */
  forward(messageId: string): void;
  /** Our vote on a poll (none takes it back). */
  vote(messageId: string, options: string[]): void;
  /** Opens this message's menu, or closes it (null). */
  toggleMenu(messageId: string | null): void;
}

/**
 * A message's text, its web addresses as links that open in a new tab with no hold on this page
 * (no opener, no referrer). Each part is a text node or an `<a>` made by Preact: the text is
 * never read as markup.
 */
function LinkedText({ text }: { text: string }) {
  return (
    <>
      {splitLinks(text).map((part, index) =>
        part.kind === "link" ? (
          <a key={index} href={part.href} target="_blank" rel="noopener noreferrer" data-testid="message-link">
            {part.text}
          </a>
        ) : (
          part.text
        ),
      )}
    </>
  );
}

/** The message a reply quotes, above its text (and above the composer while writing one). */
export function QuoteBlock({ quote, testId, onCancel }: { quote: Quote; testId: string; onCancel?: () => void }) {
  return (
    <div class={`quote${quote.fromMe ? " mine" : ""}`} data-testid={testId} data-quoted-id={quote.id}>
      <span class="quote-text">
        {quote.author && <span class="quote-author">{quote.author}</span>}
        <span class={`quote-body${quote.missing ? " muted" : ""}`}>{quote.preview}</span>
      </span>
      {onCancel && (
        <button type="button" class="icon" data-testid="composer-reply-cancel" aria-label="Do not reply" onClick={onCancel}>
          ✕
        </button>
      )}
    </div>
  );
}

function Reactions({ reactions }: { reactions: readonly ReactionCount[] }) {
  if (reactions.length === 0) return null;
  return (
    <div class="reactions" data-testid="message-reactions">
      {reactions.map((r) => (
        <span
          key={r.emoji}
          class={`reaction${r.mine ? " mine" : ""}`}
          data-emoji={r.emoji}
          title={r.from.join(", ")}
        >
          {r.emoji}
          {r.count > 1 && <span class="reaction-count">{r.count}</span>}
        </span>
      ))}
    </div>
  );
}

/** One action of the message menu: it acts, then the menu closes. */
function MenuItem({
  testId,
  danger = false,
  onPick,
  done,
  children,
}: {
  testId: string;
  danger?: boolean;
  onPick: () => void;
  done: () => void;
  children: ComponentChildren;
}) {
  return (
    <button
      type="button"
      role="menuitem"
      class={danger ? "danger" : undefined}
      data-testid={testId}
      onClick={() => {
        onPick();
        done();
      }}
    >
      {children}
    </button>
  );
}

function MessageMenu({
  message,
  actions,
  ownReaction,
  handlers,
  onEdit,
}: {
  message: Message;
  actions: MessageActions;
  ownReaction: string | null;
  handlers: MessageHandlers;
  onEdit: () => void;
}) {
  const [choosing, setChoosing] = useState(false);
  const menu = useRef<HTMLDivElement>(null);
  // The menu opens under the bubble: near the bottom of the list it is scrolled into view.
  useEffect(() => menu.current?.scrollIntoView?.({ block: "nearest" }), [choosing]);
  const done = () => handlers.toggleMenu(null);
  return (
    <div
      ref={menu}
      class="message-actions"
      role="menu"
      aria-label="Message actions"
      onKeyDown={(event) => {
        if (event.key === "Escape") done();
      }}
    >
      {actions.reply && (
        <MenuItem testId="message-reply" onPick={() => handlers.reply(message.id)} done={done}>
          Reply
        </MenuItem>
      )}
      {actions.react && (
        <button
          type="button"
          role="menuitem"
          data-testid="message-react"
          aria-expanded={choosing}
          onClick={() => setChoosing(!choosing)}
        >
          React
        </button>
      )}
      {actions.edit && (
        <MenuItem testId="message-edit" onPick={() => onEdit()} done={done}>
          Edit
        </MenuItem>
      )}
      {actions.forward && (
        <MenuItem testId="message-forward" onPick={() => handlers.forward(message.id)} done={done}>
          Forward
        </MenuItem>
      )}
      {actions.revoke && (
        <MenuItem testId="message-revoke" danger onPick={() => handlers.revoke(message.id)} done={done}>
          Delete for everyone
        </MenuItem>
      )}
      {choosing && (
        <div class="reaction-choices" role="group" aria-label="Reactions">
          {REACTION_CHOICES.map((emoji) => (
            <button
              key={emoji}
              type="button"
              class={`icon${ownReaction === emoji ? " chosen" : ""}`}
              data-testid="reaction-choice"
              data-emoji={emoji}
              role="menuitemradio"
              aria-checked={ownReaction === emoji}
              aria-label={ownReaction === emoji ? `Remove ${emoji}` : `React ${emoji}`}
              onClick={() => {
                handlers.react(message.id, reactionToSend(ownReaction, emoji));
                done();
              }}
            >
              {emoji}
            </button>
          ))}
        </div>
      )}
    </div>
  );
}

/** A message's file as its kind draws it: a player for a recording or a video, else a picture or a link. */
function MessageContentMedia({ message, media, token }: { message: Pick<Message, "type" | "body" | "durationSecs">; media: Media; token: string }) {
  const kind = message.type === "text" ? media.type : message.type;
  if (kind === "voice" || kind === "audio") {
    return <VoicePlayer media={media} token={token} durationSecs={message.durationSecs} voice={kind === "voice"} />;
  }
  if (kind === "video") return <VideoPlayer media={media} token={token} durationSecs={message.durationSecs} />;
  return <MessageMedia media={media} token={token} caption={message.body} />;
}

/** Our own message's text, edited in place: Enter or Save sends it, Escape or Cancel leaves it. */
function EditForm({ text, onSave, onCancel }: { text: string; onSave: (text: string) => void; onCancel: () => void }) {
  const [draft, setDraft] = useState(text);
  const save = () => {
    if (draft.trim() && draft !== text) onSave(draft);
    else onCancel();
  };
  return (
    <form
      class="edit-form"
      onSubmit={(event) => {
        event.preventDefault();
        save();
      }}
    >
      <textarea
        data-testid="message-edit-input"
        aria-label="Edited message"
        rows={2}
        value={draft}
        autofocus
        onInput={(event) => setDraft(event.currentTarget.value)}
        onKeyDown={(event) => {
          if (event.key === "Escape") {
            event.preventDefault();
            event.stopPropagation();
            onCancel();
          } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
            event.preventDefault();
            save();
          }
        }}
      />
      <span class="edit-actions">
        <button type="button" data-testid="message-edit-cancel" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" class="primary" data-testid="message-edit-save">
          Save
        </button>
      </span>
    </form>
  );
}

/** One message of the open chat, as WhatsApp draws it, with its menu, quote and reactions. */
export function MessageBubble({
  message,
  showSender,
  quote,
  reactions,
  ownReaction,
  actions,
  canResend,
  menuOpen,
  token,
  meId,
  hold,
  handlers,
}: {
  message: Message;
  showSender: boolean;
  /** The message it answers, if it is a reply. */
  quote: Quote | null;
  reactions: readonly ReactionCount[];
  ownReaction: string | null;
  actions: MessageActions;
  /** Failed for good (ack `error`) and not sent again yet. */
  canResend: boolean;
  menuOpen: boolean;
  token: string;
  /** Our own id, which marks our vote on a poll. */
  meId: string | null;
  /** Why the server holds it back, while it does (`message:status`). */
  hold: Hold | null;
  handlers: MessageHandlers;
}) {
  const direction = message.fromMe ? "out" : "in";
  const hasMenu = actions.reply || actions.react || actions.revoke || actions.edit || actions.forward;
  const [editing, setEditing] = useState(false);
  if (message.type === "system") {
    return (
      <div
        class="message system"
        data-testid="message"
        data-type="system"
        data-message-id={message.id}
        data-direction={direction}
        data-ack={message.ackName}
      >
        <span class="system-line" data-testid="message-text">
          {message.body}
        </span>
      </div>
    );
  }
  const live = !message.revoked;
  return (
    <div
      class={`message ${direction}${message.revoked ? " revoked" : ""}`}
      data-testid="message"
      data-message-id={message.id}
      data-direction={direction}
      data-ack={message.ackName}
    >
      <div class="message-column">
        <div class="bubble">
          {hasMenu && (
            <button
              type="button"
              class="menu-toggle"
              data-testid="message-menu"
              aria-label="Message actions"
              aria-haspopup="menu"
              aria-expanded={menuOpen}
              onClick={() => handlers.toggleMenu(menuOpen ? null : message.id)}
            >
              ⌄
            </button>
          )}
          {showSender && !message.fromMe && <span class="sender">{message.from}</span>}
          {message.forwarded && live && (
            <span class="forwarded" data-testid="message-forwarded">
              <span aria-hidden="true">↪ </span>Forwarded
            </span>
          )}
          {quote && live && <QuoteBlock quote={quote} testId="message-quote" />}
          {message.media && live && (
            <MessageContentMedia message={message} media={message.media} token={token} />
          )}
          {message.location && live && <LocationCard location={message.location} />}
          {message.contacts && live && <ContactCards contacts={message.contacts} />}
          {message.poll && live && (
            <PollCard
              poll={message.poll}
              me={meId}
              onVote={actions.react ? (options) => handlers.vote(message.id, options) : null}
            />
          )}
          {editing && live ? (
            <EditForm
              text={message.body}
              onSave={(text) => {
                handlers.edit(message.id, text);
                setEditing(false);
              }}
              onCancel={() => setEditing(false)}
            />
          ) : (
            <span class={`message-text${message.revoked ? " revoked" : ""}`} data-testid="message-text">
              {message.revoked ? "This message was deleted" : <LinkedText text={message.body} />}
            </span>
          )}
          <span class="meta">
            {message.editedAt && live && (
              <span class="edited" data-testid="message-edited" title={`Edited ${clockTime(message.editedAt)}`}>
                edited
              </span>
            )}
            <time dateTime={message.timestamp}>{clockTime(message.timestamp)}</time>
            {message.fromMe && !message.revoked && <Ticks ack={message.ackName} />}
          </span>
          {hold && message.ackName === "pending" && live && (
            <span class="hold-note" data-testid="message-hold" data-reason={hold.reason}>
              {holdNote(hold)}
            </span>
          )}
          {canResend && (
            <span class="send-failed">
              Not sent.{" "}
              <button type="button" class="link" data-testid="message-retry" onClick={() => handlers.resend(message.id)}>
                Send again
              </button>
            </span>
          )}
        </div>
        <Reactions reactions={reactions} />
        {menuOpen && hasMenu && (
          <MessageMenu
            message={message}
            actions={actions}
            ownReaction={ownReaction}
            handlers={handlers}
            onEdit={() => setEditing(true)}
          />
        )}
      </div>
    </div>
  );
}

/**
 * A message written here that the server has not confirmed yet. It carries
 * its tempId as its id until the server's copy, with the real id, replaces it.
 */
export function PendingBubble({
  send,
  quote,
  token,
  onRetry,
}: {
  send: PendingSend;
  quote: Quote | null;
  token: string;
  onRetry: () => void;
}) {
  const failed = send.status === "failed";
  return (
    <div
      class="message out pending"
      data-testid="message"
      data-message-id={send.tempId}
      data-direction="out"
      data-ack={failed ? "error" : "pending"}
    >
      <div class="message-column">
        <div class="bubble">
          {quote && <QuoteBlock quote={quote} testId="message-quote" />}
          {send.media && (
            <MessageContentMedia message={{ type: send.media.type ?? "text", body: send.text }} media={send.media} token={token} />
          )}
          {send.location && <LocationCard location={send.location} />}
          {send.contacts && <ContactCards contacts={send.contacts} />}
          {send.poll && (
            <PollCard poll={{ ...send.poll, multiple: send.poll.multiple ?? false, votes: [] }} me={null} onVote={null} />
          )}
          <span class="message-text" data-testid="message-text">
            <LinkedText text={send.text} />
          </span>
          <span class="meta">
            <time dateTime={send.createdAt}>{clockTime(send.createdAt)}</time>
            <Ticks ack={failed ? "error" : "pending"} />
          </span>
          {failed && (
            <span class="send-failed">
              Not sent: {send.error}{" "}
              <button type="button" class="link" data-testid="message-retry" onClick={onRetry}>
                Try again
              </button>
            </span>
          )}
        </div>
      </div>
    </div>
  );
}
