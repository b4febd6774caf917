import { describe, expect, it } from "vitest";
import { ACK, ackName, mergeAck } from "./acks";

describe("mergeAck", () => {
  it("moves ticks forward only", () => {
    expect(mergeAck(ACK.pending, ACK.server)).toBe(ACK.server);
    expect(mergeAck(ACK.server, ACK.read)).toBe(ACK.read);
    expect(mergeAck(ACK.read, ACK.device)).toBe(ACK.read);
    expect(mergeAck(ACK.device, ACK.pending)).toBe(ACK.device);
  });

  it("changes nothing for a repeated ack", () => {
    expect(mergeAck(ACK.device, ACK.device)).toBe(ACK.device);
  });

  it("takes played after read, never read after played", () => {
    expect(mergeAck(ACK.read, ACK.played)).toBe(ACK.played);
    expect(mergeAck(ACK.played, ACK.read)).toBe(ACK.played);
  });

  it("fails a message that is pending or at the server", () => {
    expect(mergeAck(ACK.pending, ACK.error)).toBe(ACK.error);
    expect(mergeAck(ACK.server, ACK.error)).toBe(ACK.error);
  });

  it("does not fail a message the recipient's phone already has", () => {
    expect(mergeAck(ACK.device, ACK.error)).toBe(ACK.device);
    expect(mergeAck(ACK.read, ACK.error)).toBe(ACK.read);
  });

  it("keeps a failure against late pending or server acks", () => {
    expect(mergeAck(ACK.error, ACK.pending)).toBe(ACK.error);
    expect(mergeAck(ACK.error, ACK.server)).toBe(ACK.error);
  });

  it("lets a delivery receipt overrule a failure", () => {
    expect(mergeAck(ACK.error, ACK.device)).toBe(ACK.device);
  });
});

describe("ackName", () => {
  it("names every level", () => {
    expect([-1, 0, 1, 2, 3, 4].map(ackName)).toEqual(["error", "pending", "server", "device", "read", "played"]);
  });
});
