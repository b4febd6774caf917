// Linking and logging out in a real browser: Debian's Chromium, driven by playwright-core,
// against the real daemon. A new simulator device shows its QR code with the link it carries;
// a phone without JavaScript opens that link, gets the pairing page styled under the daemon's
// policy, and links the device. Logging out asks first, then the device shows a new QR code
// and none of its chats, and links again, by phone number: a code asked for a number, shown
// with its countdown, typed by the simulated phone. Every page is watched as in dashboard.js:
// a console error (a CSP violation is one), an uncaught exception or a request that leaves the
// daemon fails the scenario, and so does a serious accessibility finding (axe-core) with the
// logout dialog open, and with the code for a phone number on show. Screenshots (pair.png,
// logout.png, pair-phone.png) are written to E2E_SCREENSHOTS.

const { chromium } = require("playwright-core");
const { main, fail, rest } = require("../lib");
const { BASE, KEY, LAUNCH, screenshot, byTestId, expectCount, connected, PageWatch } = require("./support");

const pages = new PageWatch();
const api = rest(BASE, KEY);

// A device of this scenario's own, with one contact: linked, it has her chat and the group.
const DEVICE = `relink-${Date.now().toString(36)}`;
const CAROL = "15550000004@c.us";

/** The text of the QR code on show, as the REST API gives it. */
async function currentQr() {
  return (await api.expect(200, "GET", `/api/v1/devices/${DEVICE}/qr`)).qr;
}

main(async () => {
  const browser = await chromium.launch(LAUNCH);
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = pages.watch(await context.newPage(), "dashboard");
    await page.goto(`${BASE}/`);
    await page.getByTestId("signin-key").fill(KEY);
    await page.getByTestId("signin-submit").click();
    await connected(page);

    await api.expect(201, "POST", "/api/v1/devices", {
      id: DEVICE,
      name: "Relinked phone",
      simulator: { contacts: [{ id: CAROL, name: "Carol", behaviour: "echo" }] },
    });
    await page.goto(`${BASE}/devices/${DEVICE}`);
    await connected(page);

    // The QR card offers the code's own link, and says once that it waits for a scan.
    const link = page.getByTestId("qr-link");
    await link.waitFor();
    const href = await link.getAttribute("href");
    if (href !== (await currentQr())) fail(`the QR link points to ${href}, not to the code on show`);
    await expectCount(page.getByText("Waiting for a scan", { exact: true }), 1, "“Waiting for a scan” on the page");
    await expectCount(page.getByTestId("chat-row"), 0, "chats of a device never linked");

    // A phone opens the link, without JavaScript: the page is styled by the daemon's stylesheet
    // (the policy allows no inline style) and its button, a form, links the device.
    const phone = await browser.newContext({ viewport: { width: 390, height: 760 }, javaScriptEnabled: false });
    const pairing = pages.watch(await phone.newPage(), "phone");
    const opened = await pairing.goto(href);
    if (opened.status() !== 200) fail(`the pairing page answered ${opened.status()}`);
    if (!(opened.headers()["content-security-policy"] || "").includes("style-src 'self'")) {
      fail(`the pairing page is not under the daemon's policy: ${JSON.stringify(opened.headers())}`);
    }
    await pairing.getByRole("heading", { name: "Link this device?" }).waitFor();
    const looks = await pairing.locator("main").evaluate((main) => {
      const style = getComputedStyle(main);
      const button = getComputedStyle(main.querySelector("button"));
      return { radius: style.borderRadius, width: main.getBoundingClientRect().width, button: button.backgroundColor };
    });
    if (looks.radius === "0px" || looks.button === "rgba(0, 0, 0, 0)" || looks.button === "rgb(239, 239, 239)") {
      fail(`the pairing page is not styled: ${JSON.stringify(looks)}`);
    }
    await screenshot(pairing, "pair");
    await pairing.getByRole("button", { name: "Link device" }).click();
    await pairing.getByRole("heading", { name: "Linked" }).waitFor();
    await page.locator(byTestId("device-state", { state: "ready" })).waitFor();
    const carol = page.locator(byTestId("chat-row", { "chat-id": CAROL }));
    await carol.waitFor();
    // The code is single-use: opened again, the page says it is no longer good (the browser
    // reports the 410 on its console).
    pages.expected = /410/;
    const again = await pairing.goto(href);
    if (again.status() !== 410) fail(`a used code's page answered ${again.status()}`);
    await pairing.getByRole("heading", { name: "QR code expired" }).waitFor();
    pages.expected = null;
    await phone.close();

    // Logging out asks first: declined, nothing happens.
    await page.getByTestId("device-logout").click();
    const dialog = page.getByTestId("confirm-dialog");
    await dialog.waitFor();
    await page.getByTestId("confirm-no").click();
    await dialog.waitFor({ state: "hidden" });
    const still = await api.expect(200, "GET", `/api/v1/devices/${DEVICE}`);
    if (still.state !== "ready") fail(`a declined logout changed the device: ${still.state}`);

    // Confirmed from a chat: the device is logged out and shows a new code to link it again,
    // with none of its chats.
    await carol.click();
    await page.waitForURL((url) => url.pathname.startsWith(`/devices/${DEVICE}/chats/`));
    await page.getByTestId("device-logout").click();
    await dialog.waitFor();
    await screenshot(page, "logout");
    await pages.audit(page, "a device's logout dialog");
    await page.getByTestId("confirm-yes").click();
    await dialog.waitFor({ state: "hidden" });
    await page.waitForURL(`${BASE}/devices/${DEVICE}`);
    await page.locator(byTestId("device-state", { state: "qr" })).waitFor();
    await page.getByTestId("qr-code").waitFor();
    await expectCount(page.getByTestId("chat-row"), 0, "chats after the logout");
    const fresh = await currentQr();
    if (fresh === href) fail("the QR code after the logout is the one already used");
    await link.waitFor();
    if ((await link.getAttribute("href")) !== fresh) fail("the QR link is not the new code's");
    const journal = await api.expect(200, "GET", `/api/v1/devices/${DEVICE}/events?after=0&limit=500`);
    const states = journal.items.filter((e) => e.type === "state").map((e) => e.data.state);
    if (!states.includes("logged_out")) fail(`the device was not logged out: ${states.join(", ")}`);

    // Linked again, this time by phone number: the QR card offers it instead, the number asked
    // for gets a code shown big with its countdown, and the simulated phone types it.
    await page.getByTestId("pairing-phone-toggle").click();
    await page.getByTestId("qr-code").waitFor({ state: "hidden" });
    await page.getByTestId("pairing-phone-input").fill("+1 555 000 0009");
    await page.getByTestId("pairing-phone-submit").click();
    const code = page.getByTestId("pairing-code");
    await code.waitFor();
    const shown = (await code.textContent()).trim();
    if (!/^[A-Z0-9]{4}-[A-Z0-9]{4}$/.test(shown)) fail(`the code is shown as ${JSON.stringify(shown)}`);
    const left = Number(await page.getByTestId("pairing-code-countdown").textContent());
    if (!(left > 0)) fail(`the code's countdown says ${left}`);
    const given = await api.expect(200, "GET", `/api/v1/devices/${DEVICE}/events?after=0&limit=500`);
    const told = given.items.filter((e) => e.type === "pairing:code").map((e) => e.data);
    if (told.length !== 1 || told[0].code !== shown || told[0].phone !== "15550000009") {
      fail(`the journal tells another code: ${JSON.stringify(told)}`);
    }
    await screenshot(page, "pair-phone");
    await pages.audit(page, "linking by phone number");
    await page.getByTestId("pairing-simulate-entry").click();
    await page.locator(byTestId("device-state", { state: "ready" })).waitFor();
    await carol.waitFor();
    const linked = await api.expect(200, "GET", `/api/v1/devices/${DEVICE}`);
    if (linked.me?.id !== "15550000009@c.us") fail(`linked by phone as ${JSON.stringify(linked.me)}`);

    pages.check();
  } finally {
    await browser.close();
  }
});
