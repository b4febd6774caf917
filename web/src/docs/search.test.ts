import { describe, expect, it } from "vitest";
import { operationMatches, searchWords } from "./search";

const listDevices = {
  tag: "devices",
  method: "get",
  path: "/api/v1/devices",
  summary: "List the devices this credential sees",
  operationId: "list_devices",
};
const wahaWebhook = {
  tag: "upstream",
  method: "post",
  path: "/upstream/waha/{id}",
  summary: "WAHA webhook receiver, signed with `X-Webhook-Hmac`",
  operationId: "waha_webhook",
};

describe("searching the API reference", () => {
  it("reads a phrase as lower-cased words", () => {
    expect(searchWords("  GET   Devices ")).toEqual(["get", "devices"]);
    expect(searchWords("   ")).toEqual([]);
  });

  it("finds every word anywhere in the operation, in any case", () => {
    expect(operationMatches(searchWords("devices"), listDevices)).toBe(true);
    expect(operationMatches(searchWords("GET /api/v1/devices"), listDevices)).toBe(true);
    expect(operationMatches(searchWords("credential list"), listDevices)).toBe(true);
    expect(operationMatches(searchWords("list_devices"), listDevices)).toBe(true);
    expect(operationMatches(searchWords("waha"), wahaWebhook)).toBe(true);
    expect(operationMatches(searchWords("upstream post"), wahaWebhook)).toBe(true);
  });

  it("leaves out an operation missing one word", () => {
    expect(operationMatches(searchWords("devices delete"), listDevices)).toBe(false);
    expect(operationMatches(searchWords("tokens"), listDevices)).toBe(false);
    expect(operationMatches(searchWords("cloud"), wahaWebhook)).toBe(false);
  });

  it("keeps everything for no words", () => {
    expect(operationMatches([], wahaWebhook)).toBe(true);
  });
});
