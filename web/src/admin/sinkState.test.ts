import { describe, expect, it } from "vitest";
import { sinkStanding } from "./sinkState";

describe("sinkStanding", () => {
  it("tells a paused, a down, a lagging and an up-to-date sink apart", () => {
    expect(sinkStanding({ enabled: false, connected: true, lag: 0 })).toEqual({ label: "Paused", badge: "failed" });
    expect(sinkStanding({ enabled: true, connected: false, lag: 0 })).toEqual({ label: "Down", badge: "failed" });
    expect(sinkStanding({ enabled: true, connected: true, lag: 12 })).toEqual({ label: "Catching up", badge: "ready" });
    expect(sinkStanding({ enabled: true, connected: true, lag: 0 })).toEqual({ label: "Up to date", badge: "ready" });
  });
});
