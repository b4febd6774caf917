import { useEffect, useMemo, useState } from "preact/hooks";
import type { Capability, ConnectorKind, Message } from "../api/types";
import { allows } from "../auth/grant";
import { uploadsInChat } from "../chat/media";
import { pendingInChat } from "../chat/outbox";
import { quoteOf, replyingTo } from "../chat/quote";
import type { DeviceSession } from "../device/deviceSession";
import { type DeviceView, conversationOf, findMessage } from "../device/deviceView";
import { devicePath } from "../router";
import { AppLink } from "./AppLink";
import { Composer } from "./Composer";
import { ContactPanel } from "./ContactPanel";
import { ForwardPicker } from "./ForwardPicker";
import { GroupPanel } from "./GroupPanel";
import { MessageList } from "./MessageList";
import { useAccessToken } from "./useAccessToken";

/**
 * The open chat: who it is with, whether they are typing, its messages and the composer. A
 * simulator device's own group (docs/connectors.md), which its first contact made, says what
 * it is; a group's header opens its information, a direct chat's its contact's panel, where
 * the device's connector can look contacts up.
 */
/** The simulated phone's own group, `120363<phone>@g.us`, of the account `meId`. */
function phonesOwnGroup(meId: string | null): string | null {
  return meId ? `120363${meId.split("@")[0]}@g.us` : null;
}

export function ConversationPane({
  session,
  view,
  chatId,
  meId,
  connector,
  capabilities,
}: {
  session: DeviceSession;
  view: DeviceView;
  chatId: string;
  meId: string | null;
  connector: ConnectorKind;
  capabilities: readonly Capability[];
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
  const chatName = chat?.name || chatId;
  const token = useAccessToken(session.hub.session);
  const handlers = useMemo(
    () => ({
      reply: (messageId: string) => session.replyTo(chatId, messageId),
      react: (messageId: string, emoji: string) => session.react(messageId, emoji),
      revoke: (messageId: string) => session.revoke(messageId),
      resend: (messageId: string) => session.resendMessage(chatId, messageId),
      retry: (tempId: string) => session.retrySend(tempId),
      edit: (messageId: string, text: string) => session.edit(chatId, messageId, text),
      forward: (messageId: string) => setForwarding(messageId),
      vote: (messageId: string, options: string[]) => session.vote(messageId, options),
    }),
    [session, chatId],
  );
  const [forwarding, setForwarding] = useState<string | null>(null);
  const [groupInfo, setGroupInfo] = useState(false);
  // A group names its members as the device's direct chats name them.
  const names = useMemo(
    () =>
      Object.fromEntries(
        Object.values(view.chats)
          .filter((other) => other.kind === "direct")
          .map((other) => [other.id, other.name]),
      ),
    [view.chats],
  );
  const [showingContact, setShowingContact] = useState(false);
  const hasContact = chat?.kind === "direct" && capabilities.includes("contacts.lookup");
  const replyId = replyingTo(view.replies, chatId);
  const replyQuote = replyId
    ? quoteOf(replyId, findMessage(view, chatId, replyId), (m: Message) => (isGroup ? m.from : chatName))
    : null;

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
        {isGroup && (
          <button
            type="button"
            class="group-info-open"
            data-testid="group-info-open"
            aria-haspopup="dialog"
            onClick={() => setGroupInfo(true)}
          >
            Group info
          </button>
        )}
        {hasContact && (
          <button type="button" class="contact-open" data-testid="contact-open" onClick={() => setShowingContact(true)}>
            Contact info
          </button>
        )}
      </header>
      {showingContact && (
        <ContactPanel
          session={session}
          contactId={chatId}
          canBlock={canSend && capabilities.includes("contacts.block")}
          onClose={() => setShowingContact(false)}
        />
      )}
      {connector === "simulator" && chatId === phonesOwnGroup(meId) && (
        <p class="chat-info" data-testid="chat-info">
          The simulated phone's own group, with all of its contacts, made by the first of them. Each member reads and
          answers here as in its own chat; a message shows as read once every member has read it.
        </p>
      )}
      {view.problem && (
        <p class="error banner action-problem" role="alert">
          {view.problem}{" "}
          <button type="button" class="link" onClick={() => session.dismissProblem()}>
            Dismiss
          </button>
        </p>
      )}
      <MessageList
        key={chatId}
        conversation={conversationOf(view, chatId)}
        pending={pendingInChat(view.outbox, chatId)}
        isGroup={isGroup}
        chatName={chatName}
        meId={meId}
        canSend={canSend}
        reactions={view.reactions}
        quotes={view.quotes}
        resent={view.resent}
        holds={view.holds}
        token={token}
        handlers={handlers}
        onLoadOlder={() => session.loadOlder(chatId)}
      />
      <Composer
        key={chatId}
        session={session}
        chatId={chatId}
        canSend={canSend}
        replyQuote={replyQuote}
        uploads={uploadsInChat(view.uploads, chatId)}
      />
      {groupInfo && (
        <GroupPanel
          session={session}
          chatId={chatId}
          meId={meId}
          names={names}
          revision={chat?.lastMessage?.id ?? null}
          onClose={() => setGroupInfo(false)}
        />
      )}
      {forwarding && (
        <ForwardPicker
          chats={view.chats}
          onPick={(to) => {
            session.forward(forwarding, to);
            setForwarding(null);
          }}
          onClose={() => setForwarding(null)}
        />
      )}
    </section>
  );
}
