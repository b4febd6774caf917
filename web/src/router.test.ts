import { describe, expect, it } from "vitest";
import { chatPath, devicePath, parseRoute } from "./router";

describe("routes", () => {
  it("reads every deep link", () => {
    expect(parseRoute("/")).toEqual({ view: "fleet" });
    expect(parseRoute("/devices/demo")).toEqual({ view: "device", deviceId: "demo" });
    expect(parseRoute("/devices/demo/chats/15550000002@c.us")).toEqual({
      view: "chat",
      deviceId: "demo",
      chatId: "15550000002@c.us",
    });
    expect(parseRoute("/devices/demo/chats/15550000002%40c.us/")).toMatchObject({ chatId: "15550000002@c.us" });
    expect(parseRoute("/events")).toEqual({ view: "events" });
    expect(parseRoute("/admin")).toEqual({ view: "admin" });
    expect(parseRoute("/docs")).toEqual({ view: "docs" });
    expect(parseRoute("/docs/")).toEqual({ view: "docs" });
    expect(parseRoute("/docs/extra")).toEqual({ view: "not-found" });
    expect(parseRoute("/devices")).toEqual({ view: "not-found" });
    expect(parseRoute("/devices/%E0%A4%A")).toEqual({ view: "not-found" });
  });

  it("writes paths that read back", () => {
    expect(chatPath("demo", "120363@g.us")).toBe("/devices/demo/chats/120363@g.us");
    expect(parseRoute(chatPath("a b", "x/y@c.us"))).toEqual({ view: "chat", deviceId: "a b", chatId: "x/y@c.us" });
    expect(parseRoute(devicePath("demo"))).toEqual({ view: "device", deviceId: "demo" });
  });
});
