import { describe, expect, it } from "vitest";
import type { Delivery } from "../api/types";
import {
  deliveryLatencyMs,
  emptyDeliveryLog,
  formatDuration,
  lastOutcome,
  withDelivery,
  withNewestPage,
  withOlderPage,
} from "./deliveryLog";

function delivery(n: number, change: Partial<Delivery> = {}): Delivery {
  return {
    id: `whd_${n}`,
    webhookId: "wh_1",
    deviceId: "demo",
    seq: n,
    type: "message",
    status: "pending",
    attempts: 0,
    lastStatusCode: null,
    lastError: null,
    nextAttemptAt: "",
    deliveredAt: null,
    createdAt: `2026-01-01T10:00:0${n}.000Z`,
    ...change,
  };
}
const ids = (log: { items: readonly Delivery[] }) => log.items.map((d) => d.id);

describe("the delivery log", () => {
  it("takes the newest page again as it is polled", () => {
    let log = withNewestPage(emptyDeliveryLog, { items: [delivery(2), delivery(1)], nextCursor: "whd_1" });
    log = withNewestPage(log, { items: [delivery(3), delivery(2, { status: "delivered" })], nextCursor: "whd_2" });
    expect(ids(log)).toEqual(["whd_3", "whd_2"]);
    expect(log.nextCursor).toBe("whd_2");
  });

  it("keeps older pages loaded while the newest one is polled", () => {
    let log = withNewestPage(emptyDeliveryLog, { items: [delivery(3), delivery(2)], nextCursor: "whd_2" });
    log = withOlderPage(log, { items: [delivery(1)], nextCursor: null });
    log = withNewestPage(log, { items: [delivery(4), delivery(3)], nextCursor: "whd_3" });
    expect(ids(log)).toEqual(["whd_4", "whd_3", "whd_2", "whd_1"]);
    expect(log.nextCursor).toBeNull();
  });

  it("shows a replayed delivery as answered", () => {
    const log = withNewestPage(emptyDeliveryLog, { items: [delivery(1, { status: "failed" })], nextCursor: null });
    expect(withDelivery(log, delivery(1, { status: "pending" })).items[0]?.status).toBe("pending");
  });

  it("tells how long a delivered event took, and what the last attempt got", () => {
    const done = delivery(1, { status: "delivered", deliveredAt: "2026-01-01T10:00:01.250Z", lastStatusCode: 200 });
    expect(deliveryLatencyMs(done)).toBe(250);
    expect(deliveryLatencyMs(delivery(1))).toBeNull();
    expect(formatDuration(250)).toBe("250 ms");
    expect(formatDuration(2_400)).toBe("2.4 s");
    expect(lastOutcome(done)).toBe("HTTP 200");
    expect(lastOutcome(delivery(1, { lastError: "connection refused" }))).toBe("connection refused");
  });
});
