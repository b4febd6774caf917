import { describe, expect, it } from "vitest";
import type { Webhook } from "../api/types";
import { selectionOf, toggle } from "./selection";
import { emptyWebhookForm, newWebhookBody, newWebhookSecret, webhookChange, webhookFormOf, webhookFormProblems } from "./webhookForm";

const webhook: Webhook = {
  id: "wh_1",
  url: "https://crm.example/hooks",
  events: ["message", "message:ack"],
  devices: ["*"],
  enabled: true,
  source: "api",
  disabledReason: null,
  createdAt: "",
  updatedAt: "",
};

describe("the webhook form", () => {
  it("subscribes with a secret the daemon generates, or one brought", () => {
    const form = { ...emptyWebhookForm, url: " https://crm.example/hooks " };
    expect(webhookFormProblems(form)).toEqual([]);
    expect(newWebhookBody(form)).toEqual({
      url: "https://crm.example/hooks",
      events: ["message", "message:ack"],
      devices: ["*"],
      enabled: true,
    });
    const secret = newWebhookSecret(new Uint8Array(32).fill(7));
    expect(newWebhookBody({ ...form, secret: "own", ownSecret: secret }).secret).toBe(secret);
  });

  it("refuses what the daemon would", () => {
    expect(webhookFormProblems({ ...emptyWebhookForm, url: "ftp://x" })).toHaveLength(1);
    expect(webhookFormProblems({ ...emptyWebhookForm, url: "http://x", events: selectionOf([]) })).toHaveLength(1);
    const own = { ...emptyWebhookForm, url: "http://x", secret: "own" as const };
    expect(webhookFormProblems({ ...own, ownSecret: "whsec_c2hvcnQ=" })).toHaveLength(1);
    expect(webhookFormProblems({ ...own, ownSecret: newWebhookSecret(new Uint8Array(24)) })).toEqual([]);
    expect(webhookFormProblems({ ...own, ownSecret: newWebhookSecret(new Uint8Array(65)) })).toHaveLength(1);
  });

  it("makes secrets of 32 random bytes as whsec_ and base64", () => {
    const secret = newWebhookSecret(new Uint8Array(32).fill(255));
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(atob(secret.slice(6))).toHaveLength(32);
  });

  it("changes only what was edited", () => {
    const form = webhookFormOf(webhook);
    expect(webhookChange(form, webhook)).toEqual({});
    const edited = { ...form, events: toggle(form.events, "message:ack", false), enabled: false };
    expect(webhookChange(edited, webhook)).toEqual({ events: ["message"], enabled: false });
    expect(webhookChange({ ...form, secret: "rotate" }, webhook, "whsec_new")).toEqual({ secret: "whsec_new" });
    expect(webhookChange({ ...form, devices: toggle(form.devices, "*", false) }, webhook)).toEqual({ devices: [] });
  });
});
