"use strict";
// Seed 002 (an influencer/brand platform's NestJS `/chat` gateway): its React `ChatComponent`
// against devicebridge through the `chat-gateway` profile, where replies travel as events
// (`connection:success`, `conversation:joined`, `message:sent`, `message:error`,
// `message:read:success`, `user:online:status`), and a conversation not joined is told by
// `message:notification`.
//
// The client code is the document's, its state kept in plain objects instead of React's, with
// the document's connection options (`autoConnect`, `reconnection`, `reconnectionDelay`,
// `reconnectionAttempts`), events and payloads. Only the URL (the device namespace in place of
// the `/chat` namespace) and the token differ: the document's production form,
// `auth: { token: \`Bearer ${token}\` }`, with a real access token whose `profile` claim picks
// `chat-gateway` (the default path is served `native`). Files are uploaded over REST first, then
// sent with `attachmentUrl`, as the document says.

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
  tempIdNow,
  expectDate,
  fromNow,
  uploadFile,
  expectDownload,
} = require("./support");

// ---------------------------------------------------------------------------------------------
// The client, as the document writes it.

/** "Connect to WebSocket Server". */
function connectChat(url, auth) {
  return io(url, {
    auth,
    autoConnect: true,
    reconnection: true,
    reconnectionDelay: 1000,
    reconnectionAttempts: 5,
  });
}

/** "Production Implementation": the JWT, as `Bearer <token>`. */
function chatAuth(token) {
  return { token: `Bearer ${token}` };
}

/** `ChatComponent({ userId, userType, conversationId })`: its effect on mount and handlers. */
function ChatComponent(url, token, { userId, conversationId }) {
  const state = { messages: [], isTyping: false, unread: {} };
  const socket = connectChat(url, chatAuth(token));

  socket.on("connection:success", () => {
    // Join the conversation room
    socket.emit("conversation:join", { conversationId });
  });
  socket.on("message:new", (message) => {
    state.messages = [...state.messages, message];
  });
  socket.on("typing:start", (data) => {
    if (data.user.userId !== userId) {
      state.isTyping = true;
    }
  });
  socket.on("typing:stop", (data) => {
    if (data.user.userId !== userId) {
      state.isTyping = false;
    }
  });
  socket.on("message:read", (data) => {
    state.messages = state.messages.map((msg) =>
      msg.id <= data.messageId ? { ...msg, isRead: true, readAt: new Date() } : msg,
    );
  });
  // "Push Notifications (when user not in room)": update the unread badge.
  socket.on("message:notification", (data) => {
    state.unread = { ...state.unread, [data.conversationId]: (state.unread[data.conversationId] || 0) + 1 };
  });

  return {
    socket,
    state,
    /** `handleSendMessage`, with the optional attachment fields of "Send Message". */
    handleSendMessage(newMessage, attachment = {}) {
      const tempId = tempIdNow();
      const optimisticMessage = { id: tempId, content: newMessage, isRead: false, isSending: true };
      state.messages = [...state.messages, optimisticMessage];
      socket.emit("message:send", { conversationId, content: newMessage, messageType: "text", tempId, ...attachment });
      socket.emit("typing:stop", { conversationId });
      return tempId;
    },
    /** `handleTyping`: typing starts (the document stops it 2 s after the last key). */
    handleTyping() {
      socket.emit("typing:start", { conversationId });
    },
    handleMarkAsRead(messageId) {
      socket.emit("message:read", { conversationId, messageId });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The flows.

/** Fails unless `message` is one as `message:new` and `message:sent` carry it. */
function expectMessage(message, { conversationId, content, messageType }, what) {
  if (!message || typeof message.id !== "string" || message.id.length === 0) fail(`${what}: no id: ${show(message)}`);
  if (message.conversationId !== conversationId || message.content !== content || message.messageType !== messageType) {
    fail(`${what}: expected ${show({ conversationId, content, messageType })}, got ${show(message)}`);
  }
  expectDate(message.createdAt, `${what}: createdAt`);
}

/** `user:check:online` for Alice; resolves with the `user:online:status` answer. */
async function checkAliceOnline(client) {
  client.emit("user:check:online", { userId: ALICE, userType: "influencer" });
  const status = await client.expect("user:online:status", WAIT_MS, (p) => p.userId === ALICE, `"user:online:status" for Alice`);
  if (typeof status.isOnline !== "boolean") fail(`"user:online:status" without a boolean isOnline: ${show(status)}`);
  return status.isOnline;
}

main(async () => {
  const { url, device, otherDevice, api, me, namespace } = await setup();
  const token = await issueToken(api, { sub: me, devices: [device], profile: "chat-gateway" });
  const otherDeviceToken = await issueToken(api, { sub: me, devices: [otherDevice], profile: "chat-gateway" });

  await expectProfileListed(api, "chat-gateway", {
    events: [
      "conversation:join",
      "conversation:leave",
      "message:send",
      "message:read",
      "typing:start",
      "typing:stop",
      "user:check:online",
    ],
    emits: ["message:new", "message:read", "typing:start", "typing:stop", "message:notification"],
  });

  // 1. Refusals, through the document's connection code.
  await expectRefusals((auth) => watch(connectChat(namespace, auth)), chatAuth, { token, otherDeviceToken });

  // 2. The chat with Alice, and a second window of the same user that joins no conversation.
  const chat = ChatComponent(namespace, token, { userId: me, conversationId: ALICE });
  const chatEvents = watch(chat.socket);
  const inbox = watch(connectChat(namespace, chatAuth(token)));
  await chatEvents.connected(WAIT_MS);
  await inbox.connected(WAIT_MS);
  const greeting = await chatEvents.expect("connection:success", WAIT_MS, null, `"connection:success"`);
  if (greeting.userId !== me || greeting.socketId !== chat.socket.id || !("userType" in greeting)) {
    fail(`"connection:success": expected { userId: ${me}, userType, socketId: ${chat.socket.id} }, got ${show(greeting)}`);
  }
  await inbox.expect("connection:success", WAIT_MS, null, `"connection:success" in the second window`);
  const joined = await chatEvents.expect("conversation:joined", WAIT_MS, null, `"conversation:joined"`);
  if (joined.conversationId !== ALICE || typeof joined.room !== "string" || joined.room.length === 0) {
    fail(`"conversation:joined": expected { conversationId: ${ALICE}, room }, got ${show(joined)}`);
  }

  // 3. Alice is offline before she is written to.
  if ((await checkAliceOnline(chatEvents)) !== false) fail(`user:check:online: Alice is online before any message`);

  // 4. Rooms: the second window writes to Bob; the chat, in Alice's room, does not see it.
  const toBobTemp = tempIdNow();
  inbox.emit("message:send", { conversationId: BOB, content: "for bob", messageType: "text", tempId: toBobTemp });
  const toBob = await inbox.expect("message:sent", WAIT_MS, (p) => p.tempId === toBobTemp, `"message:sent" for Bob's`);
  expectMessage(toBob.message, { conversationId: BOB, content: "for bob", messageType: "text" }, `"message:sent" to Bob`);
  await inbox.expect("message:new", WAIT_MS, (p) => p.id === toBob.message.id, `the second window to get ${toBob.message.id}`);

  // 5. Send with a numeric tempId: `message:sent` carries the same number and the message.
  const tempId = chat.handleSendMessage("Hello!");
  const sent = await chatEvents.expect("message:sent", WAIT_MS, (p) => p.tempId === tempId, `"message:sent" for tempId ${tempId}`);
  expectMessage(sent.message, { conversationId: ALICE, content: "Hello!", messageType: "text" }, `"message:sent"`);
  const ours = sent.message.id;
  await chatEvents.expect("message:new", WAIT_MS, (p) => p.id === ours, `"message:new" for ${ours} in Alice's room`);
  // Events reach a socket in the journal's order: Bob's message came first, so it was held back.
  const leaked = chatEvents.received("message:new", (p) => p.conversationId !== ALICE);
  if (leaked.length) fail(`the chat, in Alice's room only, got other conversations' messages: ${show(leaked)}`);

  // 6. A send the server cannot take (no conversation) fails with its tempId.
  const badTempId = tempIdNow();
  chatEvents.emit("message:send", { content: "to nowhere", messageType: "text", tempId: badTempId });
  const refused = await chatEvents.expect("message:error", WAIT_MS, (p) => p.tempId === badTempId, `"message:error" for tempId ${badTempId}`);
  if (!refused.error) fail(`"message:error" without an error: ${show(refused)}`);

  // 7. Alice comes online, reads, types and answers.
  const online = await chatEvents.expect("user:online", WAIT_MS, (p) => p.userId === ALICE, `"user:online" for Alice`);
  if (!("userType" in online)) fail(`"user:online" without userType: ${show(online)}`);
  const receipt = await chatEvents.expect("message:read", WAIT_MS, (p) => p.messageId === ours, `"message:read" for ${ours}`);
  if (receipt.conversationId !== ALICE || !receipt.readBy || receipt.readBy.userId !== ALICE) {
    fail(`"message:read": expected { conversationId: ${ALICE}, readBy: { userId: ${ALICE} } }, got ${show(receipt)}`);
  }
  const isAlice = (p) => p.conversationId === ALICE && p.user && p.user.userId === ALICE;
  await chatEvents.expect("typing:start", WAIT_MS, isAlice, `"typing:start" from Alice`);
  if (!chat.state.isTyping) fail(`ChatComponent does not show Alice typing`);
  await chatEvents.expect("typing:stop", WAIT_MS, isAlice, `"typing:stop" from Alice`);
  const reply = await chatEvents.expect(
    "message:new",
    WAIT_MS,
    (p) => p.conversationId === ALICE && p.id !== ours && p.content === "Hello!",
    `Alice's answer as "message:new"`,
  );
  expectMessage(reply, { conversationId: ALICE, content: "Hello!", messageType: "text" }, "Alice's answer");
  if (chat.state.isTyping) fail(`ChatComponent still shows Alice typing`);
  const shownOurs = chat.state.messages.find((m) => m.id === ours);
  if (!shownOurs || !shownOurs.isRead) fail(`ChatComponent does not show ${ours} read: ${show(chat.state.messages)}`);
  if (!(await checkAliceOnline(chatEvents))) fail(`user:check:online: Alice is offline right after answering`);

  // 8. We read Alice's answer: the chat is told it succeeded, the second window gets the
  //    receipt, the unread count drops.
  const chatPath = `/api/v1/devices/${device}/chats/${encodeURIComponent(ALICE)}`;
  const unread = await api.expect(200, "GET", chatPath);
  if (unread.unreadCount !== 1) fail(`before reading: Alice's chat has unreadCount ${show(unread.unreadCount)}, expected 1`);
  chat.handleMarkAsRead(reply.id);
  await chatEvents.expect("message:read:success", WAIT_MS, null, `"message:read:success"`);
  const ourReceipt = await inbox.expect("message:read", WAIT_MS, (p) => p.messageId === reply.id, `the second window to get "message:read" for ${reply.id}`);
  if (ourReceipt.conversationId !== ALICE || !ourReceipt.readBy || ourReceipt.readBy.userId !== me) {
    fail(`"message:read" of our reading: expected conversationId ${ALICE} and readBy.userId ${me}: ${show(ourReceipt)}`);
  }
  const read = await api.expect(200, "GET", chatPath);
  if (read.unreadCount !== 0) fail(`after message:read: Alice's chat has unreadCount ${show(read.unreadCount)}`);

  // 9. Our typing reaches the second window, as ours. (Each send also stopped our typing, so
  //    only what comes from now on counts.)
  const ourTyping = fromNow(inbox, (p) => p.conversationId === ALICE && p.user && p.user.userId === me);
  chat.handleTyping();
  await inbox.expect("typing:start", WAIT_MS, ourTyping, `the second window to see us type`);
  chatEvents.emit("typing:stop", { conversationId: ALICE });
  await inbox.expect("typing:stop", WAIT_MS, ourTyping, `the second window to see us stop typing`);

  // 10. Bob writes: the chat, in Alice's room only, is told by "message:notification" (and was
  //     told nothing of our own message to him); the second window, in no room, gets the message.
  await api.expect(200, "POST", `/api/v1/devices/${device}/simulator/act`, { do: "message", from: BOB, text: "are you there?" });
  const fromBob = await inbox.expect(
    "message:new",
    WAIT_MS,
    (p) => p.conversationId === BOB && p.content === "are you there?",
    `the second window to get Bob's message`,
  );
  const pushed = await chatEvents.expect(
    "message:notification",
    WAIT_MS,
    (p) => p.conversationId === BOB,
    `"message:notification" for Bob's message`,
  );
  expectMessage(pushed.message, { conversationId: BOB, content: "are you there?", messageType: "text" }, `"message:notification"'s message`);
  if (pushed.message.id !== fromBob.id) fail(`"message:notification" names ${pushed.message.id}, "message:new" ${fromBob.id}`);
  expectOnce(chatEvents, "message:notification", () => true, `a "message:notification" (Bob's, not ours to him)`);
  if (chat.state.unread[BOB] !== 1) fail(`ChatComponent's unread badge for Bob: ${show(chat.state.unread)}`);
  const bobsInRoom = chatEvents.received("message:new", (p) => p.conversationId === BOB);
  if (bobsInRoom.length) fail(`the chat, in Alice's room only, got Bob's messages as "message:new": ${show(bobsInRoom)}`);

  // 11. A file: uploaded over REST, then sent with its attachmentUrl; Alice sends it back.
  const bytes = Buffer.from("%PDF-1.4\n% the brief\n");
  const media = await uploadFile(url, device, token, "file.pdf", "application/pdf", bytes);
  const fileTempId = chat.handleSendMessage("the brief", { messageType: "file", attachmentUrl: media.url, attachmentName: media.name });
  const fileSent = await chatEvents.expect("message:sent", WAIT_MS, (p) => p.tempId === fileTempId, `"message:sent" for the file`);
  expectMessage(fileSent.message, { conversationId: ALICE, content: "the brief", messageType: "file" }, `"message:sent" of the file`);
  if (fileSent.message.attachmentUrl !== media.url || fileSent.message.attachmentName !== "file.pdf") {
    fail(`"message:sent" of the file: expected attachmentUrl ${media.url} and attachmentName "file.pdf": ${show(fileSent.message)}`);
  }
  const fileBack = await chatEvents.expect(
    "message:new",
    WAIT_MS,
    (p) => p.conversationId === ALICE && p.content === "the brief" && p.id !== fileSent.message.id,
    `Alice's answer with the file`,
  );
  if (fileBack.messageType !== "file" || typeof fileBack.attachmentUrl !== "string") {
    fail(`Alice's answer with the file: expected messageType "file" and an attachmentUrl: ${show(fileBack)}`);
  }
  await expectDownload(fileBack.attachmentUrl, token, bytes);

  // 12. Alice goes offline a while after her first answer.
  await chatEvents.expect("user:offline", WAIT_MS, (p) => p.userId === ALICE, `"user:offline" for Alice`);

  // 13. The chat's connection drops; Alice answers meanwhile; it comes back with auth.lastSeq,
  //     is greeted again, and gets the answer it missed, once.
  const missed = await dropAndResume(chatEvents, api, device, async () => {
    const away = await api.expect(202, "POST", `${chatPath}/messages`, { text: "while you were away" });
    return inbox.expect(
      "message:new",
      WAIT_MS,
      (p) => p.conversationId === ALICE && p.content === "while you were away" && p.id !== away.id,
      `the second window to get Alice's answer sent while the chat was away`,
    );
  });
  await chatEvents.expect("connection:success", WAIT_MS, (p) => p.socketId === chat.socket.id, `"connection:success" again`);
  await chatEvents.expect("message:new", WAIT_MS, (p) => p.id === missed.id, `the missed answer ${missed.id}`);
  // Something new after the replay: once it arrives, the replay is over.
  const afterTempId = chat.handleSendMessage("back again");
  const after = await chatEvents.expect("message:sent", WAIT_MS, (p) => p.tempId === afterTempId, `"message:sent" after resuming`);
  await chatEvents.expect("message:new", WAIT_MS, (p) => p.id === after.message.id, `"message:new" for ${after.message.id}`);
  expectOnce(chatEvents, "message:new", (p) => p.id === missed.id, `the missed answer ${missed.id}`);
  const lost = chatEvents.received("message:sent", (p) => p.tempId === badTempId);
  if (lost.length) fail(`a send that failed was also reported sent: ${show(lost)}`);
});
