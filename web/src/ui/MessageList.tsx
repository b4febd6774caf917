import { useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { Virtualizer, type VirtualizerHandle } from "virtua";
import type { Conversation } from "../chat/conversation";
import type { PendingSend } from "../chat/outbox";
import { timeline } from "../chat/timeline";
import { MessageBubble, PendingBubble } from "./MessageBubble";

/** How close to the top (px) the list loads the previous page. */
const LOAD_OLDER_WITHIN = 300;
/** How close to the bottom (px) counts as "at the newest message". */
const AT_BOTTOM_WITHIN = 48;

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
  onLoadOlder,
  onRetry,
}: {
  conversation: Conversation;
  pending: readonly PendingSend[];
  isGroup: boolean;
  onLoadOlder: () => Promise<void>;
  onRetry: (tempId: string) => void;
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

  useLayoutEffect(() => {
    if (shifting) return;
    if (atBottom.current && items.length > 0) list.current?.scrollToIndex(items.length - 1, { align: "end" });
  }, [items, shifting]);

  const onScroll = (offset: number) => {
    const el = scroller.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - offset - el.clientHeight < AT_BOTTOM_WITHIN;
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
      <div class="messages-items">
        <Virtualizer ref={list} scrollRef={scroller} data={items} shift={shifting} onScroll={onScroll}>
          {(item) =>
            item.kind === "day" ? (
              <div key={item.key} class="day-separator">
                <span>{item.label}</span>
              </div>
            ) : item.kind === "message" ? (
              <MessageBubble key={item.key} message={item.message} showSender={isGroup} />
            ) : (
              <PendingBubble key={item.key} send={item.send} onRetry={() => onRetry(item.send.tempId)} />
            )
          }
        </Virtualizer>
      </div>
    </div>
  );
}
