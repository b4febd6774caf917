import { describe, expect, it } from "vitest";
import { emptyKeyForm, keyFormProblems, newKeyBody } from "./keyForm";
import { everythingSelected, nothingSelected, toggle } from "./selection";
import { toggleScope } from "./scopes";

describe("the new key form", () => {
  it("turns the boxes ticked into the request body", () => {
    let devices = toggle(nothingSelected, "shop-2", true);
    devices = toggle(devices, "shop-1", true);
    devices = toggle(devices, "shop-1", true);
    let scopes = toggleScope(emptyKeyForm.scopes, "send", true);
    scopes = toggleScope(scopes, "admin", true);
    scopes = toggleScope(scopes, "admin", false);
    const form = { name: "  shop dashboard ", devices, scopes };
    expect(keyFormProblems(form)).toEqual([]);
    expect(newKeyBody(form)).toEqual({ name: "shop dashboard", devices: ["shop-1", "shop-2"], scopes: ["read", "send"] });
  });

  it("asks for all devices with *, whatever else is ticked", () => {
    const devices = toggle(toggle(nothingSelected, "shop-1", true), "*", true);
    expect(newKeyBody({ name: "all", devices, scopes: ["control", "read"] })).toEqual({
      name: "all",
      devices: ["*"],
      scopes: ["read", "control"],
    });
    // Unticking "all" brings back the devices ticked before.
    expect(newKeyBody({ name: "one", devices: toggle(devices, "*", false), scopes: ["read"] }).devices).toEqual(["shop-1"]);
  });

  it("says what is missing", () => {
    expect(keyFormProblems({ name: " ", devices: nothingSelected, scopes: [] })).toHaveLength(3);
    expect(keyFormProblems({ name: "x", devices: everythingSelected, scopes: ["read"] })).toEqual([]);
  });
});
