import { describe, expect, it } from "vitest";
import { codesRanOut, secondsLeft } from "./qr";

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
});
