import { Manager, type Socket } from "socket.io-client";
import type { Reply } from "../api/types";
import type { AuthSession } from "../auth/session";
import { type Store, createStore } from "../lib/store";
import { type ConnectionStatus, type LinkState, connectionStatus } from "./status";

/** How long a request waits for its answer before it is tried again. */
const REPLY_TIMEOUT_MS = 15_000;

/** An answer `{ ok: false, error }` to a client event. */
export class ReplyError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = "ReplyError";
  }
}

/** No answer came: the socket dropped or the server took too long. It may be tried again. */
export class NoReplyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NoReplyError";
  }
}

/**
 * A namespace's client events by name: what each takes and what its answer's `data` holds
 * (the generated `DeviceRequests` and `FleetRequests`).
 */
export type RequestMap<Requests> = { [Event in keyof Requests]: [unknown, unknown] };

/** A request's payload: left out where the event needs none of its fields. */
type PayloadOf<Request extends [unknown, unknown]> = {} extends Request[0]
  ? [payload?: Request[0]]
  : [payload: Request[0]];

export interface LinkOptions {
  /** Handshake fields besides the token, read on every (re)connect: `lastSeq`. */
  handshake?: () => Record<string, unknown>;
  onEvent: (event: string, payload: unknown) => void;
  onConnect?: () => void;
  onDisconnect?: () => void;
}

/**
 * One namespace's socket (`/` or `/device/<id>`), kept connected with the
 * session's current token. Socket.IO reconnects by itself after a network
 * drop; the cases it leaves to the application are handled here: the server
 * ending the connection (its token ended) and refusing a handshake
 * (`unauthorized`: renew the token and try again; `forbidden` or an unknown
 * namespace: give up, that is the view's error to show).
 */
export class Link<Requests extends RequestMap<Requests>> {
  readonly state: Store<LinkState> = createStore<LinkState>("connecting");
  /** Why the server refused this socket for good, when it did. */
  refusal: string | null = null;
  #socket: Socket;
  /** The socket a handover waits for (see handOver). */
  #incoming: Socket | null = null;
  #retries = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(
    manager: Manager,
    private readonly session: AuthSession,
    private readonly namespace: string,
    private readonly options: LinkOptions,
    private readonly release: (link: OpenLink) => void,
  ) {
    this.#socket = this.#attach(manager);
  }

  /**
   * A socket for this namespace on `manager`. Every socket's events reach
   * `onEvent` (a handover briefly has two, whose overlap the receiver drops
   * by seq); only the current socket's comings and goings change the state.
   */
  #attach(manager: Manager): Socket {
    const socket = manager.socket(this.namespace, {
      auth: (send) => send({ token: this.session.token, ...this.options.handshake?.() }),
    });
    const current = () => socket === this.#socket && !this.#closed;
    socket.onAny((event: string, payload: unknown) => this.options.onEvent(event, payload));
    socket.on("connect", () => {
      if (socket === this.#incoming) {
        const old = this.#socket;
        this.#socket = socket;
        this.#incoming = null;
        old.disconnect();
      }
      if (!current()) return;
      this.#retries = 0;
      this.state.set("connected");
      this.options.onConnect?.();
    });
    socket.on("disconnect", (reason) => {
      if (!current()) return;
      this.options.onDisconnect?.();
      this.state.set("reconnecting");
      // The server ended it (its token ended); Socket.IO does not retry that itself.
      if (reason === "io server disconnect") this.#retry();
    });
    socket.on("connect_error", (error: Error) => {
      if (socket === this.#incoming) {
        // The old socket carries on until its token ends; then the usual retry.
        this.#incoming = null;
        socket.disconnect();
      } else if (current()) {
        this.#refused(socket, error.message);
      }
    });
    socket.connect();
    return socket;
  }

  get connected(): boolean {
    return this.#socket.connected;
  }

  #refused(socket: Socket, message: string): void {
    if (socket.active) {
      // A transport failure: Socket.IO is already trying again.
      this.state.set("reconnecting");
    } else if (message === "unauthorized") {
      this.state.set("reconnecting");
      this.session.renew().then(() => this.#retry(), () => this.#retry());
    } else if (message === "forbidden" || message === "Invalid namespace") {
      this.refusal = message === "forbidden" ? "This credential may not use this device." : "There is no such device.";
      this.state.set("refused");
    } else {
      this.refusal = message;
      this.state.set("offline");
    }
  }

  /** Connects again with a fresh token, backing off if the server keeps refusing. */
  #retry(): void {
    clearTimeout(this.#retryTimer);
    const delay = Math.min(30_000, 500 * 2 ** this.#retries) * (0.5 + Math.random() / 2);
    this.#retries++;
    this.#retryTimer = setTimeout(() => {
      this.session.freshToken().then(
        () => !this.#closed && this.#socket.connect(),
        () => this.#retry(),
      );
    }, delay);
  }

  /**
   * Moves to a socket on `manager`, a new connection made for a renewed token,
   * before the old token ends. The old socket stays until the new one is
   * connected, so the view never goes offline; the new handshake carries the
   * resume point, so nothing is lost, and what both sockets deliver is
   * dropped as a repeat by its seq. (A namespace cannot simply be reconnected
   * on the same connection: the server drops a CONNECT that arrives while it
   * is still closing the old one.)
   */
  handOver(manager: Manager): void {
    if (this.#closed) return;
    this.#incoming?.disconnect();
    const next = this.#attach(manager);
    if (this.#socket.connected) {
      this.#incoming = next;
    } else {
      // Not connected anyway: try on the new connection right away.
      this.#socket.disconnect();
      this.#socket = next;
    }
  }

  /**
   * Emits a client event and resolves with its answer's `data`, both typed by
   * the namespace's generated request map. Events that take no payload
   * (`devices:list`) are sent without one.
   */
  request<Event extends keyof Requests & string>(
    event: Event,
    ...[payload]: PayloadOf<Requests[Event]>
  ): Promise<Requests[Event][1]> {
    type Data = Requests[Event][1];
    return new Promise((resolve, reject) => {
      const answered = (error: Error | null, reply: Reply<Data>) => {
        if (error) reject(new NoReplyError(`no answer to ${event}: ${error.message}`));
        else if (reply.ok) resolve(reply.data);
        else reject(new ReplyError(reply.error.code, reply.error.message));
      };
      const socket = this.#socket.timeout(REPLY_TIMEOUT_MS);
      if (payload === undefined) socket.emit(event, answered);
      else socket.emit(event, payload, answered);
    });
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    for (const socket of [this.#socket, this.#incoming]) {
      socket?.offAny();
      socket?.disconnect();
    }
    this.release(this);
  }
}

/** What the hub does with a link, whatever its namespace's requests. */
type OpenLink = Pick<Link<never>, "state" | "handOver" | "close">;

/**
 * The dashboard's sockets: one Socket.IO connection (path `/ws`), with a
 * namespace multiplexed over it for the fleet and for each device opened.
 * Tells the connection's status for all of them together, and moves them to
 * a new connection with the renewed token ahead of the old token's end.
 */
export class SocketHub {
  readonly status: Store<ConnectionStatus> = createStore<ConnectionStatus>("offline");
  #manager: Manager;
  #links = new Map<OpenLink, () => void>();
  #cleanups: (() => void)[] = [];

  constructor(readonly session: AuthSession) {
    this.#manager = this.#connection();
    this.#cleanups.push(
      session.onRenewed(() => {
        // The old connection closes by itself once its last socket has moved.
        this.#manager = this.#connection();
        for (const link of this.#links.keys()) link.handOver(this.#manager);
      }),
    );
    if (typeof window !== "undefined") {
      const recount = () => this.#recount();
      window.addEventListener("online", recount);
      window.addEventListener("offline", recount);
      this.#cleanups.push(() => {
        window.removeEventListener("online", recount);
        window.removeEventListener("offline", recount);
      });
    }
  }

  #connection(): Manager {
    return new Manager(this.session.origin, { path: "/ws", autoConnect: false });
  }

  open<Requests extends RequestMap<Requests>>(namespace: string, options: LinkOptions): Link<Requests> {
    const link = new Link<Requests>(this.#manager, this.session, namespace, options, (closed) => {
      this.#links.get(closed)?.();
      this.#links.delete(closed);
      this.#recount();
    });
    this.#links.set(link, link.state.subscribe(() => this.#recount()));
    this.#recount();
    return link;
  }

  #recount(): void {
    const online = typeof navigator === "undefined" || navigator.onLine;
    this.status.set(connectionStatus([...this.#links.keys()].map((l) => l.state.get()), online));
  }

  close(): void {
    [...this.#links.keys()].forEach((link) => link.close());
    this.#cleanups.forEach((cleanup) => cleanup());
    this.#cleanups = [];
    this.status.set("offline");
  }
}
