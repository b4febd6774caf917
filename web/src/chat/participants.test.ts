import { describe, expect, it } from "vitest";
import { participantId, typedParticipants } from "./participants";

describe("participantId", () => {
  it("takes a person's chat id as it is", () => {
    expect(participantId(" 15550000003@c.us ")).toBe("15550000003@c.us");
    expect(participantId("4915112345678@s.whatsapp.net")).toBe("4915112345678@s.whatsapp.net");
    expect(participantId("123456789012345@lid")).toBe("123456789012345@lid");
  });

  it("reads a phone number as people write it", () => {
    expect(participantId("+1 555 000 0003")).toBe("15550000003@c.us");
    expect(participantId("(555) 000-0003")).toBe("5550000003@c.us");
  });

  it("refuses what names nobody", () => {
    for (const typed of ["", "bob", "120363@g.us", "+1 555", "1555000000300000000"]) {
      expect(participantId(typed)).toBeNull();
    }
  });

});

describe("typedParticipants", () => {
  it("reads the people of a new group one a line or comma, once each, naming what is no number", () => {
    expect(typedParticipants("+1 555 000 0002\n15550000003, +1 (555) 000-0002; 15550000004@c.us")).toEqual({
      ids: ["15550000002@c.us", "15550000003@c.us", "15550000004@c.us"],
      unreadable: [],
    });
    expect(typedParticipants("Alice, 12").unreadable).toEqual(["Alice", "12"]);
  });
});
