// A group run from the dashboard in a real browser: Debian's Chromium, driven by
// playwright-core, against the real daemon with a simulator device. A group made from the chat
// list (its name, and a member by number) opens, its `system` line centred in the chat; its information panel,
// opened from the chat's header, lists the participants with their roles, adds Bob by his
// number, makes Alice an admin, removes Bob, renames the group (the header follows), shows the
// invite link, copies it and resets it, and leaves the group. Each change shows as its system
// line. The panel is audited with axe-core, and every page is watched as in dashboard.js (a
// console error, an uncaught exception or a request that leaves the daemon fails the
// scenario). Screenshot: group-info.png.
//
// E2E_DEVICE is a linked simulator device whose contacts are E2E_ALICE and E2E_BOB.

const { chromium } = require("playwright-core");
const { main, env, fail, rest } = require("../lib");
const { BASE, KEY, LAUNCH, screenshot, byTestId, until, connected, PageWatch } = require("./support");

const pages = new PageWatch();

const DEVICE = env("E2E_DEVICE");
const ALICE = env("E2E_ALICE");
const BOB = env("E2E_BOB");

const api = rest(BASE, KEY);
const run = Date.now().toString(36);

/** The system line of the open chat that says `text`. */
function systemLine(page, text) {
  return page
    .locator(`${byTestId("message")}[data-type="system"]`)
    .filter({ has: page.getByTestId("message-text").getByText(text, { exact: true }) });
}

/** The participant row of `id` in the group's panel. */
function participant(page, id) {
  return page.locator(byTestId("group-participant", { "participant-id": id }));
}

main(async () => {
  const browser = await chromium.launch(LAUNCH);
  try {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 1000 },
      permissions: ["clipboard-read", "clipboard-write"],
    });
    const page = pages.watch(await context.newPage(), "groups");
    await page.goto(`${BASE}/`);
    await page.getByTestId("signin-key").fill(KEY);
    await page.getByTestId("signin-submit").click();
    await connected(page);
    await page.goto(`${BASE}/devices/${DEVICE}`);
    await connected(page);

    // Made from the chat list: a name, and Alice by her number; a word that is no number is
    // refused before anything is asked.
    const name = `Trip ${run}`;
    await page.getByTestId("new-group-open").click();
    await page.getByTestId("new-group").waitFor();
    await pages.audit(page, "the new group form");
    await page.getByTestId("new-group-name").fill(name);
    await page.getByTestId("new-group-people").fill("Alice");
    await page.getByTestId("new-group-create").click();
    await page.getByTestId("new-group").getByText("Not a phone number: Alice").waitFor();
    await page.getByTestId("new-group-people").fill("+1 555 000 0002");
    await page.getByTestId("new-group-create").click();
    await page.getByTestId("new-group").waitFor({ state: "detached" });
    await systemLine(page, `You created group “${name}”`).waitFor();
    const groups = await api.expect(200, "GET", `/api/v1/devices/${DEVICE}/chats`);
    const chat = groups.items.find((one) => one.name === name);
    if (!chat || !page.url().endsWith(chat.id)) fail(`the new group's chat is not the one open: ${page.url()}`);

    await page.getByTestId("group-info-open").click();
    await page.getByTestId("group-info").waitFor();
    await participant(page, ALICE).waitFor();
    if ((await participant(page, ALICE).getAttribute("data-role")) !== "member") fail("Alice starts as a member");
    if ((await page.getByTestId("group-participant").count()) !== 2) fail("the group has Alice and us");

    // Bob added by his number as people write it.
    await page.getByTestId("group-add-input").fill("+1 555 000 0003");
    await page.getByTestId("group-add-submit").click();
    await participant(page, BOB).waitFor();
    await systemLine(page, "You added Bob").waitFor();

    // Alice made an admin.
    await participant(page, ALICE).getByTestId("group-participant-promote").click();
    await until(async () => (await participant(page, ALICE).getAttribute("data-role")) === "admin", "Alice is an admin");
    await systemLine(page, "You made Alice an admin").waitFor();

    // The invite link, copied, then reset.
    const link = page.getByTestId("group-invite-link");
    await link.waitFor();
    const first = await link.getAttribute("href");
    if (!first.startsWith("https://chat.whatsapp.com/")) fail(`the invite link is ${first}`);
    await page.getByTestId("group-invite-copy").click();
    await until(async () => (await page.evaluate(() => navigator.clipboard.readText())) === first, "the link is copied");
    await page.getByTestId("group-invite-revoke").click();
    await until(async () => (await link.getAttribute("href")) !== first, "the link is reset");

    await screenshot(page, "group-info");
    await pages.audit(page, "a group's information panel");

    // Bob removed.
    await participant(page, BOB).getByTestId("group-participant-remove").click();
    await participant(page, BOB).waitFor({ state: "detached" });
    await systemLine(page, "You removed Bob").waitFor();

    // Renamed: the chat's header follows.
    const renamed = `Trip ${run} (final)`;
    await page.getByTestId("group-name-input").fill(renamed);
    await page.getByTestId("group-name-save").click();
    await systemLine(page, `You changed the group name to “${renamed}”`).waitFor();

    // Left: the panel says so, the chat says it too.
    await page.getByTestId("group-leave").click();
    await page.getByTestId("group-left").waitFor();
    await page.getByTestId("group-info-close").click();
    await page.getByTestId("group-info").waitFor({ state: "detached" });
    await page.locator(".conversation-head h2").getByText(renamed, { exact: true }).waitFor();
    await systemLine(page, "You left").waitFor();
    await pages.audit(page, "a group's chat with its system lines");

    const lines = await api.expect(200, "GET", `/api/v1/devices/${DEVICE}/chats/${encodeURIComponent(chat.id)}/messages`);
    if (lines.items.some((message) => message.type !== "system")) fail("only system lines are in the group's chat");
    pages.check();
  } finally {
    await browser.close();
  }
});
