// The operator's pages in a real browser: Debian's Chromium, driven by playwright-core, against
// the real daemon with a simulator device. The event monitor (/events) shows the journal's
// history, then live events, filters them, pauses without losing any and exports them; the
// admin page (/admin) counts the connections, this page's own among them, creates an API key
// that works until it is revoked, and a webhook whose deliveries it lists and replays. As in
// dashboard.js every page is watched: a console error,
// an uncaught exception or a request that leaves the daemon fails the scenario, and so does a
// serious accessibility finding on either page (axe-core). Screenshots (events.png, admin.png)
// are written to E2E_SCREENSHOTS.
//
// E2E_DEVICE is a linked simulator device whose contact E2E_ALICE echoes what it is sent. The
// daemon must take webhook URLs on private addresses (`webhooks.allow_private`, e.g.
// DEVICEBRIDGE__WEBHOOKS__ALLOW_PRIVATE=true): the webhook points at the discard port of
// 127.0.0.1, which refuses every delivery, so each waits for its retry.

const fs = require("node:fs");
const { chromium } = require("playwright-core");
const { main, env, fail, rest, restBearer, show } = require("../lib");
const { BASE, KEY, LAUNCH, screenshot, byTestId, expectCount, until, connected, PageWatch } = require("./support");

const pages = new PageWatch();

const DEVICE = env("E2E_DEVICE");
const ALICE = env("E2E_ALICE");
const HOOK_URL = "http://127.0.0.1:9/hook";

const api = rest(BASE, KEY);
// Each run's own texts and names, so that a daemon used before shows nothing that matches.
const RUN = Date.now().toString(36);

/** Sends a text to Alice over REST; resolves with the accepted message. */
function sendToAlice(text) {
  return api.expect(202, "POST", `/api/v1/devices/${DEVICE}/chats/${encodeURIComponent(ALICE)}/messages`, { text });
}

/** The monitor's rows of `event` whose text (their summary) holds `text`. */
function eventRows(page, event, text) {
  return page.locator(byTestId("event-row", { event })).filter({ hasText: text });
}

main(async () => {
  const browser = await chromium.launch(LAUNCH);
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    const page = await context.newPage();
    pages.watch(page, "operator");

    await page.goto(`${BASE}/`);
    await page.getByTestId("signin-key").fill(KEY);
    await page.getByTestId("signin-submit").click();
    await connected(page);
    await page.locator(byTestId("device-row", { "device-id": DEVICE, state: "ready" })).waitFor();

    // ---- The admin's counters, before any device is opened -----------------------------------

    // The page's own connection (to the root namespace) counts: the admin sees every device, so
    // every connection, as many as /metrics tells.
    await page.getByRole("link", { name: "Admin", exact: true }).click();
    await page.waitForURL(`${BASE}/admin`);
    const connections = page.locator(`${byTestId("stats")} [data-stat="connections"]`);
    await until(async () => {
      const shown = Number((await connections.textContent()).replace(/\D+/g, ""));
      const metrics = await (await fetch(`${BASE}/metrics`)).text();
      const open = Number(/^devicebridge_socket_connections (\d+)$/m.exec(metrics)?.[1]);
      if (shown >= 1 && shown === open) return true;
      await page.getByTestId("stats-refresh").click();
      return { shown, open };
    }, "the admin's count of Socket.IO connections, this page's own among them");

    // ---- The event monitor -----------------------------------------------------------------

    // History first: the device's journal from before the page was opened (its linking, at
    // least), newest first.
    const { head } = await api.expect(200, "GET", `/api/v1/devices/${DEVICE}/events?after=0&limit=1`);
    if (!(head > 0)) fail(`the device has journaled nothing: ${head}`);
    await page.getByRole("link", { name: "Events", exact: true }).click();
    await page.waitForURL(`${BASE}/events`);
    const deviceRows = page.locator(byTestId("event-row", { "device-id": DEVICE }));
    await until(async () => {
      const seqs = await deviceRows.evaluateAll((rows) => rows.map((row) => Number(row.dataset.seq)));
      return seqs.includes(head) && seqs.every((seq, i) => seq > 0 && (i === 0 || seq < seqs[i - 1]));
    }, `the history's rows, newest first, up to seq ${head}`);

    // Live: a message sent over REST shows at once, then its acks.
    const first = await sendToAlice(`monitor ${RUN}`);
    await eventRows(page, "message", first.id).first().waitFor();
    await eventRows(page, "message:ack", first.id).first().waitFor();

    // The filter matches event names…
    const filter = page.getByTestId("event-filter");
    await filter.fill("message:ack");
    await expectCount(page.locator(`${byTestId("event-row")}:not([data-event="message:ack"])`), 0, "rows other than message:ack");
    await eventRows(page, "message:ack", first.id).first().waitFor();
    // …and text in the payload: the message's id finds its events, the message once.
    await filter.fill(first.id);
    await expectCount(eventRows(page, "message", first.id), 1, "the sent message's row");
    await expectCount(page.locator(byTestId("event-row", { event: "state" })), 0, "state rows under the id's filter");

    // A row opens its JSON.
    await eventRows(page, "message", first.id).click();
    const detail = JSON.parse(await page.getByTestId("event-detail").textContent());
    if (detail.type !== "message" || detail.data.id !== first.id || detail.data.body !== `monitor ${RUN}`) {
      fail(`the event's detail: ${show(detail)}`);
    }

    // What is shown downloads as NDJSON, made in the page (a blob: URL).
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("event-export").click()]);
    if (!download.url().startsWith("blob:")) fail(`the export's URL: ${download.url()}`);
    const lines = fs.readFileSync(await download.path(), "utf8").trimEnd().split("\n").map((line) => JSON.parse(line));
    if (!lines.some((e) => e.type === "message" && e.data.id === first.id)) fail(`the export lacks the message: ${show(lines)}`);
    if (lines.some((e) => !JSON.stringify(e).includes(first.id))) fail("the export holds events the filter hides");
    if (lines.some((e, i) => i > 0 && e.deviceId === lines[i - 1].deviceId && e.seq <= lines[i - 1].seq)) {
      fail(`the export is not oldest first: ${show(lines.map((e) => e.seq))}`);
    }

    // Paused, a new event does not show; resumed, it shows, once.
    await filter.fill("");
    await page.getByTestId("event-pause").click();
    await page.locator(byTestId("event-pause", { paused: "true" })).waitFor();
    const second = await sendToAlice(`while paused ${RUN}`);
    // It has arrived (it is held)…
    await page.locator(`${byTestId("event-held")}:not([data-held="0"])`).waitFor();
    await filter.fill(second.id);
    // …and is not shown.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await expectCount(eventRows(page, "message", second.id), 0, "the message sent while paused, before resuming");
    await page.getByTestId("event-pause").click();
    await page.locator(byTestId("event-pause", { paused: "false" })).waitFor();
    await expectCount(eventRows(page, "message", second.id), 1, "the message sent while paused, after resuming");
    await eventRows(page, "message:ack", second.id).first().waitFor();
    await filter.fill("");
    await page.getByTestId("event-row").first().click();
    await page.getByTestId("event-detail").waitFor();
    await screenshot(page, "events");
    await pages.audit(page, "/events");

    // ---- Admin: API keys ---------------------------------------------------------------------

    await page.getByRole("link", { name: "Admin", exact: true }).click();
    await page.waitForURL(`${BASE}/admin`);
    const keyName = `operator ${RUN}`;
    await page.getByTestId("key-form-name").fill(keyName);
    await page.locator(byTestId("key-form-device", { "device-id": DEVICE })).check();
    for (const scope of ["read", "send", "control", "admin"]) {
      await page.locator(byTestId("key-form-scope", { scope })).setChecked(scope === "read");
    }
    await page.getByTestId("key-create").click();
    await page.getByTestId("key-secret").waitFor();
    await expectCount(page.getByTestId("key-secret"), 1, "the new key's secret");
    const secret = (await page.getByTestId("key-secret").textContent()).trim();
    if (!secret.startsWith("dbk_")) fail(`the key's secret: ${secret}`);
    const created = (await api.expect(200, "GET", "/api/v1/keys")).items.find((k) => k.name === keyName);
    if (!created || show(created.devices) !== show([DEVICE]) || show(created.scopes) !== show(["read"])) {
      fail(`the key as created: ${show(created)}`);
    }
    const keyRow = page.locator(byTestId("key-row", { "key-id": created.id }));
    await keyRow.waitFor();

    // Shown once: gone when dismissed, and not shown again after a reload.
    await page.getByTestId("secret-done").click();
    await expectCount(page.getByTestId("key-secret"), 0, "the key's secret once dismissed");
    await page.reload();
    await connected(page);
    await keyRow.waitFor();
    await expectCount(page.getByTestId("key-secret"), 0, "the key's secret after a reload");

    // The key works over REST for its device, until it is revoked.
    const asNewKey = rest(BASE, secret);
    await asNewKey.expect(200, "GET", `/api/v1/devices/${DEVICE}`);
    await keyRow.getByTestId("key-revoke").click();
    await keyRow.getByTestId("key-revoke-confirm").click();
    await expectCount(keyRow, 0, "the revoked key's row");
    await asNewKey.expect(401, "GET", `/api/v1/devices/${DEVICE}`);

    // ---- Admin: an access token for someone else ---------------------------------------------

    await page.getByTestId("token-form-sub").fill(`reader ${RUN}`);
    await page.locator(byTestId("token-form-device", { "device-id": DEVICE })).check();
    await page.getByTestId("token-form-ttl").selectOption("900");
    await page.getByTestId("token-issue").click();
    const token = (await page.getByTestId("token-secret").textContent()).trim();
    const asToken = restBearer(BASE, token);
    await asToken.expect(200, "GET", `/api/v1/devices/${DEVICE}`);
    await asToken.expect(403, "GET", "/api/v1/keys");
    await page.getByTestId("secret-done").click();
    await expectCount(page.getByTestId("token-secret"), 0, "the token once dismissed");

    // ---- Admin: a webhook and its deliveries ---------------------------------------------------

    await page.getByTestId("webhook-add").click();
    await page.getByTestId("webhook-form-url").fill(HOOK_URL);
    await page.locator(byTestId("webhook-form-event", { event: "*" })).setChecked(false);
    for (const event of ["message", "message:ack"]) await page.locator(byTestId("webhook-form-event", { event })).check();
    await page.locator(byTestId("webhook-form-device", { "device-id": "*" })).setChecked(false);
    await page.locator(byTestId("webhook-form-device", { "device-id": DEVICE })).check();
    await page.getByTestId("webhook-form-submit").click();
    await page.getByTestId("webhook-secret").waitFor();
    const signing = (await page.getByTestId("webhook-secret").textContent()).trim();
    if (!signing.startsWith("whsec_")) fail(`the webhook's secret: ${signing}`);
    const hook = (await api.expect(200, "GET", "/api/v1/webhooks")).items.find((w) => w.url === HOOK_URL);
    if (!hook || show(hook.devices) !== show([DEVICE]) || show(hook.events) !== show(["message", "message:ack"])) {
      fail(`the webhook as created: ${show(hook)}`);
    }
    await page.getByTestId("secret-done").click();
    const hookRow = page.locator(byTestId("webhook-row", { "webhook-id": hook.id, enabled: "true" }));
    await hookRow.waitFor();

    // An event makes a delivery, listed with its status and attempts; a replay sends it again.
    await hookRow.getByTestId("webhook-deliveries").click();
    await sendToAlice(`hooked ${RUN}`);
    const delivery = hookRow.getByTestId("delivery-row").first();
    await delivery.waitFor();
    const status = await delivery.getAttribute("data-status");
    if (!["pending", "retrying", "failed", "delivered"].includes(status)) fail(`a delivery's status: ${status}`);
    const [replayed] = await Promise.all([
      page.waitForResponse((r) => r.url().includes("/api/v1/webhooks/deliveries/") && r.request().method() === "POST"),
      delivery.getByTestId("delivery-replay").click(),
    ]);
    if (replayed.status() !== 202) fail(`the replay: ${replayed.status()}`);
    const log = await api.expect(200, "GET", `/api/v1/webhooks/${hook.id}/deliveries`);
    if (!log.items.some((d) => d.type === "message" && d.deviceId === DEVICE)) fail(`the delivery log: ${show(log)}`);

    // Edited: one event fewer.
    await hookRow.getByTestId("webhook-edit").click();
    await hookRow.locator(byTestId("webhook-form-event", { event: "message:ack" })).uncheck();
    await hookRow.getByTestId("webhook-form-submit").click();
    await hookRow.getByTestId("webhook-edit").waitFor();
    const edited = await api.expect(200, "GET", `/api/v1/webhooks/${hook.id}`);
    if (show(edited.events) !== show(["message"]) || show(edited.devices) !== show([DEVICE])) fail(`the webhook as edited: ${show(edited)}`);

    // Disabled and enabled again.
    await hookRow.getByTestId("webhook-toggle").click();
    const disabled = page.locator(byTestId("webhook-row", { "webhook-id": hook.id, enabled: "false" }));
    await disabled.waitFor();
    await disabled.getByTestId("webhook-toggle").click();
    await hookRow.waitFor();
    await page.getByTestId("stats").waitFor();
    // The page scrolls inside the window: a window as tall as the page shows all of it.
    const height = await page.locator("main.admin").evaluate((main) => main.scrollHeight + main.offsetTop);
    await page.setViewportSize({ width: 1280, height: Math.min(4000, height) });
    await screenshot(page, "admin");
    await pages.audit(page, "/admin");
    await page.setViewportSize({ width: 1280, height: 900 });

    // Deleted, with its log.
    await hookRow.getByTestId("webhook-delete").click();
    await page.locator(byTestId("webhook-row", { "webhook-id": hook.id })).getByTestId("webhook-delete-confirm").click();
    await expectCount(page.locator(byTestId("webhook-row", { "webhook-id": hook.id })), 0, "the deleted webhook's row");
    await api.expect(404, "GET", `/api/v1/webhooks/${hook.id}`);

    pages.check();
  } finally {
    await browser.close();
  }
});
