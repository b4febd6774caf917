import { useState } from "preact/hooks";
import { type ChatMap, searchChats, sortedChats } from "../chat/chatList";
import { Dialog } from "./Dialog";

/** Which chat of the device a message is sent on to: its chats, newest first, with a search. */
export function ForwardPicker({
  chats,
  onPick,
  onClose,
}: {
  chats: ChatMap;
  onPick: (chatId: string) => void;
  onClose: () => void;
}) {
  const [query, setQuery] = useState("");
  const shown = searchChats(sortedChats(chats), query);
  return (
    <Dialog testId="forward-picker" label="Forward to" class="forward-picker" onClose={onClose}>
      <h2>Forward to</h2>
      <input
        type="search"
        placeholder="Search chats"
        aria-label="Search chats"
        value={query}
        onInput={(event) => setQuery(event.currentTarget.value)}
        autofocus
      />
      <ul class="forward-chats">
        {shown.map((chat) => (
          <li key={chat.id}>
            <button type="button" data-testid="forward-chat" data-chat-id={chat.id} onClick={() => onPick(chat.id)}>
              <span class="avatar" aria-hidden="true">
                {(chat.name || chat.id).slice(0, 1).toUpperCase()}
              </span>
              <span class="forward-chat-name">{chat.name || chat.id}</span>
            </button>
          </li>
        ))}
        {shown.length === 0 && <li class="muted">No chat matches.</li>}
      </ul>
      <div class="dialog-actions">
        <button type="button" data-testid="forward-cancel" onClick={onClose}>
          Cancel
        </button>
      </div>
    </Dialog>
  );
}
