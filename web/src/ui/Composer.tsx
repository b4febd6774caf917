import { useEffect, useRef, useState } from "preact/hooks";
import { type Upload, formatSize, uploadPercent } from "../chat/media";
import type { Quote } from "../chat/quote";
import type { DeviceSession } from "../device/deviceSession";
import { LocationForm, PollForm, VoiceRecorder } from "./ComposerTools";
import { Icon } from "./Icon";
import { QuoteBlock } from "./MessageBubble";
import { UploadPreview } from "./UploadPreview";

function UploadRow({ upload, session }: { upload: Upload; session: DeviceSession }) {
  const percent = uploadPercent(upload);
  return (
    <div class={`upload ${upload.status}`} data-testid="composer-upload" data-status={upload.status} data-progress={percent}>
      <span class="upload-name">
        {upload.name} <span class="muted">{formatSize(upload.size)}</span>
      </span>
      {upload.status === "uploading" ? (
        <progress max={100} value={percent} aria-label={`Uploading ${upload.name}`}>
          {percent}%
        </progress>
      ) : (
        <span class="error">{upload.error}</span>
      )}
      {upload.status === "failed" && upload.size > 0 && (
        <button type="button" class="link" onClick={() => session.retryUpload(upload.id)}>
          Try again
        </button>
      )}
      <button
        type="button"
        class="icon"
        aria-label={upload.status === "uploading" ? "Cancel the upload" : "Dismiss"}
        onClick={() => session.cancelUpload(upload.id)}
      >
        ✕
      </button>
    </div>
  );
}

/**
 * Writes to the open chat: Enter sends, Shift+Enter starts a new line. Above
 * it, the message being answered and the files being uploaded; beside it,
 * the file picker, whose files are previewed with a caption before they are
 * uploaded and sent, a place and a poll to send (each a small form), and
 * the voice recorder.
 */
export function Composer({
  session,
  chatId,
  canSend,
  replyQuote,
  uploads,
}: {
  session: DeviceSession;
  chatId: string;
  canSend: boolean;
  /** The message the next one answers. */
  replyQuote: Quote | null;
  uploads: readonly Upload[];
}) {
  const [text, setText] = useState("");
  const [picked, setPicked] = useState<readonly File[]>([]);
  const [form, setForm] = useState<"location" | "poll" | null>(null);
  const input = useRef<HTMLTextAreaElement>(null);
  // Choosing Reply puts the cursor here, to write the answer.
  useEffect(() => {
    if (replyQuote) input.current?.focus();
  }, [replyQuote?.id]);

  const send = () => {
    if (!text.trim()) return;
    session.send(chatId, text);
    setText("");
  };
  return (
    <div class="composer-area">
      {(replyQuote || uploads.length > 0) && (
        <div class="composer-extras">
          {replyQuote && (
            <QuoteBlock quote={replyQuote} testId="composer-quote" onCancel={() => session.cancelReply(chatId)} />
          )}
          {uploads.map((upload) => (
            <UploadRow key={upload.id} upload={upload} session={session} />
          ))}
        </div>
      )}
      {picked.length > 0 && (
        <UploadPreview
          files={picked}
          onSend={(caption) => {
            picked.forEach((file, i) => session.sendFile(chatId, file, i === 0 ? caption : ""));
            setPicked([]);
          }}
          onCancel={() => setPicked([])}
        />
      )}
      {form === "location" && (
        <LocationForm
          onSend={(location) => {
            session.sendContent(chatId, { location });
            setForm(null);
          }}
          onClose={() => setForm(null)}
        />
      )}
      {form === "poll" && (
        <PollForm
          onSend={(poll) => {
            session.sendContent(chatId, { poll });
            setForm(null);
          }}
          onClose={() => setForm(null)}
        />
      )}
      <form
        class="composer"
        onSubmit={(event) => {
          event.preventDefault();
          send();
        }}
      >
        <label class={`attach${canSend ? "" : " disabled"}`} title="Attach a file">
          <svg class="attach-icon" viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
            <path d="M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5" />
          </svg>
          <input
            type="file"
            class="visually-hidden"
            data-testid="composer-attach"
            aria-label="Attach a file"
            disabled={!canSend}
            multiple
            onChange={(event) => {
              const files = [...(event.currentTarget.files ?? [])];
              event.currentTarget.value = "";
              if (files.length > 0) setPicked(files);
            }}
          />
        </label>
        <button
          type="button"
          class="icon-button"
          data-testid="composer-location"
          aria-label="Send a location"
          title="Send a location"
          disabled={!canSend}
          onClick={() => setForm("location")}
        >
          <Icon name="pin" />
        </button>
        <button
          type="button"
          class="icon-button"
          data-testid="composer-poll"
          aria-label="Create a poll"
          title="Create a poll"
          disabled={!canSend}
          onClick={() => setForm("poll")}
        >
          <Icon name="poll" />
        </button>
        <textarea
          ref={input}
          data-testid="composer-input"
          rows={1}
          placeholder={canSend ? "Type a message" : "This credential may not send"}
          aria-label="Message"
          disabled={!canSend}
          value={text}
          onInput={(event) => {
            setText(event.currentTarget.value);
            if (event.currentTarget.value) session.ownTyping(chatId);
          }}
          onBlur={() => session.stopOwnTyping()}
          onKeyDown={(event) => {
            if (event.key === "Escape" && replyQuote) {
              event.preventDefault();
              session.cancelReply(chatId);
            } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
              event.preventDefault();
              send();
            }
          }}
        />
        <VoiceRecorder disabled={!canSend} onRecorded={(file) => session.sendFile(chatId, file, "", "voice")} />
        <button type="submit" class="primary send" data-testid="composer-send" disabled={!canSend || !text.trim()} aria-label="Send">
          ➤
        </button>
      </form>
    </div>
  );
}
