import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { Virtualizer, type VirtualizerHandle } from "virtua";
import type { Message } from "../api/types";
import { type Conversation, messageActions } from "../chat/conversation";
import type { Holds } from "../chat/holds";
import { type PendingSend, canResend } from "../chat/outbox";
import { quoteOf } from "../chat/quote";
import { type ReactionMap, ownReaction, reactionSummary } from "../chat/reactions";
import { timeline } from "../chat/timeline";
import { MessageBubble, type MessageHandlers, PendingBubble } from "./MessageBubble";

/** How close to the top (px) the list loads the previous page. */
const LOAD_OLDER_WITHIN = 300;
/** How close to the bottom (px) counts as "at the newest message". */
const AT_BOTTOM_WITHIN = 48;
/** How long (ms) scrolling goes on after the reader's wheel, swipe or key: a smooth scroll's length. */
const READER_SCROLL_MS = 600;
/** The keys that scroll a list. */
const SCROLL_KEYS = new Set(["ArrowUp", "ArrowDown", "PageUp", "PageDown", "Home", "End", " "]);

/**
 * The open chat's messages, oldest at the top, virtualized so that a long
 * history costs only what is on screen. Scrolling near the top loads the
 * page before; the view stays on the newest message while it is at the
 * bottom, as a chat app does.
 */
export function MessageList({
  conversation,
  pending,
  isGroup,
  chatName,
  meId,
  canSend,
  reactions,
  quotes,
  resent,
  holds,
  token,
  handlers,
  onLoadOlder,
}: {
  conversation: Conversation;
  pending: readonly PendingSend[];
  isGroup: boolean;
  /** Who a direct chat is with, as quotes of their messages name them. */
  chatName: string;
  meId: string | null;
  canSend: boolean;
  reactions: ReactionMap;
  /** Quoted messages fetched because they are older than the loaded ones. */
  quotes: Readonly<Record<string, Message>>;
  resent: readonly string[];
  /** Our messages the server holds back, and why. */
  holds: Holds;
  token: string;
  handlers: Omit<MessageHandlers, "toggleMenu">;
  onLoadOlder: () => Promise<void>;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const list = useRef<VirtualizerHandle>(null);
  const atBottom = useRef(true);
  const loadingOlder = useRef(false);
  // `shift` tells virtua that items were added at the start, so it keeps
  // the visible messages in place instead of jumping; only for that render.
  const [shifting, setShifting] = useState(false);
  const items = useMemo(
    () => timeline(conversation.messages, pending, new Date()),
    [conversation.messages, pending],
  );
  const byId = useMemo(() => new Map(conversation.messages.map((m) => [m.id, m])), [conversation.messages]);
  const quote = (id: string | null | undefined) => {
    if (!id) return null;
    const authorOf = (m: Message) => (isGroup ? m.from : chatName);
    return quoteOf(id, byId.get(id) ?? quotes[id], authorOf);
  };

  // One message's menu at a time; a click elsewhere, Escape or the reader's wheel or swipe
  // (below, with the reader's other scrolls) closes it, as in a chat app. So while a menu is
  // open the list moves only by itself (the menu's height, messages arriving under it), and
  // whether it follows what arrives stays what it was when the menu opened.
  const [menuFor, setMenuFor] = useState<string | null>(null);
  useEffect(() => {
    if (!menuFor) return;
    const outside = (event: Event) => {
      const row = (event.target as Element | null)?.closest?.('[data-testid="message"]');
      if (!row || (row as HTMLElement).dataset.messageId !== menuFor) setMenuFor(null);
    };
    const escape = (event: KeyboardEvent) => {
      if (event.key === "Escape") setMenuFor(null);
    };
    document.addEventListener("pointerdown", outside);
    document.addEventListener("keydown", escape);
    return () => {
      document.removeEventListener("pointerdown", outside);
      document.removeEventListener("keydown", escape);
    };
  }, [menuFor]);
  const withMenu: MessageHandlers = { ...handlers, toggleMenu: setMenuFor };
  // Read by the scroll and resize callbacks, which outlive a render.
  const menuOpen = useRef(false);
  const shiftingNow = useRef(false);
  const lastIndex = useRef(-1);
  useLayoutEffect(() => {
    menuOpen.current = menuFor !== null;
    shiftingNow.current = shifting;
    lastIndex.current = items.length - 1;
  }, [menuFor, shifting, items]);

  // At the foot of the chat, the list follows what arrives; not while a message's menu is
  // open, which would move from under the pointer. Closing it catches up.
  const follow = () => {
    if (shiftingNow.current || menuOpen.current || !atBottom.current || lastIndex.current < 0) return;
    list.current?.scrollToIndex(lastIndex.current, { align: "end" });
  };
  useLayoutEffect(follow, [items, shifting, reactions, holds, menuFor]);

  // What is shown can change its height after the list followed it (a picture or a video
  // sized once it loads, a menu closing, a message measured late), and so can the list's own
  // box (a window made smaller, a page laid out again at another size): while following, the
  // list stays at the foot. A box that shrinks keeps its scroll offset without telling it.
  const itemsBox = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const box = itemsBox.current;
    const el = scroller.current;
    if (!box || !el || typeof ResizeObserver === "undefined") return;
    const observer = new ResizeObserver(follow);
    observer.observe(box);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  // Only the reader's own scroll (wheel, swipe, keys, the scroll bar) leaves the foot. The
  // list's own scrolls, to the newest message while what it shows is still being measured,
  // or as its box or a bubble changes size, can land short of the foot for a moment: they
  // keep it following, and the next measure brings it there.
  const readerScrolled = useRef(-Infinity);
  const readerHolds = useRef(false);
  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const reader = () => {
      readerScrolled.current = performance.now();
    };
    // The wheel and a swipe also close an open menu (a state already `null` renders nothing).
    const wheeled = () => {
      reader();
      setMenuFor(null);
    };
    // Keys scroll the list the reader last clicked in, with the focus on the page itself;
    // in a field they move the caret instead.
    const key = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement | null;
      const typing = target?.isContentEditable || target?.closest?.("input, textarea, select");
      if (SCROLL_KEYS.has(event.key) && !typing) reader();
    };
    // On the scroll bar, a press lands on the list's own box rather than on a message.
    const hold = (event: PointerEvent) => {
      if (event.target === el) readerHolds.current = true;
    };
    const release = () => {
      if (!readerHolds.current) return;
      readerHolds.current = false;
      reader();
    };
    const own = ["wheel", "touchmove"] as const;
    for (const name of own) el.addEventListener(name, wheeled, { passive: true });
    document.addEventListener("keydown", key);
    el.addEventListener("pointerdown", hold, { passive: true });
    window.addEventListener("pointerup", release);
    window.addEventListener("pointercancel", release);
    return () => {
      for (const name of own) el.removeEventListener(name, wheeled);
      document.removeEventListener("keydown", key);
      el.removeEventListener("pointerdown", hold);
      window.removeEventListener("pointerup", release);
      window.removeEventListener("pointercancel", release);
    };
  }, []);
  const onScroll = (offset: number) => {
    const el = scroller.current;
    if (!el) return;
    const atFoot = el.scrollHeight - offset - el.clientHeight < AT_BOTTOM_WITHIN;
    const byReader = readerHolds.current || performance.now() - readerScrolled.current < READER_SCROLL_MS;
    if (!menuOpen.current) atBottom.current = atFoot || (atBottom.current && !byReader);
    if (offset < LOAD_OLDER_WITHIN && conversation.olderCursor && !loadingOlder.current) {
      loadingOlder.current = true;
      setShifting(true);
      void onLoadOlder().finally(() => {
        // After the render that put the older page in place.
        requestAnimationFrame(() => {
          loadingOlder.current = false;
          setShifting(false);
        });
      });
    }
  };

  return (
    <div class="messages" ref={scroller} role="log" aria-live="polite" aria-label="Messages">
      <div class="messages-fill" />
      <div class="messages-items" ref={itemsBox}>
        <Virtualizer ref={list} scrollRef={scroller} data={items} shift={shifting} onScroll={onScroll}>
          {(item) =>
            item.kind === "day" ? (
              <div key={item.key} class="day-separator">
                <span>{item.label}</span>
              </div>
            ) : item.kind === "message" ? (
              <MessageBubble
                key={item.key}
                message={item.message}
                showSender={isGroup}
                quote={quote(item.message.replyTo)}
                reactions={reactionSummary(reactions, item.message.id, meId)}
                ownReaction={ownReaction(reactions, item.message.id, meId)}
                actions={messageActions(item.message, canSend)}
                canResend={canSend && canResend(item.message) && !resent.includes(item.message.id)}
                menuOpen={menuFor === item.message.id}
                token={token}
                meId={meId}
                hold={holds[item.message.id] ?? null}
                handlers={withMenu}
              />
            ) : (
              <PendingBubble
                key={item.key}
                send={item.send}
                quote={quote(item.send.replyTo)}
                token={token}
                onRetry={() => handlers.retry(item.send.tempId)}
              />
            )
          }
        </Virtualizer>
      </div>
    </div>
  );
}
