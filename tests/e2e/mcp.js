"use strict";
// The MCP server at /mcp, driven by the official TypeScript SDK client over streamable HTTP.
//
// Env: E2E_URL; E2E_DEVICE, the device the credentials are for, with a chat E2E_CHAT holding
// E2E_SEEN and a message found by the word E2E_SEARCH; E2E_OTHER, a device they are not for;
// E2E_READ_TOKEN, an access token with `read` on E2E_DEVICE only; E2E_SEND_KEY, an API key
// with `send` on E2E_DEVICE only; E2E_TEXT, the text the send key sends in E2E_CHAT.
//
// Prints OK when every expectation held (see tests/mcp.rs for what follows).

const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
const { StreamableHTTPClientTransport } = require("@modelcontextprotocol/sdk/client/streamableHttp.js");
const { env, fail, main } = require("./lib");

const URL_ = new URL("/mcp", env("E2E_URL"));
const DEVICE = env("E2E_DEVICE");
const OTHER = env("E2E_OTHER");
const CHAT = env("E2E_CHAT");

const TOOLS = [
  "device_status",
  "get_qr",
  "list_chats",
  "list_devices",
  "list_events",
  "mark_read",
  "read_messages",
  "search_messages",
  "send_message",
];

const clients = [];

/** An SDK client connected with `credential` as its bearer, as an agent's config gives it. */
async function agent(credential) {
  const client = new Client({ name: "devicebridge-e2e", version: "0.0.0" });
  const headers = credential ? { Authorization: `Bearer ${credential}` } : {};
  await client.connect(new StreamableHTTPClientTransport(URL_, { requestInit: { headers } }));
  clients.push(client);
  return client;
}

/** Calls `name`, expecting it to succeed; returns its structured answer. */
async function ok(client, name, args) {
  const result = await client.callTool({ name, arguments: args });
  if (result.isError) fail(`${name} ${JSON.stringify(args)} failed: ${JSON.stringify(result)}`);
  const text = JSON.parse(result.content[0].text);
  if (JSON.stringify(text) !== JSON.stringify(result.structuredContent)) {
    fail(`${name}: the text and the structured content differ`);
  }
  return result.structuredContent;
}

/** Calls `name`, expecting a tool error with `code`; returns its message. */
async function refused(client, name, args, code) {
  const result = await client.callTool({ name, arguments: args });
  const error = result.structuredContent && result.structuredContent.error;
  if (!result.isError || !error || error.code !== code) {
    fail(`${name} ${JSON.stringify(args)} should be refused with ${code}: ${JSON.stringify(result)}`);
  }
  return error.message;
}

main(async () => {
  try {
    // No credential: the HTTP request is refused before the protocol starts.
    await agent(null).then(
      () => fail("a client without a credential connected"),
      (error) => {
        if (!/401|nauthorized/.test(String(error))) fail(`refused for another reason: ${error}`);
      },
    );

    // A read token for one device.
    const reader = await agent(env("E2E_READ_TOKEN"));
    const { tools } = await reader.listTools();
    const names = tools.map((tool) => tool.name).sort();
    if (JSON.stringify(names) !== JSON.stringify(TOOLS)) fail(`tools: ${names}`);
    for (const tool of tools) {
      if (!tool.description || tool.inputSchema.type !== "object") {
        fail(`${tool.name} lacks a description or an object schema: ${JSON.stringify(tool)}`);
      }
    }
    const send = tools.find((tool) => tool.name === "send_message");
    for (const field of ["deviceId", "chatId", "text"]) {
      if (!send.inputSchema.required.includes(field)) fail(`send_message does not require ${field}`);
      if (!send.inputSchema.properties[field].description) fail(`${field} is not described`);
    }

    const devices = await ok(reader, "list_devices", {});
    const seen = devices.items.map((device) => device.id);
    if (JSON.stringify(seen) !== JSON.stringify([DEVICE])) fail(`the reader sees ${seen}`);
    const status = await ok(reader, "device_status", { deviceId: DEVICE });
    if (status.state !== "ready" || !status.me || !status.governor) {
      fail(`device_status: ${JSON.stringify(status)}`);
    }

    // Chats, a page at a time.
    const first = await ok(reader, "list_chats", { deviceId: DEVICE, limit: 1 });
    if (first.items.length !== 1 || !first.nextCursor) fail(`first page: ${JSON.stringify(first)}`);
    const second = await ok(reader, "list_chats", { deviceId: DEVICE, limit: 1, cursor: first.nextCursor });
    if (second.items.length !== 1 || second.items[0].id === first.items[0].id) {
      fail(`second page: ${JSON.stringify(second)}`);
    }
    const chats = [first.items[0].id, second.items[0].id];
    if (!chats.includes(CHAT)) fail(`${CHAT} is not among ${chats}`);

    const messages = await ok(reader, "read_messages", { deviceId: DEVICE, chatId: CHAT });
    if (!messages.items.some((message) => message.body === env("E2E_SEEN"))) {
      fail(`read_messages: ${JSON.stringify(messages)}`);
    }
    const found = await ok(reader, "search_messages", { deviceId: DEVICE, q: env("E2E_SEARCH") });
    if (found.items.length !== 1 || !found.items[0].body.includes(env("E2E_SEARCH"))) {
      fail(`search_messages: ${JSON.stringify(found)}`);
    }
    // The journal, a page at a time; the QR codes it holds are for `control` credentials only.
    const events = await ok(reader, "list_events", { deviceId: DEVICE, after: 0, limit: 5 });
    const seqs = events.items.map((event) => event.seq);
    if (!seqs.length || seqs.some((seq) => seq > events.nextAfter) || events.head < events.nextAfter) {
      fail(`list_events: ${JSON.stringify(events)}`);
    }
    const later = await ok(reader, "list_events", { deviceId: DEVICE, after: events.nextAfter });
    if (!later.items.length || later.items[0].seq <= events.nextAfter) {
      fail(`list_events read on: ${JSON.stringify(later)}`);
    }
    const types = events.items.concat(later.items).map((event) => event.type);
    if (types.includes("qr") || !types.includes("message")) fail(`journal types: ${types}`);

    // What the token does not grant.
    await refused(reader, "send_message", { deviceId: DEVICE, chatId: CHAT, text: "no" }, "forbidden");
    await refused(reader, "mark_read", { deviceId: DEVICE, chatId: CHAT }, "forbidden");
    await refused(reader, "get_qr", { deviceId: DEVICE }, "forbidden");
    for (const [name, args] of [
      ["list_chats", { deviceId: OTHER }],
      ["read_messages", { deviceId: OTHER, chatId: CHAT }],
      ["search_messages", { deviceId: OTHER, q: env("E2E_SEARCH") }],
      ["device_status", { deviceId: OTHER }],
      ["list_events", { deviceId: OTHER }],
    ]) {
      const message = await refused(reader, name, args, "forbidden");
      if (!message.includes(OTHER)) fail(`${name}: the refusal does not name the device: ${message}`);
    }
    await refused(reader, "list_chats", { deviceId: "No Such Id" }, "invalid_device_id");

    // A send key for the same device, as the bearer.
    const sender = await agent(env("E2E_SEND_KEY"));
    const text = env("E2E_TEXT");
    const args = { deviceId: DEVICE, chatId: CHAT, text, idempotencyKey: "mcp-e2e-1" };
    const sent = await ok(sender, "send_message", args);
    if (!sent.id.startsWith("msg_") || sent.body !== text || !sent.fromMe || sent.chatId !== CHAT) {
      fail(`send_message: ${JSON.stringify(sent)}`);
    }
    const again = await ok(sender, "send_message", args);
    if (again.id !== sent.id) fail(`a retry with the same key sent again: ${again.id} after ${sent.id}`);
    const read = await ok(sender, "mark_read", { deviceId: DEVICE, chatId: CHAT });
    if (!Array.isArray(read.messageIds)) fail(`mark_read: ${JSON.stringify(read)}`);
    await refused(sender, "list_chats", { deviceId: DEVICE }, "forbidden");
    await refused(sender, "send_message", { deviceId: OTHER, chatId: CHAT, text }, "forbidden");
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
});
