// The chat's message actions in a real browser: Debian's Chromium, driven by playwright-core,
// against the real daemon with a simulator device. It replies to a message (the reply shows
// the quote), reacts, deletes one of our messages for everyone, sends a picture with a caption
// through the file picker's preview, sees it load and opens it in the page's viewer, and has
// two tabs agree on which of them shows a desktop notification. Every page is watched as in
// dashboard.js: a console error, an uncaught exception or a request that leaves the daemon
// fails the scenario, and so does the API key in any request's URL (pictures load with the
// access token, never the key), or a serious accessibility finding (axe-core) with the preview,
// the viewer or a message's menu open.
//
// E2E_DEVICE is a linked simulator device whose contacts E2E_ALICE and E2E_BOB echo what they
// are sent (quoting it). A screenshot of the chat with its actions is written to
// E2E_SCREENSHOTS as chat-actions.png, with upload-preview.png and image-viewer.png.

const { chromium } = require("playwright-core");
const { main, env, fail, rest } = require("../lib");
const { BASE, KEY, WAIT_MS, LAUNCH, screenshot, byTestId, until, connected, PageWatch } = require("./support");

const pages = new PageWatch();

const DEVICE = env("E2E_DEVICE");
const ALICE = env("E2E_ALICE");
const BOB = env("E2E_BOB");

// As in dashboard.js: Debian's Chromium, sandbox-less, with nothing that phones home.

// A 16×16 PNG (a green and white checkerboard), small enough to upload in one go.
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAIklEQVR42mP4jwQYGjLhCJc4wyDUQIwiFPFBqGE0HgaFBgATVPMQmW+IcwAAAABJRU5ErkJggg==",
  "base64",
);

const api = rest(BASE, KEY);
// Texts unique to this run, so a daemon that ran the scenario before does not confuse it.
const run = Date.now().toString(36);

async function openBrowserTab(context, who) {
  const page = await context.newPage();
  pages.watch(page, who);
  return page;
}

async function signIn(page) {
  await page.goto(`${BASE}/`);
  await page.getByTestId("signin-key").fill(KEY);
  await page.getByTestId("signin-submit").click();
  await connected(page);
}

async function send(page, text) {
  await page.getByTestId("composer-input").fill(text);
  await page.getByTestId("composer-send").click();
  const sent = messages(page, text, "out");
  await sent.waitFor();
  return sent;
}

/** The messages of the open chat whose text is `text`, going `direction`, stored by the server. */
function messages(page, text, direction) {
  return page
    .locator(`${byTestId("message", { direction })}[data-message-id^="msg_"]`)
    .filter({ has: page.getByTestId("message-text").getByText(text, { exact: true }) });
}

/** Opens a message's menu and picks one of its actions. */
async function act(message, action) {
  await message.getByTestId("message-menu").click();
  await message.getByTestId(action).click();
}

// In the tabs that test notifications: a stand-in for the Notification API that records what
// the page shows and closes (a headless browser has no desktop to show them on), with the
// permission granted as if the person had clicked "Enable notifications".
function fakeNotifications() {
  window.__notifications = [];
  class RecordedNotification {
    static permission = "granted";
    static requestPermission() {
      return Promise.resolve("granted");
    }
    constructor(title, options = {}) {
      this.title = title;
      this.body = options.body;
      this.tag = options.tag;
      this.closed = false;
      this.onclick = null;
      this.onclose = null;
      window.__notifications.push(this);
    }
    close() {
      this.closed = true;
    }
  }
  window.Notification = RecordedNotification;
}

const shownIn = (page, text) =>
  page.evaluate(
    (text) => window.__notifications.filter((n) => (n.body || "").includes(text)).map((n) => ({ title: n.title, closed: n.closed })),
    text,
  );

main(async () => {
  const browser = await chromium.launch(LAUNCH);
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await openBrowserTab(context, "chat");
    await signIn(page);
    await page.goto(`${BASE}/devices/${DEVICE}/chats/${encodeURIComponent(ALICE)}`);
    await connected(page);

    // Reply: Alice echoes our message quoting it; we answer her echo, and the answer shows
    // her message above its text.
    const original = `quote me ${run}`;
    await send(page, original);
    const echo = messages(page, original, "in");
    await echo.waitFor();
    await echo.getByTestId("message-quote").getByText(original).waitFor();
    await act(echo, "message-reply");
    await page.getByTestId("composer-quote").getByText(original).waitFor();
    const answer = `an answer ${run}`;
    const replied = await send(page, answer);
    await replied.getByTestId("message-quote").getByText(original).waitFor();
    if ((await page.getByTestId("composer-quote").count()) !== 0) fail("the composer still quotes after sending");

    // React to Alice's message: the reaction shows under it, from the `message:reaction` event.
    await act(echo, "message-react");
    await echo.locator(byTestId("reaction-choice", { emoji: "👍" })).click();
    await echo.getByTestId("message-reactions").locator('[data-emoji="👍"]').waitFor();

    // Delete one of ours for everyone: it keeps its place, saying so.
    const doomed = await send(page, `delete me ${run}`);
    const doomedId = await doomed.getAttribute("data-message-id");
    await act(doomed, "message-revoke");
    const deleted = page.locator(byTestId("message", { "message-id": doomedId }));
    await deleted.getByTestId("message-text").getByText("This message was deleted", { exact: true }).waitFor();
    if ((await deleted.getByTestId("message-menu").count()) !== 0) fail("a deleted message still has its menu");

    // A picture through the file picker: previewed first, and nothing is sent if that is
    // cancelled.
    const fileName = `dot-${run}.png`;
    const attach = () => page.getByTestId("composer-attach").setInputFiles({ name: fileName, mimeType: "image/png", buffer: PNG });
    const preview = page.getByTestId("upload-preview");
    await attach();
    await preview.waitFor();
    await until(
      () => preview.locator("img").evaluate((img) => (img.src.startsWith("blob:") && img.complete && img.naturalWidth > 0) || img.src),
      "the picked picture shows in the preview",
    );
    await page.getByTestId("upload-cancel").click();
    await preview.waitFor({ state: "hidden" });
    const uploads = () => pages.requests.filter((r) => r.method === "POST" && /\/api\/v1\/devices\/[^/]+\/media\?/.test(r.url));
    if (uploads().length !== 0) fail("a cancelled preview uploaded its file");

    // Picked again with a caption: uploaded with the token in a header, sent with its caption,
    // and shown inline from a URL signed with the token; it must actually load.
    await attach();
    await preview.waitFor();
    await screenshot(page, "upload-preview");
    await pages.audit(page, "a chat, files to send previewed");
    const caption = `a caption ${run}`;
    await page.getByTestId("upload-caption").fill(caption);
    await page.getByTestId("upload-send").click();
    await preview.waitFor({ state: "hidden" });
    const ourPicture = `img${byTestId("message-media")}[alt="${fileName}"]`;
    const sentPicture = messages(page, caption, "out").filter({ has: page.locator(ourPicture) });
    const picture = sentPicture.locator(ourPicture);
    await picture.waitFor();
    await until(
      () => picture.evaluate((img) => img.complete && img.naturalWidth > 0 || `${img.complete} ${img.naturalWidth}`),
      "the picture we sent loads",
    );
    const src = await picture.evaluate((img) => img.src);
    if (!src.startsWith(`${BASE}/api/v1/devices/`) || !src.includes("access_token=")) {
      fail(`the picture loads from ${src}, not the daemon's media URL with an access token`);
    }
    const [upload] = uploads();
    if (!upload) fail("no upload request was seen");
    const stored = await api.expect(200, "GET", `/api/v1/devices/${DEVICE}/messages/${await sentPicture.getAttribute("data-message-id")}`);
    if (stored.body !== caption || !stored.media) fail(`the picture was not stored with its caption: ${JSON.stringify(stored)}`);

    // Clicked, the picture opens in the page's viewer, which Escape closes, and so does its
    // close button.
    const viewer = page.getByTestId("image-viewer");
    await picture.click();
    await viewer.waitFor();
    await until(
      () => viewer.locator("img").evaluate((img) => (img.complete && img.naturalWidth > 0) || img.src),
      "the picture shows in the viewer",
    );
    await viewer.getByText(caption).waitFor();
    if (context.pages().length !== 1) fail("the picture opened a tab");
    await screenshot(page, "image-viewer");
    await pages.audit(page, "a chat, a picture in the viewer");
    await page.keyboard.press("Escape");
    await viewer.waitFor({ state: "hidden" });
    await picture.click();
    await viewer.waitFor();
    await page.getByTestId("image-viewer-close").click();
    await viewer.waitFor({ state: "hidden" });
    if (!upload.bearer) fail(`the upload carried no bearer token: ${upload.url}`);
    // Alice echoes the picture too, quoting it. Its menu, open on the reactions, is the screenshot.
    const echoedPicture = page.locator(byTestId("message", { direction: "in" })).filter({ has: page.locator(ourPicture) });
    await echoedPicture.getByTestId("message-quote").waitFor();
    await act(echoedPicture, "message-react");
    await echoedPicture.getByTestId("reaction-choice").first().waitFor();
    await screenshot(page, "chat-actions");
    await pages.audit(page, "a chat, a message's menu open on its reactions");
    await page.keyboard.press("Escape");
    await echoedPicture.getByTestId("message-react").waitFor({ state: "detached" });

    // Notifications across tabs: two tabs of one browser, neither showing Bob's chat. A message
    // from Bob makes exactly one of them notify; reading the chat in the other closes it there.
    const tabs = await browser.newContext({ viewport: { width: 1000, height: 700 } });
    await tabs.addInitScript(fakeNotifications);
    const first = await openBrowserTab(tabs, "tab 1");
    const second = await openBrowserTab(tabs, "tab 2");
    for (const tab of [first, second]) {
      await signIn(tab);
      await tab.goto(`${BASE}/devices/${DEVICE}`);
      await connected(tab);
      await tab.locator(byTestId("chat-row", { "chat-id": BOB })).waitFor();
      await tab.locator(byTestId("notifications-enable", { permission: "granted" })).waitFor();
    }
    const ring = `ring ${run}`;
    await api.expect(202, "POST", `/api/v1/devices/${DEVICE}/chats/${encodeURIComponent(BOB)}/messages`, { text: ring });
    await until(async () => {
      const counts = [(await shownIn(first, ring)).length, (await shownIn(second, ring)).length];
      return counts[0] + counts[1] === 1 || counts;
    }, "exactly one tab shows Bob's notification");
    // Both tabs heard of it; give the loser time to (wrongly) notify as well.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const [shownFirst, shownSecond] = [await shownIn(first, ring), await shownIn(second, ring)];
    if (shownFirst.length + shownSecond.length !== 1) {
      fail(`one notification expected, the tabs showed ${JSON.stringify([shownFirst, shownSecond])}`);
    }
    if (!shownFirst.concat(shownSecond)[0].title.includes("Bob")) fail(`the notification is not Bob's: ${JSON.stringify(shownFirst.concat(shownSecond))}`);
    const [shower, other] = shownFirst.length === 1 ? [first, second] : [second, first];
    await other.locator(byTestId("chat-row", { "chat-id": BOB })).click();
    await messages(other, ring, "in").waitFor();
    await until(async () => (await shownIn(shower, ring))[0]?.closed === true, "the notification closes once read in the other tab");

    // A message in a chat that a visible tab shows notifies nobody: that tab is reading it.
    const seen = `seen ${run}`;
    await send(other, seen);
    await messages(other, seen, "in").waitFor();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const shownSeen = [...(await shownIn(first, seen)), ...(await shownIn(second, seen))];
    if (shownSeen.length !== 0) fail(`a message in the chat on screen was notified: ${JSON.stringify(shownSeen)}`);

    // The API key never travels in a URL: media and sockets use the access token.
    const leaked = pages.requests.filter((r) => r.url.includes(KEY) || /[?&](apiKey|api_key|x-api-key)=/i.test(r.url));
    if (leaked.length > 0) fail(`the API key appeared in request URLs: ${leaked.map((r) => r.url).join(", ")}`);

    pages.check();
  } finally {
    await browser.close();
  }
});
