"use strict";
// Seed 001 (a JWT dashboard's messaging, notifications and presence): its React client —
// `useWebSocket`, `MessageScreen` and `NotificationCenter` — against devicebridge through the
// `conversation-rooms` profile.
//
// The client code is the document's "Complete Client Example", its state kept in plain objects
// instead of React's, with the document's connection options (`auth: { token }`,
// `path: '/socket.io/'`), events and payloads. Only the URL (the device namespace) and the
// token (a real access token whose `profile` claim picks `conversation-rooms`; the path is
// served `native`) differ. Messages are sent by others, as in the document: over REST.

const { io } = require("socket.io-client");
const { watch, fail, main, show, sameJson } = require("../lib");
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
} = require("./support");

// ---------------------------------------------------------------------------------------------
// The client, as the document writes it.

/** `useWebSocket(token)`'s connection. */
function connectSocket(url, auth) {
  return io(url, {
    auth,
    path: "/socket.io/",
  });
}

/** `useWebSocket(token)`: the socket and whether it is connected. */
function useWebSocket(url, token) {
  const socketInstance = connectSocket(url, { token });
  const hook = { socket: socketInstance, isConnected: false };
  socketInstance.on("connect", () => {
    hook.isConnected = true;
  });
  socketInstance.on("disconnect", () => {
    hook.isConnected = false;
  });
  socketInstance.on("connect_error", () => {});
  return hook;
}

/** `MessageScreen({ conversationId })`: its effect on mount, and `handleTyping`. */
function MessageScreen(socket, conversationId) {
  const state = { messages: [], onlineUsers: [], typingUsers: new Set() };

  // Join conversation
  socket.emit("join:conversation", conversationId);

  // Get online users
  socket.emit("conversation:get-online-users", conversationId, (users) => {
    state.onlineUsers = users;
  });

  socket.on("message:new", (message) => {
    state.messages = [...state.messages, message];
  });
  socket.on("typing:start", ({ userId }) => {
    state.typingUsers = new Set(state.typingUsers).add(userId);
  });
  socket.on("typing:stop", ({ userId }) => {
    const newSet = new Set(state.typingUsers);
    newSet.delete(userId);
    state.typingUsers = newSet;
  });
  socket.on("messages:read", ({ messageIds }) => {
    state.messages = state.messages.map((msg) => (messageIds.includes(msg.id) ? { ...msg, isRead: true } : msg));
  });
  socket.on("message:deleted", ({ messageId }) => {
    state.messages = state.messages.filter((msg) => msg.id !== messageId);
  });

  return {
    state,
    handleTyping(isTyping) {
      if (isTyping) {
        socket.emit("typing:start", { conversationId });
      } else {
        socket.emit("typing:stop", { conversationId });
      }
    },
  };
}

/** `NotificationCenter`: its effect on mount, and `markAsRead`. */
function NotificationCenter(socket) {
  const state = { notifications: [], unreadCount: 0 };

  socket.on("notification:new", (notification) => {
    state.notifications = [notification, ...state.notifications];
    state.unreadCount += 1;
  });
  socket.on("notification:read", (notificationId) => {
    state.notifications = state.notifications.map((n) => (n.id === notificationId ? { ...n, isRead: true } : n));
    state.unreadCount = Math.max(0, state.unreadCount - 1);
  });
  socket.on("notifications:read-all", () => {
    state.notifications = state.notifications.map((n) => ({ ...n, isRead: true }));
    state.unreadCount = 0;
  });

  return {
    state,
    markAsRead(notificationId) {
      socket.emit("notification:read", notificationId);
    },
    markAllAsRead() {
      socket.emit("notifications:read-all");
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The flows.

/** `emit(event, arg, callback)` as the document does, resolving with the callback's argument. */
function ask(socket, event, arg) {
  return new Promise((resolve, reject) => {
    socket.timeout(WAIT_MS).emit(event, arg, (err, answer) => {
      if (err) reject(new Error(`no answer to "${event}" within ${WAIT_MS} ms`));
      else resolve(answer);
    });
  });
}

function expectEqual(actual, expected, what) {
  if (!sameJson(actual, expected)) fail(`${what}: expected ${show(expected)}, got ${show(actual)}`);
}

/** The presence answers for Alice and Bob: the three queries agree with `aliceOnline`. */
async function expectPresence(socket, aliceOnline, when) {
  const alice = aliceOnline ? "online" : "offline";
  expectEqual(await ask(socket, "user:get-status", ALICE), { userId: ALICE, status: alice }, `user:get-status ${when}`);
  expectEqual(
    await ask(socket, "users:get-status", [ALICE, BOB]),
    [
      { userId: ALICE, status: alice },
      { userId: BOB, status: "offline" },
    ],
    `users:get-status ${when}`,
  );
  const inConversation = await ask(socket, "conversation:get-online-users", ALICE);
  if (!Array.isArray(inConversation) || inConversation.includes(ALICE) !== aliceOnline) {
    fail(`conversation:get-online-users ${when}: Alice should${aliceOnline ? "" : " not"} be in ${show(inConversation)}`);
  }
}

/** Fails unless `message` is one as `message:new` carries it. */
function expectMessage(message, { conversationId, senderId, content }, what) {
  if (typeof message.id !== "string" || message.id.length === 0) fail(`${what}: no id: ${show(message)}`);
  if (message.conversationId !== conversationId || message.senderId !== senderId || message.content !== content) {
    fail(`${what}: expected ${show({ conversationId, senderId, content })}, got ${show(message)}`);
  }
}

main(async () => {
  const { device, otherDevice, api, me, namespace } = await setup();
  const token = await issueToken(api, { sub: me, devices: [device], profile: "conversation-rooms" });
  const otherDeviceToken = await issueToken(api, { sub: me, devices: [otherDevice], profile: "conversation-rooms" });
  const plainToken = await issueToken(api, { sub: me, devices: [device] });
  const messagesOf = (chat) => `/api/v1/devices/${device}/chats/${encodeURIComponent(chat)}/messages`;

  await expectProfileListed(api, "conversation-rooms", {
    events: [
      "join:conversation",
      "leave:conversation",
      "typing:start",
      "typing:stop",
      "conversation:get-online-users",
      "notification:read",
      "notifications:read-all",
      "user:get-status",
      "users:get-status",
    ],
    emits: ["message:new", "messages:read", "typing:start", "typing:stop", "notification:new", "notification:read", "notifications:read-all", "user:status-changed"],
  });

  // 1. Refusals, through the document's connection code; and the profile named in the
  //    handshake (`auth.profile`) for a token that names none, on a path served `native`.
  await expectRefusals(
    (auth) => watch(connectSocket(namespace, auth)),
    (t) => ({ token: t }),
    { token, otherDeviceToken },
  );
  const named = watch(connectSocket(namespace, { token: plainToken, profile: "conversation-rooms" }));
  await named.connected(WAIT_MS);
  expectEqual(
    await ask(named.socket, "user:get-status", ALICE),
    { userId: ALICE, status: "offline" },
    `user:get-status with auth.profile "conversation-rooms"`,
  );
  named.close();

  // 2. The dashboard in two tabs of the same token: one shows Alice's conversation (and its
  //    notification center), the other only its notification center, in no conversation.
  const screenHook = useWebSocket(namespace, token);
  const centerHook = useWebSocket(namespace, token);
  const screenEvents = watch(screenHook.socket);
  const centerEvents = watch(centerHook.socket);
  await screenEvents.connected(WAIT_MS);
  await centerEvents.connected(WAIT_MS);
  if (!screenHook.isConnected) fail(`useWebSocket does not show itself connected`);
  const screen = MessageScreen(screenHook.socket, ALICE);
  const screenCenter = NotificationCenter(screenHook.socket);
  const center = NotificationCenter(centerHook.socket);

  // 3. Presence before Alice has been written to. The answers also tell that the screen's
  //    join, emitted before them, has been handled.
  await expectPresence(screenHook.socket, false, "before Alice comes online");

  // 4. Rooms: a message to Bob reaches the center (in no room), not the screen (in Alice's).
  const toBob = await api.expect(202, "POST", messagesOf(BOB), { text: "for bob" });
  const bobs = await centerEvents.expect("message:new", WAIT_MS, (p) => p.id === toBob.id, `the center to get ${toBob.id}`);
  expectMessage(bobs, { conversationId: BOB, senderId: me, content: "for bob" }, `"message:new" to Bob`);
  const toAlice = await api.expect(202, "POST", messagesOf(ALICE), { text: "hello alice" });
  const alices = await screenEvents.expect(
    "message:new",
    WAIT_MS,
    (p) => p.id === toAlice.id,
    `the screen to get ${toAlice.id}`,
  );
  expectMessage(alices, { conversationId: ALICE, senderId: me, content: "hello alice" }, `"message:new" to Alice`);
  // Events reach a socket in the journal's order: Bob's message came first, so it was held back.
  const leaked = screenEvents.received("message:new", (p) => p.conversationId !== ALICE);
  if (leaked.length) fail(`the screen, in Alice's conversation only, got other conversations' messages: ${show(leaked)}`);

  // 5. Alice comes online, reads, types and answers; the screen sees it all.
  await screenEvents.expect(
    "user:status-changed",
    WAIT_MS,
    (p) => p.userId === ALICE && p.status === "online",
    `"user:status-changed" online for Alice`,
  );
  const receipt = await screenEvents.expect(
    "messages:read",
    WAIT_MS,
    (p) => Array.isArray(p.messageIds) && p.messageIds.includes(toAlice.id),
    `"messages:read" naming ${toAlice.id}`,
  );
  if (receipt.conversationId !== ALICE) fail(`"messages:read": conversationId ${show(receipt.conversationId)}`);
  const isAlice = (p) => p.conversationId === ALICE && p.userId === ALICE;
  await screenEvents.expect("typing:start", WAIT_MS, isAlice, `"typing:start" from Alice`);
  await screenEvents.expect("typing:stop", WAIT_MS, isAlice, `"typing:stop" from Alice`);
  const reply = await screenEvents.expect(
    "message:new",
    WAIT_MS,
    (p) => p.senderId === ALICE,
    `Alice's answer as "message:new"`,
  );
  expectMessage(reply, { conversationId: ALICE, senderId: ALICE, content: "hello alice" }, "Alice's answer");
  const shown = screen.state;
  if (!(shown.messages.find((m) => m.id === toAlice.id) || {}).isRead) {
    fail(`MessageScreen does not show ${toAlice.id} read: ${show(shown.messages)}`);
  }
  if (!shown.messages.some((m) => m.id === reply.id) || shown.typingUsers.size !== 0) {
    fail(`MessageScreen shows messages ${show(shown.messages)}, typing ${show([...shown.typingUsers])}`);
  }

  // 6. Presence now that Alice is online (she stays so for a while after answering).
  await expectPresence(screenHook.socket, true, "once Alice answered");

  // 7. The answer raises a notification; reading it in the first tab clears it in the other,
  //    which gets the bare id.
  const notification = await centerEvents.expect(
    "notification:new",
    WAIT_MS,
    (p) => p.title === "Alice" && p.message === "hello alice",
    `"notification:new" for Alice's answer`,
  );
  if (typeof notification.id !== "string" || notification.id.length === 0 || typeof notification.type !== "string") {
    fail(`"notification:new" without a string id and type: ${show(notification)}`);
  }
  if (center.state.unreadCount !== 1) fail(`NotificationCenter's unreadCount is ${center.state.unreadCount}, expected 1`);
  screenCenter.markAsRead(notification.id);
  const cleared = await centerEvents.expect(
    "notification:read",
    WAIT_MS,
    (p) => p === notification.id,
    `"notification:read" with the bare id ${notification.id}`,
  );
  if (cleared !== notification.id) fail(`"notification:read": ${show(cleared)}`);
  if (center.state.unreadCount !== 0 || !center.state.notifications[0].isRead) {
    fail(`NotificationCenter after notification:read: ${show(center.state)}`);
  }

  // 8. Our typing reaches the other connection, as ours.
  screen.handleTyping(true);
  const ourTyping = (p) => p.conversationId === ALICE && p.userId === me;
  await centerEvents.expect("typing:start", WAIT_MS, ourTyping, `the center to see us type`);
  screen.handleTyping(false);
  await centerEvents.expect("typing:stop", WAIT_MS, ourTyping, `the center to see us stop typing`);

  // 9. Another answer, another notification; "read all" in the first tab clears it in the other,
  //    which hears it as "read all", not notification by notification.
  const second = await api.expect(202, "POST", messagesOf(ALICE), { text: "once more" });
  const secondNotification = await centerEvents.expect(
    "notification:new",
    WAIT_MS,
    (p) => p.message === "once more",
    `"notification:new" for Alice's second answer (to ${second.id})`,
  );
  if (center.state.unreadCount !== 1) fail(`NotificationCenter's unreadCount is ${center.state.unreadCount}, expected 1`);
  screenCenter.markAllAsRead();
  await centerEvents.expect("notifications:read-all", WAIT_MS, () => true, `"notifications:read-all" in the center`);
  const oneByOne = centerEvents.received("notification:read", (p) => p === secondNotification.id);
  if (oneByOne.length) fail(`"read all" also arrived notification by notification: ${show(oneByOne)}`);
  if (center.state.unreadCount !== 0 || center.state.notifications.some((n) => !n.isRead)) {
    fail(`NotificationCenter after notifications:read-all: ${show(center.state)}`);
  }

  // 10. The screen's connection drops; Alice answers meanwhile; it comes back with
  //     auth.lastSeq and gets the answer it missed, once.
  const missed = await dropAndResume(screenEvents, api, device, async () => {
    await api.expect(202, "POST", messagesOf(ALICE), { text: "while you were away" });
    return centerEvents.expect(
      "message:new",
      WAIT_MS,
      (p) => p.senderId === ALICE && p.content === "while you were away",
      `the center to get Alice's answer sent while the screen was away`,
    );
  });
  await screenEvents.expect("message:new", WAIT_MS, (p) => p.id === missed.id, `the missed answer ${missed.id}`);
  // Something new after the replay: once it arrives, the replay is over.
  const after = await api.expect(202, "POST", messagesOf(ALICE), { text: "back again" });
  await screenEvents.expect("message:new", WAIT_MS, (p) => p.id === after.id, `${after.id}, sent after resuming`);
  expectOnce(screenEvents, "message:new", (p) => p.id === missed.id, `the missed answer ${missed.id}`);
});
