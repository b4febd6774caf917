"use strict";
// Seed 004 (a WhatsApp Web clone written for the native protocol): its `useSocket` hook and
// real-time store against devicebridge through the `message-status` profile, which keeps every
// native event and also sends each ack as the `message:status` its message thread shows a
// message's progress from (sending → sent → delivered → read).
//
// The document gives the connection code and the events it listens for, not the store's code:
// the store below keeps what those events say. The connection is the document's — the device
// namespace on path `/ws`, the credential in the query (`access-token`), its transports and reconnection options, `autoConnect: false` then
// `connect()` — with a real access token whose `profile` claim picks `message-status` as the
// `access-token`. Messages are sent with `message:send` and loaded over the REST fallbacks.

const { io } = require("socket.io-client");
const { watch, fail, main, show, restBearer } = require("../lib");
const seeds = require("./support");

const { WAIT_MS, ALICE, tempIdNow } = seeds;

// ---------------------------------------------------------------------------------------------
// The client, as the document writes it.

/**
 * `useSocket`'s connection: `access-token` is the user's token. The clone is given no API key
 * (the token is its credential), so `apiKey` is left out: sent empty, it is an invalid key.
 */
function deviceSocket(namespace, accessToken, auth = {}) {
  const query = {};
  if (accessToken !== undefined) query["access-token"] = accessToken;
  const socket = io(namespace, {
    path: "/ws",
    query,
    auth,
    transports: ["websocket", "polling"],
    autoConnect: false,
    reconnection: true,
    reconnectionDelay: 1000,
    reconnectionAttempts: 5,
    timeout: 20000,
  });
  socket.connect();
  return socket;
}

/** The real-time store: messages with their status, typing, contacts, chats, device state. */
function RealtimeStore(socket) {
  const state = { messages: [], typing: new Set(), contacts: new Map(), chats: new Map(), deviceState: null };
  const find = (id) => state.messages.find((m) => m.id === id);
  const addMessage = (message) => {
    if (!find(message.id)) state.messages.push({ ...message });
  };
  const updateMessage = (messageId, updates) => {
    const message = find(messageId);
    if (message) Object.assign(message, updates);
  };
  socket.on("state", ({ state: deviceState }) => {
    state.deviceState = deviceState;
  });
  socket.on("message", addMessage);
  socket.on("message:status", ({ messageId, status }) => updateMessage(messageId, { status }));
  socket.on("message:ack", ({ messageId, ackName }) => updateMessage(messageId, { ackName }));
  socket.on("message:read", ({ messageIds }) => messageIds.forEach((id) => updateMessage(id, { read: true })));
  socket.on("typing:start", ({ contactId }) => state.typing.add(contactId));
  socket.on("typing:stop", ({ contactId }) => state.typing.delete(contactId));
  socket.on("contact:update", (contact) => state.contacts.set(contact.id, contact));
  socket.on("chat:update", (chat) => state.chats.set(chat.id, chat));
  return {
    state,
    /** `MessageComposer`: the message shows "sending" until its statuses say more. */
    send(chatId, text) {
      return new Promise((resolve, reject) => {
        socket.timeout(WAIT_MS).emit("message:send", { chatId, text, tempId: tempIdNow() }, (err, answer) => {
          if (err) return reject(new Error(`no ack for message:send within ${WAIT_MS} ms`));
          if (!answer || !answer.ok) return reject(new Error(`message:send refused: ${show(answer)}`));
          addMessage(answer.data);
          const message = find(answer.data.id);
          if (message.status === undefined) message.status = "sending";
          resolve(answer.data);
        });
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The flows.

const PROGRESS = ["sent", "delivered", "read"];

main(async () => {
  const { url, device, otherDevice, api, me, namespace } = await seeds.setup();
  const token = await seeds.issueToken(api, { sub: me, devices: [device], profile: "message-status" });
  const otherDeviceToken = await seeds.issueToken(api, { sub: me, devices: [otherDevice], profile: "message-status" });

  await seeds.expectProfileListed(api, "message-status", {
    events: ["message:send", "message:read", "typing:start", "chat:join"],
    emits: ["message", "message:status", "message:ack", "message:read", "typing:start", "chat:update", "contact:update"],
  });

  // 1. Refusals, through the document's connection code (credentials in the query).
  await seeds.expectRefusals(
    (auth) => watch(deviceSocket(namespace, auth.token, auth.profile ? { profile: auth.profile } : {})),
    (t) => ({ token: t }),
    { token, otherDeviceToken },
  );

  // 2. The interface, connected; the device is ready.
  const socket = deviceSocket(namespace, token);
  const events = watch(socket);
  await events.connected(WAIT_MS);
  const store = RealtimeStore(socket);
  await events.expect("state", WAIT_MS, (p) => p.state === "ready", `the device's "state"`);

  // 3. Send to Alice: "sending" until its statuses say sent, delivered and read, in order,
  //    each ack still arriving as "message:ack".
  const sent = await store.send(ALICE, "hello from the web");
  if ((store.state.messages.find((m) => m.id === sent.id) || {}).status === undefined) {
    fail(`the store does not show ${sent.id} sending: ${show(store.state.messages)}`);
  }
  await events.expect("message:status", WAIT_MS, (p) => p.messageId === sent.id && p.status === "read", `"message:status" read for ${sent.id}`);
  const progress = events.received("message:status", (p) => p.messageId === sent.id).map((p) => p.status);
  if (JSON.stringify(progress.filter((s) => PROGRESS.includes(s))) !== JSON.stringify(PROGRESS)) {
    fail(`"message:status" for ${sent.id}: expected ${show(PROGRESS)} in that order, got ${show(progress)}`);
  }
  const acks = events.received("message:ack", (p) => p.messageId === sent.id).map((p) => p.ackName);
  if (!acks.includes("server") || !acks.includes("read")) fail(`"message:ack" for ${sent.id}: ${show(acks)}`);
  const shown = store.state.messages.find((m) => m.id === sent.id);
  if (shown.status !== "read" || shown.ackName !== "read") fail(`the store shows ${show(shown)}`);

  // 4. Alice reads it, types and answers; her chat and presence are updated.
  await events.expect("message:read", WAIT_MS, (p) => p.messageIds.includes(sent.id), `"message:read" naming ${sent.id}`);
  await events.expect("typing:start", WAIT_MS, (p) => p.contactId === ALICE, `"typing:start" from Alice`);
  await events.expect("typing:stop", WAIT_MS, (p) => p.contactId === ALICE, `"typing:stop" from Alice`);
  const reply = await events.expect("message", WAIT_MS, (p) => p.chatId === ALICE && !p.fromMe, `Alice's answer`);
  if (reply.body !== "hello from the web") fail(`Alice's answer: ${show(reply)}`);
  await events.expect("contact:update", WAIT_MS, (p) => p.id === ALICE, `"contact:update" for Alice`);
  await events.expect("chat:update", WAIT_MS, (p) => p.id === ALICE, `"chat:update" for Alice's chat`);
  if (store.state.typing.size !== 0 || !store.state.messages.some((m) => m.id === reply.id)) {
    fail(`the store shows typing ${show([...store.state.typing])}, messages ${show(store.state.messages)}`);
  }
  const strange = events.received("message:status", (p) => !["sending", ...PROGRESS, "failed", "queued", "retrying"].includes(p.status));
  if (strange.length) fail(`"message:status" the thread cannot show: ${show(strange)}`);

  // 5. The REST fallbacks, with the same token: the chat list and the thread.
  const rest = restBearer(url, token);
  const chats = await rest.expect(200, "GET", `/api/v1/devices/${device}/chats`);
  if (!chats.items.some((c) => c.id === ALICE)) fail(`GET …/chats does not list Alice's chat: ${show(chats)}`);
  const thread = await rest.expect(200, "GET", `/api/v1/devices/${device}/chats/${encodeURIComponent(ALICE)}/messages`);
  for (const id of [sent.id, reply.id]) {
    if (!thread.items.some((m) => m.id === id)) fail(`GET …/messages does not list ${id}: ${show(thread)}`);
  }

  // 6. The connection drops; Alice is written to meanwhile; it comes back with auth.lastSeq and
  //    gets what it missed, its statuses included, once.
  const missed = await seeds.dropAndResume(events, api, device, () =>
    api.expect(202, "POST", `/api/v1/devices/${device}/chats/${encodeURIComponent(ALICE)}/messages`, { text: "while you were away" }),
  );
  await events.expect("message", WAIT_MS, (p) => p.id === missed.id, `the missed message ${missed.id}`);
  await events.expect("message:status", WAIT_MS, (p) => p.messageId === missed.id && p.status === "sent", `"message:status" sent for ${missed.id}`);
  const after = await store.send(ALICE, "back again");
  await events.expect("message:status", WAIT_MS, (p) => p.messageId === after.id && p.status === "sent", `"message:status" sent for ${after.id}`);
  seeds.expectOnce(events, "message", (p) => p.id === missed.id, `the missed message ${missed.id}`);
});
