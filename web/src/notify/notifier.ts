import type { NotificationEvent } from "../api/types";
import { type Store, createStore } from "../lib/store";
import { chime } from "./chime";
import { type TabChannel, TabClaims, aloneChannel, broadcastChannel } from "./claims";

/** The Notification API's permission, or `unsupported` where there is none. */
export type Permission = NotificationPermission | "unsupported";

/** Where device sessions hand the `notification` and `notification:read` events. */
export interface NotificationSink {
  /** `onScreen`: the notification's chat is open in this tab and the page is visible. */
  received(deviceId: string, event: NotificationEvent, onScreen: boolean): void;
  /** Read on some client: whatever shows them goes. */
  read(ids: string[]): void;
}

function permissionNow(): Permission {
  return typeof Notification === "undefined" ? "unsupported" : Notification.permission;
}

function newTabId(): string {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

/**
 * This tab's part in telling the person about notifications: for one that
 * this tab wins (see claims.ts) a desktop notification, if they allowed
 * them, and a chime. A notification read anywhere is closed here.
 */
export class Notifier implements NotificationSink {
  readonly permission: Store<Permission> = createStore(permissionNow());
  #claims: TabClaims;
  #closeChannel: () => void;
  #shown = new Map<string, Notification>();
  #stopRead: () => void;

  constructor(
    /** The person clicked a notification: show its chat. */
    private readonly activate: (deviceId: string, event: NotificationEvent) => void,
    channel?: TabChannel,
  ) {
    const broadcast = channel ? null : broadcastChannel("devicebridge.notifications");
    this.#closeChannel = () => broadcast?.close();
    this.#claims = new TabClaims(channel ?? broadcast ?? aloneChannel, newTabId());
    this.#stopRead = this.#claims.onRead((ids) => this.#close(ids));
  }

  /** Asks for permission to show desktop notifications (from a click: browsers require one). */
  async enable(): Promise<void> {
    if (typeof Notification === "undefined") return;
    try {
      this.permission.set(await Notification.requestPermission());
    } catch {
      this.permission.set(permissionNow());
    }
  }

  received(deviceId: string, event: NotificationEvent, onScreen: boolean): void {
    void this.#claims.claim(event.id, onScreen).then((mine) => {
      if (mine) this.#show(deviceId, event);
    });
  }

  #show(deviceId: string, event: NotificationEvent): void {
    chime();
    if (permissionNow() !== "granted") return;
    try {
      // The tag makes the system replace rather than stack a notification shown twice.
      const shown = new Notification(event.title, { body: event.body, tag: event.id });
      shown.onclick = () => {
        window.focus();
        this.activate(deviceId, event);
        shown.close();
      };
      shown.onclose = () => {
        if (this.#shown.get(event.id) === shown) this.#shown.delete(event.id);
      };
      this.#shown.set(event.id, shown);
    } catch {
      // Some browsers show notifications only from a service worker: the chime has told.
    }
  }

  read(ids: string[]): void {
    this.#close(ids);
    this.#claims.read(ids);
  }

  #close(ids: string[]): void {
    for (const id of ids) {
      this.#shown.get(id)?.close();
      this.#shown.delete(id);
    }
  }

  close(): void {
    this.#close([...this.#shown.keys()]);
    this.#stopRead();
    this.#claims.close();
    this.#closeChannel();
  }
}
