#!/usr/bin/env node
// The load tool's `send` scenario with the official Node client (`socket.io-client`) in place
// of the tool's own: what users' Node code sees of a server. The tool sets up the device, starts
// this script with the clients' share of the work, and reads the one JSON line it prints.
//
//   node sender.js '{"url":"http://127.0.0.1:3000","path":"/ws","device":"d1","apiKey":"dbk_…",
//     "chats":["15551000000@c.us"],"clients":1,"inFlight":100,"warmupMs":1000,
//     "durationMs":10000,"drainMs":120000,"runId":"abc"}'
//
// As the tool's clients do, each socket keeps its share of `inFlight` sends awaiting their
// acks, sending again as soon as one comes back; sends made during the warm-up are not timed,
// and only acks received before the end of the window count for the rate. Once sending has
// stopped, the first socket waits (at most `drainMs`) until it has seen every message's
// `server` ack, which says the relay handed it to the upstream. What it prints:
// `{ sent, acked, ackedInWindow, failures, firstFailure, latenciesMicros, relayed,
// relayedInWindow, drainMs }`, `drainMs` being how long after the last ack the relay caught up
// (`null` if it did not within `drainMs`).

import { performance } from "node:perf_hooks";
import { io } from "socket.io-client";

/** Bound on the connection and on each ack. */
const WAIT_MS = 30_000;

const config = JSON.parse(process.argv[2] ?? "null");
if (!config) {
  console.error("usage: sender.js '<json config>' (see the comment at the top)");
  process.exit(2);
}

const started = performance.now();
const measureFrom = started + config.warmupMs;
const stopAt = measureFrom + config.durationMs;
const report = {
  sent: 0,
  acked: 0,
  ackedInWindow: 0,
  failures: 0,
  firstFailure: null,
  latenciesMicros: [],
  relayed: 0,
  relayedInWindow: 0,
  drainMs: null,
};
let lastAck = null;
let lastRelayed = null;

const sockets = await Promise.all(Array.from({ length: config.clients }, () => connect()));
const senders = sockets.map((socket, index) =>
  send(socket, index, share(config.inFlight, config.clients, index)),
);
await Promise.all(senders);
await drain(sockets[0]);
sockets.forEach((socket) => socket.close());
process.stdout.write(`${JSON.stringify(report)}\n`);

/** A socket on the device namespace, once the server has said it is in sync. */
function connect() {
  const options = {
    path: config.path,
    auth: { apiKey: config.apiKey },
    transports: ["websocket"],
    forceNew: true,
    reconnection: false,
  };
  const socket = io(`${config.url}/device/${config.device}`, options);
  return within(
    new Promise((resolve, reject) => {
      socket.once("sync", () => resolve(socket));
      socket.once("connect_error", (error) => reject(new Error(`connect_error: ${error.message}`)));
    }),
    "the socket's sync",
  );
}

/** Keeps `window` sends in flight on `socket` until the window closes, then awaits the rest. */
function send(socket, index, window) {
  // Only the first socket counts the relay's server acks: every socket sees every event.
  if (index === 0) {
    socket.on("message:ack", (event) => {
      if (event.ack === 1) {
        const now = performance.now();
        report.relayed++;
        lastRelayed = now;
        if (now >= measureFrom && now <= stopAt) {
          report.relayedInWindow++;
        }
      }
    });
  }
  return new Promise((resolve, reject) => {
    let inFlight = 0;
    let n = 0;
    const chats = config.chats;
    const next = () => {
      while (inFlight < window && performance.now() < stopAt) {
        const chatId = chats[(index + n) % chats.length];
        const payload = { chatId, text: `load ${index}-${n}`, tempId: `node-${config.runId}-${index}-${n}` };
        const sentAt = performance.now();
        n++;
        inFlight++;
        report.sent++;
        socket.timeout(WAIT_MS).emit("message:send", payload, (error, ack) => {
          inFlight--;
          if (error) {
            return reject(new Error(`client ${index}: no ack within ${WAIT_MS} ms`));
          }
          record(sentAt, performance.now(), ack);
          next();
        });
      }
      if (inFlight === 0) {
        resolve();
      }
    };
    next();
  });
}

/** Counts one ack, and times it if its send came after the warm-up. */
function record(sentAt, received, ack) {
  lastAck = received;
  if (ack?.ok !== true) {
    report.failures++;
    report.firstFailure ??= JSON.stringify(ack?.error ?? ack);
    return;
  }
  report.acked++;
  if (sentAt < measureFrom) {
    return;
  }
  report.latenciesMicros.push(Math.round((received - sentAt) * 1000));
  if (received <= stopAt) {
    report.ackedInWindow++;
  }
}

/** Waits, at most `config.drainMs`, until the first socket has seen every message relayed. */
async function drain(socket) {
  const caughtUp = () => report.relayed >= report.sent;
  if (!caughtUp()) {
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, config.drainMs);
      const check = () => {
        if (caughtUp()) {
          clearTimeout(timer);
          socket.off("message:ack", check);
          resolve();
        }
      };
      socket.on("message:ack", check);
    });
  }
  if (caughtUp() && lastAck !== null) {
    report.drainMs = Math.max(0, lastRelayed - lastAck);
  }
}

/** `total` split over `parts` as evenly as possible; the share of part `index`. */
function share(total, parts, index) {
  return Math.floor(total / parts) + (index < total % parts ? 1 : 0);
}

/** `promise`, or a rejection naming `what` after `WAIT_MS`. */
function within(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${WAIT_MS} ms`)), WAIT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
