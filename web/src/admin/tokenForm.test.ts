import { describe, expect, it } from "vitest";
import { everythingSelected, toggle, nothingSelected } from "./selection";
import { MAX_TOKEN_TTL_SECS, emptyTokenForm, newTokenBody, tokenFormProblems } from "./tokenForm";

describe("the token form", () => {
  it("asks for a token with the subject, devices, scopes and lifetime chosen", () => {
    const form = { ...emptyTokenForm, sub: " user-7 ", devices: toggle(nothingSelected, "shop-1", true), ttlSecs: 600 };
    expect(tokenFormProblems(form)).toEqual([]);
    expect(newTokenBody(form)).toEqual({ sub: "user-7", devices: ["shop-1"], scopes: ["read"], ttlSecs: 600 });
  });

  it("names a profile only when one is chosen", () => {
    const form = { ...emptyTokenForm, sub: "x", devices: everythingSelected };
    expect(newTokenBody({ ...form, profile: "direct-chat" }).profile).toBe("direct-chat");
    expect(newTokenBody({ ...form, profile: "native" })).not.toHaveProperty("profile");
  });

  it("keeps the lifetime within 30 days", () => {
    const form = { ...emptyTokenForm, sub: "x", devices: everythingSelected };
    expect(tokenFormProblems({ ...form, ttlSecs: MAX_TOKEN_TTL_SECS })).toEqual([]);
    expect(tokenFormProblems({ ...form, ttlSecs: MAX_TOKEN_TTL_SECS + 1 })).toHaveLength(1);
    expect(tokenFormProblems({ ...form, ttlSecs: 0 })).toHaveLength(1);
  });
});
