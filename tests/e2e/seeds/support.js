"use strict";
// What the seed clients' scenarios share: the simulated phone they talk to, the credentials
// minted for them, the refusals every client must meet, the profile listing, and resuming a
// dropped socket with `auth.lastSeq`.
//
// Environment: E2E_URL, E2E_ADMIN_KEY, E2E_DEVICE (a linked, `ready` simulator device whose
// contacts are Alice, 15550000002@c.us, behaviour "echo", and Bob, 15550000003@c.us,
// "silent"; nothing has been sent on it yet) and E2E_OTHER_DEVICE (another device).

const { fail, env, show, rest } = require("../lib");

const WAIT_MS = 10000;
/** Reads what we send after `read_ms`, comes online, types, quotes it back, goes offline 5 s later. */
const ALICE = "15550000002@c.us";
/** Receives what we send and never reads or answers it. */
const BOB = "15550000003@c.us";

/**
 * The daemon and device under test: `api` is a REST client with the admin key (the test's own
 * view, not the seed client's), `me` the device's own account id, `namespace` the URL every
 * seed client connects to in place of its own server's.
 */
async function setup() {
  const url = env("E2E_URL");
  const device = env("E2E_DEVICE");
  const api = rest(url, env("E2E_ADMIN_KEY"));
  const shown = await api.expect(200, "GET", `/api/v1/devices/${device}`);
  if (shown.state !== "ready") fail(`device ${device} is ${show(shown.state)}, expected "ready"`);
  const me = shown.me && shown.me.id;
  if (typeof me !== "string" || me.length === 0) fail(`device ${device} has no me.id: ${show(shown)}`);
  return { url, device, otherDevice: env("E2E_OTHER_DEVICE"), api, me, namespace: `${url}/device/${device}` };
}

/**
 * An access token for `sub` on `devices` with scopes read and send; `profile`, when given,
 * becomes its `profile` claim. The scenarios make `sub` the device's own account: the seeds'
 * "current user" is the person using this phone, so the id a profile reports for the
 * connection and the one on the device's own messages are the same.
 */
async function issueToken(api, { sub, devices, profile }) {
  const body = { sub, devices, scopes: ["read", "send"], ttlSecs: 600 };
  if (profile !== undefined) body.profile = profile;
  const issued = await api.expect(201, "POST", "/api/v1/tokens", body);
  if (typeof issued.token !== "string" || issued.token.length === 0) {
    fail(`POST /api/v1/tokens ${show(body)}: no token in ${show(issued)}`);
  }
  return issued.token;
}

/**
 * Checks that `GET /api/v1/profiles` lists profile `name`, translating at least the client
 * events `events` (keys of its `events`) and producing at least the client events `emits`
 * (among the values of its `emits`).
 */
async function expectProfileListed(api, name, { events, emits }) {
  const listed = await api.expect(200, "GET", "/api/v1/profiles");
  if (!Array.isArray(listed)) fail(`GET /api/v1/profiles: expected an array, got ${show(listed)}`);
  const profile = listed.find((p) => p && p.name === name);
  if (!profile) fail(`GET /api/v1/profiles does not list ${show(name)}: ${show(listed.map((p) => p && p.name))}`);
  for (const field of ["description", "source"]) {
    if (typeof profile[field] !== "string" || profile[field].length === 0) {
      fail(`profile ${name}: \`${field}\` is not a non-empty string: ${show(profile)}`);
    }
  }
  if (!profile.events || typeof profile.events !== "object" || !profile.emits || typeof profile.emits !== "object") {
    fail(`profile ${name}: expected objects \`events\` and \`emits\`: ${show(profile)}`);
  }
  const missing = events.filter((e) => typeof profile.events[e] !== "string");
  if (missing.length) fail(`profile ${name}: \`events\` does not translate ${show(missing)}: ${show(profile.events)}`);
  // A native event that becomes one of several client events lists them as `a|b`.
  const produced = Object.values(profile.emits).flatMap((names) => names.split("|"));
  const absent = emits.filter((e) => !produced.includes(e));
  if (absent.length) fail(`profile ${name}: \`emits\` never produces ${show(absent)}: ${show(profile.emits)}`);
}

/**
 * Opens a connection with `open(auth)` (the seed's own connection code with `auth` in place
 * of its credentials) and expects the handshake to be refused; resolves with the
 * connect_error's message.
 */
async function refusedWith(open, auth, label) {
  const client = open(auth);
  let outcome;
  try {
    outcome = await client.waitForAny(["connect", "connect_error"], WAIT_MS);
  } catch (err) {
    fail(`${label}: neither connected nor refused: ${err.message}`);
  } finally {
    client.close();
  }
  if (outcome.event === "connect") fail(`${label}: expected the handshake to be refused, but it connected`);
  const err = outcome.payload;
  return err && err.message !== undefined ? err.message : String(err);
}

/**
 * The refusals every seed client meets, each through its own connection code `open(auth)`;
 * `authWith(token)` is the seed's `auth` object for a credential. No credential: `unauthorized`.
 * A token for another device: `forbidden`. An unknown `auth.profile` with a token for this
 * device (`token`, which may carry a valid profile claim: `auth.profile` comes first):
 * `unknown_profile…`.
 */
async function expectRefusals(open, authWith, { token, otherDeviceToken }) {
  const none = await refusedWith(open, {}, "no credential");
  if (none !== "unauthorized") fail(`no credential: expected "unauthorized", got ${show(none)}`);
  const elsewhere = await refusedWith(open, authWith(otherDeviceToken), "a token for another device");
  if (elsewhere !== "forbidden") fail(`a token for another device: expected "forbidden", got ${show(elsewhere)}`);
  const unknown = await refusedWith(
    open,
    { ...authWith(token), profile: "no-such-profile" },
    "an unknown auth.profile",
  );
  if (typeof unknown !== "string" || !unknown.startsWith("unknown_profile")) {
    fail(`an unknown auth.profile: expected a message starting with "unknown_profile", got ${show(unknown)}`);
  }
}

/** The seq of the newest event in the device's journal. */
async function journalHead(api, device) {
  const page = await api.expect(200, "GET", `/api/v1/devices/${device}/events?after=0&limit=1`);
  if (!Number.isInteger(page.head)) fail(`GET …/events: no integer \`head\`: ${show(page)}`);
  return page.head;
}

/** Resolves when `socket` connects; rejects on connect_error or after `timeoutMs`. */
function connectedAgain(socket, timeoutMs) {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      socket.off("connect", onConnect);
      socket.off("connect_error", onError);
    };
    const onConnect = () => {
      done();
      resolve();
    };
    const onError = (err) => {
      done();
      reject(new Error(`reconnecting: connect_error ${err && err.message}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`reconnecting: not connected within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("connect", onConnect);
    socket.on("connect_error", onError);
    if (socket.connected) onConnect();
  });
}

/**
 * Drops `client`'s socket, lets `meanwhile()` happen while it is away, then reconnects the same
 * socket with `auth.lastSeq` set to what it had seen, as a client that resumes does; resolves
 * with what `meanwhile` resolved with.
 *
 * The seeds' clients keep no seq, so the one they resume from is the journal's head read right
 * after the drop: everything `meanwhile` causes comes after it, so it must be replayed, and
 * exactly once.
 */
async function dropAndResume(client, api, device, meanwhile) {
  client.socket.disconnect();
  const lastSeq = await journalHead(api, device);
  const result = await meanwhile();
  client.socket.auth = { ...client.socket.auth, lastSeq };
  const back = connectedAgain(client.socket, WAIT_MS);
  client.socket.connect();
  await back;
  return result;
}

/** Fails unless `client` received exactly one `event` matching `predicate`. */
function expectOnce(client, event, predicate, what) {
  const seen = client.received(event, predicate);
  if (seen.length !== 1) fail(`expected ${what} exactly once, got it ${seen.length} times: ${show(seen)}`);
}

/**
 * `predicate` for the events `client` receives from now on: for news that may have come
 * before, as the same event about the same thing.
 */
function fromNow(client, predicate) {
  const mark = client.events.length;
  return (payload, entry) => client.events.indexOf(entry) >= mark && predicate(payload);
}

let lastTempId = 0;
/**
 * `Date.now()`, as the seeds' clients take their numeric tempIds, but never the same twice: a
 * test sends faster than a person types, and the same tempId twice is the same message.
 */
function tempIdNow() {
  lastTempId = Math.max(Date.now(), lastTempId + 1);
  return lastTempId;
}

/**
 * Uploads `bytes` of type `mime` as file `name` over REST with `token`, as the seeds' clients
 * upload before they send a file; resolves with the stored media `{ url, mime, name, size }`.
 */
async function uploadFile(url, device, token, name, mime, bytes) {
  const uploaded = await fetch(`${url}/api/v1/devices/${device}/media?name=${encodeURIComponent(name)}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": mime },
    body: bytes,
  });
  const media = await uploaded.json();
  if (uploaded.status !== 201 || typeof media.url !== "string" || media.name !== name || media.size !== bytes.length) {
    fail(`POST …/media?name=${name}: expected 201 { url, mime, name: ${show(name)}, size: ${bytes.length} }, got ${uploaded.status} ${show(media)}`);
  }
  return media;
}

/** Fails unless the file at `fileUrl`, downloaded with `token`, is `bytes`. */
async function expectDownload(fileUrl, token, bytes) {
  const download = await fetch(fileUrl, { headers: { authorization: `Bearer ${token}` } });
  const downloaded = Buffer.from(await download.arrayBuffer());
  if (download.status !== 200 || !downloaded.equals(bytes)) {
    fail(`GET ${fileUrl}: expected 200 and the uploaded bytes, got ${download.status} ${show(downloaded.toString())}`);
  }
}

/** Fails unless `value` is a string that parses as a date. */
function expectDate(value, what) {
  if (typeof value !== "string" || Number.isNaN(Date.parse(value))) fail(`${what}: not a date: ${show(value)}`);
}

module.exports = {
  WAIT_MS,
  ALICE,
  BOB,
  setup,
  issueToken,
  expectProfileListed,
  expectRefusals,
  dropAndResume,
  expectOnce,
  fromNow,
  tempIdNow,
  expectDate,
  uploadFile,
  expectDownload,
};
