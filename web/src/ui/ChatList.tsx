import { useState } from "preact/hooks";
import type { Chat } from "../api/types";
import { followLink, navigate } from "../app/navigation";
import { searchChats, sortedChats } from "../chat/chatList";
import { messagePreview } from "../chat/quote";
import type { DeviceSession } from "../device/deviceSession";
import type { DeviceView } from "../device/deviceView";
import { chatPath } from "../router";
import { activityTime } from "./format";
import { onRowKey } from "./keyboard";
import { NewChat } from "./NewChat";
import { NewGroup } from "./NewGroup";
import { Ticks } from "./Ticks";
import { useMessageSearch } from "./useMessageSearch";

function preview(chat: Chat, typing: boolean) {
  if (typing) return <span class="typing">typing…</span>;
  const last = chat.lastMessage;
  if (!last) return <span class="muted">No messages yet</span>;
  return (
    <>
      {last.fromMe && last.type !== "system" && <Ticks ack={last.ackName} />}
      <span>{messagePreview(last)}</span>
    </>
  );
}

/**
 * The device's chats, newest activity first, with a search; the open one
 * highlighted. A device without a link (not linked yet, or logged out) lists
 * none until it is linked again: a logout leaves no chats on screen. Where the
 * device can check numbers and the credential may send, a new chat can be
 * started with a number; where it runs groups, a group can be made. The search finds
 * chats by name and, below them, messages by the words of their text.
 */
export function ChatList({
  session,
  view,
  openChatId,
  meId,
  linked,
  canStartChats,
  canMakeGroups,
}: {
  session: DeviceSession;
  view: DeviceView;
  openChatId: string | null;
  meId: string | null;
  linked: boolean;
  canStartChats: boolean;
  canMakeGroups: boolean;
}) {
  const [query, setQuery] = useState("");
  const [starting, setStarting] = useState(false);
  const [grouping, setGrouping] = useState(false);
  const messages = useMessageSearch(session, query);
  if (!linked) {
    return (
      <nav class="chat-list" aria-label="Chats">
        <p class="empty">Link the device to see its chats.</p>
      </nav>
    );
  }
  const chats = searchChats(sortedChats(view.chats), query);
  const open = (chat: Chat) => navigate(chatPath(session.deviceId, chat.id));

  return (
    <nav class="chat-list" aria-label="Chats">
      <div class="chat-list-head">
        <input
          class="chat-search"
          data-testid="chat-search"
          type="search"
          placeholder="Search chats and messages"
          aria-label="Search chats and messages"
          value={query}
          onInput={(event) => setQuery(event.currentTarget.value)}
        />
        {canStartChats && (
          <button type="button" class="new-chat-open" data-testid="new-chat-open" onClick={() => setStarting(true)}>
            New chat
          </button>
        )}
        {canMakeGroups && (
          <button type="button" class="new-chat-open" data-testid="new-group-open" onClick={() => setGrouping(true)}>
            New group
          </button>
        )}
      </div>
      {starting && <NewChat session={session} onClose={() => setStarting(false)} />}
      {grouping && <NewGroup session={session} onClose={() => setGrouping(false)} />}
      {view.chatsLoaded && chats.length === 0 && (
        <p class="empty">{query ? "No chat matches." : "No chats yet."}</p>
      )}
      <ul>
        {chats.map((chat) => {
          const typing = (view.typing[chat.id] ?? []).some((id) => id !== meId);
          const time = chat.lastMessage?.timestamp ?? chat.updatedAt;
          return (
            <li key={chat.id}>
              <a
                class={`chat-row${chat.id === openChatId ? " open" : ""}`}
                data-testid="chat-row"
                data-chat-id={chat.id}
                href={chatPath(session.deviceId, chat.id)}
                aria-current={chat.id === openChatId ? "page" : undefined}
                onClick={(event) => followLink(event, chatPath(session.deviceId, chat.id))}
                onKeyDown={(event) => onRowKey(event, () => open(chat))}
              >
                <span class="avatar" aria-hidden="true">
                  {(chat.name || chat.id).slice(0, 1).toUpperCase()}
                </span>
                <span class="chat-text">
                  <span class="chat-top">
                    <span class="chat-name">{chat.name || chat.id}</span>
                    {chat.pinned && (
                      <span class="chat-pinned" data-testid="chat-pinned">
                        Pinned
                      </span>
                    )}
                    <time dateTime={time}>{activityTime(time)}</time>
                  </span>
                  <span class="chat-bottom">
                    <span class="chat-preview">{preview(chat, typing)}</span>
                    {chat.unreadCount > 0 && (
                      <span class="chat-unread" data-testid="chat-unread" aria-label={`${chat.unreadCount} unread`}>
                        {chat.unreadCount}
                      </span>
                    )}
                    {chat.unreadCount === 0 && chat.markedUnread && (
                      <span
                        class="chat-unread marked"
                        data-testid="chat-marked-unread"
                        aria-label="Marked unread"
                      />
                    )}
                  </span>
                </span>
              </a>
            </li>
          );
        })}
      </ul>
      {(messages.found || messages.problem) && (
        <section class="message-results" data-testid="message-results" aria-label="Messages found">
          <h2>Messages</h2>
          {messages.problem && <p class="error">{messages.problem}</p>}
          {messages.found?.length === 0 && <p class="empty">No message has these words.</p>}
          <ul>
            {messages.found?.map((message) => {
              const path = chatPath(session.deviceId, message.chatId);
              const name = view.chats[message.chatId]?.name || message.chatId;
              return (
                <li key={message.id}>
                  <a
                    class="chat-row"
                    data-testid="message-result"
                    data-message-id={message.id}
                    data-chat-id={message.chatId}
                    href={path}
                    onClick={(event) => followLink(event, path)}
                  >
                    <span class="chat-text">
                      <span class="chat-top">
                        <span class="chat-name">{name}</span>
                        <time dateTime={message.timestamp}>{activityTime(message.timestamp)}</time>
                      </span>
                      <span class="chat-bottom">
                        <span class="chat-preview">{messagePreview(message)}</span>
                      </span>
                    </span>
                  </a>
                </li>
              );
            })}
          </ul>
        </section>
      )}
      {view.chatsCursor && (
        <button type="button" class="more" onClick={() => void session.loadChats(true)}>
          More chats
        </button>
      )}
    </nav>
  );
}
