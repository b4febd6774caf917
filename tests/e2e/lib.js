"use strict";
// Helpers for end-to-end scenarios run against devicebridge with the official
// socket.io-client.
//
// A scenario script looks like:
//
//   const { connect, fail, main } = require("./lib");
//   main(async () => {
//     const c = connect(`${process.env.E2E_URL}/device/demo`, { auth: { apiKey: "..." } });
//     await c.connected(5000);
//     const state = await c.waitFor("state", 5000);
//     const reply = await c.emitAck("send", { text: "hi" }, 5000);
//     if (!reply.ok) fail(`send failed: ${JSON.stringify(reply)}`);
//   });
//
// `main` prints `OK` and exits 0 on success; prints the error and exits 1 on
// failure or when E2E_TIMEOUT_MS (default 30000) elapses. All sockets opened
// with `connect` are closed before exiting.

const { io } = require("socket.io-client");

const LIFECYCLE = new Set(["connect", "disconnect", "connect_error"]);
const clients = new Set();

function describe(value) {
  if (value instanceof Error) return value.message;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

class Client {
  constructor(socket) {
    this.socket = socket;
    /** Every application event received, in order: { event, payload, args }. */
    this.events = [];
    // Mailbox of received entries (application and lifecycle events) that
    // waitFor has not consumed yet, so events that arrive before waitFor is
    // called are not missed.
    this._mailbox = [];
    this._waiters = new Set();
    // Set while the socket is down after a disconnect or connect_error.
    this._down = null;

    socket.onAny((event, ...args) => {
      const entry = { event, payload: args[0], args };
      this.events.push(entry);
      this._deliver(entry);
    });
    socket.on("connect", () => {
      this._down = null;
      this._deliver({ event: "connect", payload: undefined, args: [] });
    });
    socket.on("disconnect", (reason, details) => {
      this._down = `disconnected (${reason})`;
      this._deliver({ event: "disconnect", payload: reason, args: [reason, details] });
      this._failWaiters();
    });
    socket.on("connect_error", (err) => {
      this._down = `connect_error: ${err && err.message}`;
      this._deliver({ event: "connect_error", payload: err, args: [err] });
      this._failWaiters();
    });
  }

  get id() {
    return this.socket.id;
  }

  get connectedNow() {
    return this.socket.connected;
  }

  /**
   * Resolves with the payload (first argument) of the first not-yet-consumed
   * `event` (matching `predicate`, if given). Works for application events and
   * for "connect", "disconnect" (payload: reason) and "connect_error"
   * (payload: the Error). Rejects on timeout with a message naming the event,
   * and early if the socket goes down while waiting for an application event.
   */
  waitFor(event, timeoutMs, predicate) {
    const matches = (entry) => entry.event === event && (!predicate || predicate(entry.payload, entry));
    return this._wait(matches, `event "${event}"`, timeoutMs, LIFECYCLE.has(event)).then((entry) => entry.payload);
  }

  /**
   * Like waitFor, for the first not-yet-consumed event named in `events` (matching
   * `predicate(payload, event)`, if given); resolves with { event, payload }. For a client
   * that accepts one of several events as the same news, or to tell "connect" from
   * "connect_error".
   */
  waitForAny(events, timeoutMs, predicate) {
    const matches = (entry) => events.includes(entry.event) && (!predicate || predicate(entry.payload, entry.event));
    const label = `one of ${events.map((e) => `"${e}"`).join(", ")}`;
    const lifecycle = events.some((e) => LIFECYCLE.has(e));
    return this._wait(matches, label, timeoutMs, lifecycle).then(({ event, payload }) => ({ event, payload }));
  }

  /** Resolves once the namespace is connected; rejects with the connect_error message otherwise. */
  async connected(timeoutMs) {
    if (this.socket.connected) return;
    const entry = await this._wait(
      (e) => e.event === "connect" || e.event === "connect_error",
      "connect",
      timeoutMs,
      true,
    );
    if (entry.event === "connect_error") {
      throw new Error(`expected a connection, got connect_error: ${describe(entry.payload)}`);
    }
  }

  /** Resolves with err.message of the next connect_error; rejects on timeout. */
  async connectError(timeoutMs) {
    const err = await this.waitFor("connect_error", timeoutMs);
    return err && err.message !== undefined ? err.message : String(err);
  }

  /**
   * Like waitFor, but a timeout fails with `what` (a description of the expected event) and
   * every `event` received so far, so a failure says what was expected and what came instead.
   */
  async expect(event, timeoutMs, predicate, what) {
    try {
      return await this.waitFor(event, timeoutMs, predicate);
    } catch (err) {
      const seen = this.received(event);
      throw new Error(
        `expected ${what || `event "${event}"`}: ${err.message}\n` +
          `  "${event}" events received so far: ${seen.length ? describe(seen) : "none"}`,
      );
    }
  }

  /** The payloads of every `event` received so far (consumed or not), in order. */
  received(event, predicate) {
    return this.events
      .filter((e) => e.event === event && (!predicate || predicate(e.payload)))
      .map((e) => e.payload);
  }

  /** The highest `seq` among the events received so far (0 if none). */
  lastSeq() {
    const seqs = this.events.map((e) => (e.payload && Number.isInteger(e.payload.seq) ? e.payload.seq : 0));
    return Math.max(0, ...seqs);
  }

  /** Resolves with the disconnect reason once the socket is disconnected. */
  disconnected(timeoutMs) {
    return this.waitFor("disconnect", timeoutMs);
  }

  emit(event, ...args) {
    this.socket.emit(event, ...args);
  }

  /** Emits with an ack and resolves with the ack's first argument. */
  async emitAck(event, payload, timeoutMs) {
    try {
      return await this.socket.timeout(timeoutMs).emitWithAck(event, payload);
    } catch (err) {
      throw new Error(`no ack for "${event}" within ${timeoutMs} ms: ${describe(err)}`);
    }
  }

  close() {
    clients.delete(this);
    for (const w of [...this._waiters]) w.reject(new Error(`socket closed while waiting for ${w.label}`));
    this.socket.disconnect();
  }

  // Resolves with the first unconsumed mailbox entry matching `matches`.
  // `lifecycle`: keep waiting when the socket goes down.
  _wait(matches, label, timeoutMs, lifecycle) {
    const idx = this._mailbox.findIndex(matches);
    if (idx >= 0) return Promise.resolve(this._mailbox.splice(idx, 1)[0]);
    if (!lifecycle && this._down) {
      return Promise.reject(new Error(`${this._down} while waiting for ${label}${this._seen()}`));
    }
    return new Promise((resolve, reject) => {
      const waiter = { label, matches, lifecycle };
      const done = () => {
        clearTimeout(waiter.timer);
        this._waiters.delete(waiter);
      };
      waiter.resolve = (entry) => {
        done();
        resolve(entry);
      };
      waiter.reject = (err) => {
        done();
        reject(err);
      };
      waiter.timer = setTimeout(
        () => waiter.reject(new Error(`timed out after ${timeoutMs} ms waiting for ${label}${this._seen()}`)),
        timeoutMs,
      );
      this._waiters.add(waiter);
    });
  }

  _deliver(entry) {
    for (const w of this._waiters) {
      if (w.matches(entry)) {
        w.resolve(entry);
        return;
      }
    }
    this._mailbox.push(entry);
  }

  _failWaiters() {
    for (const w of [...this._waiters]) {
      if (!w.lifecycle) {
        w.reject(new Error(`${this._down} while waiting for ${w.label}${this._seen()}`));
      }
    }
  }

  _seen() {
    const names = this.events.map((e) => e.event);
    return names.length ? ` (events received: ${names.join(", ")})` : " (no events received)";
  }
}

/**
 * Connects with the official client. Defaults: path "/ws", no reconnection,
 * a new Manager per call; `opts` is passed to io() and overrides them.
 * The namespace is the URL's path, e.g. "http://127.0.0.1:8080/device/demo".
 */
function connect(url, opts = {}) {
  const socket = io(url, { path: "/ws", reconnection: false, forceNew: true, ...opts });
  const client = new Client(socket);
  clients.add(client);
  return client;
}

/**
 * Watches a socket opened by the scenario itself with `io()` (a client's own connection code,
 * with its own options): the socket gets the same mailbox and waits as `connect`'s, and is
 * closed before exiting.
 */
function watch(socket) {
  const client = new Client(socket);
  clients.add(client);
  return client;
}

/** Throws, failing the scenario. */
function fail(msg) {
  throw new Error(msg);
}

/** The value of a required environment variable. */
function env(name) {
  const value = process.env[name];
  if (!value) fail(`environment variable ${name} is not set`);
  return value;
}

/** Compact JSON for failure messages. */
function show(value) {
  return describe(value);
}

/** JSON with object keys sorted at every level, so equal data gives equal text. */
function canonical(value) {
  const sorted = (v) => {
    if (Array.isArray(v)) return v.map(sorted);
    if (v && typeof v === "object") {
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, sorted(v[k])]),
      );
    }
    return v;
  };
  return JSON.stringify(sorted(value));
}

/** Deep equality of JSON data, ignoring the order of object keys (not of arrays). */
function sameJson(a, b) {
  return canonical(a) === canonical(b);
}

/**
 * A small REST client for `base` (e.g. "http://127.0.0.1:8080") sending `X-Api-Key: key`.
 * `call` resolves with { status, body } (body parsed as JSON when possible); `expect`
 * resolves with the body and fails the scenario unless the status is `status`.
 */
function rest(base, key) {
  return restWith(base, { "x-api-key": key });
}

/** Like `rest`, sending `Authorization: Bearer token` (an access token) instead of a key. */
function restBearer(base, token) {
  return restWith(base, { authorization: `Bearer ${token}` });
}

function restWith(base, credential) {
  async function call(method, path, body) {
    const init = { method, headers: { ...credential } };
    if (body !== undefined) {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(`${base}${path}`, init);
    const text = await response.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    return { status: response.status, body: json };
  }
  async function expect(status, method, path, body) {
    const reply = await call(method, path, body);
    if (reply.status !== status) {
      fail(`${method} ${path}: expected ${status}, got ${reply.status} ${describe(reply.body)}`);
    }
    return reply.body;
  }
  return { call, expect };
}

let finished = false;
function finish(code, text) {
  if (finished) return;
  finished = true;
  for (const c of [...clients]) {
    try {
      c.close();
    } catch {
      // ignore: exiting anyway
    }
  }
  const stream = code === 0 ? process.stdout : process.stderr;
  const fallback = setTimeout(() => process.exit(code), 1000);
  fallback.unref();
  stream.write(`${text}\n`, () => process.exit(code));
}

/** Runs an async scenario: prints OK and exits 0, or prints the error and exits 1. */
function main(fn) {
  const raw = process.env.E2E_TIMEOUT_MS;
  const timeoutMs = raw && Number(raw) > 0 ? Number(raw) : 30000;
  const timer = setTimeout(() => finish(1, `FAIL: scenario did not finish within ${timeoutMs} ms`), timeoutMs);
  Promise.resolve()
    .then(fn)
    .then(
      () => {
        clearTimeout(timer);
        finish(0, "OK");
      },
      (err) => {
        clearTimeout(timer);
        finish(1, `FAIL: ${err && err.stack ? err.stack : describe(err)}`);
      },
    );
}

module.exports = { connect, watch, fail, main, env, show, canonical, sameJson, rest, restBearer, Client };
