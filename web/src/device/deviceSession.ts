import { uploadMedia } from "../api/media";
import { describeError } from "../api/rest";
import type {
  ContactCard,
  DeviceRequests,
  Location,
  Media,
  MediaKind,
  MergedEvent,
  Message,
  NewPoll,
  NotificationEvent,
  NotificationReadEvent,
  SyncEvent,
  TypingEvent,
} from "../api/types";
import { allows } from "../auth/grant";
import { withPage } from "../chat/conversation";
import { upsertChat } from "../chat/chatList";
import { refusedFile, startUpload, uploadDone, uploadFailed, uploadProgress } from "../chat/media";
import {
  canResend,
  dueForSending,
  enqueue,
  markFailed,
  markSending,
  requeueInFlight,
  resend,
  resendOf,
  retry,
  sendRequest,
} from "../chat/outbox";
import { cancelReply, missingQuotes, replyingTo, startReply } from "../chat/quote";
import { markedBy, readReceiptDue } from "../chat/readReceipts";
import { stopTyping } from "../chat/typing";
import { type Store, createStore } from "../lib/store";
import { pageVisible } from "../lib/visibility";
import type { NotificationSink } from "../notify/notifier";
import { type Link, ReplyError, type SocketHub } from "../realtime/hub";
import { ResumePoint } from "../realtime/resume";
import {
  type DeviceView,
  applyDeviceEvent,
  conversationOf,
  forReload,
  initialDeviceView,
  findMessage,
  withEditedMessage,
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

/** Notifications held while a resume replays: most were read meanwhile. */
const HELD_NOTIFICATIONS = 20;

/**
 * One device's namespace, `/device/<id>`, and what it has told us: state, QR
 * code, chats, the conversations opened, typing, and the messages written here
 * that the server has not confirmed yet. It keeps the resume point, so a
 * reconnect (a network drop, a renewed token) replays exactly what was missed.
 */
export class DeviceSession {
  readonly view: Store<DeviceView> = createStore(initialDeviceView);
  readonly link: Link<DeviceRequests>;
  #resume = new ResumePoint();
  #loaded = false;
  #openChatId: string | null = null;
  #loading = new Set<string>();
  #contactTyping = new Map<string, ReturnType<typeof setTimeout>>();
  #ownTyping: { chatId: string; timer: ReturnType<typeof setTimeout> } | null = null;
  #resendTimer: ReturnType<typeof setTimeout> | undefined;
  #listeners = new Set<(event: string, payload: unknown) => void>();
  /** Per chat, what this tab last marked read (see readReceipts.ts). */
  #lastMarked = new Map<string, string>();
  /** Between a connect and its `sync`: events are a replay of what was missed. */
  #replaying = false;
  #held: NotificationEvent[] = [];
  #files = new Map<string, { file: File; abort: AbortController }>();
  #fetchingQuotes = new Set<string>();
  #stopWatchingVisibility: () => void;

  constructor(
    readonly hub: SocketHub,
    readonly deviceId: string,
    private readonly notifications: NotificationSink | null = null,
  ) {
    this.link = hub.open<DeviceRequests>(`/device/${deviceId}`, {
      handshake: () => (this.#resume.lastSeq === undefined ? {} : { lastSeq: this.#resume.lastSeq }),
      onEvent: (event, payload) => this.#receive(event, payload),
      onConnect: () => {
        this.#replaying = true;
      },
      onDisconnect: () => {
        // The server ends a socket's typing with it; nothing to send.
        clearTimeout(this.#ownTyping?.timer);
        this.#ownTyping = null;
        this.#update((v) => ({ ...v, outbox: requeueInFlight(v.outbox) }));
      },
    });
    // Back on screen with a chat open: what arrived meanwhile is read now.
    this.#stopWatchingVisibility = pageVisible.subscribe((visible) => {
      if (visible && this.#openChatId) this.#markRead(this.#openChatId);
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
    if (event === "chat:merged") this.#merged(payload as MergedEvent);
    if (event === "notification") this.#notify(payload as NotificationEvent);
    if (event === "notification:read") this.#notificationsRead((payload as NotificationReadEvent).ids);
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
    this.#replaying = false;
    // What a resume replayed and nobody read meanwhile: the newest of each chat.
    const held = this.#held;
    this.#held = [];
    const newestPerChat = new Map(held.map((n) => [n.chatId ?? n.id, n]));
    for (const notification of newestPerChat.values()) this.#notify(notification);
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
      const page = await this.link.request("chats:list", {
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

  /** The chat on screen took another's history in: it is read again whole. */
  #merged({ into }: MergedEvent): void {
    if (this.#openChatId === into) void this.#loadNewest(into);
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
      const page = await this.link.request("messages:list", {
        chatId,
        limit: MESSAGES_PAGE,
        ...(older && before ? { before } : {}),
      });
      this.#update((v) => ({
        ...v,
        conversations: { ...v.conversations, [chatId]: withPage(conversationOf(v, chatId), page, older) },
      }));
      this.#fetchQuotes(chatId, page.items);
    } catch {
      // Dropped meanwhile, or the chat is unknown: the view shows what it has.
    } finally {
      this.#loading.delete(key);
    }
  }

  /**
   * Read receipts for the chat, up to its newest incoming message, while it
   * is open here and the page is visible; a hidden tab leaves it unread.
   */
  #markRead(chatId: string): void {
    if (!this.#may("send") || !this.link.connected) return;
    const view = this.view.get();
    const receipt = readReceiptDue(conversationOf(view, chatId), {
      open: this.#openChatId === chatId,
      visible: pageVisible.get(),
      unread: view.chats[chatId]?.unreadCount ?? null,
      lastMarked: this.#lastMarked.get(chatId),
    });
    if (!receipt) return;
    this.#lastMarked.set(chatId, markedBy(receipt));
    void this.link.request("message:read", { chatId, ...receipt }).catch(() => this.#lastMarked.delete(chatId));
  }

  #seen(message: Message): void {
    if (!message.fromMe && message.chatId === this.#openChatId) this.#markRead(message.chatId);
    if (message.replyTo) this.#fetchQuotes(message.chatId, [message]);
  }

  /** Whether the chat is in front of the person in this tab. */
  #onScreen(chatId: string | null): boolean {
    return chatId !== null && chatId === this.#openChatId && pageVisible.get();
  }

  // -- quotes ---------------------------------------------------------------

  /**
   * Quoted messages older than what is loaded are fetched one by one, once
   * each, for the conversations on show (others fetch theirs when opened).
   */
  #fetchQuotes(chatId: string, messages: readonly Message[]): void {
    const view = this.view.get();
    if (!conversationOf(view, chatId).loaded) return;
    const known = (id: string) => this.#fetchingQuotes.has(id) || findMessage(view, chatId, id) !== undefined;
    for (const id of missingQuotes(messages, known)) {
      this.#fetchingQuotes.add(id);
      this.hub.session
        .request<Message>(`/devices/${encodeURIComponent(this.deviceId)}/messages/${encodeURIComponent(id)}`)
        .then(
          (quoted) => this.#update((v) => ({ ...v, quotes: { ...v.quotes, [quoted.id]: quoted } })),
          () => {
            // Gone, or unreachable now: the reply shows "Quoted message"; a later page may bring it.
            this.#fetchingQuotes.delete(id);
          },
        );
    }
  }

  // -- replies, reactions, deletion ----------------------------------------

  /** The composer of `chatId` quotes `messageId`; the next message sent answers it. */
  replyTo(chatId: string, messageId: string): void {
    this.#update((v) => ({ ...v, replies: startReply(v.replies, chatId, messageId) }));
  }

  cancelReply(chatId: string): void {
    this.#update((v) => ({ ...v, replies: cancelReply(v.replies, chatId) }));
  }

  /** Our reaction to a message (`""` takes it back); the `message:reaction` event shows it. */
  react(messageId: string, emoji: string): void {
    this.#act("message:react", { messageId, emoji }, "react");
  }

  /** Deletes one of our messages for everyone; the `message:revoked` event shows it. */
  revoke(messageId: string): void {
    this.#act("message:revoke", { messageId }, "delete the message");
  }

  /** Our vote on a poll, replacing our earlier one (none takes it back); `poll:vote` shows it. */
  vote(messageId: string, options: string[]): void {
    this.#act("poll:vote", { messageId, options }, "vote");
  }

  /** New text for one of our messages; the answer (and `message:edited`) shows it. */
  edit(chatId: string, messageId: string, text: string): void {
    this.#act("message:edit", { messageId, text }, "edit the message", (edited) =>
      this.#update((v) =>
        withEditedMessage(v, { chatId, messageId, body: edited.body, editedAt: edited.editedAt ?? new Date().toISOString() }),
      ),
    );
  }

  /** Sends a copy of a message to another chat of the device, marked forwarded. */
  forward(messageId: string, chatId: string): void {
    this.#act("message:forward", { messageId, chatId, tempId: newTempId() }, "forward the message", (copy) =>
      this.#update((v) => withStoredMessage(v, copy)),
    );
  }

  #act<Event extends "message:react" | "message:revoke" | "message:edit" | "message:forward" | "poll:vote">(
    event: Event,
    payload: DeviceRequests[Event][0],
    what: string,
    done: (answer: DeviceRequests[Event][1]) => void = () => {},
  ): void {
    if (!this.link.connected) {
      this.#update((v) => ({ ...v, problem: `Could not ${what}: not connected.` }));
      return;
    }
    this.link.request(event, payload).then(done, (error: unknown) =>
      this.#update((v) => ({ ...v, problem: `Could not ${what}: ${describeError(error)}` })),
    );
  }

  dismissProblem(): void {
    this.#update((v) => (v.problem === null ? v : { ...v, problem: null }));
  }

  // -- notifications --------------------------------------------------------

  #notify(event: NotificationEvent): void {
    if (!this.notifications) return;
    if (this.#replaying) {
      this.#held = [...this.#held, event].slice(-HELD_NOTIFICATIONS);
      return;
    }
    this.notifications.received(this.deviceId, event, this.#onScreen(event.chatId));
  }

  #notificationsRead(ids: readonly string[]): void {
    this.#held = this.#held.filter((n) => !ids.includes(n.id));
    this.notifications?.read([...ids]);
  }

  /** The person saw these notifications (clicked one): every client clears them. */
  readNotifications(ids: string[]): void {
    if (ids.length === 0 || !this.#may("send") || !this.link.connected) return;
    void this.link.request("notification:read", { ids }).catch(() => {});
  }

  // -- sending --------------------------------------------------------------

  /**
   * Shows the message at once and sends it; the server's copy replaces it
   * when it comes. It answers the message the composer quotes, if any.
   */
  send(chatId: string, text: string, media?: Media, replyTo?: string | null): void {
    this.stopOwnTyping();
    this.#update((v) => {
      const quoted = replyTo === undefined ? replyingTo(v.replies, chatId) : replyTo;
      return {
        ...v,
        replies: replyTo === undefined ? cancelReply(v.replies, chatId) : v.replies,
        outbox: enqueue(v.outbox, {
          tempId: newTempId(),
          chatId,
          text,
          ...(media ? { media } : {}),
          ...(quoted ? { replyTo: quoted } : {}),
          createdAt: new Date().toISOString(),
        }),
      };
    });
    this.#flush();
  }

  /** A place, contact cards or a poll: a message of its own, with no text. */
  sendContent(chatId: string, content: { location: Location } | { contacts: ContactCard[] } | { poll: NewPoll }): void {
    this.stopOwnTyping();
    this.#update((v) => ({
      ...v,
      outbox: enqueue(v.outbox, { tempId: newTempId(), chatId, text: "", ...content, createdAt: new Date().toISOString() }),
    }));
    this.#flush();
  }

  /** A send the server refused, sent again as a new message (a new tempId). */
  retrySend(tempId: string): void {
    this.#update((v) => ({ ...v, outbox: resend(v.outbox, tempId, newTempId(), new Date().toISOString()) }));
    this.#flush();
  }

  /** A stored message that failed (ack `error`), sent again as a new message. */
  resendMessage(chatId: string, messageId: string): void {
    const message = findMessage(this.view.get(), chatId, messageId);
    if (!message || !canResend(message) || this.view.get().resent.includes(messageId)) return;
    this.#update((v) => ({
      ...v,
      resent: [...v.resent, messageId],
      outbox: enqueue(v.outbox, resendOf(message, newTempId(), new Date().toISOString())),
    }));
    this.#flush();
  }

  // -- files ----------------------------------------------------------------

  /**
   * Uploads a file to the device, showing its progress, then sends it as a
   * message with `caption` as its text (answering the quoted message, if the
   * composer quotes one).
   */
  sendFile(chatId: string, file: File, caption = "", kind?: MediaKind): void {
    const refused = refusedFile(file);
    const id = newTempId();
    const replyTo = replyingTo(this.view.get().replies, chatId);
    this.#update((v) => ({
      ...v,
      replies: cancelReply(v.replies, chatId),
      uploads: startUpload(v.uploads, {
        id,
        chatId,
        name: file.name,
        size: file.size,
        caption,
        ...(kind ? { kind } : {}),
        ...(replyTo ? { replyTo } : {}),
      }),
    }));
    if (refused) {
      this.#update((v) => ({ ...v, uploads: uploadFailed(v.uploads, id, refused) }));
      return;
    }
    this.#files.set(id, { file, abort: new AbortController() });
    this.#upload(id);
  }

  #upload(id: string): void {
    const entry = this.#files.get(id);
    const upload = this.view.get().uploads.find((u) => u.id === id);
    if (!entry || !upload) return;
    uploadMedia(
      this.hub.session,
      this.deviceId,
      entry.file,
      (loaded) => this.#update((v) => ({ ...v, uploads: uploadProgress(v.uploads, id, loaded) })),
      entry.abort.signal,
    ).then(
      (media) => {
        this.#files.delete(id);
        this.#update((v) => ({ ...v, uploads: uploadDone(v.uploads, id) }));
        const sent = upload.kind ? { ...media, type: upload.kind } : media;
        this.send(upload.chatId, upload.caption, sent, upload.replyTo ?? null);
      },
      (error: unknown) => {
        if (entry.abort.signal.aborted) return;
        this.#update((v) => ({ ...v, uploads: uploadFailed(v.uploads, id, describeError(error)) }));
      },
    );
  }

  /** Uploads a file again after a failure. */
  retryUpload(id: string): void {
    const entry = this.#files.get(id);
    if (!entry) return;
    entry.abort = new AbortController();
    this.#update((v) => ({
      ...v,
      uploads: v.uploads.map((u) => (u.id === id ? { ...u, status: "uploading" as const, loaded: 0, error: undefined } : u)),
    }));
    this.#upload(id);
  }

  /** Stops an upload, or forgets a failed one. */
  cancelUpload(id: string): void {
    this.#files.get(id)?.abort.abort();
    this.#files.delete(id);
    this.#update((v) => ({ ...v, uploads: uploadDone(v.uploads, id) }));
  }

  /**
   * Emits every queued send, oldest first; the server stores them in the order
   * emitted. Without a connection they wait for the next `sync`, by which time
   * the replay has settled any that were stored before the drop.
   */
  #flush(): void {
    if (!this.link.connected) return;
    for (const pending of dueForSending(this.view.get().outbox)) {
      const { tempId } = pending;
      this.#update((v) => ({ ...v, outbox: markSending(v.outbox, tempId) }));
      this.link.request("message:send", sendRequest(pending)).then(
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
    this.#stopWatchingVisibility();
    this.#files.forEach(({ abort }) => abort.abort());
    this.#files.clear();
    this.stopOwnTyping();
    this.#contactTyping.forEach((timer) => clearTimeout(timer));
    clearTimeout(this.#resendTimer);
    this.link.close();
  }
}
