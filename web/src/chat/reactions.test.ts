import { describe, expect, it } from "vitest";
import { ownReaction, reactionSummary, reactionToSend, withReaction, withoutReactions } from "./reactions";

const me = "15550000001@c.us";
const alice = "15550000002@c.us";
const bob = "15550000003@c.us";
const react = (from: string, emoji: string, messageId = "msg_1") => ({ messageId, from, emoji });

describe("reactions", () => {
  it("keep one reaction per person and message; a new one replaces theirs", () => {
    let reactions = withReaction({}, react(alice, "👍"));
    reactions = withReaction(reactions, react(alice, "❤️"));
    expect(reactions).toEqual({ msg_1: { [alice]: "❤️" } });
  });

  it("take a reaction back with an empty emoji, and forget messages left without any", () => {
    let reactions = withReaction({}, react(alice, "👍"));
    reactions = withReaction(reactions, react(bob, "👍", "msg_2"));
    reactions = withReaction(reactions, react(alice, ""));
    expect(reactions).toEqual({ msg_2: { [bob]: "👍" } });
    expect(withReaction(reactions, react(alice, ""))).toBe(reactions);
  });

  it("change nothing for a repeated event", () => {
    const reactions = withReaction({}, react(alice, "👍"));
    expect(withReaction(reactions, react(alice, "👍"))).toBe(reactions);
  });

  it("count each emoji, most chosen first, and say which one is ours", () => {
    let reactions = withReaction({}, react(alice, "😂"));
    reactions = withReaction(reactions, react(me, "👍"));
    reactions = withReaction(reactions, react(bob, "👍"));
    expect(reactionSummary(reactions, "msg_1", me)).toEqual([
      { emoji: "👍", count: 2, from: [me, bob], mine: true },
      { emoji: "😂", count: 1, from: [alice], mine: false },
    ]);
    expect(reactionSummary(reactions, "msg_9", me)).toEqual([]);
    expect(ownReaction(reactions, "msg_1", me)).toBe("👍");
    expect(ownReaction(reactions, "msg_1", null)).toBeNull();
  });

  it("toggle: choosing our own emoji again takes it back", () => {
    expect(reactionToSend(null, "👍")).toBe("👍");
    expect(reactionToSend("👍", "❤️")).toBe("❤️");
    expect(reactionToSend("👍", "👍")).toBe("");
  });

  it("go with a message deleted for everyone", () => {
    const reactions = withReaction(withReaction({}, react(alice, "👍")), react(bob, "👍", "msg_2"));
    expect(withoutReactions(reactions, "msg_1")).toEqual({ msg_2: { [bob]: "👍" } });
    expect(withoutReactions(reactions, "msg_3")).toBe(reactions);
  });
});
