"use strict";
// Foundation scenario with the official socket.io-client: linking a device, handshake
// authentication, and resuming a device namespace with `lastSeq`.
//
// Environment: E2E_URL, E2E_ADMIN_KEY, E2E_OTHER_KEY (a key for another device only),
// E2E_TOKEN (an access token for E2E_DEVICE, scope read), E2E_DEVICE (a simulator device that
// was just created, so it is starting or showing a QR code).

const { connect, fail, main, rest } = require("./lib");

const WAIT_MS = 10000;

function env(name) {
  const value = process.env[name];
  if (!value) fail(`environment variable ${name} is not set`);
  return value;
}

function show(value) {
  return JSON.stringify(value);
}

main(async () => {
  const url = env("E2E_URL");
  const admin = env("E2E_ADMIN_KEY");
  const otherKey = env("E2E_OTHER_KEY");
  const token = env("E2E_TOKEN");
  const device = env("E2E_DEVICE");
  const namespace = `${url}/device/${device}`;

  const api = rest(url, admin).call;

  // Connects and expects the handshake to be refused; returns the connect_error message.
  async function refused(target, opts, label) {
    const c = connect(target, opts);
    const entry = await Promise.race([
      c.waitFor("connect", WAIT_MS).then(() => ({ connected: true })),
      c.connectError(WAIT_MS).then((message) => ({ message })),
    ]);
    c.close();
    if (entry.connected) fail(`${label}: expected the handshake to be refused, but it connected`);
    return entry.message;
  }

  function seqOf(payload) {
    return payload && typeof payload.seq === "number" ? payload.seq : null;
  }

  // 1. Connect with the admin key, replaying from the start, and see a QR code.
  const first = connect(namespace, { auth: { apiKey: admin, lastSeq: 0 } });
  await first.connected(WAIT_MS);
  const qr = await first.waitFor("qr", WAIT_MS);
  for (const field of ["qr", "image", "attempt", "maxAttempts", "deviceId", "seq", "at"]) {
    if (qr[field] === undefined || qr[field] === null) fail(`qr event lacks \`${field}\`: ${show(qr)}`);
  }
  if (typeof qr.qr !== "string" || qr.qr.length === 0) fail(`qr.qr is not a non-empty string: ${show(qr)}`);
  if (typeof qr.image !== "string" || !qr.image.startsWith("data:image/png;base64,")) {
    fail(`qr.image is not a PNG data URL: ${show(qr.image).slice(0, 80)}`);
  }
  if (qr.deviceId !== device) fail(`qr.deviceId is ${show(qr.deviceId)}, expected ${show(device)}`);
  if (typeof qr.seq !== "number") fail(`qr.seq is not a number: ${show(qr.seq)}`);

  // 2. Link: the phone scans the code; the device authenticates, then becomes ready.
  const paired = await api("POST", "/api/v1/pairings", { qr: qr.qr });
  if (paired.status !== 200) fail(`POST /api/v1/pairings: expected 200, got ${paired.status} ${show(paired.body)}`);
  const authenticated = await first.waitFor("authenticated", WAIT_MS);
  const ready = await first.waitFor("ready", WAIT_MS);
  if (!(seqOf(authenticated) > qr.seq)) {
    fail(`authenticated (seq ${show(authenticated.seq)}) does not follow qr (seq ${qr.seq})`);
  }
  if (!(seqOf(ready) > seqOf(authenticated))) {
    fail(`ready (seq ${show(ready.seq)}) does not follow authenticated (seq ${show(authenticated.seq)})`);
  }
  if (!ready.me || typeof ready.me.id !== "string") fail(`ready.me.id is not a string: ${show(ready)}`);

  // The stream replayed from 0 and continued live is gap-free and duplicate-free.
  const firstSeqs = first.events.map((e) => seqOf(e.payload)).filter((s) => s !== null);
  firstSeqs.forEach((seq, i) => {
    if (seq !== i + 1) fail(`client 1 received seqs ${show(firstSeqs)}: expected 1, 2, 3, … without gaps`);
  });

  // 3. Other ways to authenticate the handshake.
  const both = connect(namespace, { query: { apiKey: admin, "access-token": token } });
  await both.connected(WAIT_MS).catch((err) => fail(`api key and token in the query: ${err.message}`));
  const tokenOnly = connect(namespace, { auth: { token } });
  await tokenOnly.connected(WAIT_MS).catch((err) => fail(`auth.token alone: ${err.message}`));
  tokenOnly.close();
  // If both credentials are sent, both must be valid.
  const badToken = await refused(
    namespace,
    { query: { apiKey: admin, "access-token": "not-a-token" } },
    "valid key with an invalid token",
  );
  if (badToken !== "unauthorized") {
    fail(`valid key with an invalid token: expected "unauthorized", got ${show(badToken)}`);
  }

  // 4. Refusals.
  const wrongKey = await refused(namespace, { auth: { apiKey: "nope" } }, "wrong api key");
  if (wrongKey !== "unauthorized") fail(`wrong api key: expected "unauthorized", got ${show(wrongKey)}`);
  const nothing = await refused(namespace, {}, "no credentials");
  if (nothing !== "unauthorized") fail(`no credentials: expected "unauthorized", got ${show(nothing)}`);
  const otherDevice = await refused(namespace, { auth: { apiKey: otherKey } }, "key for another device");
  if (otherDevice !== "forbidden") fail(`key for another device: expected "forbidden", got ${show(otherDevice)}`);
  const ghost = await refused(`${url}/device/ghost`, { auth: { apiKey: admin } }, "unknown device /device/ghost");
  if (typeof ghost !== "string" || ghost.length === 0) fail(`unknown device: connect_error without a message`);

  // 5. Resume: client 1 leaves, events happen, client 1 comes back with its last seq.
  const lastSeen = Math.max(0, ...first.events.map((e) => seqOf(e.payload)).filter((s) => s !== null));
  first.close();

  // `both` stays connected to observe the device; it first receives the current view and `sync`.
  const bothSync = await both.waitFor("sync", WAIT_MS);
  const before = Math.max(
    typeof bothSync.toSeq === "number" ? bothSync.toSeq : 0,
    ...both.events.map((e) => seqOf(e.payload)).filter((s) => s !== null),
  );
  const dropped = await api("POST", `/api/v1/devices/${device}/simulator/drop`);
  if (dropped.status !== 200) fail(`simulator/drop: expected 200, got ${dropped.status} ${show(dropped.body)}`);
  await both.waitFor("state", WAIT_MS, (p) => p.state === "disconnected" && seqOf(p) > before);
  await both.waitFor("state", WAIT_MS, (p) => p.state === "ready" && seqOf(p) > before);

  const journal = await api("GET", `/api/v1/devices/${device}/events?after=${lastSeen}&limit=1000`);
  if (journal.status !== 200) {
    fail(`GET events?after=${lastSeen}: expected 200, got ${journal.status} ${show(journal.body)}`);
  }
  const { items, head, recovered } = journal.body;
  if (recovered !== true) fail(`GET events?after=${lastSeen}: recovered is ${show(recovered)}`);
  if (!Array.isArray(items) || items.length === 0) {
    fail(`GET events?after=${lastSeen}: no events after the drop: ${show(journal.body)}`);
  }
  const lastItem = items[items.length - 1];
  if (lastItem.seq !== head) fail(`GET events: the last item's seq ${lastItem.seq} is not head ${head}`);

  const back = connect(namespace, { auth: { apiKey: admin, lastSeq: lastSeen } });
  await back.connected(WAIT_MS);
  const sync = await back.waitFor("sync", WAIT_MS);
  const syncAt = back.events.findIndex((e) => e.event === "sync");
  // The socket's greeting comes first; the replay follows it.
  if (back.events[0].event !== "session") fail(`the first event is not "session": ${show(back.events[0])}`);
  const replayed = back.events.slice(1, syncAt).map((e) => ({
    type: e.event,
    seq: seqOf(e.payload),
    deviceId: e.payload && e.payload.deviceId,
  }));
  const expected = items.map((item) => ({ type: item.type, seq: item.seq }));
  const replayedSeqs = replayed.map((e) => e.seq);
  for (let i = 0; i < replayedSeqs.length; i += 1) {
    if (replayedSeqs[i] !== lastSeen + 1 + i) {
      fail(`replay after seq ${lastSeen} is not gap- and duplicate-free: seqs ${show(replayedSeqs)}`);
    }
  }
  const same =
    replayed.length === expected.length &&
    replayed.every((e, i) => e.type === expected[i].type && e.seq === expected[i].seq);
  if (!same) {
    fail(
      `replay after seq ${lastSeen} differs from the journal:\n` +
        `  socket:  ${show(replayed.map(({ type, seq }) => ({ type, seq })))}\n` +
        `  journal: ${show(expected)}`,
    );
  }
  const foreign = replayed.find((e) => e.deviceId !== device);
  if (foreign) fail(`replayed event without deviceId ${show(device)}: ${show(foreign)}`);
  if (sync.fromSeq !== lastSeen + 1 || sync.toSeq !== head || sync.recovered !== true) {
    fail(`sync: expected ${show({ fromSeq: lastSeen + 1, toSeq: head, recovered: true })}, got ${show(sync)}`);
  }
});
