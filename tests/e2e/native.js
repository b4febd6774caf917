"use strict";
// The native capabilities with the official socket.io-client: the `session` greeting first
// (its socketId the client's own socket.id), rooms (a socket in one chat gets only that chat's
// messages, while a socket in none gets every chat's), a token given with its `Bearer `
// scheme, and a numeric tempId that comes back a number.
//
// Environment: E2E_URL, E2E_ADMIN_KEY, E2E_TOKEN (a token reading E2E_DEVICE, subject "e2e"),
// E2E_DEVICE (a linked, `ready` simulator device whose contacts are Alice, 15550000002@c.us,
// and Bob, 15550000003@c.us, both silent).

const { connect, fail, main, env, show, sameJson } = require("./lib");

const WAIT_MS = 10000;
const ALICE = "15550000002@c.us";
const BOB = "15550000003@c.us";

function ok(reply, what) {
  if (!reply || reply.ok !== true) fail(`${what}: expected an ack { ok: true, data }, got ${show(reply)}`);
  return reply.data;
}

main(async () => {
  const url = env("E2E_URL");
  const admin = env("E2E_ADMIN_KEY");
  const token = env("E2E_TOKEN");
  const device = env("E2E_DEVICE");
  const namespace = `${url}/device/${device}`;

  // 1. The greeting comes first, before the snapshot and `sync`, and names the socket as the
  //    client knows it. The token may be given as the Authorization header's value.
  const reader = connect(namespace, { auth: { token: `Bearer ${token}` } });
  await reader.connected(WAIT_MS).catch((err) => fail(`a "Bearer " token: ${err.message}`));
  await reader.expect("sync", WAIT_MS, null, "the reader to get `sync`");
  const first = reader.events[0];
  if (!first || first.event !== "session") fail(`the first event is not "session": ${show(reader.events)}`);
  const session = first.payload;
  const expected = { sub: "e2e", deviceId: device, socketId: reader.id, scopes: ["read"] };
  const { at, ...named } = session;
  if (!sameJson(named, expected) || typeof at !== "string") {
    fail(`session: expected ${show(expected)} and an \`at\`, got ${show(session)}`);
  }

  // 2. Rooms: `inAlice` joins Alice's chat; `everyone` joins none.
  const inAlice = connect(namespace, { auth: { apiKey: admin } });
  const everyone = connect(namespace, { auth: { apiKey: admin } });
  await inAlice.connected(WAIT_MS);
  await everyone.connected(WAIT_MS);
  const room = ok(await inAlice.emitAck("chat:join", { chatId: ALICE }, WAIT_MS), "chat:join");
  if (!sameJson(room, { chatId: ALICE, room: `chat:${ALICE}` })) fail(`chat:join answered ${show(room)}`);

  // 3. A message to Bob, then one to Alice with a numeric tempId: once the socket in Alice's
  //    chat has the second, it would have had the first.
  const toBob = ok(await everyone.emitAck("message:send", { chatId: BOB, text: "for bob" }, WAIT_MS), "send to Bob");
  const stamp = Date.now();
  const request = { chatId: ALICE, text: "for alice", tempId: stamp };
  const toAlice = ok(await everyone.emitAck("message:send", request, WAIT_MS), "send to Alice");
  if (toAlice.tempId !== stamp) fail(`the ack's tempId is ${show(toAlice.tempId)}, expected the number ${stamp}`);
  const seen = await inAlice.expect("message", WAIT_MS, (m) => m.id === toAlice.id, "Alice's message in her chat");
  if (seen.tempId !== stamp) fail(`the message event's tempId is ${show(seen.tempId)}, expected the number ${stamp}`);
  await everyone.expect("message", WAIT_MS, (m) => m.id === toBob.id, "Bob's message on a socket in no chat");
  const leaked = inAlice.received("message", (m) => m.chatId !== ALICE);
  if (leaked.length) fail(`the socket in Alice's chat got another chat's messages: ${show(leaked)}`);

  // 4. The same number again is the same message.
  const again = ok(await everyone.emitAck("message:send", request, WAIT_MS), "send again");
  if (again.id !== toAlice.id || again.tempId !== stamp) {
    fail(`the same tempId again: expected ${toAlice.id} with tempId ${stamp}, got ${show(again)}`);
  }

  // 5. Leaving: every chat again.
  ok(await inAlice.emitAck("chat:leave", { chatId: ALICE }, WAIT_MS), "chat:leave");
  const later = ok(await everyone.emitAck("message:send", { chatId: BOB, text: "later" }, WAIT_MS), "send later");
  await inAlice.expect("message", WAIT_MS, (m) => m.id === later.id, "Bob's message after leaving");
});
