import { describe, expect, it } from "vitest";
import { issuingKeyOf } from "./claims";

const encode = (value: object) => btoa(JSON.stringify(value)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

describe("issuingKeyOf", () => {
  it("reads the key claim of a token", () => {
    const token = `${encode({ typ: "JWT" })}.${encode({ sub: "dashboard", key: "key_01ABC", scopes: ["admin"] })}.sig`;
    expect(issuingKeyOf(token)).toBe("key_01ABC");
  });

  it("answers null for what it cannot read", () => {
    expect(issuingKeyOf("not a token")).toBeNull();
    expect(issuingKeyOf(`x.${encode({ sub: "a" })}.y`)).toBeNull();
    expect(issuingKeyOf("x.%%%.y")).toBeNull();
  });
});
