import { describe, expect, it } from "vitest";
import { contactName, numberProblem, numberVerdict, shownPhone } from "./contacts";

describe("contacts and numbers", () => {
  it("show a number with its plus, and nothing when it is not known", () => {
    expect(shownPhone("15550000002")).toBe("+15550000002");
    expect(shownPhone(null)).toBeNull();
  });

  it("say plainly whether a number is on WhatsApp", () => {
    expect(numberVerdict({ phone: "15550000002", exists: true, chatId: "15550000002@c.us" })).toBe(
      "+15550000002 is on WhatsApp.",
    );
    expect(numberVerdict({ phone: "15551230000", exists: false, chatId: null })).toBe("+15551230000 is not on WhatsApp.");
  });

  it("name a contact by their name, else their number, else their id", () => {
    expect(contactName({ id: "1@c.us", name: "Alice", phone: "1" })).toBe("Alice");
    expect(contactName({ id: "15550000002@c.us", name: "", phone: "15550000002" })).toBe("+15550000002");
    expect(contactName({ id: "207711112222333@lid", name: "", phone: null })).toBe("207711112222333@lid");
  });

  it("take numbers as the daemon does before asking it", () => {
    for (const good of ["+1 555 000 0002", "1 (555) 000-0002", "15550000002", "  +44 20.7946.0000 "]) {
      expect(numberProblem(good), good).toBeNull();
    }
    for (const bad of ["", "555", "+1 555 abc 0000", "1234567890123456", "++15550000002"]) {
      expect(numberProblem(bad), bad).not.toBeNull();
    }
  });
});
