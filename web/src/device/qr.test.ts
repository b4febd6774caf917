import { describe, expect, it } from "vitest";
import { codesRanOut, linksWithQr, pairingLink, pairsByPhone, phoneProblem, secondsLeft, typedPhone } from "./qr";

describe("QR countdown", () => {
  const expiresAt = "2026-01-01T10:01:00.000Z";
  const at = (iso: string) => Date.parse(iso);

  it("counts whole seconds down to zero", () => {
    expect(secondsLeft(expiresAt, at("2026-01-01T10:00:00.000Z"))).toBe(60);
    expect(secondsLeft(expiresAt, at("2026-01-01T10:00:59.200Z"))).toBe(1);
    expect(secondsLeft(expiresAt, at("2026-01-01T10:02:00.000Z"))).toBe(0);
  });

  it("offers new codes only once they ran out", () => {
    expect(codesRanOut("stopped", "qr_timeout")).toBe(true);
    expect(codesRanOut("stopped", null)).toBe(false);
    expect(codesRanOut("qr", null)).toBe(false);
  });

  it("links to a simulator code's pairing page, and to nothing else", () => {
    expect(pairingLink("simulator", "http://localhost:3000/pair/3f9c2a7d")).toBe("http://localhost:3000/pair/3f9c2a7d");
    expect(pairingLink("waha", "2@AbC,dEf==,gHi=")).toBeNull();
    expect(pairingLink("simulator", "javascript:alert(1)")).toBeNull();
    expect(pairingLink("simulator", "not a url")).toBeNull();
  });

  it("starts again after a logout the devices that link with a QR code", () => {
    expect(linksWithQr("simulator")).toBe(true);
    expect(linksWithQr("waha")).toBe(true);
    expect(linksWithQr("cloud_api")).toBe(false);
  });

  it("asks a code for a number the daemon takes, as people write it", () => {
    expect(phoneProblem("+15550000009")).toBeNull();
    expect(phoneProblem("+1 (555) 000-0009")).toBeNull();
    expect(typedPhone("+1 (555) 000-0009")).toBe("+15550000009");
    expect(phoneProblem("555")).toMatch(/7 to 15 digits/);
    expect(phoneProblem("1555000000912345")).not.toBeNull();
    expect(phoneProblem("phone")).not.toBeNull();
  });

  it("offers the phone number only to connectors that link from one", () => {
    expect(pairsByPhone(["send.text", "pairing.code"])).toBe(true);
    expect(pairsByPhone(["send.text"])).toBe(false);
  });
});
