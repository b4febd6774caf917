import { describe, expect, it } from "vitest";
import { renewalDelay } from "./renewal";

describe("renewalDelay", () => {
  it("renews a minute before a long token ends", () => {
    expect(renewalDelay(0, 900_000, 0)).toBe(840_000);
  });
  it("renews a short token a quarter of its life before it ends", () => {
    expect(renewalDelay(0, 20_000, 0)).toBe(15_000);
  });
  it("renews at once when that moment has passed", () => {
    expect(renewalDelay(0, 900_000, 899_000)).toBe(0);
  });
});
