import { describe, expect, it } from "vitest";
import {
  daemonMediaPath,
  formatSize,
  isImage,
  refusedFile,
  signedMediaUrl,
  startUpload,
  uploadDone,
  uploadFailed,
  uploadPercent,
  uploadProgress,
  uploadsInChat,
} from "./media";

const upload = "http://localhost:3000/api/v1/devices/demo/media/up_01J0ABC";

describe("media URLs", () => {
  it("load the daemon's files from the page's own origin, signed with the access token", () => {
    expect(signedMediaUrl(upload, "eyJ.a+b/c=")).toBe("/api/v1/devices/demo/media/up_01J0ABC?access_token=eyJ.a%2Bb%2Fc%3D");
    // Whatever name the daemon's public_url gives it, and over https too.
    expect(signedMediaUrl("https://bridge.example:8443/api/v1/devices/d-2/media/m_1", "t")).toBe(
      "/api/v1/devices/d-2/media/m_1?access_token=t",
    );
    expect(signedMediaUrl("/api/v1/devices/demo/media/up_1", "t")).toBe("/api/v1/devices/demo/media/up_1?access_token=t");
  });

  it("load a contact's profile picture from the daemon the same way", () => {
    expect(signedMediaUrl("/api/v1/devices/demo/contacts/15550000002@c.us/picture", "t")).toBe(
      "/api/v1/devices/demo/contacts/15550000002@c.us/picture?access_token=t",
    );
    expect(signedMediaUrl("/api/v1/devices/demo/contacts/15550000002@c.us", "t")).toBeNull();
  });

  it("a renewed token gives a new URL", () => {
    expect(signedMediaUrl(upload, "old")).not.toBe(signedMediaUrl(upload, "new"));
    expect(signedMediaUrl(upload, "new")).toMatch(/access_token=new$/);
  });

  it("drop a query the URL had rather than pass a credential along", () => {
    expect(signedMediaUrl(`${upload}?apiKey=dbk_secret`, "t")).toBe("/api/v1/devices/demo/media/up_01J0ABC?access_token=t");
  });

  it("leave files elsewhere unsigned: the token is only for the daemon", () => {
    expect(signedMediaUrl("https://cdn.example/photo.jpg", "t")).toBeNull();
    expect(signedMediaUrl("https://cdn.example/api/v1/devices/demo/media", "t")).toBeNull();
    expect(daemonMediaPath("javascript:alert(1)")).toBeNull();
    expect(daemonMediaPath("not a url at all %%%")).toBeNull();
  });

  it("show pictures inline and other files as links", () => {
    expect(isImage({ mime: "image/png" })).toBe(true);
    expect(isImage({ mime: "IMAGE/JPEG" })).toBe(true);
    expect(isImage({ mime: "application/pdf" })).toBe(false);
  });

  it("write sizes as people read them", () => {
    expect(formatSize(512)).toBe("512 B");
    expect(formatSize(1536)).toBe("1.5 KB");
    expect(formatSize(48213)).toBe("47 KB");
    expect(formatSize(3 * 1024 * 1024)).toBe("3 MB");
    expect(formatSize(null)).toBe("");
  });
});

describe("uploads", () => {
  const started = () => startUpload([], { id: "u1", chatId: "c", name: "a.png", size: 200, caption: "" });

  it("report their progress in whole percent", () => {
    let uploads = started();
    expect(uploadPercent(uploads[0]!)).toBe(0);
    uploads = uploadProgress(uploads, "u1", 101);
    expect(uploadPercent(uploads[0]!)).toBe(50);
    uploads = uploadProgress(uploads, "u1", 900);
    expect(uploads[0]?.loaded).toBe(200);
    expect(uploadPercent(uploads[0]!)).toBe(100);
  });

  it("keep a failed upload with its reason until it is dismissed", () => {
    let uploads = uploadFailed(started(), "u1", "payload_too_large");
    expect(uploads[0]).toMatchObject({ status: "failed", error: "payload_too_large" });
    // A late progress event does not revive it.
    expect(uploadProgress(uploads, "u1", 50)[0]?.loaded).toBe(0);
    uploads = uploadDone(uploads, "u1");
    expect(uploads).toEqual([]);
  });

  it("belong to their chat", () => {
    const uploads = startUpload(started(), { id: "u2", chatId: "d", name: "b.pdf", size: 5, caption: "" });
    expect(uploadsInChat(uploads, "d").map((u) => u.id)).toEqual(["u2"]);
  });

  it("refuse empty files and files over what a device forwards", () => {
    expect(refusedFile({ size: 0 })).toMatch(/empty/);
    expect(refusedFile({ size: 16 * 1024 * 1024 + 1 })).toMatch(/16 MB/);
    expect(refusedFile({ size: 10 })).toBeNull();
  });
});
