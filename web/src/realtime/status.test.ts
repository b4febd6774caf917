import { describe, expect, it } from "vitest";
import { connectionStatus } from "./status";

describe("connectionStatus", () => {
  it("is connected when every socket is", () => {
    expect(connectionStatus(["connected", "connected"], true)).toBe("connected");
  });
  it("is reconnecting while any socket tries again", () => {
    expect(connectionStatus(["connected", "reconnecting"], true)).toBe("reconnecting");
    expect(connectionStatus(["connecting"], true)).toBe("reconnecting");
  });
  it("is offline without sockets, without network, or when they gave up", () => {
    expect(connectionStatus([], true)).toBe("offline");
    expect(connectionStatus(["connected"], false)).toBe("offline");
    expect(connectionStatus(["offline", "connected"], true)).toBe("offline");
  });
  it("leaves out sockets the server refused for good", () => {
    expect(connectionStatus(["connected", "refused"], true)).toBe("connected");
  });
});
