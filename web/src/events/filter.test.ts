import { describe, expect, it } from "vitest";
import { filterEvents } from "./filter";
import { event } from "./testEvents";

const events = [
  event(4, "message:ack", "demo", { messageId: "msg_7", ackName: "read" }),
  event(3, "message", "demo", { id: "msg_7", body: "Hello Alice", chatId: "15550000002@c.us" }),
  event(2, "chat:update", "demo", { id: "15550000002@c.us", name: "Alice" }),
  event(1, "state", "demo", { state: "ready", previous: "authenticated" }),
];
const types = (query: string) => filterEvents(events, query).map((e) => e.type);

describe("the event filter", () => {
  it("shows everything when empty", () => {
    expect(filterEvents(events, "  ")).toBe(events);
  });

  it("matches event names, a part of one too", () => {
    expect(types("message:ack")).toEqual(["message:ack"]);
    expect(types("message")).toEqual(["message:ack", "message"]);
    expect(types("STATE")).toEqual(["state"]);
  });

  it("matches text in the payload, in any case", () => {
    expect(types("msg_7")).toEqual(["message:ack", "message"]);
    expect(types("hello alice")).toEqual(["message"]);
    expect(types("alice")).toEqual(["message", "chat:update"]);
  });

  it("wants every word", () => {
    expect(types("message msg_7 read")).toEqual(["message:ack"]);
    expect(types("state nobody")).toEqual([]);
  });
});
