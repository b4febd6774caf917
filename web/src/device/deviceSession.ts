import type { Chat, Message, Page, SyncEvent, TypingEvent } from "../api/types";
import { allows } from "../auth/grant";
import { newestIncoming, withPage } from "../chat/conversation";
import { upsertChat } from "../chat/chatList";
import { dueForSending, enqueue, markFailed, markSending, requeueInFlight, retry } from "../chat/outbox";
import { stopTyping } from "../chat/typing";
import { type Store, createStore } from "../lib/store";
import { type Link, ReplyError, type SocketHub } from "../realtime/hub";
import { ResumePoint } from "../realtime/resume";
import {
  type DeviceView,
  applyDeviceEvent,
  conversationOf,
  forReload,
  initialDeviceView,
  withStoredMessage,
} from "./deviceView";

const CHATS_PAGE = 100;
const MESSAGES_PAGE = 50;
/** A contact's typing ends by itself after 25 s without a stop (docs/protocol.md). */
const TYPING_LAPSE_MS = 25_000;
/** Our own typing is reported stopped after this long without a keystroke. */
const OWN_TYPING_IDLE_MS = 4_000;
/** A send that got no answer while the socket stayed up is tried again after this. */
const RESEND_AFTER_MS = 3_000;

function newTempId(): string {
  return `t-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * One device's namespace, `/device/<id>`, and what it has told us: state, QR
 * code, chats, the conversations opened, typing, and the messages written here
 * that the server has not confirmed yet. It keeps the resume point, so a
 * reconnect (a network drop, a renewed token) replays exactly what was missed.
 */
export class DeviceSession {
  readonly view: Store<DeviceView> = createStore(initialDeviceView);
  readonly link: Link;
  #resume = new ResumePoint();
  #loaded = false;
  #openChatId: string | null = null;
  #loading = new Set<string>();
  #contactTyping = new Map<string, ReturnType<typeof setTimeout>>();
  #ownTyping: { chatId: string; timer: ReturnType<typeof setTimeout> } | null = null;
  #resendTimer: ReturnType<typeof setTimeout> | undefined;
  #listeners = new Set<(event: string, payload: unknown) => void>();

  constructor(
    hub: SocketHub,
    readonly deviceId: string,
  ) {
    this.link = hub.open(`/device/${deviceId}`, {
      handshake: () => (this.#resume.lastSeq === undefined ? {} : { lastSeq: this.#resume.lastSeq }),
      onEvent: (event, payload) => this.#receive(event, payload),
      onDisconnect: () => {
        // The server ends a socket's typing with it; nothing to send.
        clearTimeout(this.#ownTyping?.timer);
        this.#ownTyping = null;
        this.#update((v) => ({ ...v, outbox: requeueInFlight(v.outbox) }));
      },
    });
  }

  #update(change: (view: DeviceView) => DeviceView): void {
    this.view.update(change);
  }

  #may(scope: "send" | "control"): boolean {
    const scopes = this.view.get().scopes;
    return scopes !== null && allows(scopes, scope);
  }

  #receive(event: string, payload: unknown): void {
    const seq = (payload as { seq?: unknown } | null)?.seq;
    if (typeof seq === "number" && !this.#resume.admit(seq)) return;
    for (const listener of [...this.#listeners]) listener(event, payload);
    if (event === "sync") {
      this.#synced(payload as SyncEvent);
      return;
    }
    this.#update((v) => applyDeviceEvent(v, event, payload));
    if (event === "typing:start") this.#lapseTyping(payload as TypingEvent);
    if (event === "typing:stop") this.#clearLapse(payload as TypingEvent);
    if (event === "message") this.#seen(payload as Message);
  }

  /**
   * Every event the namespace delivers once repeats are dropped by seq, `sync`
   * and `session` included: the event monitor's live feed.
   */
  onEvent(listener: (event: string, payload: unknown) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #synced(event: SyncEvent): void {
    const whole = this.#resume.sync(event);
    if (!whole || !this.#loaded) {
      this.#loaded = true;
      if (!whole) this.#update(forReload);
      void this.loadChats();
      if (this.#openChatId) void this.#loadNewest(this.#openChatId);
    }
    this.#flush();
  }

  // -- chats and conversations ----------------------------------------------

  /** The first page of chats, or with `more` the next one. */
  async loadChats(more = false): Promise<void> {
    const cursor = this.view.get().chatsCursor;
    if (more && !cursor) return;
    if (this.#loading.has("chats")) return;
    this.#loading.add("chats");
    try {
      const page = await this.link.request<Page<Chat>>("chats:list", {
        limit: CHATS_PAGE,
        ...(more && cursor ? { cursor } : {}),
      });
      this.#update((v) => ({
        ...v,
        chats: page.items.reduce(upsertChat, v.chats),
        chatsCursor: page.nextCursor ?? null,
        chatsLoaded: true,
      }));
    } catch {
      // Dropped meanwhile: the reconnect's sync loads again if anything was missed.
    } finally {
      this.#loading.delete("chats");
    }
  }

  /** The chat on screen: its newest messages are loaded and it is marked read. */
  openChat(chatId: string | null): void {
    if (this.#openChatId && this.#openChatId !== chatId) this.stopOwnTyping();
    this.#openChatId = chatId;
    if (!chatId) return;
    if (conversationOf(this.view.get(), chatId).loaded) this.#markRead(chatId);
    else void this.#loadNewest(chatId);
  }

  async #loadNewest(chatId: string): Promise<void> {
    await this.#loadPage(chatId, false);
    if (this.#openChatId === chatId) this.#markRead(chatId);
  }

  /** The page before the oldest message loaded, when the user scrolls up to it. */
  loadOlder(chatId: string): Promise<void> {
    return this.#loadPage(chatId, true);
  }

  async #loadPage(chatId: string, older: boolean): Promise<void> {
    const before = conversationOf(this.view.get(), chatId).olderCursor;
    if (older && !before) return;
    const key = `messages:${chatId}`;
    if (this.#loading.has(key)) return;
    this.#loading.add(key);
    try {
      const page = await this.link.request<Page<Message>>("messages:list", {
        chatId,
        limit: MESSAGES_PAGE,
        ...(older && before ? { before } : {}),
      });
      this.#update((v) => ({
        ...v,
        conversations: { ...v.conversations, [chatId]: withPage(conversationOf(v, chatId), page, older) },
      }));
    } catch {
      // Dropped meanwhile, or the chat is unknown: the view shows what it has.
    } finally {
      this.#loading.delete(key);
    }
  }

  /** Read receipts for the chat on screen, up to its newest incoming message. */
  #markRead(chatId: string): void {
    if (!this.#may("send") || !this.link.connected) return;
    const newest = newestIncoming(conversationOf(this.view.get(), chatId));
    void this.link
      .request("message:read", newest ? { chatId, messageId: newest.id } : { chatId })
      .catch(() => {});
  }

  #seen(message: Message): void {
    const onScreen = typeof document === "undefined" || document.visibilityState === "visible";
    if (!message.fromMe && message.chatId === this.#openChatId && onScreen) this.#markRead(message.chatId);
  }

  // -- sending --------------------------------------------------------------

  /** Shows the message at once and sends it; the server's copy replaces it when it comes. */
  send(chatId: string, text: string): void {
    this.stopOwnTyping();
    this.#update((v) => ({
      ...v,
      outbox: enqueue(v.outbox, { tempId: newTempId(), chatId, text, createdAt: new Date().toISOString() }),
    }));
    this.#flush();
  }

  retrySend(tempId: string): void {
    this.#update((v) => ({ ...v, outbox: retry(v.outbox, tempId) }));
    this.#flush();
  }

  /**
   * Emits every queued send, oldest first; the server stores them in the order
   * emitted. Without a connection they wait for the next `sync`, by which time
   * the replay has settled any that were stored before the drop.
   */
  #flush(): void {
    if (!this.link.connected) return;
    for (const pending of dueForSending(this.view.get().outbox)) {
      const { tempId, chatId, text } = pending;
      this.#update((v) => ({ ...v, outbox: markSending(v.outbox, tempId) }));
      this.link.request<Message>("message:send", { chatId, text, tempId }).then(
        (message) => this.#update((v) => withStoredMessage(v, message)),
        (error: unknown) => {
          if (error instanceof ReplyError) {
            this.#update((v) => ({ ...v, outbox: markFailed(v.outbox, tempId, error.message) }));
          } else if (this.link.connected) {
            // No answer in time: the same tempId again cannot send twice.
            this.#update((v) => ({ ...v, outbox: retry(v.outbox, tempId) }));
            clearTimeout(this.#resendTimer);
            this.#resendTimer = setTimeout(() => this.#flush(), RESEND_AFTER_MS);
          }
        },
      );
    }
  }

  // -- typing ---------------------------------------------------------------

  /** The user typed in the composer: the contact sees "typing…" until a pause. */
  ownTyping(chatId: string): void {
    if (!this.#may("send") || !this.link.connected) return;
    if (this.#ownTyping?.chatId !== chatId) {
      this.stopOwnTyping();
      void this.link.request("typing:start", { chatId }).catch(() => {});
    }
    clearTimeout(this.#ownTyping?.timer);
    this.#ownTyping = { chatId, timer: setTimeout(() => this.stopOwnTyping(), OWN_TYPING_IDLE_MS) };
  }

  stopOwnTyping(): void {
    if (!this.#ownTyping) return;
    const { chatId, timer } = this.#ownTyping;
    clearTimeout(timer);
    this.#ownTyping = null;
    if (this.link.connected) void this.link.request("typing:stop", { chatId }).catch(() => {});
  }

  #lapseTyping({ chatId, contactId }: TypingEvent): void {
    const key = `${chatId}\n${contactId}`;
    clearTimeout(this.#contactTyping.get(key));
    this.#contactTyping.set(
      key,
      setTimeout(() => {
        this.#contactTyping.delete(key);
        this.#update((v) => ({ ...v, typing: stopTyping(v.typing, chatId, contactId) }));
      }, TYPING_LAPSE_MS),
    );
  }

  #clearLapse({ chatId, contactId }: TypingEvent): void {
    const key = `${chatId}\n${contactId}`;
    clearTimeout(this.#contactTyping.get(key));
    this.#contactTyping.delete(key);
  }

  close(): void {
    this.#listeners.clear();
    this.stopOwnTyping();
    this.#contactTyping.forEach((timer) => clearTimeout(timer));
    clearTimeout(this.#resendTimer);
    this.link.close();
  }
}
