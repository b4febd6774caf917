import { describe, expect, it } from "vitest";
import { participantId } from "./participants";

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
