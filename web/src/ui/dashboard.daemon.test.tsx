// @vitest-environment happy-dom
// The whole dashboard in a simulated DOM against a running daemon, which
// DEVICEBRIDGE_URL and DEVICEBRIDGE_API_KEY name (see README).
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const origin: string | undefined = import.meta.env.DEVICEBRIDGE_URL;
const apiKey: string | undefined = import.meta.env.DEVICEBRIDGE_API_KEY;
if (!origin || !apiKey) {
  throw new Error("DEVICEBRIDGE_URL and DEVICEBRIDGE_API_KEY must name a running daemon");
}
const alice = "15550000002@c.us";

const $ = (selector: string) => document.querySelector<HTMLElement>(selector);
const byTestId = (id: string, extra = "") => $(`[data-testid="${id}"]${extra}`);

async function waitFor<T>(find: () => T | null | undefined | false, what: string, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const found = find();
    if (found) return found;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; page: ${(document.querySelector(".detail-pane") ?? document.body).innerHTML.slice(0, 3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function type(element: HTMLElement | null, value: string): void {
  const field = element as HTMLInputElement;
  field.value = value;
  field.dispatchEvent(new Event("input", { bubbles: true }));
}

/**
 * happy-dom lays nothing out, so the virtualized conversation would think its
 * viewport empty and render no message. This gives every observed element a
 * size: 600 px for the scrolling message list, 40 px for anything else.
 */
function fakeLayout(): void {
  const height = (el: Element) => (el.classList.contains("messages") ? 600 : 40);
  class SizedResizeObserver {
    constructor(private readonly report: ResizeObserverCallback) {}
    observe(target: Element) {
      const h = height(target);
      queueMicrotask(() =>
        this.report([{ target, contentRect: { width: 400, height: h } } as unknown as ResizeObserverEntry], this),
      );
    }
    unobserve() {}
    disconnect() {}
  }
  window.ResizeObserver = SizedResizeObserver as unknown as typeof ResizeObserver;
  for (const [property, value] of [
    ["offsetParent", function (this: HTMLElement) { return this.parentElement; }],
    ["clientHeight", function (this: HTMLElement) { return height(this); }],
  ] as const) {
    Object.defineProperty(HTMLElement.prototype, property, { configurable: true, get: value });
  }
}

describe("the dashboard against a running daemon", () => {
  const deviceId = `ui-${Date.now().toString(36)}`;

  beforeAll(async () => {
    (window as unknown as { happyDOM: { setURL(url: string): void } }).happyDOM.setURL(`${origin}/`);
    fakeLayout();
    document.body.innerHTML = '<div id="app"></div>';
    await import("../main");
  });
  afterAll(async () => {
    const { signOut } = await import("../app/signIn");
    signOut();
  });

  it("signs in with an API key kept in sessionStorage only", async () => {
    // Signed out, no socket is open: no connection status is shown.
    expect(byTestId("connection-status")).toBeNull();
    type(byTestId("signin-key"), "dbk_wrong");
    await waitFor(() => !(byTestId("signin-submit") as HTMLButtonElement).disabled, "submit enabled");
    byTestId("signin-submit")!.click();
    await waitFor(() => byTestId("signin-error"), "the wrong key's error");

    type(byTestId("signin-key"), apiKey!);
    await new Promise((resolve) => setTimeout(resolve, 0));
    byTestId("signin-submit")!.click();
    const demo = await waitFor(() => byTestId("device-row", '[data-device-id="demo"]'), "the demo device's row");
    expect(demo.dataset.state).toBe("ready");
    await waitFor(() => byTestId("connection-status", '[data-status="connected"]'), "connected");
    expect(sessionStorage.getItem("devicebridge.apiKey")).toBe(apiKey);
    expect(localStorage.length).toBe(0);
    expect(document.cookie).toBe("");
  });

  it("adds a simulator device, links it with the simulated phone, and chats", async () => {
    byTestId("device-add")!.click();
    await waitFor(() => byTestId("device-form-id"), "the form");
    type(byTestId("device-form-id"), deviceId);
    await new Promise((resolve) => setTimeout(resolve, 0));
    byTestId("device-form-submit")!.click();
    await waitFor(() => location.pathname === `/devices/${deviceId}`, "the device's page");

    const qr = await waitFor(() => byTestId("qr-code") as HTMLImageElement | null, "the QR code", 15_000);
    expect(qr.src).toMatch(/^data:image\/png;base64,/);
    expect(Number(byTestId("qr-countdown")?.textContent)).toBeGreaterThan(0);
    byTestId("qr-simulate-scan")!.click();
    await waitFor(() => byTestId("device-state", '[data-state="ready"]'), "ready", 15_000);

    const row = await waitFor(() => byTestId("chat-row", `[data-chat-id="${alice}"]`), "Alice's chat");
    row.click();
    await waitFor(() => location.pathname === `/devices/${deviceId}/chats/${alice}`, "the chat's page");
    type(byTestId("composer-input"), "hello from the dashboard");
    await new Promise((resolve) => setTimeout(resolve, 0));
    byTestId("composer-send")!.click();
    const sent = await waitFor(() => byTestId("message", '[data-direction="out"]'), "our message");
    expect(sent.querySelector('[data-testid="message-text"]')?.textContent).toBe("hello from the dashboard");
    await waitFor(() => byTestId("message", '[data-direction="out"][data-ack="read"]'), "read ticks", 10_000);
    await waitFor(() => byTestId("typing-indicator"), "Alice typing", 10_000);
    await waitFor(() => byTestId("message", '[data-direction="in"]'), "Alice's echo", 10_000);
    expect(byTestId("typing-indicator")).toBeNull();
    expect(document.querySelectorAll('[data-testid="message"][data-direction="out"]')).toHaveLength(1);
    // Read on arrival, since the chat is open.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(byTestId("chat-unread")).toBeNull();
  }, 60_000);

  it("counts unread messages of a closed chat, and opening it marks them read", async () => {
    type(byTestId("composer-input"), "ping");
    await new Promise((resolve) => setTimeout(resolve, 0));
    byTestId("composer-send")!.click();
    await waitFor(() => byTestId("message", '[data-direction="out"][data-ack="server"]'), "the server's tick");
    const { navigate } = await import("../app/navigation");
    navigate(`/devices/${deviceId}`);
    const unread = await waitFor(() => byTestId("chat-unread"), "an unread count", 10_000);
    expect(unread.textContent).toBe("1");
    byTestId("chat-row", `[data-chat-id="${alice}"]`)!.click();
    await waitFor(() => !byTestId("chat-unread"), "the chat read", 10_000);
  }, 30_000);

  it("deletes the device after a confirmation", async () => {
    const { navigate } = await import("../app/navigation");
    navigate("/");
    const row = await waitFor(() => byTestId("device-row", `[data-device-id="${deviceId}"]`), "the new row");
    (row.querySelector('[data-testid="device-delete"]') as HTMLElement).click();
    await waitFor(() => row.querySelector('[data-testid="device-delete-confirm"]'), "the confirmation");
    (row.querySelector('[data-testid="device-delete-confirm"]') as HTMLElement).click();
    await waitFor(() => !byTestId("device-row", `[data-device-id="${deviceId}"]`), "the row gone");
  });
});
