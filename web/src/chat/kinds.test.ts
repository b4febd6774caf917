import { describe, expect, it } from "vitest";
import type { Poll } from "../api/types";
import {
  EDIT_WINDOW_MS,
  canEdit,
  canForward,
  formatCoordinates,
  formatDuration,
  kindPreview,
  mapUrl,
  parseLocation,
  pollProblem,
  pollTally,
  toggledVote,
  votesOf,
  withVote,
} from "./kinds";
import { aMessage } from "./testMessages";

const poll: Poll = {
  question: "Lunch?",
  options: ["Pizza", "Sushi", "Salad"],
  multiple: false,
  votes: [
    { option: "Pizza", voters: ["alice"] },
    { option: "Sushi", voters: [] },
    { option: "Salad", voters: ["bob", "me"] },
  ],
};

describe("formatDuration", () => {
  it("reads as a player shows it", () => {
    expect(formatDuration(7)).toBe("0:07");
    expect(formatDuration(65.4)).toBe("1:05");
    expect(formatDuration(3723)).toBe("1:02:03");
    expect(formatDuration(0)).toBe("0:00");
  });
  it("is empty when the length is unknown", () => {
    expect(formatDuration(undefined)).toBe("");
    expect(formatDuration(null)).toBe("");
    expect(formatDuration(Number.POSITIVE_INFINITY)).toBe("");
    expect(formatDuration(Number.NaN)).toBe("");
    expect(formatDuration(-1)).toBe("");
  });
});

describe("places", () => {
  it("shows coordinates rounded and links to the map", () => {
    const dam = { latitude: 52.373108123, longitude: 4.8927 };
    expect(formatCoordinates(dam)).toBe("52.37311, 4.8927");
    expect(mapUrl(dam)).toMatch(/^https:\/\/www\.openstreetmap\.org\/\?mlat=52\.373108123&mlon=4\.8927/);
  });
  it("reads the form's fields, refusing what is out of range", () => {
    expect(parseLocation(" 52.37 ", "4.89", " Dam ")).toEqual({ latitude: 52.37, longitude: 4.89, name: "Dam" });
    expect(parseLocation("-33.9", "151.2", "")).toEqual({ latitude: -33.9, longitude: 151.2 });
    expect(typeof parseLocation("91", "0", "")).toBe("string");
    expect(typeof parseLocation("0", "-181", "")).toBe("string");
    expect(typeof parseLocation("", "0", "")).toBe("string");
    expect(typeof parseLocation("north", "0", "")).toBe("string");
  });
});

describe("polls", () => {
  it("counts each option and marks ours", () => {
    expect(pollTally(poll, "me")).toEqual([
      { option: "Pizza", votes: 1, mine: false },
      { option: "Sushi", votes: 0, mine: false },
      { option: "Salad", votes: 2, mine: true },
    ]);
    expect(pollTally(poll, null).some((t) => t.mine)).toBe(false);
    expect(votesOf(poll, "me")).toEqual(["Salad"]);
  });
  it("replaces a voter's earlier vote, and takes it back with none", () => {
    const moved = withVote(poll, "me", ["Sushi"]);
    expect(pollTally(moved, "me").map((t) => [t.votes, t.mine])).toEqual([
      [1, false],
      [1, true],
      [1, false],
    ]);
    const gone = withVote(poll, "bob", []);
    expect(gone.votes.find((v) => v.option === "Salad")?.voters).toEqual(["me"]);
    const both = withVote({ ...poll, multiple: true }, "carol", ["Pizza", "Sushi"]);
    expect(pollTally(both, "carol").filter((t) => t.mine).map((t) => t.option)).toEqual(["Pizza", "Sushi"]);
  });
  it("fills in options the tally left out", () => {
    const fresh = withVote({ ...poll, votes: [] }, "alice", ["Sushi"]);
    expect(fresh.votes.map((v) => v.voters.length)).toEqual([0, 1, 0]);
  });
  it("toggles an option on a poll of several answers, picks one on a poll of one", () => {
    expect(toggledVote(["A"], "B", true)).toEqual(["A", "B"]);
    expect(toggledVote(["A", "B"], "A", true)).toEqual(["B"]);
    expect(toggledVote(["A"], "B", false)).toEqual(["B"]);
    expect(toggledVote(["A"], "A", false)).toEqual([]);
  });
  it("checks a poll before sending", () => {
    expect(pollProblem("Lunch?", ["Pizza", "Sushi"])).toBeNull();
    expect(pollProblem(" ", ["Pizza", "Sushi"])).toMatch(/question/);
    expect(pollProblem("Lunch?", ["Pizza"])).toMatch(/at least 2/);
    expect(pollProblem("Lunch?", ["Pizza", " "])).toMatch(/every option/);
    expect(pollProblem("Lunch?", ["Pizza", "Pizza "])).toMatch(/different/);
    expect(pollProblem("Lunch?", Array.from({ length: 13 }, (_, i) => `o${i}`))).toMatch(/at most 12/);
  });
});

describe("editing and forwarding", () => {
  const sent = Date.parse("2026-01-01T10:00:00Z");
  it("lets us edit our own text or caption for 15 minutes", () => {
    const ours = aMessage("m", { fromMe: true });
    expect(canEdit(ours, sent + 60_000)).toBe(true);
    expect(canEdit(ours, sent + EDIT_WINDOW_MS + 1)).toBe(false);
    expect(canEdit(aMessage("m"), sent)).toBe(false);
    expect(canEdit(aMessage("m", { fromMe: true, revoked: true }), sent)).toBe(false);
    expect(canEdit(aMessage("m", { fromMe: true, type: "poll", body: "" }), sent)).toBe(false);
    const media = { url: "/x", mime: "image/png", name: null, size: 1 };
    expect(canEdit(aMessage("m", { fromMe: true, type: "image", media }), sent)).toBe(true);
  });
  it("forwards anything but deleted messages and system lines", () => {
    expect(canForward(aMessage("m", { type: "location" }))).toBe(true);
    expect(canForward(aMessage("m", { revoked: true }))).toBe(false);
    expect(canForward(aMessage("m", { type: "system" }))).toBe(false);
  });
});

describe("kindPreview", () => {
  it("names each kind with what identifies it", () => {
    expect(kindPreview(aMessage("m", { type: "voice", durationSecs: 12 }))).toBe("🎤 Voice message (0:12)");
    expect(kindPreview(aMessage("m", { type: "location", location: { latitude: 1, longitude: 2, name: "Dam" } }))).toBe(
      "📍 Dam",
    );
    expect(kindPreview(aMessage("m", { type: "contact", contacts: [{ name: "Carol", phones: ["+1 555"] }] }))).toBe(
      "👤 Carol",
    );
    expect(kindPreview(aMessage("m", { type: "poll", poll }))).toBe("📊 Lunch?");
    expect(kindPreview(aMessage("m"))).toBeNull();
  });
});
