"use strict";
// Messaging scenario with the official socket.io-client: sending with an ack callback, the
// relay and ack events, tempId deduplication, REST and Socket.IO agreeing, an echoing contact
// (typing, reply, notification), read receipts, our own typing, and a gap-free event stream.
//
// Environment: E2E_URL, E2E_ADMIN_KEY, E2E_DEVICE (a linked, `ready` simulator device whose
// contacts are Alice, 15550000002@c.us, behaviour "echo", and Bob, 15550000003@c.us, "silent";
// nothing has been sent on it yet).

const { connect, fail, main, env, show, sameJson, rest } = require("./lib");

const WAIT_MS = 10000;
const ALICE = "15550000002@c.us";
const ACK_NAMES = { 0: "pending", 1: "server", 2: "device", 3: "read" };

function ok(reply, what) {
  if (!reply || reply.ok !== true) fail(`${what}: expected an ack { ok: true, data }, got ${show(reply)}`);
  return reply.data;
}

function expectEqual(actual, expected, what) {
  if (!sameJson(actual, expected)) fail(`${what}: expected ${show(expected)}, got ${show(actual)}`);
}

main(async () => {
  const url = env("E2E_URL");
  const admin = env("E2E_ADMIN_KEY");
  const device = env("E2E_DEVICE");
  const api = rest(url, admin);
  const base = `/api/v1/devices/${device}`;
  const chatPath = `${base}/chats/${encodeURIComponent(ALICE)}`;
  const namespace = `${url}/device/${device}`;

  const linked = await api.expect(200, "GET", base);
  if (linked.state !== "ready") fail(`device ${device} is ${show(linked.state)}, expected "ready"`);
  const meId = linked.me && linked.me.id;
  if (typeof meId !== "string" || meId.length === 0) fail(`GET ${base}: me.id is not a string: ${show(linked)}`);

  // 1. Two clients; A sends, B sees the message. B replays the whole journal (lastSeq 0), so
  //    step 8 can check its stream from seq 1; A attaches live, as a dashboard does.
  const a = connect(namespace, { auth: { apiKey: admin } });
  const b = connect(namespace, { auth: { apiKey: admin, lastSeq: 0 } });
  await a.connected(WAIT_MS).catch((err) => fail(`client A: ${err.message}`));
  await b.connected(WAIT_MS).catch((err) => fail(`client B: ${err.message}`));
  const aSync = await a.expect("sync", WAIT_MS, null, "client A to get `sync` after connecting");
  const bSync = await b.expect("sync", WAIT_MS, null, "client B to get `sync` after its replay");
  if (bSync.recovered !== true || bSync.fromSeq !== 1) {
    fail(`client B (lastSeq 0): expected sync { fromSeq: 1, recovered: true }, got ${show(bSync)}`);
  }

  const request = { chatId: ALICE, text: "hello", tempId: "t-1" };
  const sent = ok(await a.emitAck("message:send", request, WAIT_MS), "message:send");
  if (sent.ack !== 0 || sent.ackName !== "pending") {
    fail(`message:send: expected ack 0 "pending", got ${show(sent.ack)} ${show(sent.ackName)}: ${show(sent)}`);
  }
  if (sent.fromMe !== true) fail(`message:send: fromMe is ${show(sent.fromMe)}: ${show(sent)}`);
  if (typeof sent.id !== "string" || !sent.id.startsWith("msg_")) {
    fail(`message:send: id ${show(sent.id)} does not start with "msg_"`);
  }
  if (sent.chatId !== ALICE || sent.body !== "hello" || sent.tempId !== "t-1") {
    fail(`message:send: the message does not echo the request ${show(request)}: ${show(sent)}`);
  }
  const id = sent.id;
  for (const [name, c] of [
    ["B", b],
    ["A", a],
  ]) {
    const seen = await c.expect("message", WAIT_MS, (p) => p.id === id, `client ${name} to get "message" ${id}`);
    if (seen.fromMe !== true || seen.body !== "hello" || seen.chatId !== ALICE) {
      fail(`client ${name}: "message" ${id} is not our "hello" to ${ALICE}: ${show(seen)}`);
    }
  }

  // 2. Acks server → device → read reach both clients in order, and nothing else about it.
  let upstreamId = null;
  for (const [name, c] of [
    ["B", b],
    ["A", a],
  ]) {
    await c.expect(
      "message:ack",
      WAIT_MS,
      (p) => p.messageId === id && p.ack === 3,
      `client ${name} to get "message:ack" read (3) for ${id}`,
    );
    const acks = c.received("message:ack", (p) => p.messageId === id);
    expectEqual(
      acks.map((p) => p.ack),
      [1, 2, 3],
      `client ${name}: "message:ack" levels for ${id} (server → device → read); events ${show(acks)}`,
    );
    for (const p of acks) {
      if (p.ackName !== ACK_NAMES[p.ack] || p.chatId !== ALICE) {
        fail(`client ${name}: "message:ack" with a wrong ackName or chatId: ${show(p)}`);
      }
      if (typeof p.upstreamId !== "string" || p.upstreamId.length === 0) {
        fail(`client ${name}: "message:ack" without an upstreamId: ${show(p)}`);
      }
      if (upstreamId !== null && p.upstreamId !== upstreamId) {
        fail(`client ${name}: "message:ack" upstreamId changed from ${show(upstreamId)}: ${show(p)}`);
      }
      upstreamId = p.upstreamId;
    }
    // A smooth send is told by its acks alone: no "message:status".
    const statuses = c.received("message:status", (p) => p.messageId === id);
    expectEqual(statuses, [], `client ${name}: "message:status" for ${id}`);
  }

  // 3. The same tempId again is the same message: nothing new is stored, journaled or relayed.
  const again = ok(await a.emitAck("message:send", request, WAIT_MS), "message:send with the same tempId");
  if (again.id !== id) fail(`message:send with tempId "t-1" again: expected id ${id}, got ${show(again.id)}`);
  // The ack comes after the commit, so the journal already holds anything the resend created.
  const journal = await api.expect(200, "GET", `${base}/events?after=0&limit=1000`);
  const ourMessages = journal.items.filter((item) => item.type === "message" && item.data.fromMe === true);
  expectEqual(
    ourMessages.map((item) => item.data.id),
    [id],
    `the journal's "message" events from us after resending tempId "t-1"`,
  );
  const listed = await api.expect(200, "GET", `${chatPath}/messages`);
  const hellos = listed.items.filter((m) => m.fromMe === true && m.body === "hello");
  expectEqual(
    hellos.map((m) => m.id),
    [id],
    `GET ${chatPath}/messages: our "hello" messages (${show(listed)})`,
  );
  const inbox = await api.expect(200, "GET", `${base}/simulator/inbox`);
  expectEqual(
    inbox.items.map((item) => [item.messageId, item.body]),
    [[id, "hello"]],
    `GET ${base}/simulator/inbox: what the phone received (${show(inbox)})`,
  );

  // 5. The echoing contact reads, types, and quotes our message back.
  const isAlice = (p) => p.chatId === ALICE && p.contactId === ALICE;
  const typingStart = await b.expect("typing:start", WAIT_MS, isAlice, `client B to see Alice start typing`);
  const typingStop = await b.expect("typing:stop", WAIT_MS, isAlice, `client B to see Alice stop typing`);
  const reply = await b.expect(
    "message",
    WAIT_MS,
    (p) => p.chatId === ALICE && p.fromMe === false,
    `client B to get Alice's reply`,
  );
  if (reply.body !== "hello" || reply.replyTo !== id || reply.from !== ALICE) {
    fail(`Alice's reply: expected body "hello" from ${ALICE} with replyTo ${id}, got ${show(reply)}`);
  }
  if (typeof reply.id !== "string" || !reply.id.startsWith("msg_")) fail(`Alice's reply has id ${show(reply.id)}`);
  if (!(typingStart.seq < typingStop.seq && typingStop.seq < reply.seq)) {
    fail(
      `expected typing:start < typing:stop < message, got seqs ` +
        `${typingStart.seq}, ${typingStop.seq}, ${reply.seq}`,
    );
  }
  const notification = await b.expect(
    "notification",
    WAIT_MS,
    (p) => p.messageId === reply.id,
    `client B to get a notification for Alice's reply ${reply.id}`,
  );
  if (notification.title !== "Alice" || notification.body !== "hello" || notification.chatId !== ALICE) {
    fail(`notification: expected title "Alice", body "hello", chatId ${ALICE}, got ${show(notification)}`);
  }
  if (typeof notification.id !== "string" || notification.id.length === 0) {
    fail(`notification without an id: ${show(notification)}`);
  }
  const unread = await b.expect(
    "chat:update",
    WAIT_MS,
    (p) => p.id === ALICE && p.seq > reply.seq,
    `client B to get "chat:update" for ${ALICE} after Alice's reply`,
  );
  if (unread.unreadCount !== 1) fail(`chat:update after Alice's reply: unreadCount is not 1: ${show(unread)}`);

  // 4. REST and Socket.IO show the same chat. Nothing changes the chat's messages now until
  //    step 6 reads it, so both reads see the same data.
  const socketMessages = ok(await a.emitAck("messages:list", { chatId: ALICE }, WAIT_MS), "messages:list");
  const restMessages = await api.expect(200, "GET", `${chatPath}/messages`);
  const restMessagesRaw = await api.expect(200, "GET", `${base}/chats/${ALICE}/messages`);
  expectEqual(restMessagesRaw, restMessages, `GET …/chats/${ALICE}/messages (chat id not encoded) vs encoded`);
  if (!Array.isArray(socketMessages.items) || !("nextCursor" in socketMessages)) {
    fail(`messages:list: expected data { items, nextCursor }, got ${show(socketMessages)}`);
  }
  expectEqual(
    restMessages.items.map((m) => m.id),
    [reply.id, id],
    `GET ${chatPath}/messages: ids newest first (Alice's reply, then ours)`,
  );
  expectEqual(
    socketMessages.items.map((m) => [m.id, m.ack]),
    restMessages.items.map((m) => [m.id, m.ack]),
    `messages:list vs GET ${chatPath}/messages: [id, ack] newest first`,
  );
  expectEqual(socketMessages, restMessages, `messages:list vs GET ${chatPath}/messages`);
  const socketChats = ok(await a.emitAck("chats:list", {}, WAIT_MS), "chats:list");
  const restChats = await api.expect(200, "GET", `${base}/chats`);
  if (!Array.isArray(restChats.items) || restChats.items.length === 0) fail(`GET ${base}/chats: ${show(restChats)}`);
  expectEqual(socketChats, restChats, `chats:list vs GET ${base}/chats`);

  // 6. A reads the chat: B sees the receipt, the unread count drop and the notification go.
  const beforeRead = b.lastSeq();
  const read = ok(await a.emitAck("message:read", { chatId: ALICE }, WAIT_MS), "message:read");
  expectEqual(read, { messageIds: [reply.id] }, `message:read ack data`);
  const afterRead = (p) => p.seq > beforeRead;
  const receipt = await b.expect(
    "message:read",
    WAIT_MS,
    (p) => afterRead(p) && p.chatId === ALICE,
    `client B to get "message:read" for ${ALICE}`,
  );
  expectEqual(receipt.messageIds, [reply.id], `"message:read" messageIds (${show(receipt)})`);
  if (receipt.readBy !== meId) fail(`"message:read": readBy should be us (${meId}): ${show(receipt)}`);
  const cleared = await b.expect(
    "chat:update",
    WAIT_MS,
    (p) => afterRead(p) && p.id === ALICE,
    `client B to get "chat:update" for ${ALICE} after the read`,
  );
  if (cleared.unreadCount !== 0) fail(`chat:update after the read: unreadCount is not 0: ${show(cleared)}`);
  const gone = await b.expect(
    "notification:read",
    WAIT_MS,
    afterRead,
    `client B to get "notification:read" for ${notification.id}`,
  );
  if (!Array.isArray(gone.ids) || !gone.ids.includes(notification.id)) {
    fail(`"notification:read" does not name notification ${notification.id}: ${show(gone)}`);
  }

  // 7. Our own typing reaches the other client, as the device's own contact id.
  for (const event of ["typing:start", "typing:stop"]) {
    const before = b.lastSeq();
    expectEqual(ok(await a.emitAck(event, { chatId: ALICE }, WAIT_MS), event), {}, `${event} ack data`);
    const seen = await b.expect(
      event,
      WAIT_MS,
      (p) => p.seq > before && p.chatId === ALICE,
      `client B to get "${event}" for ${ALICE} after A's ${event}`,
    );
    if (seen.contactId !== meId) fail(`"${event}" from A: contactId should be us (${meId}): ${show(seen)}`);
  }

  // 8. B's stream: every journaled event carries deviceId, seq and at, seqs run 1, 2, 3, … with
  //    no gap or duplicate. `session` and `sync` are the socket's own, not journaled, so they
  //    have no seq.
  const streamed = b.events.filter((e) => e.event !== "session" && e.event !== "sync");
  for (const { event, payload } of b.events) {
    if (!payload || payload.deviceId !== device) {
      fail(`B: "${event}" without deviceId ${show(device)}: ${show(payload)}`);
    }
    if (typeof payload.at !== "string" || Number.isNaN(Date.parse(payload.at))) {
      fail(`B: "${event}" without an RFC 3339 \`at\`: ${show(payload)}`);
    }
  }
  const seqs = streamed.map((e) => e.payload.seq);
  seqs.forEach((seq, i) => {
    if (!Number.isInteger(seq) || seq !== i + 1) {
      const list = streamed.map((e) => `${e.payload.seq}:${e.event}`).join(", ");
      fail(`B received seqs that are not 1, 2, 3, … without gaps or duplicates (at index ${i}): ${list}`);
    }
  });
  // A, attached live, continues right after its sync's toSeq.
  const aLive = a.events.slice(a.events.findIndex((e) => e.event === "sync") + 1);
  aLive.forEach((e, i) => {
    if (e.payload.seq !== aSync.toSeq + 1 + i) {
      const list = aLive.map((x) => `${x.payload.seq}:${x.event}`).join(", ");
      fail(`A's live stream after sync ${show(aSync)} has a gap or duplicate: ${list}`);
    }
  });
  // No second message for the resent tempId reached either client, and no further acks came.
  for (const [name, c] of [
    ["B", b],
    ["A", a],
  ]) {
    expectEqual(
      c.received("message", (p) => p.fromMe === true).map((p) => p.id),
      [id],
      `client ${name}: "message" events from us`,
    );
    expectEqual(
      c.received("message:ack", (p) => p.messageId === id).map((p) => p.ack),
      [1, 2, 3],
      `client ${name}: all "message:ack" levels for ${id}`,
    );
  }
});
