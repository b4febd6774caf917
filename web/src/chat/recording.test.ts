import { describe, expect, it } from "vitest";
import { recordingFile, recordingName, recordingType } from "./recording";

describe("a recording as a file", () => {
  it("is uploaded as the recorder's plain audio type", () => {
    expect(recordingType("audio/webm;codecs=opus")).toBe("audio/webm");
    expect(recordingType("audio/ogg; codecs=opus")).toBe("audio/ogg");
    expect(recordingType("")).toBe("audio/webm");
    expect(recordingType("video/webm")).toBe("audio/webm");
  });
  it("is named by when it was made, with the type's extension", () => {
    const at = new Date("2026-11-25T14:05:09.123Z");
    expect(recordingName("audio/webm", at)).toBe("voice-2026-11-25-14-05-09.webm");
    expect(recordingName("audio/mp4", at)).toBe("voice-2026-11-25-14-05-09.m4a");
  });
  it("holds the recorded chunks", async () => {
    const file = recordingFile([new Blob(["ab"]), new Blob(["c"])], "audio/webm;codecs=opus", new Date(0));
    expect(file.type).toBe("audio/webm");
    expect(file.size).toBe(3);
    expect(await file.text()).toBe("abc");
  });
});
