"use strict";
// Seed 003 (a student/expert platform's Next.js chat on `/api/socket`): its `SocketProvider` and
// chat page against devicebridge through the `snake-case-chat` profile, which the daemon serves
// on the socket path `/api/socket` (`server.profiles`), and its REST calls with a token that
// carries the profile.
//
// The document gives the events, payloads and path, not the provider's code: the provider
// below connects on `/api/socket` with `auth.userId` (as the server reads
// `socket.handshake.auth.userId`), marks the user online (`user_online`), and the chat page
// joins, sends, types and listens with the document's snippets. Only the URL (the device
// namespace) and the credential (`auth.token`, a real access token naming no profile: the path
// picks it) are added. Messages are also sent and listed over devicebridge's REST paths (the
// document's `/api/chat/...` routes are not reproduced), listing marking the chat read. A file is
// uploaded over REST, then sent as the `Message`'s `attachments` (`{ fileUrl, fileName,
// mimeType, fileSize }`, the upload's `url` as `fileUrl`).

const { io } = require("socket.io-client");
const { watch, fail, main, show, restBearer } = require("../lib");
const {
  WAIT_MS,
  ALICE,
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

/** "Socket.IO path: /api/socket", authenticated by user id (and, here, a real token). */
function connectSocket(url, auth) {
  return io(url, { path: "/api/socket", auth });
}

/** `SocketProvider`: connects, authenticates with the user's id, updates the online status. */
function SocketProvider(url, session, token) {
  const socket = connectSocket(url, { userId: session.user.id, token });
  const context = { socket, isConnected: false };
  socket.on("connect", () => {
    context.isConnected = true;
    socket.emit("user_online", { userId: session.user.id });
  });
  socket.on("disconnect", () => {
    context.isConnected = false;
  });
  return context;
}

/** The chat page on `selectedConversation`: joins it, sends, types, and listens. */
function ChatPage(socket, session, selectedConversation) {
  const state = { messages: [], typingUsers: new Set(), notifications: [] };

  socket.emit("join_conversation", {
    conversationId: selectedConversation.id,
    userId: session.user.id,
  });
  socket.on("new_message", (message) => {
    state.messages = [...state.messages, message];
  });
  socket.on("user_typing", ({ userId, isTyping }) => {
    const next = new Set(state.typingUsers);
    if (isTyping) next.add(userId);
    else next.delete(userId);
    state.typingUsers = next;
  });
  socket.on("notification", (notification) => {
    state.notifications = [...state.notifications, notification];
  });

  return {
    state,
    sendMessage(content) {
      socket.emit("send_message", {
        conversationId: selectedConversation.id,
        senderId: session.user.id,
        receiverId: selectedConversation.otherUserId,
        content,
        messageType: "TEXT",
      });
    },
    /** A file uploaded first, sent as the `Message`'s `attachments`. */
    sendFile(content, attachment) {
      socket.emit("send_message", {
        conversationId: selectedConversation.id,
        senderId: session.user.id,
        receiverId: selectedConversation.otherUserId,
        content,
        messageType: "FILE",
        attachments: [attachment],
      });
    },
    handleTyping(isTyping) {
      socket.emit("typing", {
        conversationId: selectedConversation.id,
        userId: session.user.id,
        isTyping,
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The flows.

/** Fails unless `message` is one as `new_message` carries it (the document's `Message`). */
function expectMessage(message, { conversationId, senderId, receiverId, content }, what) {
  if (!message || typeof message.id !== "string" || message.id.length === 0) fail(`${what}: no id: ${show(message)}`);
  const expected = { conversationId, senderId, receiverId, content, messageType: "TEXT" };
  for (const [field, value] of Object.entries(expected)) {
    if (value !== undefined && message[field] !== value) fail(`${what}: expected ${show(expected)}, got ${show(message)}`);
  }
  expectDate(message.createdAt, `${what}: createdAt`);
}

/**
 * What `user_status_changed` says: "online", "offline", or undefined for anything else. The
 * document names the event, not its fields, so either `status: "online"|"offline"` or
 * `isOnline: true|false` is read.
 */
function presenceIn(change) {
  if (change.status === "online" || change.isOnline === true) return "online";
  if (change.status === "offline" || change.isOnline === false) return "offline";
  return undefined;
}

main(async () => {
  const { url, device, otherDevice, api, me, namespace } = await setup();
  const socketToken = await issueToken(api, { sub: me, devices: [device] });
  const otherDeviceToken = await issueToken(api, { sub: me, devices: [otherDevice] });
  const restToken = await issueToken(api, { sub: me, devices: [device], profile: "snake-case-chat" });
  const roomsToken = await issueToken(api, { sub: me, devices: [device], profile: "conversation-rooms" });
  const session = { user: { id: me } };
  const conversation = { id: ALICE, otherUserId: ALICE };

  await expectProfileListed(api, "snake-case-chat", {
    events: ["join_conversation", "leave_conversation", "send_message", "typing"],
    emits: ["new_message", "user_typing", "user_status_changed", "messages_read", "notification"],
  });

  // 1. Refusals on /api/socket; the unknown `auth.profile` comes with a token whose own claim
  //    is valid, so it is `auth.profile` that is looked at first.
  await expectRefusals(
    (auth) => watch(connectSocket(namespace, auth)),
    (t) => ({ userId: me, token: t }),
    { token: restToken, otherDeviceToken },
  );
  // A token's claim comes before the path: on /api/socket, a token naming `conversation-rooms`
  // speaks that profile (its presence query answers through the callback).
  const claimed = watch(connectSocket(namespace, { userId: me, token: roomsToken }));
  await claimed.connected(WAIT_MS);
  const status = await claimed.socket.timeout(WAIT_MS).emitWithAck("user:get-status", ALICE);
  if (!status || status.userId !== ALICE || status.status !== "offline") {
    fail(`user:get-status on /api/socket with a conversation-rooms token: ${show(status)}`);
  }
  claimed.close();

  // 2. The provider in two windows of the same user; the first shows the chat with Alice.
  const provider = SocketProvider(namespace, session, socketToken);
  const second = SocketProvider(namespace, session, socketToken);
  const pageEvents = watch(provider.socket);
  const secondEvents = watch(second.socket);
  await pageEvents.connected(WAIT_MS);
  await secondEvents.connected(WAIT_MS);
  if (!provider.isConnected) fail(`SocketProvider does not show itself connected`);
  const page = ChatPage(provider.socket, session, conversation);

  // 3. Send: the room gets the message.
  page.sendMessage("Hello!");
  const sent = await pageEvents.expect(
    "new_message",
    WAIT_MS,
    (p) => p.senderId === me && p.content === "Hello!",
    `"new_message" for what we sent`,
  );
  expectMessage(sent, { conversationId: ALICE, senderId: me, receiverId: ALICE, content: "Hello!" }, "our message");

  // 4. Alice comes online, reads, types and answers.
  const online = await pageEvents.expect("user_status_changed", WAIT_MS, (p) => p.userId === ALICE, `"user_status_changed" for Alice`);
  if (presenceIn(online) !== "online") fail(`the first "user_status_changed" for Alice: ${show(online)}`);
  const receipt = await pageEvents.expect(
    "messages_read",
    WAIT_MS,
    (p) => Array.isArray(p.messageIds) && p.messageIds.includes(sent.id),
    `"messages_read" naming ${sent.id}`,
  );
  if (receipt.conversationId !== ALICE) fail(`"messages_read": conversationId ${show(receipt.conversationId)}`);
  const aliceTyping = (isTyping) => (p) => p.conversationId === ALICE && p.userId === ALICE && p.isTyping === isTyping;
  await pageEvents.expect("user_typing", WAIT_MS, aliceTyping(true), `"user_typing" true from Alice`);
  await pageEvents.expect("user_typing", WAIT_MS, aliceTyping(false), `"user_typing" false from Alice`);
  const reply = await pageEvents.expect("new_message", WAIT_MS, (p) => p.senderId === ALICE, `Alice's answer as "new_message"`);
  expectMessage(reply, { conversationId: ALICE, senderId: ALICE, receiverId: me, content: "Hello!" }, "Alice's answer");
  await pageEvents.expect("notification", WAIT_MS, (p) => p.messageId === reply.id, `a "notification" of Alice's answer`);
  if (page.state.typingUsers.size !== 0 || !page.state.messages.some((m) => m.id === reply.id)) {
    fail(`the chat page shows typing ${show([...page.state.typingUsers])}, messages ${show(page.state.messages)}`);
  }

  // 5. Our typing reaches the other window, as ours.
  const ourTyping = (isTyping) => (p) => p.conversationId === ALICE && p.userId === me && p.isTyping === isTyping;
  page.handleTyping(true);
  await secondEvents.expect("user_typing", WAIT_MS, ourTyping(true), `the other window to see us type`);
  page.handleTyping(false);
  await secondEvents.expect("user_typing", WAIT_MS, ourTyping(false), `the other window to see us stop typing`);

  // 6. Send over REST with the token that carries the profile: the answer is in the profile's
  //    shape, and the room gets it; Alice answers that too.
  const asUser = restBearer(url, restToken);
  const messagesPath = `/api/v1/devices/${device}/chats/${encodeURIComponent(ALICE)}/messages`;
  const viaRest = await asUser.expect(202, "POST", messagesPath, { content: "Via REST", messageType: "TEXT" });
  if (typeof viaRest.id !== "string" || viaRest.content !== "Via REST" || viaRest.conversationId !== ALICE || viaRest.messageType !== "TEXT") {
    fail(`POST ${messagesPath} with the profile's token: expected { id, content, conversationId, messageType } , got ${show(viaRest)}`);
  }
  await pageEvents.expect("new_message", WAIT_MS, (p) => p.id === viaRest.id, `"new_message" for ${viaRest.id}`);
  const secondReply = await pageEvents.expect(
    "new_message",
    WAIT_MS,
    (p) => p.senderId === ALICE && p.content === "Via REST",
    `Alice's answer to ${viaRest.id}`,
  );

  // 7. Listing the messages with that token marks the chat read: the other window gets the
  //    receipt, and the chat's unread count drops.
  const chatPath = `/api/v1/devices/${device}/chats/${encodeURIComponent(ALICE)}`;
  const unread = await api.expect(200, "GET", chatPath);
  if (unread.unreadCount !== 2) fail(`before listing: Alice's chat has unreadCount ${show(unread.unreadCount)}, expected 2`);
  const listed = await asUser.expect(200, "GET", messagesPath);
  const items = listed && listed.items;
  if (!Array.isArray(items)) fail(`GET ${messagesPath} with the profile's token: no items: ${show(listed)}`);
  const listedReply = items.find((m) => m.id === secondReply.id);
  if (!listedReply || listedReply.content !== "Via REST" || listedReply.conversationId !== ALICE) {
    fail(`GET ${messagesPath}: Alice's answer ${secondReply.id} is not listed in the profile's shape: ${show(items)}`);
  }
  const ours = await secondEvents.expect(
    "messages_read",
    WAIT_MS,
    (p) => Array.isArray(p.messageIds) && p.messageIds.includes(secondReply.id),
    `the other window to get "messages_read" naming ${secondReply.id}`,
  );
  if (!ours.messageIds.includes(reply.id)) fail(`"messages_read" of the listing does not name ${reply.id}: ${show(ours)}`);
  const read = await api.expect(200, "GET", chatPath);
  if (read.unreadCount !== 0) fail(`after listing: Alice's chat has unreadCount ${show(read.unreadCount)}`);

  // 8. Alice goes offline a while after answering.
  await pageEvents.expect(
    "user_status_changed",
    WAIT_MS,
    (p) => p.userId === ALICE && presenceIn(p) === "offline",
    `"user_status_changed" offline for Alice`,
  );
  const unclear = pageEvents.received("user_status_changed", (p) => presenceIn(p) === undefined);
  if (unclear.length) fail(`"user_status_changed" saying neither online nor offline: ${show(unclear)}`);

  // 9. A file: uploaded over REST, then sent as the message's attachment; Alice sends it back.
  const bytes = Buffer.from("%PDF-1.4\n% the notes\n");
  const media = await uploadFile(url, device, socketToken, "notes.pdf", "application/pdf", bytes);
  page.sendFile("the notes", { fileUrl: media.url, fileName: "notes.pdf", mimeType: "application/pdf", fileSize: bytes.length });
  const isTheFile = (p) =>
    p.messageType === "FILE" &&
    Array.isArray(p.attachments) &&
    p.attachments.length === 1 &&
    typeof p.attachments[0].fileUrl === "string" &&
    p.attachments[0].fileName === "notes.pdf";
  const fileSent = await pageEvents.expect(
    "new_message",
    WAIT_MS,
    (p) => p.senderId === me && p.content === "the notes",
    `"new_message" for the file we sent`,
  );
  if (!isTheFile(fileSent) || fileSent.attachments[0].fileUrl !== media.url) {
    fail(`"new_message" of the file: expected messageType "FILE" and attachments [{ fileUrl: ${media.url}, fileName: "notes.pdf" }]: ${show(fileSent)}`);
  }
  const fileBack = await pageEvents.expect(
    "new_message",
    WAIT_MS,
    (p) => p.senderId === ALICE && p.content === "the notes",
    `Alice's answer with the file`,
  );
  if (!isTheFile(fileBack)) fail(`Alice's answer with the file: ${show(fileBack)}`);
  await expectDownload(fileBack.attachments[0].fileUrl, socketToken, bytes);
  const texts = page.state.messages.filter((m) => m.messageType === "TEXT" && !(Array.isArray(m.attachments) && m.attachments.length === 0));
  if (texts.length) fail(`texts without an empty attachments list: ${show(texts)}`);

  // 10. The page's connection drops; Alice answers meanwhile; it comes back with auth.lastSeq and
  //    gets the answer it missed, once.
  const missed = await dropAndResume(pageEvents, api, device, async () => {
    const away = await api.expect(202, "POST", messagesPath, { text: "while you were away" });
    return secondEvents.expect(
      "new_message",
      WAIT_MS,
      (p) => p.senderId === ALICE && p.content === "while you were away" && p.id !== away.id,
      `the other window to get Alice's answer sent while the page was away`,
    );
  });
  await pageEvents.expect("new_message", WAIT_MS, (p) => p.id === missed.id, `the missed answer ${missed.id}`);
  // Something new after the replay: once it arrives, the replay is over.
  page.sendMessage("back again");
  await pageEvents.expect(
    "new_message",
    WAIT_MS,
    (p) => p.senderId === me && p.content === "back again",
    `"new_message" for what we sent after resuming`,
  );
  expectOnce(pageEvents, "new_message", (p) => p.id === missed.id, `the missed answer ${missed.id}`);
});
