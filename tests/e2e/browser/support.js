// What the browser scenarios share: Debian's Chromium launched with nothing that phones home,
// the watch every page is under (a console error, an uncaught exception or a request that
// leaves the daemon fails the scenario), an accessibility audit, and the few helpers every
// scenario waits with.
//
// E2E_URL is the daemon (or a server of the dashboard's build in front of it), E2E_ADMIN_KEY
// its admin key, E2E_SCREENSHOTS where screenshots go.

const path = require("node:path");
const { AxeBuilder } = require("@axe-core/playwright");
const { env, fail } = require("../lib");

const BASE = env("E2E_URL");
const KEY = env("E2E_ADMIN_KEY");
const SHOTS = env("E2E_SCREENSHOTS");
/** How long any one thing is waited for. */
const WAIT_MS = 15000;

// Debian's Chromium as root in a sandbox-less container, with nothing that phones home: the
// machine has no network beyond the daemon, and a request elsewhere would fail the scenario.
const LAUNCH = {
  executablePath: process.env.E2E_CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
  ],
};

/**
 * What must not happen on the scenario's pages, collected as it happens and checked at the
 * end (`check`), and every request the pages made (`requests`: who, method, URL, whether it
 * carried a bearer token).
 */
class PageWatch {
  constructor() {
    this.problems = [];
    this.requests = [];
    /** A console error matching this is expected: a refusal the scenario provokes. */
    this.expected = null;
  }

  watch(page, who) {
    page.on("console", (message) => {
      if (message.type() !== "error") return;
      const text = message.text();
      if (this.expected && this.expected.test(text)) return;
      this.problems.push(`${who}: console error: ${text}`);
    });
    page.on("pageerror", (error) => this.problems.push(`${who}: uncaught: ${error.message}`));
    page.on("request", (request) => {
      const url = request.url();
      const own = url.startsWith(`${BASE}/`) || url.startsWith("data:") || url.startsWith("blob:");
      if (!own) this.problems.push(`${who}: a request left the daemon: ${url}`);
      this.requests.push({
        who,
        method: request.method(),
        url,
        bearer: /^bearer /i.test(request.headers().authorization || ""),
      });
    });
    page.setDefaultTimeout(WAIT_MS);
    return page;
  }

  /**
   * Audits the page as it is with axe-core, in the light and the dark scheme: each violation of
   * impact `serious` or `critical` (text below WCAG AA contrast, a control without a name…) is a
   * problem, named with its rule, impact and the elements that fail it.
   */
  async audit(page, where) {
    const dark = "(prefers-color-scheme: dark)";
    const shown = (await page.evaluate((query) => matchMedia(query).matches, dark)) ? "dark" : "light";
    for (const colorScheme of ["light", "dark"]) {
      await page.emulateMedia({ colorScheme });
      const { violations } = await new AxeBuilder({ page }).analyze();
      for (const violation of violations.filter((v) => SERIOUS.includes(v.impact))) {
        const targets = violation.nodes.map((node) => node.target.join(" >> "));
        this.problems.push(
          `${where} (${colorScheme}): ${violation.id} (${violation.impact}) on ${targets.length}: ${targets.join(", ")}`,
        );
      }
    }
    await page.emulateMedia({ colorScheme: shown });
  }

  check() {
    if (this.problems.length > 0) fail(this.problems.join("\n"));
  }
}

/** The impacts of axe-core's findings that fail a scenario. */
const SERIOUS = ["serious", "critical"];

async function screenshot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** A selector of a `data-testid` with `data-<name>` attributes. */
const byTestId = (id, attributes = {}) =>
  `[data-testid="${id}"]` +
  Object.entries(attributes)
    .map(([name, value]) => `[data-${name}="${value}"]`)
    .join("");

/** Waits until `locator` matches `count` elements. */
async function expectCount(locator, count, what) {
  const deadline = Date.now() + WAIT_MS;
  let seen;
  while (Date.now() < deadline) {
    seen = await locator.count();
    if (seen === count) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  fail(`${what}: expected ${count}, saw ${seen}`);
}

/** Waits until `check()` resolves `true`, failing with `what` and the last value it gave. */
async function until(check, what) {
  const deadline = Date.now() + WAIT_MS;
  let seen;
  while (Date.now() < deadline) {
    seen = await check();
    if (seen === true) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  fail(`${what} (last seen: ${JSON.stringify(seen)})`);
}

/** Waits until the dashboard says its sockets are connected. */
async function connected(page) {
  await page.locator(byTestId("connection-status", { status: "connected" })).waitFor();
}

/** Signs in with the admin key, then opens chat `chatId` of device `deviceId`. */
async function signInToChat(page, deviceId, chatId) {
  await page.goto(`${BASE}/`);
  await page.getByTestId("signin-key").fill(KEY);
  await page.getByTestId("signin-submit").click();
  await connected(page);
  await page.goto(`${BASE}/devices/${deviceId}/chats/${encodeURIComponent(chatId)}`);
  await connected(page);
}

module.exports = { BASE, KEY, SHOTS, WAIT_MS, LAUNCH, PageWatch, screenshot, byTestId, expectCount, until, connected, signInToChat };
