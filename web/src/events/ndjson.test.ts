import { describe, expect, it } from "vitest";
import { admit, emptyBuffer, shownEvents } from "./buffer";
import { filterEvents } from "./filter";
import { exportFileName, toNdjson } from "./ndjson";
import { envelope, event } from "./testEvents";

describe("NDJSON export", () => {
  it("writes one envelope a line, oldest first, as the journal has them", () => {
    const shown = shownEvents(admit(emptyBuffer, [event(1, "state"), event(2, "message", "demo", { body: "hi\nthere" })]));
    const text = toNdjson(shown);
    expect(text.endsWith("\n")).toBe(true);
    const lines = text.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines.map((line) => JSON.parse(line))).toEqual([envelope(1, "state"), envelope(2, "message", "demo", { body: "hi\nthere" })]);
  });

  it("exports what is shown: the filtered events", () => {
    const shown = filterEvents([event(2, "message:ack"), event(1, "state")], "ack");
    expect(toNdjson(shown).trimEnd().split("\n").map((line) => JSON.parse(line).type)).toEqual(["message:ack"]);
    expect(toNdjson([])).toBe("");
  });

  it("names the file after the moment, in UTC", () => {
    expect(exportFileName(new Date(Date.UTC(2026, 10, 23, 11, 55, 0, 123)))).toBe("devicebridge-events-20261123-115500.ndjson");
  });
});
