"use strict";
// The inbound rate with the official socket.io-client: one connection that multiplexes the
// root namespace and a device's has one budget of `limits.events_per_minute` for both, and
// another connection has a budget of its own.
//
// Environment: E2E_URL, E2E_ADMIN_KEY, E2E_DEVICE (an existing device), E2E_BUDGET (the
// daemon's `limits.events_per_minute`, small).

const { connect, fail, main, env, show, Client } = require("./lib");

const WAIT_MS = 10000;

main(async () => {
  const url = env("E2E_URL");
  const auth = { apiKey: env("E2E_ADMIN_KEY") };
  const device = env("E2E_DEVICE");
  const budget = Number(env("E2E_BUDGET"));

  const root = connect(`${url}/`, { auth });
  await root.connected(WAIT_MS);
  // The same Manager, so the same Engine.IO connection.
  const onDevice = new Client(root.socket.io.socket(`/device/${device}`, { auth }));
  onDevice.socket.connect();
  await onDevice.connected(WAIT_MS);

  const answers = [];
  for (let i = 0; i <= budget; i++) {
    const [client, event] = i % 2 === 0 ? [root, "stats"] : [onDevice, "chats:list"];
    const reply = await client.emitAck(event, {}, WAIT_MS);
    answers.push(reply && reply.ok === true ? "ok" : reply && reply.error && reply.error.code);
  }
  const expected = [...Array(budget).fill("ok"), "rate_limited"];
  if (show(answers) !== show(expected)) {
    fail(`one connection, two namespaces: expected ${show(expected)}, got ${show(answers)}`);
  }

  const other = connect(`${url}/device/${device}`, { auth });
  await other.connected(WAIT_MS);
  const reply = await other.emitAck("chats:list", {}, WAIT_MS);
  if (!reply || reply.ok !== true) fail(`another connection: expected ok, got ${show(reply)}`);
  root.socket.io.engine.close();
  other.socket.close();
});
