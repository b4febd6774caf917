"use strict";
// Seed 000 (a fan platform's real-time messaging): its `useWebSocket` hook against devicebridge
// through the `direct-chat` profile.
//
// The document shows the hook's surface and options, not its code. The hook below is that
// surface over the conventions the profile implements: `io(url, { auth: { token } })` on the
// default path; `message:send { recipientId, content, type: 'TEXT', tempId }` answered
// `{ ok, data }` through the ack callback; `message:new`, `message:read { messageIds }`,
// `message:status { messageId, status: SENT|DELIVERED|READ }`, `typing:start`/`typing:stop`
// `{ userId }` and `user:status { userId, status, lastSeenAt }` from the server;
// `typing:start`/`typing:stop { recipientId }` and `message:read { senderId }` to it. Only the
// URL (the device namespace) and the token (a real access token whose `profile` claim picks
// `direct-chat`, the default path being served `native`) differ from the document's.

const { io } = require("socket.io-client");
const { watch, fail, main, show } = require("../lib");
const {
  WAIT_MS,
  ALICE,
  BOB,
  setup,
  issueToken,
  expectProfileListed,
  expectRefusals,
  dropAndResume,
  expectOnce,
  expectDate,
  uploadFile,
  expectDownload,
} = require("./support");

// ---------------------------------------------------------------------------------------------
// The client, as the document describes it.

/** "Configure the useWebSocket hook": its options, passed on to the Socket.IO client. */
const HOOK_OPTIONS = {
  autoConnect: true, // Auto-connect when session available
  reconnection: true, // Enable auto-reconnection
  reconnectionAttempts: 5, // Max reconnection attempts
  reconnectionDelay: 1000, // Delay between attempts (ms)
};

/** The hook's connection to `NEXT_PUBLIC_WS_URL`, authenticated with the session's JWT. */
function hookSocket(url, auth) {
  return io(url, { ...HOOK_OPTIONS, auth });
}

/**
 * `useWebSocket()`: `isConnected`, `sendMessage`, `messages`, `typingUsers`, `onlineUsers`,
 * `connectionStatus`, `error`, kept from the server's events as the hook keeps its React state.
 */
function useWebSocket(url, token) {
  const socket = hookSocket(url, { token });
  const state = {
    connectionStatus: "connecting",
    error: null,
    messages: [],
    typingUsers: new Set(),
    onlineUsers: new Set(),
    lastSeenAt: new Map(),
  };
  const find = (id) => state.messages.find((m) => m.id === id);
  // Message deduplication: a message is kept once, by id, whichever way it came.
  const keep = (message) => {
    if (!find(message.id)) state.messages.push({ ...message, status: "SENT" });
  };

  socket.on("connect", () => {
    state.connectionStatus = "connected";
    state.error = null;
  });
  socket.on("disconnect", () => {
    state.connectionStatus = "disconnected";
  });
  socket.on("connect_error", (error) => {
    state.connectionStatus = "error";
    state.error = error.message;
  });
  socket.on("message:new", keep);
  socket.on("message:status", ({ messageId, status }) => {
    const message = find(messageId);
    if (message) message.status = status;
  });
  socket.on("message:read", ({ messageIds }) => {
    for (const message of state.messages) {
      if (messageIds.includes(message.id)) message.status = "READ";
    }
  });
  socket.on("typing:start", ({ userId }) => state.typingUsers.add(userId));
  socket.on("typing:stop", ({ userId }) => state.typingUsers.delete(userId));
  socket.on("user:status", ({ userId, status, lastSeenAt }) => {
    if (status === "online") state.onlineUsers.add(userId);
    else state.onlineUsers.delete(userId);
    state.lastSeenAt.set(userId, lastSeenAt);
  });

  return {
    socket,
    state,
    get isConnected() {
      return socket.connected;
    },
    /**
     * Sends a message (a text unless `type` and `attachmentUrl` say otherwise); resolves with
     * the ack `{ ok, data }` (rejects if none comes in time).
     */
    sendMessage(recipientId, content, tempId = `temp-${Date.now()}`, type = "TEXT", attachmentUrl = undefined) {
      const message = { recipientId, content, type, tempId, attachmentUrl };
      return new Promise((resolve, reject) => {
        socket.timeout(WAIT_MS).emit("message:send", message, (err, response) => {
          if (err) return reject(new Error(`no ack for message:send within ${WAIT_MS} ms`));
          if (response && response.ok) keep(response.data);
          resolve(response);
        });
      });
    },
    startTyping(recipientId) {
      socket.emit("typing:start", { recipientId });
    },
    stopTyping(recipientId) {
      socket.emit("typing:stop", { recipientId });
    },
    markAsRead(senderId) {
      socket.emit("message:read", { senderId });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The flows.

const STATUSES = ["SENT", "DELIVERED", "READ"];

/** Fails unless `message` is one as the hook's `message:new` carries it. */
function expectMessage(message, { senderId, recipientId, content }, what) {
  if (typeof message.id !== "string" || message.id.length === 0) fail(`${what}: no id: ${show(message)}`);
  if (message.senderId !== senderId || message.recipientId !== recipientId || message.content !== content) {
    fail(`${what}: expected ${show({ senderId, recipientId, content })}, got ${show(message)}`);
  }
  if (message.type !== "TEXT") fail(`${what}: type is ${show(message.type)}, expected "TEXT"`);
  if (message.attachmentUrl != null) fail(`${what}: a text with attachmentUrl ${show(message.attachmentUrl)}`);
  expectDate(message.createdAt, `${what}: createdAt`);
}

main(async () => {
  const { url, device, otherDevice, api, me, namespace } = await setup();
  const token = await issueToken(api, { sub: me, devices: [device], profile: "direct-chat" });
  const otherDeviceToken = await issueToken(api, { sub: me, devices: [otherDevice], profile: "direct-chat" });

  await expectProfileListed(api, "direct-chat", {
    events: ["message:send", "message:read", "typing:start", "typing:stop"],
    emits: ["message:new", "message:read", "message:status", "typing:start", "typing:stop", "user:status"],
  });

  // 1. Refusals, through the hook's own connection code.
  await expectRefusals(
    (auth) => watch(hookSocket(namespace, auth)),
    (t) => ({ token: t }),
    { token, otherDeviceToken },
  );

  // 2. The hook in two tabs of the same session.
  const chat = useWebSocket(namespace, token);
  const tab = useWebSocket(namespace, token);
  const chatEvents = watch(chat.socket);
  const tabEvents = watch(tab.socket);
  await chatEvents.connected(WAIT_MS);
  await tabEvents.connected(WAIT_MS);
  if (!chat.isConnected || chat.state.connectionStatus !== "connected") {
    fail(`the hook does not show itself connected: ${show(chat.state)}`);
  }

  // 3. Send with a tempId; the ack carries the message. The same tempId again is the same message.
  const tempId = "temp-hello";
  const sent = await chat.sendMessage(ALICE, "hello fans", tempId);
  if (!sent || sent.ok !== true) fail(`message:send: expected { ok: true, data }, got ${show(sent)}`);
  expectMessage(sent.data, { senderId: me, recipientId: ALICE, content: "hello fans" }, "message:send's data");
  const ours = sent.data.id;
  const again = await chat.sendMessage(ALICE, "hello fans", tempId);
  if (!again || again.ok !== true || again.data.id !== ours) {
    fail(`message:send with tempId ${tempId} again: expected the same message ${ours}, got ${show(again)}`);
  }

  // 4. Its statuses: sent, delivered, read, in that order, and none the hook does not know.
  await chatEvents.expect(
    "message:status",
    WAIT_MS,
    (p) => p.messageId === ours && p.status === "READ",
    `"message:status" READ for ${ours}`,
  );
  const strange = chatEvents.received("message:status", (p) => !STATUSES.includes(p.status));
  if (strange.length) fail(`"message:status" with a status the hook does not know: ${show(strange)}`);
  const statuses = chatEvents.received("message:status", (p) => p.messageId === ours).map((p) => p.status);
  const steps = statuses.map((status) => STATUSES.indexOf(status));
  if (steps.some((step, i) => i > 0 && step < steps[i - 1]) || new Set(statuses).size !== STATUSES.length) {
    fail(`"message:status" for ${ours}: expected ${show(STATUSES)} in that order, got ${show(statuses)}`);
  }

  // 5. Alice reads it, comes online, types, and answers.
  await chatEvents.expect(
    "message:read",
    WAIT_MS,
    (p) => Array.isArray(p.messageIds) && p.messageIds.includes(ours),
    `"message:read" naming ${ours} once Alice read it`,
  );
  const online = await chatEvents.expect(
    "user:status",
    WAIT_MS,
    (p) => p.userId === ALICE && p.status === "online",
    `"user:status" online for Alice`,
  );
  if (!("lastSeenAt" in online)) fail(`"user:status" without lastSeenAt: ${show(online)}`);
  await chatEvents.expect("typing:start", WAIT_MS, (p) => p.userId === ALICE, `"typing:start" from Alice`);
  await chatEvents.expect("typing:stop", WAIT_MS, (p) => p.userId === ALICE, `"typing:stop" from Alice`);
  const reply = await chatEvents.expect(
    "message:new",
    WAIT_MS,
    (p) => p.senderId === ALICE,
    `Alice's answer as "message:new"`,
  );
  expectMessage(reply, { senderId: ALICE, recipientId: me, content: "hello fans" }, "Alice's answer");
  const shown = chat.state;
  if (!shown.messages.some((m) => m.id === reply.id)) fail(`the hook does not show Alice's answer: ${show(shown.messages)}`);
  if ((shown.messages.find((m) => m.id === ours) || {}).status !== "READ") {
    fail(`the hook does not show ${ours} read: ${show(shown.messages)}`);
  }
  if (shown.typingUsers.size !== 0 || !shown.onlineUsers.has(ALICE)) {
    fail(`the hook shows typing ${show([...shown.typingUsers])}, online ${show([...shown.onlineUsers])}`);
  }
  const strangeStatus = chatEvents.received("user:status", (p) => !["online", "offline"].includes(p.status));
  if (strangeStatus.length) fail(`"user:status" neither online nor offline: ${show(strangeStatus)}`);

  // 6. Our typing reaches the other tab as ours.
  chat.startTyping(ALICE);
  await tabEvents.expect("typing:start", WAIT_MS, (p) => p.userId === me, `the other tab to see us type`);
  chat.stopTyping(ALICE);
  await tabEvents.expect("typing:stop", WAIT_MS, (p) => p.userId === me, `the other tab to see us stop typing`);

  // 7. Reading Alice's messages: the other tab gets the receipt, the chat's unread count drops.
  const chatPath = `/api/v1/devices/${device}/chats/${encodeURIComponent(ALICE)}`;
  const unread = await api.expect(200, "GET", chatPath);
  if (unread.unreadCount !== 1) fail(`before reading: Alice's chat has unreadCount ${show(unread.unreadCount)}, expected 1`);
  chat.markAsRead(ALICE);
  await tabEvents.expect(
    "message:read",
    WAIT_MS,
    (p) => Array.isArray(p.messageIds) && p.messageIds.includes(reply.id),
    `the other tab to get "message:read" naming Alice's answer ${reply.id}`,
  );
  const read = await api.expect(200, "GET", chatPath);
  if (read.unreadCount !== 0) fail(`after message:read: Alice's chat has unreadCount ${show(read.unreadCount)}`);

  // 8. Alice goes offline a while after answering.
  const offline = await chatEvents.expect(
    "user:status",
    WAIT_MS,
    (p) => p.userId === ALICE && p.status === "offline",
    `"user:status" offline for Alice`,
  );
  expectDate(offline.lastSeenAt, `"user:status" offline: lastSeenAt`);
  if (chat.state.onlineUsers.has(ALICE)) fail(`the hook still shows Alice online`);

  // 9. An image: uploaded over REST, sent with `type: "IMAGE"` and its `attachmentUrl`; it is
  //    an image both ways, and Alice sends it back.
  const png = Buffer.from("89504e470d0a1a0a0000000d4948445200000001000000010806000000", "hex");
  const poster = await uploadFile(url, device, token, "poster.png", "image/png", png);
  const image = await chat.sendMessage(ALICE, "the poster", "temp-poster", "IMAGE", poster.url);
  const isTheImage = (m) => m.type === "IMAGE" && typeof m.attachmentUrl === "string" && m.content === "the poster";
  if (!image || image.ok !== true || !isTheImage(image.data) || image.data.attachmentUrl !== poster.url) {
    fail(`message:send of an IMAGE: expected type "IMAGE" and attachmentUrl ${poster.url}, got ${show(image)}`);
  }
  const imageBack = await chatEvents.expect(
    "message:new",
    WAIT_MS,
    (p) => p.senderId === ALICE && p.content === "the poster",
    `Alice's answer with the image`,
  );
  if (!isTheImage(imageBack)) fail(`Alice's answer with the image: expected type "IMAGE": ${show(imageBack)}`);
  await expectDownload(imageBack.attachmentUrl, token, png);

  // 10. The connection drops; Alice answers meanwhile; the hook comes back with auth.lastSeq and
  //    gets the answer it missed, once.
  const missed = await dropAndResume(chatEvents, api, device, async () => {
    await api.expect(202, "POST", `${chatPath}/messages`, { text: "while you were away" });
    return tabEvents.expect(
      "message:new",
      WAIT_MS,
      (p) => p.senderId === ALICE && p.content === "while you were away",
      `the other tab to get Alice's answer sent while the hook was away`,
    );
  });
  await chatEvents.expect("message:new", WAIT_MS, (p) => p.id === missed.id, `the missed answer ${missed.id}`);
  // Something new after the replay: once it arrives, the replay is over.
  const after = await chat.sendMessage(BOB, "back again", "temp-back");
  if (!after || after.ok !== true) fail(`message:send after resuming: ${show(after)}`);
  await chatEvents.expect(
    "message:status",
    WAIT_MS,
    (p) => p.messageId === after.data.id && p.status === "SENT",
    `"message:status" SENT for ${after.data.id}, sent after resuming`,
  );
  expectOnce(chatEvents, "message:new", (p) => p.id === missed.id, `the missed answer ${missed.id}`);
  if (chat.state.messages.filter((m) => m.id === missed.id).length !== 1) {
    fail(`the hook does not show the missed answer once: ${show(chat.state.messages)}`);
  }
});
