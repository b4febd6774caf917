"use strict";
// The API browser at /docs, run as a browser would run it: its script, against a minimal DOM,
// loads /docs-json, draws every operation (the file upload included) with the scope it needs,
// and sends a request with the key typed into it.
//
// Environment: E2E_URL, E2E_ADMIN_KEY.

const vm = require("vm");
const { fail, main, env, show } = require("./lib");

const WAIT_MS = 10000;

/** The few DOM nodes the page uses: attributes, children, text, values and listeners. */
class Node {
  constructor(tag) {
    this.tag = tag;
    this.attributes = {};
    this.children = [];
    this.listeners = {};
    this.textContent = "";
    this.value = "";
    this.files = [];
  }
  setAttribute(name, value) {
    this.attributes[name] = String(value);
  }
  append(...children) {
    for (const child of children) {
      this.children.push(typeof child === "string" ? Object.assign(new Node("#text"), { textContent: child }) : child);
    }
  }
  addEventListener(event, listener) {
    (this.listeners[event] = this.listeners[event] || []).push(listener);
  }
  all(predicate, found = []) {
    if (predicate(this)) found.push(this);
    this.children.forEach((child) => child.all(predicate, found));
    return found;
  }
  text() {
    return this.textContent + this.children.map((child) => child.text()).join("");
  }
}

async function until(what, test) {
  const deadline = Date.now() + WAIT_MS;
  while (!test()) {
    if (Date.now() > deadline) fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

main(async () => {
  const url = env("E2E_URL");
  const page = await (await fetch(`${url}/docs`)).text();
  const script = page.slice(page.indexOf("<script>") + "<script>".length, page.indexOf("</script>"));
  const ids = { key: new Node("input"), intro: new Node("p"), error: new Node("p"), operations: new Node("div") };
  const document = {
    getElementById: (id) => ids[id],
    createElement: (tag) => new Node(tag),
  };
  const localStorage = { getItem: () => null, setItem: () => {} };
  const pageFetch = (path, init) => fetch(new URL(path, url), init);
  vm.runInNewContext(script, { document, localStorage, fetch: pageFetch, console, URL, JSON });

  await until("the operations to be drawn", () => ids.operations.children.length > 0 || ids.error.textContent);
  if (ids.error.textContent) fail(`the page failed: ${ids.error.textContent}`);
  const doc = await (await fetch(`${url}/docs-json`)).json();
  const expected = Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0);
  if (ids.operations.children.length !== expected) {
    fail(`drew ${ids.operations.children.length} operations of ${expected}`);
  }
  const files = ids.operations.all((node) => node.attributes.type === "file");
  if (files.length === 0) fail("the upload has no file input");

  // GET /api/v1/devices with the typed key: the answer is shown.
  ids.key.value = env("E2E_ADMIN_KEY");
  const devices = ids.operations.children.find((operation) => {
    const text = operation.children[0].text();
    return text.startsWith("GET/api/v1/devices") && !text.startsWith("GET/api/v1/devices/");
  });
  if (!devices) fail("no GET /api/v1/devices operation");
  // The scope each operation needs is read from its security requirement.
  const summaryOf = (method, path) => ids.operations.children
    .map((operation) => operation.children[0].text())
    .find((text) => text.startsWith(`${method}${path}`) && !text.startsWith(`${method}${path}/`));
  for (const [method, path, scope] of [
    ["GET", "/api/v1/devices", "scope: read"],
    ["POST", "/api/v1/tokens", "any credential"],
    ["GET", "/health", "no authentication"],
  ]) {
    const summary = summaryOf(method, path) || "";
    if (!summary.endsWith(scope)) fail(`${method} ${path} shows ${show(summary)}, not ${scope}`);
  }
  const [button] = devices.all((node) => node.tag === "button");
  const [output] = devices.all((node) => node.tag === "pre");
  button.listeners.click.forEach((listener) => listener());
  await until("the answer", () => output.textContent.startsWith("200"));
  if (!output.textContent.includes('"items"')) fail(`unexpected answer: ${show(output.textContent)}`);
});
