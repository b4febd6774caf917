import { useState } from "preact/hooks";
import type { DeviceSession } from "../device/deviceSession";

/** Writes to the open chat: Enter sends, Shift+Enter starts a new line. */
export function Composer({ session, chatId, canSend }: { session: DeviceSession; chatId: string; canSend: boolean }) {
  const [text, setText] = useState("");
  const send = () => {
    if (!text.trim()) return;
    session.send(chatId, text);
    setText("");
  };
  return (
    <form
      class="composer"
      onSubmit={(event) => {
        event.preventDefault();
        send();
      }}
    >
      <textarea
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
          if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
            event.preventDefault();
            send();
          }
        }}
      />
      <button type="submit" class="primary send" data-testid="composer-send" disabled={!canSend || !text.trim()} aria-label="Send">
        ➤
      </button>
    </form>
  );
}
