// The dashboard in a real browser: Debian's Chromium, driven by playwright-core, against the
// real daemon with a simulator device. Every page is watched: a console error, an uncaught
// exception or a request that leaves the daemon fails the scenario, and so does a serious
// accessibility finding (axe-core) on the fleet, linking or chat view. Besides signing in, the
// live fleet, linking and chatting, it checks what a new user notices first: no connection
// status before signing in, a device's whole card opening it, the QR code's link, read ticks
// that stand out, links in messages, a long message that keeps its chat row in the pane, the
// simulator group's explanation, and the send governor (a paced message's note, the device's
// limits, an admin changing them). Screenshots of the main views are written to
// E2E_SCREENSHOTS for review.
//
// E2E_DEVICE is a linked simulator device whose contacts E2E_ALICE and E2E_BOB echo what they
// are sent (typing first); the scenario creates a second device itself to link it.

const { chromium } = require("playwright-core");
const { main, env, fail, rest } = require("../lib");
const { BASE, KEY, LAUNCH, screenshot, byTestId, expectCount, until, connected, PageWatch } = require("./support");

const pages = new PageWatch();

const DEVICE = env("E2E_DEVICE");
const ALICE = env("E2E_ALICE");
const BOB = env("E2E_BOB");

const api = rest(BASE, KEY);
// While true, the browser's own line about a refused request (the wrong key) is expected.

async function openBrowserTab(browser, who, viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  pages.watch(page, who);
  return { context, page };
}

async function signIn(page, key) {
  await page.goto(`${BASE}/`);
  await page.getByTestId("signin-key").fill(key);
  await page.getByTestId("signin-submit").click();
}

/**
 * WCAG's contrast ratio of the text colour of the first element `selector` matches in
 * `message` against its bubble's background, both as computed.
 */
function contrastInBubble(message, selector) {
  return message.evaluate((element, selector) => {
    const channels = (colour) => colour.match(/[\d.]+/g).slice(0, 3).map(Number);
    const luminance = (colour) => {
      const [r, g, b] = channels(colour).map((c) => {
        const s = c / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const text = luminance(getComputedStyle(element.querySelector(selector)).color);
    const bubble = luminance(getComputedStyle(element.querySelector(".bubble")).backgroundColor);
    return (Math.max(text, bubble) + 0.05) / (Math.min(text, bubble) + 0.05);
  }, selector);
}

/** The messages of the open chat whose text is `text`, going `direction`. */
function messages(page, text, direction) {
  return page
    .locator(byTestId("message", { direction }))
    .filter({ has: page.getByTestId("message-text").getByText(text, { exact: true }) });
}

main(async () => {
  const browser = await chromium.launch(LAUNCH);
  try {
    const first = await openBrowserTab(browser, "first");
    const page = first.page;

    // Signed out there is no connection to speak of: no status, certainly not "Offline".
    await page.goto(`${BASE}/`);
    await page.getByTestId("signin-key").waitFor();
    await expectCount(page.getByTestId("connection-status"), 0, "connection statuses before signing in");

    // A wrong key is refused, with the form still there to try again.
    pages.expected = /401/;
    await signIn(page, "db_not_a_key");
    await page.getByTestId("signin-error").waitFor();
    pages.expected = null;

    // The right one signs in; the key stays out of localStorage and cookies.
    await page.getByTestId("signin-key").fill(KEY);
    await page.getByTestId("signin-submit").click();
    await connected(page);
    await page.locator(byTestId("device-row", { "device-id": DEVICE, state: "ready" })).waitFor();
    const kept = await page.evaluate(() => ({
      local: JSON.stringify({ ...localStorage }),
      cookies: document.cookie,
    }));
    if (kept.local.includes(KEY.slice(-12)) || kept.cookies.includes(KEY.slice(-12))) {
      fail(`the key reached localStorage or a cookie: ${JSON.stringify(kept)}`);
    }

    // The fleet is live: a device created elsewhere appears without a reload.
    await api.expect(201, "POST", "/api/v1/devices", { id: "fresh", name: "Fresh phone" });
    const fresh = page.locator(byTestId("device-row", { "device-id": "fresh" }));
    await fresh.waitFor();
    await screenshot(page, "fleet");
    await pages.audit(page, "the fleet");

    // A device's card: its buttons only do what they say…
    await fresh.getByTestId("device-delete").click();
    await fresh.getByRole("button", { name: "Cancel" }).click();
    await fresh.getByTestId("device-delete").waitFor();
    if (page.url() !== `${BASE}/`) fail(`the card's buttons opened ${page.url()}`);
    // …and the rest of it opens the device: Enter or Space once it has the focus, a click anywhere.
    const card = page.getByRole("link", { name: "Open Fresh phone" });
    for (const key of ["Enter", "Space"]) {
      await card.press(key);
      await page.waitForURL(`${BASE}/devices/fresh`);
      await page.goBack();
      await page.waitForURL(`${BASE}/`);
    }

    // Linking: the live QR with its countdown, scanned by the simulated phone.
    await card.getByText("Connector").click();
    await page.waitForURL(`${BASE}/devices/fresh`);
    await page.getByTestId("qr-code").waitFor();
    const left = Number((await page.getByTestId("qr-countdown").textContent()).replace(/\D+/g, ""));
    if (!(left > 0)) fail(`the QR countdown shows no seconds left: ${left}`);
    // It offers the code's link, and says once that it waits for a scan.
    const { qr } = await api.expect(200, "GET", "/api/v1/devices/fresh/qr");
    if ((await page.getByTestId("qr-link").getAttribute("href")) !== qr) fail("the QR link is not the code's");
    await expectCount(page.getByText("Waiting for a scan", { exact: true }), 1, "“Waiting for a scan” on the page");
    await screenshot(page, "linking");
    await pages.audit(page, "a device's linking view");
    await page.getByTestId("qr-simulate-scan").click();
    await page.locator(byTestId("device-state", { state: "ready" })).waitFor();

    // A chat, as in WhatsApp Web: send, watch the ticks reach `read`, the contact type and
    // answer.
    await page.goto(`${BASE}/devices/${DEVICE}/chats/${encodeURIComponent(ALICE)}`);
    await connected(page);
    await page.getByTestId("composer-input").fill("hello from the browser");
    await page.getByTestId("composer-send").click();
    const ours = messages(page, "hello from the browser", "out");
    await ours.first().waitFor();
    await page.getByTestId("typing-indicator").waitFor({ state: "visible" });
    await page
      .locator(`${byTestId("message", { direction: "out", ack: "read" })}`)
      .filter({ hasText: "hello from the browser" })
      .first()
      .waitFor();
    await messages(page, "hello from the browser", "in").first().waitFor();
    // Read ticks stand out on our green bubble (WCAG AA: 4.5:1), and so does the time beside them.
    const read = page.locator(byTestId("message", { direction: "out", ack: "read" })).first();
    for (const [what, selector] of [["read ticks", ".ticks.read"], ["time", "time"]]) {
      const ratio = await contrastInBubble(read, selector);
      if (!(ratio >= 4.5)) fail(`the ${what} on our bubble have a contrast of ${ratio.toFixed(2)}:1`);
    }
    await screenshot(page, "chat");
    await pages.audit(page, "a chat");

    // A long message: the chat list cuts its preview short, keeping the row (and its time) in
    // the pane.
    const long = `a long message ${"that goes on and on ".repeat(20)}until it ends`;
    await page.getByTestId("composer-input").fill(long);
    await page.getByTestId("composer-send").click();
    await messages(page, long, "out").first().waitFor();
    const alice = page.locator(byTestId("chat-row", { "chat-id": ALICE }));
    await alice.getByText(long).waitFor();
    await until(
      () =>
        alice.evaluate((row) => {
          const time = row.querySelector("time").getBoundingClientRect();
          const box = row.getBoundingClientRect();
          const preview = row.querySelector(".chat-preview");
          return (row.scrollWidth <= row.clientWidth && time.right <= box.right && preview.scrollWidth > preview.clientWidth) ||
            { scrollWidth: row.scrollWidth, clientWidth: row.clientWidth, time: time.right, row: box.right };
        }),
      "the chat row of a long message fits its pane, the preview cut short",
    );

    // The simulated phone's own group says what it is.
    await page.locator(byTestId("chat-row")).filter({ hasText: "Simulator group" }).click();
    await page.getByTestId("chat-info").getByText("simulated phone's own group").waitFor();
    await screenshot(page, "chat-group");
    await page.goto(`${BASE}/devices/${DEVICE}/chats/${encodeURIComponent(ALICE)}`);
    await connected(page);

    // A second browser sees what the first sends, live.
    const second = await openBrowserTab(browser, "second", { width: 375, height: 740 });
    await signIn(second.page, KEY);
    await connected(second.page);
    await second.page.goto(`${BASE}/devices/${DEVICE}/chats/${encodeURIComponent(ALICE)}`);
    await connected(second.page);
    await page.getByTestId("composer-input").fill("seen by both");
    await page.getByTestId("composer-send").click();
    await messages(second.page, "seen by both", "out").first().waitFor();

    // A message in another chat raises its unread badge beside the open one.
    await api.expect(202, "POST", `/api/v1/devices/${DEVICE}/chats/${encodeURIComponent(BOB)}/messages`, {
      text: "ping bob",
    });
    const bob = page.locator(byTestId("chat-row", { "chat-id": BOB }));
    await bob.getByTestId("chat-unread").waitFor();
    const unread = Number(await bob.getByTestId("chat-unread").textContent());
    if (!(unread >= 1)) fail(`Bob's unread badge shows ${unread}`);

    // A reload of a deep link shows the same chat, each message once.
    await page.reload();
    await connected(page);
    await expectCount(messages(page, "hello from the browser", "out"), 1, "our message after a reload");
    await expectCount(messages(page, "seen by both", "out"), 1, "the second message after a reload");

    // Offline, then online again: what was missed arrives, once. A reconnection tried while
    // offline is the browser's own line about a request it could not make, and expected.
    pages.expected = /ERR_INTERNET_DISCONNECTED/;
    await second.context.setOffline(true);
    await second.page
      .locator(`${byTestId("connection-status", { status: "reconnecting" })}, ${byTestId("connection-status", { status: "offline" })}`)
      .waitFor();
    await api.expect(202, "POST", `/api/v1/devices/${DEVICE}/chats/${encodeURIComponent(ALICE)}/messages`, {
      text: "while you were away",
    });
    await second.context.setOffline(false);
    await connected(second.page);
    pages.expected = null;
    await messages(second.page, "while you were away", "out").first().waitFor();
    await expectCount(messages(second.page, "while you were away", "out"), 1, "the missed message");
    await expectCount(messages(second.page, "seen by both", "out"), 1, "a message seen before the drop");
    await screenshot(second.page, "chat-narrow");

    // Web addresses in a message are links that open in a new tab, with no hold on this page;
    // everything else in it stays text, markup and other schemes included.
    const linked =
      "see https://example.com/a?b=1, www.example.org/page. <script>window.__injected = true</script> " +
      '<img src=x onerror="window.__injected = true"> javascript:alert(1) (https://example.net)!';
    await page.getByTestId("composer-input").fill(linked);
    await page.getByTestId("composer-send").click();
    for (const direction of ["out", "in"]) {
      const message = messages(page, linked, direction).first();
      await message.waitFor();
      const links = await message.getByTestId("message-link").evaluateAll((anchors) =>
        anchors.map((a) => ({ href: a.getAttribute("href"), text: a.textContent, target: a.target, rel: a.rel })),
      );
      const expected = [
        ["https://example.com/a?b=1", "https://example.com/a?b=1"],
        ["https://www.example.org/page", "www.example.org/page"],
        ["https://example.net", "https://example.net"],
      ].map(([href, text]) => ({ href, text, target: "_blank", rel: "noopener noreferrer" }));
      if (JSON.stringify(links) !== JSON.stringify(expected)) fail(`the links of our ${direction} message: ${JSON.stringify(links)}`);
      const markup = await message.getByTestId("message-text").evaluate((text) => text.querySelectorAll("script, img").length);
      if (markup !== 0) fail(`the message's text was read as markup (${markup} elements)`);
    }
    if (await page.evaluate(() => window.__injected === true)) fail("the message's markup ran");
    // Opened, a link gets a tab of its own that cannot reach this one, and no referrer; the
    // address is answered here, never by the network.
    await first.context.route("https://example.com/**", (route) => route.fulfill({ contentType: "text/html", body: "elsewhere" }));
    const chatUrl = page.url();
    const [tab] = await Promise.all([
      first.context.waitForEvent("page"),
      messages(page, linked, "out").first().getByTestId("message-link").first().click(),
    ]);
    await tab.waitForLoadState();
    const opened = await tab.evaluate(() => ({ url: location.href, noOpener: window.opener === null, referrer: document.referrer }));
    if (opened.url !== "https://example.com/a?b=1" || !opened.noOpener || opened.referrer !== "") {
      fail(`the link opened ${JSON.stringify(opened)}`);
    }
    await tab.close();
    if (page.url() !== chatUrl) fail(`the link moved the page from ${chatUrl} to ${page.url()}`);
    await pages.audit(page, "a chat with links");

    // The send governor, turned on with a pace of 2 a minute (a quarter of it while the newly
    // linked account warms up) and a burst of 1: of two messages sent at once, the second waits
    // with a note of when it goes, and the device's page says where the governor stands.
    await api.expect(200, "PATCH", `/api/v1/devices/${DEVICE}`, { governor: { enabled: true, per_minute: 2, burst: 1 } });
    for (const text of ["paced first", "paced second"]) {
      await page.getByTestId("composer-input").fill(text);
      await page.getByTestId("composer-send").click();
    }
    const hold = messages(page, "paced second", "out").locator(byTestId("message-hold", { reason: "paced" }));
    await hold.waitFor();
    if (!/^Scheduled for \d{1,2}:\d{2}/.test(await hold.textContent())) fail(`the paced note reads ${await hold.textContent()}`);
    if ((await messages(page, "paced first", "out").getByTestId("message-hold").count()) !== 0) {
      fail("the message within the burst shows a hold");
    }
    await screenshot(page, "chat-paced");
    await pages.audit(page, "a chat with a paced message");
    await page.goto(`${BASE}/devices/${DEVICE}`);
    await connected(page);
    const governor = page.locator(byTestId("governor", { enabled: "true" }));
    const reads = (id, pattern) =>
      until(async () => {
        const text = await governor.getByTestId(`governor-line-${id}`).locator("dd").textContent();
        return pattern.test(text) || text;
      }, `the governor's ${id} line`);
    await reads("minute", /^\d+ of 1 messages \(2 once warmed up\)$/);
    await reads("warmup", /^25% of the limits \(newly linked\)$/);
    await reads("new-chats", /^\d+ of 12 \(50 once warmed up\)$/);
    await reads("next-send", /\(in \d+ (s|min)\)$/);
    await screenshot(page, "governor");
    // An admin changes the limits from the page: the daemon's refusal is shown as it says it
    // (the browser's own line about the 400 is expected), then a change is saved.
    await governor.getByTestId("governor-edit").click();
    const form = governor.getByTestId("governor-form");
    await form.getByTestId("governor-form-burst").fill("0");
    pages.expected = /status of 400/;
    await form.getByTestId("governor-form-save").click();
    await form.getByRole("alert").getByText("`governor.burst` must be from 1 to 1000, got 0", { exact: false }).waitFor();
    await pages.audit(page, "the governor's form with the daemon's refusal");
    pages.expected = null;
    await form.getByTestId("governor-form-burst").fill("1");
    await form.getByTestId("governor-form-per-minute").fill("3");
    await form.getByTestId("governor-form-save").click();
    await form.waitFor({ state: "detached" });
    const changed = await api.expect(200, "GET", `/api/v1/devices/${DEVICE}`);
    if (changed.governor.limits.perMinute !== 3 || changed.governor.limits.burst !== 1) {
      fail(`the form's change reached the daemon as ${JSON.stringify(changed.governor.limits)}`);
    }

    pages.check();
  } finally {
    await browser.close();
  }
});
