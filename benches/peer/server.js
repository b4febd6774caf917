#!/usr/bin/env node
// The peer: what devicebridge is compared with, a plain Node socket.io server as users would
// write one, speaking the part of devicebridge's protocol the load tool (`benches/load`) uses,
// so the same tool drives either. Nothing is stored: devices and counters live in memory.
//
//   node server.js serve --bind 127.0.0.1:3000 --data-dir DIR --devices-dir DIR2
//
// The command line is the daemon's, so the load tool can start the peer in the daemon's place
// (`--daemon-bin`; see README.md).

import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Server } from "socket.io";

/** Device ids as devicebridge accepts them; one namespace `/device/<id>` each. */
const DEVICE_NAMESPACE = /^\/device\/([a-z0-9][a-z0-9_-]{0,63})$/;

/**
 * The simulated phone's acks of a message we send, with the delays of devicebridge's
 * simulator defaults (`server_ack_ms`, `delivered_ms`, `read_ms`). A `silent` contact, as
 * there, never reads: its messages stop at `device`.
 */
const ACK_STEPS = [
  [30, 1, "server"],
  [150, 2, "device"],
  [1500, 3, "read"],
];

/** The admin key's scopes, which `session` lists as devicebridge does. */
const SCOPES = ["read", "send", "control", "admin"];

/** How long a QR code says it is good for; the peer's never expire. */
const QR_LIFETIME_MS = 60_000;

const USAGE = "usage: server.js [serve] [--bind HOST:PORT] [--data-dir DIR] [--devices-dir DIR]";

const options = commandLine(process.argv.slice(2));
const adminKey = `dbk_${randomBytes(16).toString("hex")}`;
// The load tool reads the key from here once `/health` answers, as it does the daemon's.
mkdirSync(options.dataDir, { recursive: true });
writeFileSync(join(options.dataDir, "admin-api-key"), `${adminKey}\n`, { mode: 0o600 });

/** Devices by id: `{ id, name, phone, contacts: Map<chatId, behaviour>, state, qr, seq }`. */
const devices = new Map();
/** Messages sent since the start; also numbers their ids. */
let messages = 0;
/** Sockets connected to any device namespace. */
let connections = 0;

const httpServer = createServer((req, res) => {
  handle(req).then(
    ([status, body]) => reply(res, status, body),
    (error) => {
      if (!(error instanceof ApiError)) {
        console.error(`${req.method} ${req.url}:`, error);
        error = new ApiError(500, "internal", "internal error");
      }
      reply(res, error.status, { error: { code: error.code, message: error.message } });
    },
  );
});

// Engine.IO defaults otherwise: every transport, 25 s pings with a 20 s timeout and a 1 MB
// `maxHttpBufferSize`, as a plain socket.io server has them. No browser bundle is served:
// nothing here loads it.
const io = new Server(httpServer, { path: "/ws", serveClient: false });
const deviceNamespaces = io.of(DEVICE_NAMESPACE);

deviceNamespaces.use((socket, next) => {
  const { apiKey, token } = socket.handshake.auth;
  if (apiKey !== adminKey && token !== adminKey) {
    return next(new Error("unauthorized"));
  }
  // The regex admits any well-formed id; a deleted device's namespace also outlives it.
  const device = devices.get(DEVICE_NAMESPACE.exec(socket.nsp.name)[1]);
  if (!device) {
    return next(new Error("not_found"));
  }
  socket.data.device = device;
  next();
});

deviceNamespaces.on("connection", (socket) => {
  const { device } = socket.data;
  connections++;
  socket.on("disconnect", () => connections--);
  const at = new Date().toISOString();
  socket.emit("session", { sub: "admin", deviceId: device.id, socketId: socket.id, scopes: SCOPES, at });
  // Nothing is journaled, so there is nothing to replay: the socket is up to date at once.
  socket.emit("sync", { fromSeq: device.seq, toSeq: device.seq, recovered: true, deviceId: device.id, at });
  socket.on("message:send", (request, ack) => send(device, socket.nsp, request, ack));
  socket.onAny((event, ...args) => {
    if (event !== "message:send") {
      answer(args.at(-1), refusal(`unknown event \`${event}\``));
    }
  });
});

/**
 * `message:send`: acks the message, emits it to the whole namespace (the sender too), then
 * the phone's acks of it. Each `nsp.emit` serializes the packet once for all the sockets.
 */
function send(device, nsp, request, ack) {
  const problem = sendProblem(device, request);
  if (problem) {
    return answer(ack, refusal(problem));
  }
  const { chatId, text, tempId = null } = request;
  const message = {
    id: `msg_${++messages}`,
    upstreamId: null,
    deviceId: device.id,
    chatId,
    from: `${device.phone}@c.us`,
    fromMe: true,
    type: "text",
    body: text,
    media: null,
    replyTo: null,
    timestamp: new Date().toISOString(),
    ack: 0,
    ackName: "pending",
    tempId,
    revoked: false,
  };
  answer(ack, { ok: true, data: message });
  publish(nsp, device, "message", message);
  // The id the phone gives the message, shaped like devicebridge's simulator's, so that the
  // acks weigh what the daemon's do.
  const upstreamId = `true_${chatId}_${randomBytes(10).toString("hex")}`;
  const reads = device.contacts.get(chatId) !== "silent";
  for (const [delay, level, ackName] of ACK_STEPS.filter(([, level]) => reads || level < 3)) {
    const ackEvent = { messageId: message.id, upstreamId, chatId, ack: level, ackName };
    setTimeout(publish, delay, nsp, device, "message:ack", ackEvent);
  }
}

/** Why a `message:send` request is refused, if it is. */
function sendProblem(device, request) {
  if (typeof request !== "object" || request === null) {
    return "the payload must be an object { chatId, text, tempId }";
  }
  if (!device.contacts.has(request.chatId)) {
    return `chatId: \`${request.chatId}\` is not a contact of device ${device.id}`;
  }
  if (typeof request.text !== "string" || request.text === "") {
    return "text must be a non-empty string";
  }
}

/** Emits a device event to every socket of its namespace with the device's next seq. */
function publish(nsp, device, event, payload) {
  nsp.emit(event, { ...payload, deviceId: device.id, seq: ++device.seq, at: new Date().toISOString() });
}

/** Calls a client's ack callback, when it sent one. */
function answer(ack, response) {
  if (typeof ack === "function") {
    ack(response);
  }
}

function refusal(message) {
  return { ok: false, error: { code: "bad_request", message } };
}

// ------------------------------------------------------------------------------------------
// REST

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** `[method, path, status, handler]`: a handler gets the id in the path (if any) and the body. */
const ROUTES = [
  ["POST", /^\/api\/v1\/devices$/, 201, (_, body) => view(createDevice(body))],
  ["GET", /^\/api\/v1\/devices\/([^/]+)$/, 200, (id) => view(deviceById(id))],
  ["DELETE", /^\/api\/v1\/devices\/([^/]+)$/, 204, deleteDevice],
  // Devices are started when created.
  ["POST", /^\/api\/v1\/devices\/([^/]+)\/start$/, 200, (id) => view(deviceById(id))],
  ["GET", /^\/api\/v1\/devices\/([^/]+)\/qr$/, 200, showQr],
  ["POST", /^\/api\/v1\/pairings$/, 200, (_, body) => pair(body)],
  ["GET", /^\/api\/v1\/devices\/([^/]+)\/events$/, 200, eventsPage],
  ["GET", /^\/api\/v1\/stats$/, 200, stats],
];

/** Answers a request with `[status, body]`, or throws an `ApiError`. */
async function handle(req) {
  const { pathname } = new URL(req.url, "http://peer");
  if (pathname === "/health") {
    return [200, { status: "ok" }];
  }
  if (pathname.startsWith("/api/v1/") && presentedKey(req) !== adminKey) {
    const why = "an admin key is required (X-Api-Key or Authorization: Bearer)";
    throw new ApiError(401, "unauthorized", why);
  }
  for (const [method, path, status, handler] of ROUTES) {
    const match = req.method === method && path.exec(pathname);
    if (match) {
      return [status, handler(match[1], await readJson(req))];
    }
  }
  throw new ApiError(404, "not_found", `no route ${req.method} ${pathname}`);
}

function presentedKey(req) {
  return req.headers["x-api-key"] ?? /^Bearer (.+)$/i.exec(req.headers.authorization ?? "")?.[1];
}

async function readJson(req) {
  let text = "";
  for await (const chunk of req.setEncoding("utf8")) {
    text += chunk;
  }
  if (text === "") {
    return {};
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, "bad_request", "the body is not JSON");
  }
}

function reply(res, status, body) {
  if (body === undefined) {
    res.writeHead(status).end();
  } else {
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  }
}

/** A simulator device, which shows its QR code at once (state `qr`). */
function createDevice(body) {
  const { id, name = id, connector, simulator } = body ?? {};
  if (typeof id !== "string" || !DEVICE_NAMESPACE.test(`/device/${id}`)) {
    throw new ApiError(400, "invalid_device_id", "id must match ^[a-z0-9][a-z0-9_-]{0,63}$");
  }
  const simulated = connector === "simulator" && typeof simulator?.phone === "string";
  if (!simulated || !Array.isArray(simulator.contacts)) {
    const why = "only simulator devices, with simulator.phone and simulator.contacts";
    throw new ApiError(400, "bad_request", why);
  }
  if (devices.has(id)) {
    throw new ApiError(409, "device_exists", `device ${id} exists`);
  }
  const device = {
    id,
    name,
    phone: simulator.phone,
    contacts: new Map(simulator.contacts.map((contact) => [contact?.id, contact?.behaviour ?? "echo"])),
    state: "qr",
    qr: `peer-pairing:${id}:${randomBytes(8).toString("hex")}`,
    seq: 0,
  };
  devices.set(id, device);
  return device;
}

function deviceById(id) {
  const device = devices.get(id);
  if (!device) {
    throw new ApiError(404, "device_not_found", `no device ${id}`);
  }
  return device;
}

function view({ id, name, state }) {
  return { id, name, connector: "simulator", state };
}

function showQr(id) {
  const device = deviceById(id);
  if (device.state !== "qr") {
    throw new ApiError(409, "invalid_state", `device ${id} is ${device.state}, not showing a QR code`);
  }
  const expiresAt = new Date(Date.now() + QR_LIFETIME_MS).toISOString();
  return { qr: device.qr, image: "", expiresAt, attempt: 1, maxAttempts: 6 };
}

/** The phone scanned a QR code: its device is linked and ready. */
function pair(body) {
  const device = [...devices.values()].find((d) => d.state === "qr" && d.qr === body?.qr);
  if (!device) {
    throw new ApiError(410, "qr_expired", "no device shows this QR code");
  }
  device.state = "ready";
  device.qr = null;
  return { deviceId: device.id, linked: true };
}

/** No journal: the page is always empty; `head` is the last seq emitted. */
function eventsPage(id) {
  return { items: [], head: deviceById(id).seq, recovered: true, nextAfter: null };
}

function deleteDevice(id) {
  deviceById(id);
  devices.delete(id);
  io.of(`/device/${id}`).disconnectSockets(true);
}

function stats() {
  const activeDevices = [...devices.values()].filter((d) => d.state === "ready").length;
  return { devices: devices.size, activeDevices, messages, connections };
}

// ------------------------------------------------------------------------------------------
// Start and stop

/** `{ host, port, dataDir }` from the daemon's `serve` options, or the usage and exit 2. */
function commandLine(args) {
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        bind: { type: "string", default: "127.0.0.1:3000" },
        "data-dir": { type: "string", default: "data" },
        // Simulator devices come over REST here, never from device files.
        "devices-dir": { type: "string" },
      },
    });
    const extra = positionals.find((arg) => arg !== "serve");
    if (extra) {
      throw new Error(`unexpected argument \`${extra}\``);
    }
    const bind = /^\[?([^\]]+?)\]?:(\d+)$/.exec(values.bind);
    if (!bind) {
      throw new Error(`--bind takes HOST:PORT, not \`${values.bind}\``);
    }
    return { host: bind[1], port: Number(bind[2]), dataDir: values["data-dir"] };
  } catch (error) {
    console.error(`${error.message}\n${USAGE}`);
    process.exit(2);
  }
}

httpServer.listen(options.port, options.host, () => {
  const { address, port } = httpServer.address();
  const host = address.includes(":") ? `[${address}]` : address;
  console.log(`peer listening on http://${host}:${port}`);
});

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.once(signal, () => {
    // Disconnects every socket and stops listening; pending ack timers are dropped with the
    // process, as nothing waits for them.
    io.close(() => process.exit(0));
    // Node 18 does not close idle keep-alive connections on `close`, which would wait for them.
    httpServer.closeIdleConnections();
  });
}
