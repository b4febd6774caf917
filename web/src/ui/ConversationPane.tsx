import { useEffect } from "preact/hooks";
import { allows } from "../auth/grant";
import { pendingInChat } from "../chat/outbox";
import type { DeviceSession } from "../device/deviceSession";
import { type DeviceView, conversationOf } from "../device/deviceView";
import { devicePath } from "../router";
import { AppLink } from "./AppLink";
import { Composer } from "./Composer";
import { MessageList } from "./MessageList";

/** The open chat: who it is with, whether they are typing, its messages and the composer. */
export function ConversationPane({
  session,
  view,
  chatId,
  meId,
}: {
  session: DeviceSession;
  view: DeviceView;
  chatId: string;
  meId: string | null;
}) {
  // Opening a chat loads its newest messages and marks it read on the server.
  useEffect(() => {
    session.openChat(chatId);
    return () => session.openChat(null);
  }, [session, chatId]);

  const chat = view.chats[chatId];
  const typers = (view.typing[chatId] ?? []).filter((id) => id !== meId);
  const canSend = view.scopes !== null && allows(view.scopes, "send");
  const isGroup = chat?.kind === "group";

  return (
    <section class="conversation" aria-label={`Chat with ${chat?.name ?? chatId}`}>
      <header class="conversation-head">
        <AppLink href={devicePath(session.deviceId)} class="back" title="Back to the chats">
          ←
        </AppLink>
        <span class="avatar" aria-hidden="true">
          {(chat?.name || chatId).slice(0, 1).toUpperCase()}
        </span>
        <div class="conversation-title">
          <h2>{chat?.name ?? chatId}</h2>
          {typers.length > 0 ? (
            <span class="typing" data-testid="typing-indicator">
              {isGroup ? `${typers.join(", ")} typing…` : "typing…"}
            </span>
          ) : (
            <span class="muted">{chatId}</span>
          )}
        </div>
      </header>
      <MessageList
        key={chatId}
        conversation={conversationOf(view, chatId)}
        pending={pendingInChat(view.outbox, chatId)}
        isGroup={isGroup}
        onLoadOlder={() => session.loadOlder(chatId)}
        onRetry={(tempId) => session.retrySend(tempId)}
      />
      <Composer key={chatId} session={session} chatId={chatId} canSend={canSend} />
    </section>
  );
}
