// The API reference at /docs in a real browser: Debian's Chromium, driven by playwright-core,
// against the daemon serving the dashboard under its Content-Security-Policy. Without signing
// in, the page draws the operations of /docs-json, finds one by searching, and sends
// `GET /api/v1/devices` with the admin key typed into "Authorize"; signed in, it is a section of
// the dashboard, kept as it was left while another one is visited. The page is watched as in
// dashboard.js: a console error (a CSP violation is one), an uncaught exception or a request
// that leaves the daemon fails the scenario, and so does a serious accessibility finding
// (axe-core), signed in or not. Signed in, "Try it out" sends the session's own token with no
// "Authorize". A screenshot, docs.png, goes to E2E_SCREENSHOTS.

const path = require("node:path");
const { chromium } = require("playwright-core");
const { main, env, fail } = require("../lib");
const { BASE, KEY, SHOTS, LAUNCH, screenshot, expectCount, connected, PageWatch } = require("./support");

const pages = new PageWatch();

// Operations the reference must show, by path.
const KNOWN_PATHS = ["/api/v1/devices", "/api/v1/tokens", "/upstream/waha/{id}"];

/** The CSP violations the page has seen (Chromium logs them too, but this names each one). */
function violations(page) {
  return page.evaluate(() => window.__cspViolations || []);
}

/** An operation's block in the reference, by its path (and method, lower-case). */
function operation(page, method, opPath) {
  return page
    .locator(`.opblock.opblock-${method}`)
    .filter({ has: page.locator(`.opblock-summary-path[data-path="${opPath}"]`) });
}

const summaryPath = (page, opPath) => page.locator(`.opblock-summary-path[data-path="${opPath}"]`);

main(async () => {
  const browser = await chromium.launch(LAUNCH);
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    pages.watch(page, "docs");
    await page.addInitScript(() => {
      window.__cspViolations = [];
      document.addEventListener("securitypolicyviolation", (event) =>
        window.__cspViolations.push(`${event.violatedDirective}: ${event.blockedURI} (${event.sourceFile}:${event.lineNumber})`),
      );
    });

    // Public: no sign-in, and the page is the reference, not the sign-in form.
    const answer = await page.goto(`${BASE}/docs`);
    if (!answer || answer.status() !== 200) fail(`GET /docs answered ${answer && answer.status()}`);
    const policy = answer.headers()["content-security-policy"] || "";
    if (!policy.includes("script-src 'self'") || !policy.includes("style-src 'self'")) {
      fail(`/docs is not served under the strict CSP: ${JSON.stringify(policy)}`);
    }
    await page.getByTestId("api-docs").waitFor();
    if ((await page.getByTestId("signin-key").count()) !== 0) fail("/docs asks to sign in");

    // The document's operations are drawn.
    for (const opPath of KNOWN_PATHS) await summaryPath(page, opPath).first().waitFor();
    const drawn = await page.locator(".opblock").count();
    if (drawn < 20) fail(`only ${drawn} operations are drawn`);

    // Searching keeps the operations that answer it, and clearing it brings the rest back.
    const search = page.getByTestId("api-docs-search");
    await search.fill("waha");
    await expectCount(summaryPath(page, "/api/v1/devices"), 0, "/api/v1/devices while searching for waha");
    await summaryPath(page, "/upstream/waha/{id}").first().waitFor();
    await search.fill("");
    await summaryPath(page, "/api/v1/devices").first().waitFor();

    // Try it out: the key typed into "Authorize" (the X-Api-Key scheme) is sent with the request.
    await page.locator(".auth-wrapper button.authorize").click();
    const dialog = page.locator(".dialog-ux .modal-ux");
    const apiKeyScheme = dialog.locator(".auth-container").filter({ hasText: "X-Api-Key" });
    await apiKeyScheme.locator("input").fill(KEY);
    await apiKeyScheme.locator("button.authorize").click();
    await apiKeyScheme.getByText("Logout").waitFor();
    await pages.audit(page, "/docs, Authorize");
    await dialog.locator("button.close-modal").click();

    const listDevices = operation(page, "get", "/api/v1/devices");
    await listDevices.locator(".opblock-summary-control").click();
    await listDevices.locator("button.try-out__btn").click();
    const sent = page.waitForRequest((request) => request.url() === `${BASE}/api/v1/devices` && request.method() === "GET");
    await listDevices.locator("button.execute").click();
    const request = await sent;
    if (request.headers()["x-api-key"] !== KEY) fail(`the request carried no key: ${JSON.stringify(request.headers())}`);
    const status = listDevices.locator(".live-responses-table .response .response-col_status");
    await status.first().waitFor();
    const code = (await status.first().textContent()).trim();
    if (code !== "200") fail(`GET /api/v1/devices answered ${code} in the reference`);
    const body = await listDevices.locator(".live-responses-table .response .response-col_description").first().textContent();
    if (!body.includes('"items"')) fail(`the answer shown is not the device list: ${body.slice(0, 300)}`);

    // The key stays in the page's memory: not in storage, not in a cookie.
    const kept = await page.evaluate(() => ({
      local: JSON.stringify({ ...localStorage }),
      session: JSON.stringify({ ...sessionStorage }),
      cookies: document.cookie,
    }));
    const tail = KEY.slice(-12);
    if (kept.local.includes(tail) || kept.session.includes(tail) || kept.cookies.includes(tail)) {
      fail(`the key reached storage or a cookie: ${JSON.stringify(kept)}`);
    }

    await listDevices.locator(".live-responses-table").first().scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(SHOTS, "docs.png") });
    await pages.audit(page, "/docs");

    // Signed in, the reference is one of the dashboard's sections, and is found as it was left
    // after visiting another one.
    await page.goto(`${BASE}/`);
    await page.getByTestId("signin-key").fill(KEY);
    await page.getByTestId("signin-submit").click();
    await page.locator('[data-testid="connection-status"][data-status="connected"]').waitFor();
    const nav = page.getByRole("navigation", { name: "Sections" });
    await nav.getByRole("link", { name: "API" }).click();
    await page.waitForURL(`${BASE}/docs`);
    await search.fill("tokens");
    await summaryPath(page, "/api/v1/tokens").first().waitFor();
    await expectCount(summaryPath(page, "/api/v1/devices"), 0, "/api/v1/devices while searching for tokens");
    await nav.getByRole("link", { name: "Devices" }).click();
    await page.waitForURL(`${BASE}/`);
    await page.getByRole("heading", { name: "Devices" }).waitFor();
    await nav.getByRole("link", { name: "API" }).click();
    await summaryPath(page, "/api/v1/tokens").first().waitFor();
    if ((await search.inputValue()) !== "tokens") fail(`the search was not kept: ${await search.inputValue()}`);
    await expectCount(summaryPath(page, "/api/v1/devices"), 0, "/api/v1/devices back on the kept search");

    // Signed in, "Try it out" needs no "Authorize": the session's own access token goes with it.
    await search.fill("");
    const signedIn = operation(page, "get", "/api/v1/devices");
    await signedIn.locator(".opblock-summary-control").click();
    await signedIn.locator("button.try-out__btn").click();
    const asSession = page.waitForRequest((request) => request.url() === `${BASE}/api/v1/devices` && request.method() === "GET");
    await signedIn.locator("button.execute").click();
    const sessionHeaders = (await asSession).headers();
    if (!/^Bearer \S+$/.test(sessionHeaders.authorization || "") || sessionHeaders["x-api-key"]) {
      fail(`signed in, the request did not carry the session's token alone: ${JSON.stringify(sessionHeaders)}`);
    }
    const signedInStatus = signedIn.locator(".live-responses-table .response .response-col_status").first();
    await signedInStatus.waitFor();
    if ((await signedInStatus.textContent()).trim() !== "200") {
      fail(`signed in, GET /api/v1/devices answered ${await signedInStatus.textContent()} in the reference`);
    }

    await pages.audit(page, "/docs, signed in");

    const seen = await violations(page);
    if (seen.length > 0) pages.problems.push(...seen.map((v) => `docs: CSP violation: ${v}`));
    pages.check();
    await context.close();
  } finally {
    await browser.close();
  }
});
