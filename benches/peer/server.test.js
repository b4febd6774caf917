// The peer as the load tool meets it: started with the daemon's command line, linked over REST,
// then two sockets on the device namespace, one of them sending.

import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { io } from "socket.io-client";

/** Bound on every wait; the last ack of a message comes 1.5 s after it. */
const WAIT_MS = 5000;
const SERVER = fileURLToPath(new URL("server.js", import.meta.url));
const SENDER = fileURLToPath(new URL("sender.js", import.meta.url));
const execFileAsync = promisify(execFile);
const DEVICE = "peer-test";
const CHAT = "15550001000@c.us";
const SILENT = "15551000001@c.us";

describe("peer server", () => {
  let dir;
  let server;
  let exited;
  let base;
  let key;
  const sockets = [];
  /** The two sockets on the linked device; alice sends. */
  let alice;
  let bob;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "devicebridge-peer-"));
    // As the load tool starts the daemon: in its temporary directory, with the same options.
    const args = ["serve", "--bind", "127.0.0.1:0"];
    args.push("--data-dir", join(dir, "data"), "--devices-dir", join(dir, "devices"));
    server = spawn(process.execPath, [SERVER, ...args], { cwd: dir, stdio: ["ignore", "pipe", "inherit"] });
    exited = new Promise((resolve) => server.once("exit", (code, signal) => resolve({ code, signal })));
    base = await within(listeningAt(server), "the listening line");
    key = (await readFile(join(dir, "data", "admin-api-key"), "utf8")).trim();
  });

  after(async () => {
    sockets.forEach((socket) => socket.close());
    if (server.exitCode === null && server.signalCode === null) {
      server.kill("SIGKILL");
    }
    await rm(dir, { recursive: true, force: true });
  });

  /** A REST call with the admin key (or `headers` instead): `{ status, body }`. */
  async function api(method, path, { body, headers = { "x-api-key": key } } = {}) {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { ...headers, "content-type": "application/json" },
      body: body && JSON.stringify(body),
      signal: AbortSignal.timeout(WAIT_MS),
    });
    const text = await response.text();
    return { status: response.status, body: text && JSON.parse(text) };
  }

  /** A socket on the device namespace that keeps every event it receives, in order. */
  function connect(auth, device = DEVICE) {
    const options = { path: "/ws", auth, forceNew: true, reconnection: false };
    const socket = io(`${base}/device/${device}`, options);
    sockets.push(socket);
    const events = [];
    const waiters = new Set();
    socket.onAny((name, data) => {
      events.push({ name, data });
      waiters.forEach((check) => check());
    });
    /** The first `count` events, once they have arrived. */
    const received = (count) =>
      within(
        new Promise((resolve) => {
          const check = () => {
            if (events.length >= count) {
              waiters.delete(check);
              resolve(events.slice(0, count));
            }
          };
          waiters.add(check);
          check();
        }),
        `${count} events`,
      );
    return { socket, events, received };
  }

  it("writes its admin key and answers /health", async () => {
    assert.match(key, /^dbk_[0-9a-f]{32}$/);
    assert.deepEqual(await api("GET", "/health", { headers: {} }), { status: 200, body: { status: "ok" } });
  });

  it("refuses the API without the key", async () => {
    const { status, body } = await api("GET", "/api/v1/stats", { headers: {} });
    assert.equal(status, 401);
    assert.equal(body.error.code, "unauthorized");
    const bearer = await api("GET", "/api/v1/stats", { headers: { authorization: `Bearer ${key}` } });
    assert.equal(bearer.status, 200);
  });

  it("links a device by its QR code", async () => {
    const contacts = [
      { id: CHAT, name: "Contact 0" },
      { id: SILENT, name: "Contact 1", behaviour: "silent" },
    ];
    const simulator = { phone: "15550000001", contacts };
    const created = await api("POST", "/api/v1/devices", {
      body: { id: DEVICE, name: "Peer test", connector: "simulator", simulator },
    });
    assert.equal(created.status, 201);
    assert.deepEqual(created.body, { id: DEVICE, name: "Peer test", connector: "simulator", state: "qr" });
    const again = await api("POST", "/api/v1/devices", {
      body: { id: DEVICE, connector: "simulator", simulator },
    });
    assert.equal(again.status, 409);
    assert.equal((await api("POST", `/api/v1/devices/${DEVICE}/start`)).status, 200);

    const { body: qr } = await api("GET", `/api/v1/devices/${DEVICE}/qr`);
    assert.match(qr.qr, new RegExp(DEVICE));
    const paired = await api("POST", "/api/v1/pairings", { body: { qr: qr.qr } });
    assert.deepEqual(paired, { status: 200, body: { deviceId: DEVICE, linked: true } });
    assert.equal((await api("GET", `/api/v1/devices/${DEVICE}`)).body.state, "ready");
    assert.equal((await api("GET", `/api/v1/devices/${DEVICE}/qr`)).status, 409);
  });

  it("refuses a socket with a wrong key or for an unknown device", async () => {
    const refusal = (socket) =>
      within(new Promise((resolve) => socket.once("connect_error", resolve)), "connect_error");
    assert.equal((await refusal(connect({ apiKey: "dbk_wrong" }).socket)).message, "unauthorized");
    assert.equal((await refusal(connect({ apiKey: key }, "nothing-here").socket)).message, "not_found");
  });

  it("greets each socket with session, then sync", async () => {
    alice = connect({ apiKey: key });
    bob = connect({ token: key });
    for (const { socket, received } of [alice, bob]) {
      const [session, sync] = await received(2);
      assert.equal(session.name, "session");
      assert.equal(session.data.deviceId, DEVICE);
      assert.equal(session.data.socketId, socket.id);
      assert.deepEqual(session.data.scopes, ["read", "send", "control", "admin"]);
      assert.equal(sync.name, "sync");
      assert.equal(sync.data.toSeq, 0);
      assert.equal(sync.data.recovered, true);
    }
  });

  it("acks a send, then emits the message and its acks to every socket, seq by seq", async () => {
    const request = { chatId: CHAT, text: "hello", tempId: "tmp-1" };
    const ack = await alice.socket.timeout(WAIT_MS).emitWithAck("message:send", request);
    assert.equal(ack.ok, true);
    assert.equal(ack.data.tempId, "tmp-1");
    assert.equal(ack.data.body, "hello");
    assert.equal(ack.data.fromMe, true);
    assert.equal(ack.data.from, "15550000001@c.us");

    for (const { received } of [alice, bob]) {
      const events = (await received(6)).slice(2);
      assert.deepEqual(
        events.map(({ name, data }) => [name, data.seq, data.ack, data.ackName]),
        [
          ["message", 1, 0, "pending"],
          ["message:ack", 2, 1, "server"],
          ["message:ack", 3, 2, "device"],
          ["message:ack", 4, 3, "read"],
        ],
      );
      assert.deepEqual(events[0].data, { ...ack.data, seq: 1, at: events[0].data.at });
      for (const { data } of events.slice(1)) {
        assert.equal(data.messageId, ack.data.id);
        assert.equal(data.deviceId, DEVICE);
      }
    }
  });

  it("reports the last seq and the connections", async () => {
    const page = await api("GET", `/api/v1/devices/${DEVICE}/events?after=0&limit=1`);
    assert.equal(page.body.head, 4);
    const { body: stats } = await api("GET", "/api/v1/stats");
    assert.deepEqual(stats, { devices: 1, activeDevices: 1, messages: 1, connections: 2 });
  });

  it("refuses an invalid send and an unknown event", async () => {
    const emit = (event, payload) => alice.socket.timeout(WAIT_MS).emitWithAck(event, payload);
    const stranger = await emit("message:send", { chatId: "nobody@c.us", text: "hi" });
    assert.equal(stranger.ok, false);
    assert.equal(stranger.error.code, "bad_request");
    const empty = await emit("message:send", { chatId: CHAT, text: "" });
    assert.equal(empty.error.code, "bad_request");
    const unknown = await emit("chat:join", { chatId: CHAT });
    const error = { code: "bad_request", message: "unknown event `chat:join`" };
    assert.deepEqual(unknown, { ok: false, error });
    // Every event arrived once: nothing came after the read ack, the refusals emitted nothing.
    assert.equal(alice.events.length, 6);
    assert.equal(bob.events.length, 6);
  });

  it("never has a silent contact read, as devicebridge's simulator does not", async () => {
    const send = (chatId) => alice.socket.timeout(WAIT_MS).emitWithAck("message:send", { chatId, text: "hi" });
    const unread = await send(SILENT);
    // A read message sent after it: its read ack comes after the silent one's would have.
    const read = await send(CHAT);
    const events = (await alice.received(6 + 3 + 4)).slice(6);
    assert.deepEqual(
      events.filter(({ data }) => data.messageId === unread.data.id).map(({ data }) => data.ackName),
      ["server", "device"],
    );
    assert.equal(events.at(-1).data.messageId, read.data.id);
    assert.equal(events.at(-1).data.ackName, "read");
  });

  it("is driven by the load tool's Node sender, which reports every ack and relay", async () => {
    const config = {
      url: base,
      path: "/ws",
      device: DEVICE,
      apiKey: key,
      chats: [SILENT],
      clients: 2,
      inFlight: 5,
      warmupMs: 200,
      durationMs: 500,
      drainMs: WAIT_MS,
      runId: "test",
    };
    const { stdout } = await execFileAsync(process.execPath, [SENDER, JSON.stringify(config)], {
      timeout: 2 * WAIT_MS,
    });
    const report = JSON.parse(stdout);
    assert.ok(report.sent > 10, `only ${report.sent} sent`);
    assert.equal(report.acked, report.sent);
    assert.equal(report.failures, 0);
    assert.equal(report.firstFailure, null);
    // Every send after the warm-up is timed; those acked within the window count for the rate.
    assert.ok(report.latenciesMicros.length > 0 && report.latenciesMicros.length < report.sent);
    assert.ok(report.ackedInWindow > 0 && report.ackedInWindow <= report.latenciesMicros.length);
    assert.ok(report.latenciesMicros.every((micros) => Number.isInteger(micros) && micros > 0));
    // The first socket saw each message's server ack, the last of them 30 ms after its send.
    assert.equal(report.relayed, report.sent);
    assert.ok(report.relayedInWindow > 0 && report.relayedInWindow <= report.relayed);
    assert.ok(report.drainMs >= 0 && report.drainMs < WAIT_MS, `drained after ${report.drainMs} ms`);
  });

  it("exits with 0 on SIGTERM", async () => {
    server.kill("SIGTERM");
    assert.deepEqual(await within(exited, "the exit"), { code: 0, signal: null });
  });
});

/** The base URL from the `peer listening on …` line the server prints. */
function listeningAt(child) {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      const match = /^peer listening on (http:\/\/\S+)$/.exec(line);
      if (match) {
        resolve(match[1]);
      }
    });
    child.once("exit", (code) => reject(new Error(`the server exited with ${code} before listening`)));
  });
}

/** `promise`, or a rejection naming `what` after `WAIT_MS`. */
function within(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${WAIT_MS} ms`)), WAIT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
