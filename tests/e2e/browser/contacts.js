// Contacts and numbers in a real browser: Debian's Chromium, driven by playwright-core,
// against the real daemon with a simulator device. A direct chat's header opens its contact's
// panel, with the picture the daemon serves (loaded with the access token, never the key),
// name, number and about; the contact is blocked and unblocked from there, as the API then
// says. "New chat" checks a number first: one without WhatsApp says so and opens nothing, one
// with it opens its chat. Every page is watched as in dashboard.js, and axe-core audits the
// panel and the number check open, in the light and the dark scheme.
//
// E2E_DEVICE is a linked simulator device whose contacts E2E_ALICE and E2E_BOB are in the
// device file (so they have pictures). Screenshots contact-panel.png and new-chat.png are
// written to E2E_SCREENSHOTS.

const { chromium } = require("playwright-core");
const { main, env, fail, rest } = require("../lib");
const { BASE, KEY, LAUNCH, screenshot, byTestId, until, signInToChat, PageWatch } = require("./support");

const pages = new PageWatch();

const DEVICE = env("E2E_DEVICE");
const ALICE = env("E2E_ALICE");

const api = rest(BASE, KEY);

main(async () => {
  const browser = await chromium.launch(LAUNCH);
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = pages.watch(await context.newPage(), "contacts");
    await signInToChat(page, DEVICE, ALICE);

    // The contact's panel, from the chat's header: the picture loads from the daemon.
    await page.getByTestId("contact-open").click();
    const panel = page.getByTestId("contact-panel");
    await panel.waitFor();
    await panel.getByTestId("contact-phone").getByText(`+${ALICE.split("@")[0]}`).waitFor();
    await panel.getByTestId("contact-about").waitFor();
    const picture = panel.getByTestId("contact-picture");
    await until(
      () => picture.evaluate((img) => (img.complete && img.naturalWidth > 0) || `${img.tagName} ${img.src}`),
      "the contact's picture loads",
    );
    const src = await picture.evaluate((img) => img.src);
    if (!src.startsWith(`${BASE}/api/v1/devices/${DEVICE}/contacts/`) || !src.includes("access_token=")) {
      fail(`the contact's picture loads from ${src}, not the daemon's address with an access token`);
    }
    await screenshot(page, "contact-panel");
    await pages.audit(page, "a contact's panel");

    // Blocked from the panel, as the API then says; unblocked again.
    const block = panel.getByTestId("contact-block");
    await panel.locator(byTestId("contact-block", { blocked: "false" })).click();
    await panel.getByTestId("contact-blocked").waitFor();
    await panel.locator(byTestId("contact-block", { blocked: "true" })).waitFor();
    const blocked = await api.expect(200, "GET", `/api/v1/devices/${DEVICE}/contacts/${encodeURIComponent(ALICE)}`);
    if (blocked.blocked !== true) fail(`the block did not reach the daemon: ${JSON.stringify(blocked)}`);
    await pages.audit(page, "a blocked contact's panel");
    await block.click();
    await panel.locator(byTestId("contact-block", { blocked: "false" })).waitFor();
    await panel.getByTestId("contact-close").click();
    await panel.waitFor({ state: "hidden" });

    // A new chat: a number without WhatsApp says so and offers no chat.
    await page.getByTestId("new-chat-open").click();
    const dialog = page.getByTestId("new-chat");
    await dialog.waitFor();
    await dialog.getByTestId("new-chat-number").fill("+1 555 123 0000");
    await dialog.getByTestId("new-chat-check").click();
    const result = dialog.locator(byTestId("new-chat-result", { exists: "false" }));
    await result.getByText("+15551230000 is not on WhatsApp.").waitFor();
    if ((await dialog.getByTestId("new-chat-start").count()) !== 0) fail("a number without WhatsApp offers a chat");
    await screenshot(page, "new-chat");
    await pages.audit(page, "a number without WhatsApp");

    // One with it opens its chat, which every view then lists.
    const number = "+1 555 987 6543";
    await dialog.getByTestId("new-chat-number").fill(number);
    await dialog.getByTestId("new-chat-check").click();
    await dialog.locator(byTestId("new-chat-result", { exists: "true" })).waitFor();
    await dialog.getByTestId("new-chat-start").click();
    await dialog.waitFor({ state: "hidden" });
    await until(() => decodeURIComponent(page.url()).endsWith("/chats/15559876543@c.us") || page.url(), "the new chat opens");
    await page.locator(byTestId("chat-row", { "chat-id": "15559876543@c.us" })).waitFor();

    const leaked = pages.requests.filter((r) => r.url.includes(KEY));
    if (leaked.length > 0) fail(`the API key appeared in request URLs: ${leaked.map((r) => r.url).join(", ")}`);
    pages.check();
  } finally {
    await browser.close();
  }
});
